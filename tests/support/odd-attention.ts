/**
 * A model folder whose UNet is no longer written the way exports write attention: a Relu between
 * the first attention's scaled scores and its Softmax. The optimiser must refuse it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export function breakFirstUnetAttention(modelDir: string): void {
  const path = join(modelDir, 'unet', 'model.onnx');
  const model = onnx.ModelProto.decode(readFileSync(path));
  const nodes = model.graph!.node!;
  const softmax = nodes.find((node) => node.opType === 'Softmax')!;
  const scores = softmax.input![0]!;
  softmax.input = ['odd_relu'];
  nodes.splice(nodes.indexOf(softmax), 0, {
    opType: 'Relu',
    input: [scores],
    output: ['odd_relu'],
    name: 'odd',
  });
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
}
