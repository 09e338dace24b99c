/**
 * Engine benchmark: for generated tiny and realistic-width models, per size and memory plan, the
 * peak RSS of each stage (load, text encoder, VAE encoder, UNet loop, VAE decoder), the time per
 * UNet step, the pipeline's overhead over onnxruntime's own run calls and the estimate the memory
 * budget plans with. Each measurement runs in its own process so peaks do not carry over.
 * Not a test: it prints a table (and writes bench-output/engine-bench.json).
 *
 *   npm run bench                    tiny + realistic widths at 256² and 512² (768² when it fits)
 *   npm run bench -- --quick         tiny model only
 *   npm run bench -- --realistic     realistic widths only
 *   npm run bench -- --sizes 256,512 processing sizes (square)
 *   npm run bench -- --plans seq     only "rows in sequence" (batch3, seq, or both comma-separated)
 *   npm run bench -- --steps 4       UNet steps per edit (default 6 tiny, 2 realistic)
 *   npm run bench -- --no-optimised  skip the optimised copies (cli optimize) of each model
 *   npm run bench -- --estimate      print the estimates of every job and run nothing
 *
 * Every job whose estimated peak exceeds the memory budget ('auto': free memory) is skipped with
 * its estimate printed. The realistic model's rows print the engine's figures from before the
 * memory budget (issue #10) beside today's.
 *
 * Plans compared: "batch 3" (the three guidance rows in one UNet call, VAE sessions resident) and
 * "rows in sequence" (one row per call, VAE sessions opened only while they run).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { EditSettings, RgbImage } from '../src/shared/engine-types';
import { guidanceRows } from '../src/main/engine/guidance';
import { editPeakBytes, readModelDimensions, resolveMemoryBudget } from '../src/main/engine/memory-budget';
import { optimizeModelFolder } from '../src/main/engine/optimizer';
import { InstructPix2PixPipeline, type PipelineLoadOptions } from '../src/main/engine/pipeline';
import { makeTinyModel, REALISTIC_WIDTHS } from '../src/main/engine/tiny-model/tiny-model';

const PLANS = {
  'batch 3': { unetBatch: 'all-rows', vaeSessions: 'resident' },
  'rows in sequence': { unetBatch: 'row-by-row', vaeSessions: 'on-demand' },
} as const satisfies Record<string, PipelineLoadOptions>;
type PlanName = keyof typeof PLANS;

interface Job {
  model: string;
  dir: string;
  size: number;
  steps: number;
  plan: PlanName;
}

interface Measurement extends Job {
  loadMs: number;
  unetStepMs: number;
  unetCallsPerStep: number;
  editMs: number;
  overheadPercent: number;
  /** Peak RSS in MB while each stage ran (the process's resident memory, weights included). */
  peakMb: { load: number; text: number; vaeEncode: number; unet: number; vaeDecode: number };
  estimateMb: number;
}

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    realistic: { type: 'boolean' },
    plans: { type: 'string' },
    estimate: { type: 'boolean' },
    /** Leave out the guidance grid's bench (bench/grid-bench.ts), which runs after the table. */
    'no-grid': { type: 'boolean' },
    steps: { type: 'string' },
    sizes: { type: 'string' },
    child: { type: 'string' },
    'no-optimised': { type: 'boolean' },
  },
  allowPositionals: false,
});

const MB = 1024 * 1024;

/**
 * The realistic-width model before the memory budget (memory pattern on, three rows in one call,
 * VAE sessions always loaded): edit peak MB and UNet step ms. 256²: measured with this bench in
 * alternating runs; 512²: issue #10 on a quiet machine; 768²: issue #10 (one UNet row alone).
 */
const BEFORE: Record<number, string> = {
  256: '2442–2476 MB, 3250–4594 ms',
  512: '10400–10600 MB, 5400–7000 ms',
  768: '≥ 15900 MB (one row alone)',
};

const PLAN_KEYS: Record<string, PlanName> = { batch3: 'batch 3', seq: 'rows in sequence' };

function testImage(size: number): RgbImage {
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      data[i] = (x * 255) / size;
      data[i + 1] = (y * 255) / size;
      data[i + 2] = ((x ^ y) & 16) * 8;
    }
  }
  return { width: size, height: size, data };
}

/** Linux: VmHWM is the peak RSS; writing 5 to clear_refs resets it to the current RSS. */
function resetPeak(): void {
  writeFileSync('/proc/self/clear_refs', '5');
}

function peakMb(): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

async function stage<T>(task: () => Promise<T>): Promise<{ value: T; peak: number; ms: number }> {
  resetPeak();
  const started = performance.now();
  const value = await task();
  return { value, peak: peakMb(), ms: performance.now() - started };
}

/** Runs in the child process: one model, one size, one plan. */
async function measure(job: Job): Promise<Measurement> {
  const settings: EditSettings = {
    instruction: 'make it look like a watercolor painting',
    steps: job.steps,
    textGuidance: 7.5,
    imageGuidance: 1.5,
    seed: 1,
    scheduler: 'euler-ancestral',
    resolution: 'native',
  };
  const image = testImage(job.size);
  const load = await stage(() =>
    InstructPix2PixPipeline.load(job.dir, { provider: 'cpu', memoryBudget: 'auto', ...PLANS[job.plan] }),
  );
  const pipeline = load.value;
  try {
    const plan = PLANS[job.plan];
    const rows = guidanceRows(settings.imageGuidance);
    const estimate = editPeakBytes(
      pipeline.dimensions,
      job.size,
      job.size,
      plan.unetBatch === 'all-rows' ? rows : 1,
      plan.vaeSessions,
    );
    const runBefore = pipeline.sessionRunMs();
    const editStarted = performance.now();
    const text = await stage(async () => ({
      instruction: (await pipeline.textEmbedding(settings.instruction)).embedding,
      empty: (await pipeline.textEmbedding('')).embedding,
    }));
    const encode = await stage(() => pipeline.imageLatents(image));
    const stepTimes: number[] = [];
    const callsBefore = pipeline.counters.unetRuns;
    const unet = await stage(() =>
      pipeline.denoise({
        imageLatents: encode.value,
        latentWidth: job.size / 8,
        latentHeight: job.size / 8,
        instruction: text.value.instruction,
        empty: text.value.empty,
        settings,
        stepTimes,
      }),
    );
    const decode = await stage(() => pipeline.decode(unet.value, job.size / 8, job.size / 8));
    const editMs = performance.now() - editStarted;
    const runMs = pipeline.sessionRunMs() - runBefore;
    return {
      ...job,
      loadMs: load.ms,
      unetStepMs: stepTimes.reduce((a, b) => a + b, 0) / stepTimes.length,
      unetCallsPerStep: (pipeline.counters.unetRuns - callsBefore) / job.steps,
      editMs,
      overheadPercent: ((editMs - runMs) / editMs) * 100,
      peakMb: {
        load: load.peak,
        text: text.peak,
        vaeEncode: encode.peak,
        unet: unet.peak,
        vaeDecode: decode.peak,
      },
      estimateMb: estimate / MB,
    };
  } finally {
    await pipeline.dispose();
  }
}

/** Runs one job in a fresh process (this script with --child) and reads its JSON line. */
function runChild(job: Job): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, process.argv[1]!, '--child', JSON.stringify(job)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as Measurement);
      else reject(new Error(`${job.model} ${job.size}² ${job.plan} failed (exit ${code}): ${out}`));
    });
  });
}

function formatRow(row: Measurement): string {
  const peaks = row.peakMb;
  const peak = Math.max(peaks.load, peaks.text, peaks.vaeEncode, peaks.unet, peaks.vaeDecode);
  const cells = [
    row.model,
    `${row.size}²`,
    row.plan,
    String(row.steps),
    row.loadMs.toFixed(0),
    `${row.unetStepMs.toFixed(1)} (${row.unetCallsPerStep} calls)`,
    row.editMs.toFixed(0),
    `${row.overheadPercent.toFixed(2)} %`,
    peaks.load.toFixed(0),
    peaks.text.toFixed(0),
    peaks.vaeEncode.toFixed(0),
    peaks.unet.toFixed(0),
    peaks.vaeDecode.toFixed(0),
    peak.toFixed(0),
    row.estimateMb.toFixed(0),
    row.model.startsWith('realistic') ? (BEFORE[row.size] ?? '–') : '–',
  ];
  return `| ${cells.join(' | ')} |`;
}

async function main(): Promise<void> {
  if (values.child) {
    const result = await measure(JSON.parse(values.child) as Job);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const root = mkdtempSync(join(tmpdir(), 'ip2p-bench-'));
  const rows: Measurement[] = [];
  const stepsOverride = values.steps === undefined ? undefined : Number(values.steps);
  const explicitSizes = values.sizes?.split(',').map(Number);
  try {
    const models: { name: string; realistic: boolean; steps: number }[] = [];
    if (!values.realistic) models.push({ name: 'tiny', realistic: false, steps: stepsOverride ?? 6 });
    if (!values.quick) models.push({ name: 'realistic widths', realistic: true, steps: stepsOverride ?? 2 });
    const plans = (values.plans ?? 'batch3,seq').split(',').map((key) => {
      const plan = PLAN_KEYS[key.trim()];
      if (!plan) throw new Error(`--plans takes batch3 and/or seq, not '${key}'`);
      return plan;
    });
    for (const model of models) {
      const dir = join(root, model.name.replace(/\W+/g, '-'));
      const started = performance.now();
      await makeTinyModel(dir, {
        flavor: 'optimum',
        ...(model.realistic ? { widths: REALISTIC_WIDTHS } : {}),
      });
      process.stderr.write(
        `generated ${model.name} model in ${(performance.now() - started).toFixed(0)} ms\n`,
      );
      const variants = [{ name: model.name, dir }];
      if (!values['no-optimised']) {
        const optimised = await optimizeModelFolder(dir, `${dir}-optimised`);
        process.stderr.write(
          `optimised: ${optimised.attentionRewritten} UNet and ${optimised.vaeAttentionRewritten} VAE attention blocks fused\n`,
        );
        variants.push({ name: `${model.name}, optimised`, dir: optimised.outDir });
      }
      const sizes = explicitSizes ?? [256, 512, 768];
      for (const size of sizes) {
        for (const [variant, plan] of variants.flatMap((v) => plans.map((p) => [v, p] as const))) {
          const job: Job = { model: variant.name, dir: variant.dir, size, steps: model.steps, plan };
          const { estimate, budget } = estimateFor(job);
          const figures = `estimate ${(estimate / MB).toFixed(0)} MB, budget ${(budget / MB).toFixed(0)} MB`;
          if (values.estimate || estimate > budget) {
            process.stderr.write(
              `${values.estimate ? 'estimate only' : 'skipping (over the memory budget)'}: ` +
                `${variant.name} at ${size}², ${plan}: ${figures}\n`,
            );
            continue;
          }
          process.stderr.write(`benchmarking ${variant.name} at ${size}², ${plan}…\n`);
          const row = await runChild(job);
          rows.push(row);
          // Each row as it comes, so a long run that is stopped still leaves its figures.
          process.stderr.write(`${formatRow(row)}\n`);
        }
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }

  const header =
    '| model | size | plan | steps | load ms | UNet step ms | edit ms | overhead | peak MB: load | text | VAE enc | UNet | VAE dec | edit | estimate MB | before: edit peak, UNet step |';
  const rule = `|${header
    .split('|')
    .slice(1, -1)
    .map(() => '---')
    .join('|')}|`;
  const table = [header, rule, ...rows.map(formatRow)].join('\n');
  process.stdout.write(
    `${table}\n\npeak MB = the process's peak resident memory while that stage ran (weights included).\n` +
      `overhead = (edit time − time inside onnxruntime's session.run) / edit time.\n` +
      `before = the realistic-width model before the memory budget (memory pattern on, batch 3, VAE resident).\n`,
  );
  mkdirSync('bench-output', { recursive: true });
  writeFileSync(join('bench-output', 'engine-bench.json'), JSON.stringify(rows, null, 2));
  if (!values['no-grid'] && !values.estimate) await runGridBench();
}

/** The guidance grid's cost ratios (issue #11), in its own process: `npm run bench:grid` alone. */
function runGridBench(): Promise<void> {
  const args = values.quick ? ['--tiny'] : [];
  process.stdout.write(`\nGuidance grid (bench/grid-bench.ts ${args.join(' ')}):\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, join(dirname(process.argv[1]!), 'grid-bench.ts'), ...args],
      {
        stdio: 'inherit',
      },
    );
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`grid bench exited with ${code}`)),
    );
  });
}

/** The plan's estimated peak and the machine's free memory ('auto' budget). */
function estimateFor(job: Job): { estimate: number; budget: number } {
  const plan = PLANS[job.plan];
  const dimensions = readModelDimensions(job.dir, { float16: false, provider: 'cpu' });
  const batch = plan.unetBatch === 'all-rows' ? 3 : 1;
  const estimate = editPeakBytes(dimensions, job.size, job.size, batch, plan.vaeSessions);
  return { estimate, budget: resolveMemoryBudget('auto') };
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
