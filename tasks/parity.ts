/**
 * Training parity across backends: the first steps of real training of each
 * net, from identical initial weights and identical batches, on the cpu
 * backend (the reference), on wasm and on WebGPU.
 *
 * ```sh
 * deno task parity [--nets part1,part2,part3-resnet,part3-unet] [--backends cpu,wasm,webgpu]
 *   [--steps 20] [--batch N] [--seed 1] [--lr X] [--out runs/parity] [--synthetic]
 *   [--cpu-workers N]
 * ```
 *
 * For each net: the model is built with the seed on cpu and its initial
 * weights are read back; `steps` training batches are drawn exactly as
 * `lib/train.ts` draws them (seeded shuffle, then the part's augmentation
 * with the same random stream) from the real data (IMM for parts 1 and 2,
 * the 300-W training subsets for part 3, loaded through the project's own
 * loaders), or seeded synthetic faces with `--synthetic`; then the same
 * Adam steps with the part's training loss and first-epoch learning rate run
 * on every backend. Per backend it reports the loss at every step, the
 * largest relative loss difference from cpu, the largest absolute weight
 * difference after the last step (all weights, BatchNorm statistics
 * included), and that difference relative to how far cpu training moved the
 * weights.
 *
 * The cpu run is slow, so it is cached in `OUT/<net>-cpu.json` (plus the
 * final weights in `OUT/<net>-cpu.weights.bin`), keyed by net, batch, steps,
 * seed, learning rate and data, and checked against hashes of the initial
 * weights and the batches before it is reused. Results are merged into
 * `OUT/parity.json` and `OUT/parity.md`.
 *
 * On WebGPU nothing is read back synchronously (only `await t.data()`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { DEFAULT_AUGMENT } from "../lib/augment.ts";
import { setupBackend } from "../lib/backend.ts";
import type { ModelMeta } from "../lib/checkpoint.ts";
import { ensureDir, writeFileAtomic } from "../lib/fs_util.ts";
import { createDataParallel } from "../lib/data_parallel.ts";
import { trainingLossFromSpec, type TrainingLossSpec } from "../lib/training_loss.ts";
import { createOptimizer } from "../lib/optimizer.ts";
import { prepareImm, resolveImmDir } from "../lib/imm_task.ts";
import { keypointSource } from "../lib/keypoint_source.ts";
import { IBUG68, IMM58, IMM_NOSE_TIP } from "../lib/layouts.ts";
import { buildPart1, buildPart2 } from "../lib/models.ts";
import { normaliseImageInto, normalisePoints } from "../lib/preprocess.ts";
import { createRng, type Rng, shuffle } from "../lib/random.ts";
import { buildResNet } from "../lib/resnet.ts";
import { learningRate } from "../lib/train.ts";
import { buildHeatmapUNet } from "../lib/unet.ts";
import { load300w, resolve300wDir, W300_SPLIT } from "../lib/w300.ts";
import { augmentFace, prepareTrainFace } from "../lib/w300_task.ts";
import { transformPoints } from "../lib/augment.ts";
import { translation } from "../lib/affine.ts";

/** The nets this task knows. */
export type NetId = "part1" | "part2" | "part3-resnet" | "part3-unet";

/** The backends compared. */
export type ParityBackend = "cpu" | "wasm" | "webgpu";

/** All net ids, in report order. */
export const NET_IDS: NetId[] = ["part1", "part2", "part3-resnet", "part3-unet"];

/** Fixed training batches on the host. */
export interface HostBatches {
  /** Input `[height, width, channels]`. */
  inputShape: [number, number, number];
  /** Values per target. */
  outputs: number;
  /** Inputs, one array per step (`batch * h * w * c` values). */
  x: Float32Array[];
  /** Targets, one array per step (`batch * outputs` values). */
  y: Float32Array[];
  /** Where the batches came from. */
  source: string;
  /** Mean normalised training shape (part 3's ResNet head bias), if any. */
  meanShape?: Float32Array;
}

/** One backend's run of {@link runSteps}. */
export interface StepRun {
  /** Loss at every step (before that step's update). */
  losses: number[];
  /** Wall seconds of every step (including the loss read-back). */
  stepSeconds: number[];
  /** All weights after the last step, in `model.getWeights()` order. */
  final: Float32Array[];
}

/**
 * Runs Adam steps of a fresh model on a backend from given initial weights,
 * one step per batch, exactly as the training loop does
 * (`optimizer.minimize(loss, true, trainableVariables)`); reads values back
 * only with `await t.data()`.
 *
 * @example
 * ```ts ignore
 * import { runSteps } from "./parity.ts";
 * const r = await runSteps("wasm", () => buildPart1({ seed: 1 }), init, batches, 1e-3, { loss: "mse", head: "regression" });
 * console.log(r.losses);
 * ```
 */
export async function runSteps(
  backend: ParityBackend,
  build: () => tf.LayersModel,
  init: Float32Array[],
  batches: HostBatches,
  lr: number,
  loss: TrainingLossSpec,
  onStep?: (step: number, loss: number, seconds: number) => void,
  workers = 1,
): Promise<StepRun> {
  await setupBackend(backend);
  const model = build();
  const shapes = model.getWeights().map((w) => w.shape);
  if (shapes.length !== init.length) {
    throw new Error(`model has ${shapes.length} weights, initial weights ${init.length}`);
  }
  const initTensors = init.map((w, i) => tf.tensor(w, shapes[i]));
  model.setWeights(initTensors);
  tf.dispose(initTensors);
  const optimizer = createOptimizer(lr);
  const lossFn = trainingLossFromSpec(loss);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const [h, w, c] = batches.inputShape;
  const losses: number[] = [];
  const stepSeconds: number[] = [];
  // Data-parallel replicas (same arithmetic, split batch): only for nets
  // without BatchNorm, whose gradients do not depend on the split.
  const dp = workers > 1
    ? await createDataParallel(model, optimizer, { workers, backend, loss, lr })
    : null;
  for (let s = 0; s < batches.x.length; s++) {
    const size = batches.y[s].length / batches.outputs;
    const t0 = performance.now();
    let v: number;
    if (dp) {
      v = await dp.step(batches.x[s], batches.y[s], size, lr);
    } else {
      const x = tf.tensor4d(batches.x[s], [size, h, w, c]);
      const y = tf.tensor2d(batches.y[s], [size, batches.outputs]);
      const cost = optimizer.minimize(() => lossFn(model, x, y), true, vars) as tf.Scalar;
      v = (await cost.data())[0];
      tf.dispose([x, y, cost]);
    }
    const sec = (performance.now() - t0) / 1000;
    losses.push(v);
    stepSeconds.push(sec);
    onStep?.(s + 1, v, sec);
  }
  const final = await Promise.all(
    model.getWeights().map(async (t) => Float32Array.from(await t.data() as Float32Array)),
  );
  dp?.close();
  optimizer.dispose();
  model.dispose();
  return { losses, stepSeconds, final };
}

/** How one backend compares with the cpu reference. */
export interface Comparison {
  /** Largest `|loss - cpuLoss| / |cpuLoss|` over the steps. */
  maxRelLossDiff: number;
  /** The 1-based step where it occurred. */
  worstStep: number;
  /** Largest `|w - cpuW|` over all weights after the last step. */
  maxWeightDiff: number;
  /** The weight (by `model.getWeights()` index name) where it occurred. */
  worstWeight: string;
  /** Largest `|cpuFinal - init|`: how far cpu training moved any weight. */
  maxCpuMovement: number;
  /** Weight values that differ from cpu by more than `stepSize` (one Adam step). */
  weightsOverStep: number;
  /** Number of weight values compared. */
  weightCount: number;
}

/**
 * Compares a backend's losses and final weights with the cpu run;
 * `stepSize` (the learning rate: Adam moves a weight by about that much
 * per step whatever its gradient's scale) sets the threshold of
 * {@link Comparison.weightsOverStep}.
 *
 * @example
 * ```ts
 * import { compareRuns } from "./parity.ts";
 * const a = { losses: [1, 0.5], stepSeconds: [1, 1], final: [new Float32Array([1, 2])] };
 * const b = { losses: [1, 0.5001], stepSeconds: [1, 1], final: [new Float32Array([1, 2.001])] };
 * const c = compareRuns(a, b, [new Float32Array([0, 0])], ["w"], 1e-4);
 * console.log(c.worstStep, c.worstWeight, c.weightsOverStep); // 2 w 1
 * ```
 */
export function compareRuns(
  cpu: StepRun,
  other: StepRun,
  init: Float32Array[],
  names: string[],
  stepSize: number,
): Comparison {
  if (cpu.losses.length !== other.losses.length) {
    throw new Error(`${other.losses.length} steps vs ${cpu.losses.length} on cpu`);
  }
  let maxRelLossDiff = 0, worstStep = 0;
  cpu.losses.forEach((l, i) => {
    const o = other.losses[i];
    const r = Number.isFinite(o) ? Math.abs(o - l) / Math.max(Math.abs(l), 1e-30) : Infinity;
    if (worstStep === 0 || r > maxRelLossDiff) {
      maxRelLossDiff = r;
      worstStep = i + 1;
    }
  });
  let maxWeightDiff = 0, worstWeight = "", maxCpuMovement = 0;
  let weightsOverStep = 0, weightCount = 0;
  cpu.final.forEach((w, i) => {
    const o = other.final[i], w0 = init[i];
    if (!o || o.length !== w.length) throw new Error(`weight ${names[i]}: size differs`);
    for (let j = 0; j < w.length; j++) {
      const d = Math.abs(o[j] - w[j]);
      if (!(d <= stepSize)) weightsOverStep++;
      if (!(d <= maxWeightDiff)) {
        maxWeightDiff = Number.isNaN(d) ? Infinity : d;
        worstWeight = names[i];
      }
      const m = Math.abs(w[j] - w0[j]);
      if (m > maxCpuMovement) maxCpuMovement = m;
    }
    weightCount += w.length;
  });
  return {
    maxRelLossDiff,
    worstStep,
    maxWeightDiff,
    worstWeight,
    maxCpuMovement,
    weightsOverStep,
    weightCount,
  };
}

/**
 * A 64-bit (two 32-bit lanes) hash of float arrays' bits, as hex, to check
 * that a cached reference used the same weights and batches.
 *
 * @example
 * ```ts
 * import { hashFloats } from "./parity.ts";
 * console.log(hashFloats([new Float32Array([1])]) === hashFloats([new Float32Array([1])])); // true
 * ```
 */
export function hashFloats(arrays: Float32Array[]): string {
  let a = 0x811c9dc5, b = 0x01000193 ^ arrays.length;
  for (const arr of arrays) {
    const u = new Uint32Array(arr.buffer, arr.byteOffset, arr.length);
    a = Math.imul(a ^ u.length, 0x01000193);
    for (let i = 0; i < u.length; i++) {
      a = Math.imul(a ^ u[i], 0x01000193);
      b = Math.imul(b ^ u[i], 0x5bd1e995) ^ (b >>> 13);
    }
  }
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0");
}

/** A net under test: how it is built, trained and fed. */
export interface NetSpec {
  /** Net id. */
  id: NetId;
  /** A description for the report. */
  description: string;
  /** The real default batch size (main.ts). */
  batch: number;
  /** Peak learning rate (main.ts default). */
  peakLr: number;
  /** Learning rate of the first epoch (warm-up applied), used for the steps. */
  lr: number;
  /** The training loss, as the part trains with. */
  lossName: string;
  /** Builds the model (seeded; `meanShape` only matters to the ResNet). */
  build: (seed: number, meanShape?: Float32Array) => tf.LayersModel;
  /** The training loss. */
  loss: TrainingLossSpec;
}

const P3_SIZE = 112;

/**
 * The specification of a net, with main.ts's defaults: parts 1 and 2 Adam
 * 1e-3 constant and MSE; part 3 Adam 2e-3 peak with one warm-up epoch from
 * lr/10 (so 2e-4 during the first epoch's steps) and Smooth-L1 with beta
 * 1/112 (the U-Net adds its heatmap term through `heatmapTrainingLoss`).
 *
 * @example
 * ```ts
 * import { netSpec } from "./parity.ts";
 * console.log(netSpec("part3-resnet").batch); // 16
 * ```
 */
export function netSpec(id: NetId): NetSpec {
  const mse: TrainingLossSpec = { loss: "mse", head: "regression" };
  const sl1: TrainingLossSpec = { loss: "smoothl1", beta: 1 / P3_SIZE, head: "regression" };
  const p3Lr = learningRate(2e-3, 0, 40, { warmupEpochs: 1, decay: "cosine" });
  switch (id) {
    case "part1":
      return {
        id,
        description: "Part 1 nose tip, 80x64 gray",
        batch: 8,
        peakLr: 1e-3,
        lr: 1e-3,
        lossName: "mse",
        build: (seed) => buildPart1({ seed }),
        loss: mse,
      };
    case "part2":
      return {
        id,
        description: "Part 2 58 points, 160x120 gray",
        batch: 8,
        peakLr: 1e-3,
        lr: 1e-3,
        lossName: "mse",
        build: (seed) => buildPart2({ seed }),
        loss: mse,
      };
    case "part3-resnet":
      return {
        id,
        description: "Part 3 ResNet-18 w0.5, 112 gray",
        batch: 16,
        peakLr: 2e-3,
        lr: p3Lr,
        lossName: "smoothl1 (beta 1/112)",
        build: (seed, meanShape) =>
          buildResNet({
            depth: 18,
            inputSize: P3_SIZE,
            channels: 1,
            widthMultiplier: 0.5,
            bottleneckWidth: 1,
            initialBias: meanShape,
            seed,
            outputs: 136,
          }),
        loss: sl1,
      };
    case "part3-unet":
      return {
        id,
        description: "Part 3 heatmap U-Net, 112 gray",
        batch: 16,
        peakLr: 2e-3,
        lr: p3Lr,
        lossName: "heatmapTrainingLoss (smoothl1 + 0.01 KL)",
        build: (seed) =>
          buildHeatmapUNet({
            inputWidth: P3_SIZE,
            inputHeight: P3_SIZE,
            channels: 1,
            keypoints: 68,
            outputStride: 4,
            seed,
          }),
        loss: { ...sl1, head: "heatmap" },
      };
  }
}

/**
 * Indices of the first `steps` batches as `lib/train.ts` draws them: a
 * seeded shuffle per epoch, consecutive slices (the last, short slice of an
 * epoch included), calling `draw` with the same random stream in order.
 */
async function drawBatches(
  trainSize: number,
  steps: number,
  batch: number,
  seed: number,
  draw: (idx: number[], rng: Rng) =>
    | { x: Float32Array; y: Float32Array }
    | Promise<
      { x: Float32Array; y: Float32Array }
    >,
): Promise<{ x: Float32Array[]; y: Float32Array[] }> {
  const rng = createRng(seed);
  const x: Float32Array[] = [], y: Float32Array[] = [];
  while (x.length < steps) {
    const order = shuffle(Array.from({ length: trainSize }, (_, i) => i), rng);
    for (let s = 0; s * batch < order.length && x.length < steps; s++) {
      const b = await draw(order.slice(s * batch, (s + 1) * batch), rng);
      x.push(b.x);
      y.push(b.y);
    }
  }
  return { x, y };
}

/**
 * Seeded synthetic face-like batches: a dark oval on a gradient with two
 * eye blobs and a nose blob, placed and scaled at random; the targets are
 * points on the oval (the nose tip first), normalised to [0, 1].
 *
 * @example
 * ```ts
 * import { syntheticBatches } from "./parity.ts";
 * const b = syntheticBatches([64, 80, 1], 2, 2, 4, 1);
 * console.log(b.x.length, b.y[0].length); // 2 8
 * ```
 */
export function syntheticBatches(
  inputShape: [number, number, number],
  outputs: number,
  steps: number,
  batch: number,
  seed: number,
): HostBatches {
  const [h, w, c] = inputShape;
  const rng = createRng(seed);
  const k = outputs / 2;
  const xs: Float32Array[] = [], ys: Float32Array[] = [];
  for (let s = 0; s < steps; s++) {
    const x = new Float32Array(batch * h * w * c);
    const y = new Float32Array(batch * outputs);
    for (let b = 0; b < batch; b++) {
      const cx = rng.uniform(0.4, 0.6), cy = rng.uniform(0.4, 0.6);
      const rx = rng.uniform(0.2, 0.3), ry = rng.uniform(0.25, 0.35);
      const blobs = [[cx, cy + 0.05], [cx - rx / 2, cy - ry / 3], [cx + rx / 2, cy - ry / 3]];
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const u = (j + 0.5) / w, v = (i + 0.5) / h;
          let val = 0.2 * (u - 0.5) + 0.1 * rng.normal() * 0.1;
          if (((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2 < 1) val += 0.4;
          for (const [bx, by] of blobs) {
            val -= 0.5 * Math.exp(-((u - bx) ** 2 + (v - by) ** 2) / 0.002);
          }
          for (let ch = 0; ch < c; ch++) x[((b * h + i) * w + j) * c + ch] = val;
        }
      }
      for (let p = 0; p < k; p++) {
        const a = p === 0 ? 0 : (2 * Math.PI * p) / k;
        y[b * outputs + 2 * p] = p === 0 ? blobs[0][0] : cx + rx * Math.cos(a);
        y[b * outputs + 2 * p + 1] = p === 0 ? blobs[0][1] : cy + ry * Math.sin(a);
      }
    }
    xs.push(x);
    ys.push(y);
  }
  return { inputShape, outputs, x: xs, y: ys, source: `synthetic faces (seed ${seed})` };
}

/**
 * The first `steps` training batches of a net from its real data, drawn
 * as `lib/train.ts` would with `seed`: IMM (persons 1-32; part 1 without,
 * part 2 with the default augmentation) or the 300-W training subsets
 * (the first `ceil(steps * batch / 3)` faces of each, as the project's
 * `--limit` does; augmentation, box jitter 0.05, box scale 0.25).
 *
 * @example
 * ```ts ignore
 * import { realBatches } from "./parity.ts";
 * const b = await realBatches("part1", 20, 8, 1);
 * ```
 */
export async function realBatches(
  id: NetId,
  steps: number,
  batch: number,
  seed: number,
): Promise<HostBatches> {
  if (id === "part1" || id === "part2") {
    const dir = resolveImmDir(undefined);
    const { train } = await prepareImm(dir, id);
    const points = id === "part1" ? [IMM_NOSE_TIP] : Array.from({ length: 58 }, (_, i) => i);
    const source = keypointSource(train, [], {
      points,
      flip: IMM58.flip,
      augment: id === "part2" ? DEFAULT_AUGMENT : null,
    });
    const b = await drawBatches(
      train.length,
      steps,
      batch,
      seed,
      (idx, rng) => source.trainBatch(idx, rng),
    );
    return {
      inputShape: source.inputShape,
      outputs: source.outputs,
      ...b,
      source: `IMM ${dir} (${train.length} training faces${
        id === "part2" ? ", augmented" : ""
      }, shuffle seed ${seed})`,
    };
  }
  const root = resolve300wDir(undefined);
  const meta: ModelMeta = {
    task: "part3",
    layout: IBUG68.id,
    points: Array.from({ length: 68 }, (_, i) => i),
    inputWidth: P3_SIZE,
    inputHeight: P3_SIZE,
    channels: 1,
    boxScale: 0.25,
  };
  const limit = Math.ceil((steps * batch) / W300_SPLIT.train.length);
  const samples = await load300w(W300_SPLIT.train.map((d) => `${root}/${d}`), {
    channels: 1,
    limit,
  });
  const faces = samples.map((s) => prepareTrainFace(s, meta));
  const pixels = P3_SIZE * P3_SIZE;
  const b = await drawBatches(faces.length, steps, batch, seed, (idx, rng) => {
    const x = new Float32Array(idx.length * pixels);
    const y = new Float32Array(idx.length * 136);
    idx.forEach((i, k) => {
      const a = augmentFace(faces[i], P3_SIZE, rng, DEFAULT_AUGMENT, 0.05);
      normaliseImageInto(a.image, x, k * pixels);
      y.set(normalisePoints(a.points, P3_SIZE, P3_SIZE), k * 136);
    });
    return { x, y };
  });
  // The ResNet head starts at the mean training shape, as in runPart3.
  const meanShape = new Float32Array(136);
  for (const f of faces) {
    const margin = (f.image.width - P3_SIZE) / 2;
    const p = normalisePoints(
      transformPoints(translation(-margin, -margin), f.points),
      P3_SIZE,
      P3_SIZE,
    );
    for (let i = 0; i < 136; i++) meanShape[i] += p[i] / faces.length;
  }
  return {
    inputShape: [P3_SIZE, P3_SIZE, 1],
    outputs: 136,
    ...b,
    meanShape,
    source:
      `300-W ${root} ${W300_SPLIT.train.join("+")} (first ${limit} faces each, ${faces.length} ` +
      `faces, augmented, shuffle seed ${seed})`,
  };
}

/** The cached cpu reference of one net. */
interface CpuCache {
  key: CacheKey;
  initHash: string;
  batchHash: string;
  finalHash: string;
  losses: number[];
  stepSeconds: number[];
  weightsFile: string;
  weightSizes: number[];
  created: string;
}

interface CacheKey {
  net: NetId;
  batch: number;
  steps: number;
  seed: number;
  lr: number;
  data: string;
}

/** One row of the report. */
export interface ParityRow {
  /** Net id. */
  net: NetId;
  /** Backend. */
  backend: ParityBackend;
  /** Batch size used. */
  batch: number;
  /** The net's real default batch size. */
  defaultBatch: number;
  /** Steps. */
  steps: number;
  /** Seed. */
  seed: number;
  /** Learning rate used. */
  lr: number;
  /** Loss name. */
  loss: string;
  /** Data description. */
  data: string;
  /** Loss at every step. */
  losses: number[];
  /** Mean wall seconds per step. */
  secondsPerStep: number;
  /** Wall seconds of the first step (includes kernel compilation). */
  firstStepSeconds: number;
  /** For cpu: whether the run came from the cache. */
  cached?: boolean;
  /** Comparison with cpu (absent for cpu itself). */
  vsCpu?: Comparison & {
    /** `maxWeightDiff / maxCpuMovement`. */
    weightDiffVsMovement: number;
    /** `weightsOverStep / weightCount`. */
    fractionOverStep: number;
    /** Whether the backend is within the tolerances. */
    pass: boolean;
  };
  /** When it was measured. */
  measured: string;
  /** `git describe --always --dirty` of the working tree it ran from. */
  revision: string;
}

/**
 * When a backend "matches" cpu: the loss curve within `relLoss` (relative)
 * at every step, and at most the fraction `weightsOverStep` of the weight
 * values more than one Adam step (the learning rate) away from cpu's after
 * the last step. A maximum over all weights is no criterion: Adam divides
 * each gradient by its own running scale, so a weight whose gradient is
 * near zero moves by about the learning rate in a direction set by rounding
 * noise, on any two backends that round differently.
 */
export interface Tolerances {
  /** Largest relative loss difference at any step. */
  relLoss: number;
  /** Largest fraction of weight values off by more than one step. */
  weightsOverStep: number;
}

/** The whole report (`parity.json`). */
export interface ParityReport {
  /** Tolerances used for `pass`. */
  tolerances: Tolerances;
  /** Rows by net and backend. */
  rows: ParityRow[];
}

function mean(a: number[]): number {
  return a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);
}

/**
 * The Markdown table of a report.
 *
 * @example
 * ```ts
 * import { markdownTable } from "./parity.ts";
 * console.log(markdownTable({ tolerances: { relLoss: 1e-3, weightsOverStep: 1e-3 }, rows: [] }).startsWith("|")); // true
 * ```
 */
export function markdownTable(report: ParityReport): string {
  const head =
    "| net | backend | batch | steps | lr | loss step 1 → last | max rel. loss diff vs cpu " +
    "| max \\|weight diff\\| | diff / cpu movement | weights off by > lr | s/step | verdict |\n" +
    "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  const order = (r: ParityRow): number =>
    NET_IDS.indexOf(r.net) * 10 + ["cpu", "wasm", "webgpu"].indexOf(r.backend);
  const lines = [...report.rows].sort((a, b) => order(a) - order(b)).map((r) => {
    const c = r.vsCpu;
    const batch = r.batch === r.defaultBatch ? `${r.batch}` : `${r.batch} (real ${r.defaultBatch})`;
    return `| ${r.net} | ${r.backend}${r.cached ? " (cached)" : ""} | ${batch} | ${r.steps} | ${
      r.lr.toExponential(0)
    } | ${r.losses[0].toPrecision(5)} → ${r.losses[r.losses.length - 1].toPrecision(5)} | ${
      c ? `${c.maxRelLossDiff.toExponential(2)} (step ${c.worstStep})` : "reference"
    } | ${c ? `${c.maxWeightDiff.toExponential(2)} (${c.worstWeight})` : "–"} | ${
      c ? c.weightDiffVsMovement.toExponential(2) : "–"
    } | ${c ? `${c.weightsOverStep} / ${c.weightCount}` : "–"} | ${r.secondsPerStep.toFixed(2)} | ${
      c ? (c.pass ? "match" : "**MISMATCH**") : "–"
    } |`;
  });
  return head + lines.join("\n") + "\n";
}

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch {
    return null;
  }
}

function concatBytes(arrays: Float32Array[]): Uint8Array {
  const total = arrays.reduce((s, a) => s + a.length, 0);
  const out = new Float32Array(total);
  let o = 0;
  for (const a of arrays) {
    out.set(a, o);
    o += a.length;
  }
  return new Uint8Array(out.buffer);
}

function splitFloats(bytes: Uint8Array, sizes: number[]): Float32Array[] {
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const out: Float32Array[] = [];
  let o = 0;
  for (const n of sizes) {
    out.push(all.slice(o, o + n));
    o += n;
  }
  if (o !== all.length) throw new Error(`weights file has ${all.length} values, expected ${o}`);
  return out;
}

async function loadCpuCache(
  out: string,
  key: CacheKey,
  initHash: string,
  batchHash: string,
): Promise<StepRun | null> {
  const c = await readJson<CpuCache>(`${out}/${key.net}-cpu.json`);
  if (!c || JSON.stringify(c.key) !== JSON.stringify(key)) return null;
  if (c.initHash !== initHash || c.batchHash !== batchHash) {
    console.log(`${key.net}: cached cpu run has other initial weights or batches; recomputing`);
    return null;
  }
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(`${out}/${c.weightsFile}`);
  } catch {
    return null;
  }
  const final = splitFloats(bytes, c.weightSizes);
  if (hashFloats(final) !== c.finalHash) {
    console.log(`${key.net}: cached cpu weights do not match their hash; recomputing`);
    return null;
  }
  return { losses: c.losses, stepSeconds: c.stepSeconds, final };
}

async function saveCpuCache(
  out: string,
  key: CacheKey,
  initHash: string,
  batchHash: string,
  run: StepRun,
): Promise<void> {
  const weightsFile = `${key.net}-cpu.weights.bin`;
  await writeFileAtomic(`${out}/${weightsFile}`, concatBytes(run.final));
  const c: CpuCache = {
    key,
    initHash,
    batchHash,
    finalHash: hashFloats(run.final),
    losses: run.losses,
    stepSeconds: run.stepSeconds,
    weightsFile,
    weightSizes: run.final.map((w) => w.length),
    created: new Date().toISOString(),
  };
  await writeFileAtomic(`${out}/${key.net}-cpu.json`, JSON.stringify(c, null, 2) + "\n");
}

async function gitRevision(): Promise<string> {
  try {
    const out = await new Deno.Command("git", {
      args: ["describe", "--always", "--dirty"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : "unknown";
  } catch {
    return "unknown";
  }
}

/** Options of {@link parityForNet}. */
export interface ParityOptions {
  /** Backends to run (cpu is always the reference; it is loaded from the cache if not listed). */
  backends: ParityBackend[];
  /** Steps. */
  steps: number;
  /** Batch size (default the net's real one). */
  batch?: number;
  /** Seed for weights and batches. */
  seed: number;
  /** Learning rate (default the net's first-epoch one). */
  lr?: number;
  /** Output folder. */
  out: string;
  /** Use seeded synthetic faces instead of the real data. */
  synthetic: boolean;
  /** Tolerances. */
  tolerances: Tolerances;
  /** Data-parallel replicas for the cpu reference (nets without BatchNorm). */
  cpuWorkers?: number;
}

/**
 * Runs the parity check of one net on the chosen backends; returns a row
 * per backend that ran (cpu included when listed or loaded from the cache).
 *
 * @example
 * ```ts ignore
 * import { parityForNet } from "./parity.ts";
 * const rows = await parityForNet("part1", { backends: ["cpu", "wasm"], steps: 20, seed: 1, out: "runs/parity", synthetic: false, tolerances: { relLoss: 1e-3, weightsOverStep: 1e-3 } });
 * ```
 */
export async function parityForNet(id: NetId, o: ParityOptions): Promise<ParityRow[]> {
  const spec = netSpec(id);
  const batch = o.batch ?? spec.batch;
  const lr = o.lr ?? spec.lr;
  const log = (s: string): void => console.log(`${id}: ${s}`);
  const t0 = performance.now();
  const batches = o.synthetic
    ? syntheticBatches(
      (id === "part1" ? [64, 80, 1] : id === "part2" ? [120, 160, 1] : [P3_SIZE, P3_SIZE, 1]) as [
        number,
        number,
        number,
      ],
      id === "part1" ? 2 : id === "part2" ? 116 : 136,
      o.steps,
      batch,
      o.seed,
    )
    : await realBatches(id, o.steps, batch, o.seed);
  log(
    `${o.steps} batches of ${batch} from ${batches.source} in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
  const build = (): tf.LayersModel => spec.build(o.seed, batches.meanShape);

  // The initial weights, made once on cpu.
  await setupBackend("cpu");
  const m0 = build();
  const names = m0.weights.map((w) => w.originalName);
  const batchNorm = m0.layers.some((l) => l.getClassName() === "BatchNormalization");
  const init = await Promise.all(
    m0.getWeights().map(async (t) => Float32Array.from(await t.data() as Float32Array)),
  );
  m0.dispose();
  const initHash = hashFloats(init);
  const batchHash = hashFloats([...batches.x, ...batches.y]);
  const key: CacheKey = {
    net: id,
    batch,
    steps: o.steps,
    seed: o.seed,
    lr,
    data: batches.source,
  };
  const now = (): string => new Date().toISOString();
  const revision = await gitRevision();
  const row = (backend: ParityBackend, r: StepRun): ParityRow => ({
    net: id,
    backend,
    batch,
    defaultBatch: spec.batch,
    steps: o.steps,
    seed: o.seed,
    lr,
    loss: spec.lossName,
    data: batches.source,
    losses: r.losses,
    secondsPerStep: mean(r.stepSeconds),
    firstStepSeconds: r.stepSeconds[0],
    measured: now(),
    revision,
  });
  const onStep = (b: string) => (s: number, l: number, sec: number): void =>
    log(`${b} step ${s}/${o.steps} loss ${l.toPrecision(7)} ${sec.toFixed(2)} s`);

  const rows: ParityRow[] = [];
  let cpu = o.backends.includes("cpu") ? null : await loadCpuCache(o.out, key, initHash, batchHash);
  if (o.backends.includes("cpu")) {
    cpu = await loadCpuCache(o.out, key, initHash, batchHash);
    if (cpu) log(`cpu reference from the cache (${o.out}/${id}-cpu.json)`);
    else {
      const workers = o.cpuWorkers ?? 1;
      if (workers > 1 && batchNorm) {
        throw new Error(`--cpu-workers: ${id} has BatchNorm; its reference must run whole`);
      }
      cpu = await runSteps(
        "cpu",
        build,
        init,
        batches,
        lr,
        spec.loss,
        onStep("cpu"),
        workers,
      );
      await saveCpuCache(o.out, key, initHash, batchHash, cpu);
      rows.push({ ...row("cpu", cpu), cached: false });
    }
  }
  if (!cpu) {
    throw new Error(
      `${id}: no cached cpu reference for batch ${batch}, ${o.steps} steps, seed ${o.seed} in ` +
        `${o.out}; run with --backends cpu first`,
    );
  }
  if (!rows.some((r) => r.backend === "cpu")) rows.push({ ...row("cpu", cpu), cached: true });
  for (const b of o.backends) {
    if (b === "cpu") continue;
    const r = await runSteps(b, build, init, batches, lr, spec.loss, onStep(b));
    const c = compareRuns(cpu, r, init, names, lr);
    const ratio = c.maxWeightDiff / Math.max(c.maxCpuMovement, 1e-30);
    const frac = c.weightsOverStep / Math.max(1, c.weightCount);
    const pass = c.maxRelLossDiff <= o.tolerances.relLoss &&
      frac <= o.tolerances.weightsOverStep;
    log(
      `${b} vs cpu: max rel loss diff ${
        c.maxRelLossDiff.toExponential(2)
      } (step ${c.worstStep}), ` +
        `max |weight diff| ${c.maxWeightDiff.toExponential(2)} (${c.worstWeight}), ` +
        `${ratio.toExponential(2)} of cpu's largest weight movement, ${c.weightsOverStep} of ` +
        `${c.weightCount} weights off by more than lr: ${pass ? "match" : "MISMATCH"}`,
    );
    rows.push({
      ...row(b, r),
      vsCpu: { ...c, weightDiffVsMovement: ratio, fractionOverStep: frac, pass },
    });
  }
  return rows;
}

function parseList<T extends string>(v: string, allowed: readonly T[], flag: string): T[] {
  const items = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const i of items) {
    if (!allowed.includes(i as T)) {
      throw new Error(`--${flag}: unknown "${i}" (use ${allowed.join(", ")})`);
    }
  }
  if (items.length === 0) throw new Error(`--${flag}: empty list`);
  return items as T[];
}

function positive(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: "${v}" is not a positive number`);
  return n;
}

/**
 * The command line; returns the exit status (1 when a backend does not
 * match cpu, 2 for usage errors).
 *
 * @example
 * ```ts ignore
 * import { main } from "./parity.ts";
 * Deno.exit(await main(["--nets", "part1", "--backends", "cpu,wasm"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        nets: { type: "string", default: NET_IDS.join(",") },
        backends: { type: "string", default: "cpu,wasm,webgpu" },
        steps: { type: "string", default: "20" },
        batch: { type: "string" },
        seed: { type: "string", default: "1" },
        lr: { type: "string" },
        out: { type: "string", default: "runs/parity" },
        synthetic: { type: "boolean", default: false },
        "tol-loss": { type: "string", default: "1e-3" },
        "tol-weight": { type: "string", default: "1e-3" },
        "cpu-workers": { type: "string", default: "1" },
      },
    }).values;
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 2;
  }
  try {
    const nets = parseList(values.nets!, NET_IDS, "nets");
    const backends = parseList(values.backends!, ["cpu", "wasm", "webgpu"] as const, "backends");
    const opts: ParityOptions = {
      backends,
      steps: positive(values.steps, "steps")!,
      batch: positive(values.batch, "batch"),
      seed: Number(values.seed),
      lr: positive(values.lr, "lr"),
      out: values.out!,
      synthetic: values.synthetic!,
      cpuWorkers: positive(values["cpu-workers"], "cpu-workers"),
      tolerances: {
        relLoss: positive(values["tol-loss"], "tol-loss")!,
        weightsOverStep: positive(values["tol-weight"], "tol-weight")!,
      },
    };
    if (!Number.isInteger(opts.seed)) throw new Error(`--seed: "${values.seed}" is not an integer`);
    await ensureDir(opts.out);
    let failed = 0;
    for (const id of nets) {
      const rows = await parityForNet(id, opts);
      failed += rows.filter((r) => r.vsCpu && !r.vsCpu.pass).length;
      // Merge into the report: replace this net's rows for the backends that ran.
      const path = `${opts.out}/parity.json`;
      const report: ParityReport = (await readJson<ParityReport>(path)) ??
        { tolerances: opts.tolerances, rows: [] };
      report.tolerances = opts.tolerances;
      report.rows = report.rows.filter((r) =>
        !(r.net === id && rows.some((n) => n.backend === r.backend))
      ).concat(rows);
      // Rows of this net measured with other settings than the new cpu reference are stale.
      const ref = rows.find((r) => r.backend === "cpu")!;
      report.rows = report.rows.filter((r) =>
        r.net !== id ||
        (r.batch === ref.batch && r.steps === ref.steps && r.seed === ref.seed && r.lr === ref.lr &&
          r.data === ref.data)
      );
      await writeFileAtomic(path, JSON.stringify(report, null, 2) + "\n");
      const md = `# Training parity vs the cpu backend\n\nA backend matches when its loss is ` +
        `within ${opts.tolerances.relLoss} (relative) of cpu's at every step and at most a ` +
        `fraction ${opts.tolerances.weightsOverStep} of the weight values end more than one ` +
        `Adam step (lr) away from cpu's.\n\n${markdownTable(report)}`;
      await writeFileAtomic(`${opts.out}/parity.md`, md);
    }
    const report = await readJson<ParityReport>(`${opts.out}/parity.json`);
    if (report) console.log("\n" + markdownTable(report));
    console.log(`wrote ${opts.out}/parity.json and ${opts.out}/parity.md`);
    return failed ? 1 : 0;
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
