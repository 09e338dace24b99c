/**
 * Finding a CLIP ONNX export's graphs in a folder (see clip-model.ts for the layouts), without
 * loading onnxruntime: the app's main side uses this to say whether a CLIP model is there.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

export class ClipModelError extends Error {
  override name = 'ClipModelError';
}

export type ClipLayout =
  { kind: 'split'; textModel: string; visionModel: string } | { kind: 'combined'; model: string };

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Finds the graphs of a CLIP folder; the error says what was looked for. */
export function inspectClipFolder(dir: string): ClipLayout {
  if (!existsSync(dir)) throw new ClipModelError(`CLIP model folder not found: ${dir}`);
  if (!statSync(dir).isDirectory()) throw new ClipModelError(`CLIP model path is not a folder: ${dir}`);
  for (const sub of ['', 'onnx']) {
    const text = join(dir, sub, 'text_model.onnx');
    const vision = join(dir, sub, 'vision_model.onnx');
    if (isFile(text) && isFile(vision)) return { kind: 'split', textModel: text, visionModel: vision };
    if (isFile(text) !== isFile(vision)) {
      throw new ClipModelError(
        `CLIP model folder ${dir} has ${isFile(text) ? join(sub, 'text_model.onnx') : join(sub, 'vision_model.onnx')} but not ${isFile(text) ? 'vision_model.onnx' : 'text_model.onnx'} beside it`,
      );
    }
  }
  for (const sub of ['', 'onnx']) {
    const model = join(dir, sub, 'model.onnx');
    if (isFile(model)) return { kind: 'combined', model };
  }
  throw new ClipModelError(
    `${dir} is not a CLIP ONNX export: expected text_model.onnx + vision_model.onnx, or model.onnx (in the folder or its onnx/ subfolder)`,
  );
}

/** Where a CLIP export is looked for when none is named: inside the edit model's folder, or beside it. */
export function clipCandidates(modelDir: string): string[] {
  return [
    join(modelDir, 'clip'),
    join(modelDir, '..', 'clip-vit-large-patch14'),
    join(modelDir, '..', 'clip'),
  ];
}

/** The first candidate folder that holds a CLIP export, or undefined. */
export function findClipBeside(modelDir: string): string | undefined {
  for (const dir of clipCandidates(modelDir)) {
    try {
      inspectClipFolder(dir);
      return dir;
    } catch {
      // not this one
    }
  }
  return undefined;
}
