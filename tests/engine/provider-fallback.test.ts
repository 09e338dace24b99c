import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EditSettings, RgbImage } from '../../src/shared/engine-types';
import {
  openSession,
  providerUnavailableReason,
  vulkanLoaderPresent,
  type SessionOpener,
} from '../../src/main/engine/backend';
import { InstructPix2PixPipeline } from '../../src/main/engine/pipeline';
import { makeTinyModel } from '../../src/main/engine/tiny-model/tiny-model';

const root = mkdtempSync(join(tmpdir(), 'provider-fallback-'));
const dir = join(root, 'model');
beforeAll(() => makeTinyModel(dir, { flavor: 'optimum' }));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const source: RgbImage = {
  width: 16,
  height: 16,
  data: Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => (i * 37) % 256),
};
const settings: EditSettings = {
  instruction: 'make it red',
  steps: 2,
  textGuidance: 7.5,
  imageGuidance: 1.5,
  seed: 11,
  scheduler: 'euler',
  resolution: 'native',
};

/**
 * A "GPU" provider that takes the text encoder and the VAE but rejects the UNet the way
 * onnxruntime does for an operator a provider lacks. What it accepts actually runs on CPU, so the
 * results can be compared with an all-CPU run.
 */
function gpuRejectingUnet(tried: string[]): SessionOpener {
  return async (modelPath, label, provider) => {
    tried.push(`${label}@${provider}`);
    if (provider === 'webgpu' && label.startsWith('unet/')) {
      throw new Error(
        "Could not find an implementation for GroupNormalization(21) node with name '/down/GroupNorm'",
      );
    }
    return openSession(modelPath, label, 'cpu', undefined);
  };
}

describe('execution provider fallback per model part', () => {
  it('auto: a provider that takes the text encoder but not the UNet runs the UNet on CPU, with a notice, and the same pixels', async () => {
    const reference = await InstructPix2PixPipeline.load(dir, { provider: 'cpu' });
    const expected = await reference.edit(source, settings);
    await reference.dispose();

    const tried: string[] = [];
    const pipeline = await InstructPix2PixPipeline.load(dir, {
      provider: 'auto',
      sessions: {
        openSession: gpuRejectingUnet(tried),
        autoOrder: ['webgpu', 'cpu'],
        unavailableReason: () => undefined,
      },
    });
    try {
      expect(tried).toEqual([
        'text_encoder/model.onnx@webgpu',
        'unet/model.onnx@webgpu',
        'unet/model.onnx@cpu',
        'vae_encoder/model.onnx@webgpu',
        'vae_decoder/model.onnx@webgpu',
      ]);
      expect(pipeline.info.provider).toBe('webgpu, cpu for unet/model.onnx');
      expect(pipeline.info.providerNotice).toBe(
        "unet/model.onnx runs on cpu (webgpu could not load it: Could not find an implementation for GroupNormalization(21) node with name '/down/GroupNorm')",
      );
      const result = await pipeline.edit(source, settings);
      expect(result.image.width).toBe(expected.image.width);
      expect(result.image.data.length).toBeGreaterThan(0);
      expect(Buffer.from(result.image.data).equals(Buffer.from(expected.image.data))).toBe(true);
    } finally {
      await pipeline.dispose();
    }
  });

  it('a provider that cannot load the text encoder is dropped for the whole model', async () => {
    const tried: string[] = [];
    const failing: SessionOpener = async (modelPath, label, provider) => {
      tried.push(`${label}@${provider}`);
      if (provider === 'dml') throw new Error('DmlExecutionProvider: no adapter');
      return openSession(modelPath, label, 'cpu', undefined);
    };
    const pipeline = await InstructPix2PixPipeline.load(dir, {
      provider: 'auto',
      sessions: { openSession: failing, autoOrder: ['dml', 'cpu'], unavailableReason: () => undefined },
    });
    try {
      expect(tried).toEqual([
        'text_encoder/model.onnx@dml',
        'text_encoder/model.onnx@cpu',
        'unet/model.onnx@cpu',
        'vae_encoder/model.onnx@cpu',
        'vae_decoder/model.onnx@cpu',
      ]);
      expect(pipeline.info.provider).toBe('cpu');
      expect(pipeline.info.providerNotice).toBe(
        'Using the cpu execution provider; not available: dml: DmlExecutionProvider: no adapter',
      );
    } finally {
      await pipeline.dispose();
    }
  });

  it('an explicit provider that rejects the UNet is an error naming the part, not a silent fallback', async () => {
    await expect(
      InstructPix2PixPipeline.load(dir, {
        provider: 'webgpu',
        sessions: { openSession: gpuRejectingUnet([]), unavailableReason: () => undefined },
      }),
    ).rejects.toThrow(
      /webgpu execution provider could not load unet\/model\.onnx: Could not find an implementation/,
    );
  });
});

describe('WebGPU is only tried where it can work', () => {
  it('finds the Vulkan loader in the library folders or in ldconfig’s cache', () => {
    const none = () => false;
    expect(vulkanLoaderPresent({}, none, () => '')).toBe(false);
    expect(
      vulkanLoaderPresent(
        {},
        (path) => path === '/usr/lib/x86_64-linux-gnu/libvulkan.so.1',
        () => '',
      ),
    ).toBe(true);
    expect(
      vulkanLoaderPresent(
        { LD_LIBRARY_PATH: '/opt/sdk/lib' },
        (path) => path === '/opt/sdk/lib/libvulkan.so.1',
        () => '',
      ),
    ).toBe(true);
    expect(
      vulkanLoaderPresent({}, none, () => '\tlibvulkan.so.1 (libc6,x86-64) => /opt/vk/libvulkan.so.1\n'),
    ).toBe(true);
  });

  it.runIf(process.platform === 'linux' && !vulkanLoaderPresent())(
    'on Linux without a Vulkan loader (this machine) WebGPU is not tried, with the reason',
    () => {
      expect(providerUnavailableReason('webgpu')).toBe('no Vulkan loader (libvulkan.so.1) is installed');
    },
  );
});
