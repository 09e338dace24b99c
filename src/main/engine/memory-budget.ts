/**
 * How much memory an edit needs, and what the engine does to stay within a budget: UNet rows in one
 * batch or one after another, VAE sessions kept loaded or opened only while they run.
 *
 * The estimate (bytes, fp32 activations, onnxruntime with the memory pattern off):
 *   weights      the component files' sizes (×2.5 for fp16 graphs on CPU, which onnxruntime keeps
 *                beside fp32 copies of the weights) plus 0.25 GB for the runtime itself;
 *   UNet call    ATTENTION_LIVE_TENSORS × batch × heads × tokens² × 4 for the self-attention of the
 *                first level (tokens = latent pixels; the quadratic term that dominates from 512²),
 *                plus CONV_LIVE_TENSORS × batch × first width × tokens × 4 for the convolutions;
 *                with fused attention (`cli optimize`) the score tensors are not materialised:
 *                FUSED_ATTENTION_SHARE of one (measured: 0.24 GB where one [3·8, 4096²] fp32
 *                tensor is 1.6 GB);
 *   VAE decoder  VAE_LIVE_TENSORS × the largest width × pixels product over its levels × 4, plus its
 *                mid-block attention (one head over the latent pixels; fused in optimised folders);
 *   VAE encoder  the same sizes in the other direction.
 * onnxruntime's CPU arena keeps a session's activation memory until the session is released, so
 * the UNet's stays allocated while the VAE decoder runs: the peak of an edit is the resident
 * weights plus the UNet's activations plus the larger VAE pass (measured on the realistic-width
 * model at 512²: 6.2 GB batched, 3.6 GB in sequence with on-demand VAE sessions). Without the
 * arena the memory goes back after each run, but UNet steps took twice as long.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import { join } from 'node:path';

const GB = 1024 ** 3;
const MB = 1024 ** 2;
const FLOAT_BYTES = 4;
const RUNTIME_BYTES = 0.25 * GB;
/**
 * The attention scores and the softmax probabilities are alive together (onnxruntime reuses the
 * scaled scores' buffer). Calibrated on the realistic-width model at 512²: the estimate is 4–21 %
 * above the measured peaks of every plan (see the README's table).
 */
export const ATTENTION_LIVE_TENSORS = 2;
export const CONV_LIVE_TENSORS = 24;
export const FUSED_ATTENTION_SHARE = 0.15;
export const VAE_LIVE_TENSORS = 8;
const FP16_ON_CPU_WEIGHT_FACTOR = 2.5;
/** 'auto' never plans for more than this share of the machine's memory. */
const AUTO_SHARE_OF_TOTAL = 0.85;
const MACOS_AVAILABLE_SHARE = 0.6;

export type MemoryBudgetSetting = number | 'auto';
export type UnetBatchMode = 'auto' | 'all-rows' | 'row-by-row';
export type VaeSessionMode = 'auto' | 'resident' | 'on-demand';

export class InsufficientMemoryError extends Error {
  override name = 'InsufficientMemoryError';
}

/** What the estimate needs to know about a model folder. */
export interface ModelDimensions {
  /** UNet block widths, first level first. */
  unetWidths: number[];
  unetHeads: number;
  /** VAE block widths from the image side. */
  vaeWidths: number[];
  weightBytes: { textEncoder: number; unet: number; vaeEncoder: number; vaeDecoder: number };
  /** Resident bytes per file byte: 1 for fp32, more for fp16 graphs on CPU. */
  weightFactor: number;
  /** The UNet's attention runs as one fused operator (an optimised folder). */
  fusedAttention: boolean;
  /** The VAE's mid-block attention too (folders optimised since the optimiser fuses it). */
  fusedVaeAttention?: boolean;
}

/** Stable Diffusion 1.5's widths, for exports that wrote no config.json. */
const SD15_UNET_WIDTHS = [320, 640, 1280, 1280];
const SD15_UNET_HEADS = 8;
const SD15_VAE_WIDTHS = [128, 256, 512, 512];

/** Parses "6GB", "6 GiB", "512MB", "6.5G", a plain byte count or "auto". */
export function parseMemoryBudget(raw: string): MemoryBudgetSetting {
  const text = raw.trim().toLowerCase();
  if (text === 'auto') return 'auto';
  const match = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?$/.exec(text);
  if (!match) {
    throw new Error(`a memory budget looks like 6GB, 512MB, a byte count or auto, got '${raw}'`);
  }
  const unit = (match[2] ?? 'b')[0]!;
  const scale = { b: 1, k: 1024, m: MB, g: GB, t: 1024 * GB }[unit as 'b' | 'k' | 'm' | 'g' | 't'];
  const bytes = Math.round(Number(match[1]) * scale);
  if (bytes < 256 * MB) throw new Error(`a memory budget below 256 MB cannot hold an edit, got '${raw}'`);
  return bytes;
}

/**
 * 'auto' = the memory free now plus what this process already holds (its sessions count as its
 * own), at most 85 % of the machine's memory. macOS counts its file cache and compressed pages as
 * used, so there 'free' understates what can be had: at least 60 % of the machine is assumed.
 */
export function resolveMemoryBudget(
  setting: MemoryBudgetSetting | undefined,
  machine: { free: number; total: number; rss: number; platform?: NodeJS.Platform } = {
    free: freemem(),
    total: totalmem(),
    rss: process.memoryUsage.rss(),
    platform: process.platform,
  },
): number {
  if (typeof setting === 'number') return setting;
  const floor = machine.platform === 'darwin' ? MACOS_AVAILABLE_SHARE * machine.total : 0;
  return Math.min(Math.max(machine.free + machine.rss, floor), machine.total * AUTO_SHARE_OF_TOTAL);
}

export function formatBytes(bytes: number): string {
  return bytes >= GB ? `${(bytes / GB).toFixed(1)} GB` : `${Math.round(bytes / MB)} MB`;
}

/** Reads widths from the folder's config.json files (SD 1.5's when absent) and the weights' sizes. */
export function readModelDimensions(
  dir: string,
  options: { float16: boolean; provider: string },
): ModelDimensions {
  const unetConfig = readConfig(join(dir, 'unet', 'config.json'));
  const vaeConfig =
    readConfig(join(dir, 'vae_decoder', 'config.json')) ??
    readConfig(join(dir, 'vae_encoder', 'config.json'));
  const unetWidths = numberList(unetConfig?.block_out_channels) ?? SD15_UNET_WIDTHS;
  // diffusers' SD 1.x configs name the head count attention_head_dim.
  const heads = unetConfig?.attention_head_dim;
  const unetHeads = typeof heads === 'number' ? heads : (numberList(heads)?.[0] ?? SD15_UNET_HEADS);
  return {
    unetWidths,
    unetHeads,
    vaeWidths: numberList(vaeConfig?.block_out_channels) ?? SD15_VAE_WIDTHS,
    weightBytes: {
      textEncoder: folderBytes(join(dir, 'text_encoder')),
      unet: folderBytes(join(dir, 'unet')),
      vaeEncoder: folderBytes(join(dir, 'vae_encoder')),
      vaeDecoder: folderBytes(join(dir, 'vae_decoder')),
    },
    weightFactor: options.float16 && options.provider === 'cpu' ? FP16_ON_CPU_WEIGHT_FACTOR : 1,
    // Written by the optimiser (optimizer.ts) beside the rewritten graph.
    fusedAttention: existsSync(join(dir, 'unet', 'optimization.json')),
    fusedVaeAttention: vaeAttentionFused(join(dir, 'unet', 'optimization.json')),
  };
}

function vaeAttentionFused(optimizationPath: string): boolean {
  const fused = readConfig(optimizationPath)?.vaeAttentionRewritten;
  if (typeof fused !== 'object' || fused === null) return false;
  return Object.values(fused).some((count) => typeof count === 'number' && count > 0);
}

function readConfig(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function numberList(value: unknown): number[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  return value.every((item) => typeof item === 'number' && item > 0) ? (value as number[]) : undefined;
}

/** Graph and external weight files of one component folder. */
function folderBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir)
    .filter((name) => !name.endsWith('.json') && !name.endsWith('.txt'))
    .reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

/** Activation bytes of one UNet call over `batch` rows at a latent size. */
export function unetCallBytes(
  dims: ModelDimensions,
  latentWidth: number,
  latentHeight: number,
  batch: number,
): number {
  const tokens = latentWidth * latentHeight;
  const share = dims.fusedAttention ? FUSED_ATTENTION_SHARE : ATTENTION_LIVE_TENSORS;
  const attention = share * batch * dims.unetHeads * tokens * tokens * FLOAT_BYTES;
  const convolutions = CONV_LIVE_TENSORS * batch * (dims.unetWidths[0] ?? 320) * tokens * FLOAT_BYTES;
  return attention + convolutions;
}

/** Activation bytes of one VAE pass (either direction) for an image of `width`×`height` pixels. */
export function vaeBytes(dims: ModelDimensions, width: number, height: number): number {
  let largest = 0;
  dims.vaeWidths.forEach((channels, level) => {
    const pixels = (width >> level) * (height >> level);
    largest = Math.max(largest, channels * pixels);
  });
  const latentTokens = (width / 8) * (height / 8);
  const share = dims.fusedVaeAttention ? FUSED_ATTENTION_SHARE : ATTENTION_LIVE_TENSORS;
  const midAttention = share * latentTokens * latentTokens * FLOAT_BYTES;
  return VAE_LIVE_TENSORS * largest * FLOAT_BYTES + midAttention;
}

export interface MemoryPlan {
  budget: number;
  /** Rows per UNet call: all guidance rows at once, or 1 (rows in sequence). */
  unetBatch: number;
  vaeSessions: 'resident' | 'on-demand';
  /** The estimated peak of the edit with this plan. */
  peakBytes: number;
}

export interface PlanRequest {
  width: number;
  height: number;
  /** Guidance rows per step (2 or 3). */
  rows: number;
  budget: number;
  unetBatch?: UnetBatchMode;
  vaeSessions?: VaeSessionMode;
}

function weights(dims: ModelDimensions, vae: 'resident' | 'on-demand'): number {
  const { textEncoder, unet, vaeEncoder, vaeDecoder } = dims.weightBytes;
  const resident = textEncoder + unet + (vae === 'resident' ? vaeEncoder + vaeDecoder : 0);
  return RUNTIME_BYTES + resident * dims.weightFactor;
}

/** Peak bytes of an edit run with the given batch and VAE mode. */
export function editPeakBytes(
  dims: ModelDimensions,
  width: number,
  height: number,
  unetBatch: number,
  vae: 'resident' | 'on-demand',
): number {
  const unetPeak = unetCallBytes(dims, width / 8, height / 8, unetBatch);
  // An on-demand VAE session only exists while it runs.
  const vaeSession =
    vae === 'on-demand' ? Math.max(dims.weightBytes.vaeEncoder, dims.weightBytes.vaeDecoder) : 0;
  const vaePeak = vaeBytes(dims, width, height) + vaeSession * dims.weightFactor;
  return weights(dims, vae) + unetPeak + vaePeak;
}

/**
 * The cheapest-to-run plan that fits: all rows in one UNet call and resident VAE sessions when
 * they fit, then on-demand VAE sessions, then rows in sequence. Explicit modes are kept as given.
 * Returns undefined when nothing fits.
 */
export function planMemory(dims: ModelDimensions, request: PlanRequest): MemoryPlan | undefined {
  const batches =
    request.unetBatch === 'all-rows'
      ? [request.rows]
      : request.unetBatch === 'row-by-row'
        ? [1]
        : [request.rows, 1];
  const vaeModes: ('resident' | 'on-demand')[] =
    request.vaeSessions === 'resident'
      ? ['resident']
      : request.vaeSessions === 'on-demand'
        ? ['on-demand']
        : ['resident', 'on-demand'];
  let fallback: MemoryPlan | undefined;
  for (const unetBatch of batches) {
    for (const vaeSessions of vaeModes) {
      const peakBytes = editPeakBytes(dims, request.width, request.height, unetBatch, vaeSessions);
      const plan = { budget: request.budget, unetBatch, vaeSessions, peakBytes };
      if (peakBytes <= request.budget) return plan;
      if (!fallback || peakBytes < fallback.peakBytes) fallback = plan;
    }
  }
  // Explicit modes are honoured even over budget (the caller asked for them); auto refuses.
  const explicit = request.unetBatch !== undefined && request.unetBatch !== 'auto';
  return explicit && request.vaeSessions !== undefined && request.vaeSessions !== 'auto'
    ? fallback
    : undefined;
}

/** The largest processing size (sides multiples of 64, the same aspect) whose cheapest plan fits. */
export function largestFittingSize(
  dims: ModelDimensions,
  width: number,
  height: number,
  rows: number,
  budget: number,
): { width: number; height: number } | undefined {
  const long = Math.max(width, height);
  for (let side = long - 64; side >= 64; side -= 64) {
    const scale = side / long;
    const w = Math.max(64, Math.floor((width * scale) / 64) * 64);
    const h = Math.max(64, Math.floor((height * scale) / 64) * 64);
    if (planMemory(dims, { width: w, height: h, rows, budget })) return { width: w, height: h };
  }
  return undefined;
}

/**
 * The most UNet rows one call may take (at most `maxRows`) with the VAE sessions as planned, for
 * grids, which can batch rows of several cells; at least 1 (the caller has already checked that a
 * single row fits).
 */
export function largestUnetBatch(
  dims: ModelDimensions,
  width: number,
  height: number,
  budget: number,
  vaeSessions: 'resident' | 'on-demand',
  maxRows: number,
): number {
  let batch = 1;
  while (batch < maxRows && editPeakBytes(dims, width, height, batch + 1, vaeSessions) <= budget) batch++;
  return batch;
}
