import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Thrown when a model folder is incomplete or is not an InstructPix2Pix ONNX export we understand. */
export class ModelFolderError extends Error {
  override name = 'ModelFolderError';
}

export const COMPONENT_FILES = {
  textEncoder: 'text_encoder/model.onnx',
  unet: 'unet/model.onnx',
  vaeEncoder: 'vae_encoder/model.onnx',
  vaeDecoder: 'vae_decoder/model.onnx',
} as const;

export type ComponentName = keyof typeof COMPONENT_FILES;

const REQUIRED_FILES: { path: string; what: string }[] = [
  { path: 'model_index.json', what: 'the pipeline index' },
  { path: COMPONENT_FILES.textEncoder, what: 'the CLIP text encoder graph' },
  { path: COMPONENT_FILES.unet, what: 'the UNet graph' },
  { path: COMPONENT_FILES.vaeEncoder, what: 'the VAE encoder graph' },
  { path: COMPONENT_FILES.vaeDecoder, what: 'the VAE decoder graph' },
  { path: 'tokenizer/vocab.json', what: 'the CLIP vocabulary' },
  { path: 'tokenizer/merges.txt', what: 'the CLIP BPE merges' },
  { path: 'scheduler/scheduler_config.json', what: 'the scheduler configuration' },
];

/** External weight files referenced from a graph must be beside it, or ORT fails with an opaque error. */
const EXTERNAL_DATA_NAMES = ['weights.pb', 'model.onnx_data'];
/** Graphs larger than this carry their weights inline; scanning them for names would cost too much. */
const EXTERNAL_SCAN_LIMIT_BYTES = 64 * 1024 * 1024;

export interface ModelFolderLayout {
  dir: string;
  paths: Record<ComponentName, string>;
  schedulerConfig: unknown;
  modelIndex: Record<string, unknown>;
  tokenizerDir: string;
  /** unet/config.json's in_channels, when the export wrote one. */
  unetConfigInChannels?: number;
}

/** Checks every file the pipeline needs is present and readable; one error lists all that is wrong. */
export function inspectModelFolder(dir: string): ModelFolderLayout {
  if (!existsSync(dir)) throw new ModelFolderError(`Model folder not found: ${dir}`);
  if (!statSync(dir).isDirectory()) throw new ModelFolderError(`Model path is not a folder: ${dir}`);

  const missing = REQUIRED_FILES.filter((file) => !isFile(join(dir, file.path)));
  if (missing.length > 0) {
    const found = safeList(dir);
    throw new ModelFolderError(
      `Model folder ${dir} is incomplete: missing ${missing.map((file) => `${file.path} (${file.what})`).join(', ')}. ` +
        `Expected the diffusers/Optimum ONNX layout (text_encoder/, unet/, vae_encoder/, vae_decoder/, tokenizer/, scheduler/, model_index.json); ` +
        `found: ${found.length ? found.join(', ') : 'nothing'}.`,
    );
  }

  for (const component of Object.values(COMPONENT_FILES)) checkExternalData(dir, component);

  const modelIndex = readJson(dir, 'model_index.json');
  if (typeof modelIndex !== 'object' || modelIndex === null || Array.isArray(modelIndex)) {
    throw new ModelFolderError(`${join(dir, 'model_index.json')} must hold a JSON object`);
  }
  const unetConfigPath = join(dir, 'unet', 'config.json');
  let unetConfigInChannels: number | undefined;
  if (isFile(unetConfigPath)) {
    const config = readJson(dir, 'unet/config.json') as { in_channels?: unknown };
    if (typeof config.in_channels === 'number') unetConfigInChannels = config.in_channels;
  }

  return {
    dir,
    paths: {
      textEncoder: join(dir, COMPONENT_FILES.textEncoder),
      unet: join(dir, COMPONENT_FILES.unet),
      vaeEncoder: join(dir, COMPONENT_FILES.vaeEncoder),
      vaeDecoder: join(dir, COMPONENT_FILES.vaeDecoder),
    },
    schedulerConfig: readJson(dir, 'scheduler/scheduler_config.json'),
    modelIndex: modelIndex as Record<string, unknown>,
    tokenizerDir: join(dir, 'tokenizer'),
    unetConfigInChannels,
  };
}

function checkExternalData(dir: string, relativePath: string): void {
  const path = join(dir, relativePath);
  const size = statSync(path).size;
  if (size === 0)
    throw new ModelFolderError(
      `${relativePath} in ${dir} is empty (0 bytes): the download or export was interrupted`,
    );
  if (size > EXTERNAL_SCAN_LIMIT_BYTES) return;
  const bytes = readFileSync(path);
  const componentDir = join(path, '..');
  for (const name of EXTERNAL_DATA_NAMES) {
    if (bytes.includes(Buffer.from(name)) && !isFile(join(componentDir, name))) {
      throw new ModelFolderError(
        `${relativePath} in ${dir} keeps its weights in the external file '${name}', which is missing from ${componentDir}. ` +
          `Copy the whole ${relativePath.split('/')[0]}/ folder, including ${name}.`,
      );
    }
  }
}

function readJson(dir: string, relativePath: string): unknown {
  const text = readFileSync(join(dir, relativePath), 'utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ModelFolderError(`${join(dir, relativePath)} is not valid JSON: ${(error as Error).message}`);
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).map((entry) =>
      entry.isDirectory() ? `${entry.name}/` : entry.name,
    );
  } catch {
    return [];
  }
}
