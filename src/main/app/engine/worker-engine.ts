/** Picks and loads the engine implementation inside the worker process. */
import type { EditEngine, ModelInfo, ProviderName } from '../../../shared/engine-types';
import { AUTO_ENGINE_OPTIONS, type EngineKind, type EngineLoadOptions } from './protocol';

export interface LoadedEngine extends EditEngine {
  readonly info: ModelInfo;
  dispose(): Promise<void>;
}

export async function loadEngine(
  kind: EngineKind,
  dir: string,
  provider: ProviderName,
  options: EngineLoadOptions = AUTO_ENGINE_OPTIONS,
): Promise<LoadedEngine> {
  if (kind === 'fake') {
    const { loadFakeEngine } = await import('./fake-engine');
    return loadFakeEngine(dir);
  }
  // Loaded lazily: onnxruntime-node is a native module and only the worker process touches it.
  const { InstructPix2PixPipeline } = await import('../../engine/pipeline');
  return InstructPix2PixPipeline.load(dir, {
    provider,
    memoryBudget: options.memoryBudget,
    ...(options.threads !== null ? { threads: options.threads } : {}),
  });
}
