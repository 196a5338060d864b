/**
 * Parity steps: the same Adam steps of one net on one backend, and how a run compares
 * with the cpu reference.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../../lib/backends/backend.ts";
import { createDataParallel } from "../../lib/train/data_parallel.ts";
import { trainingLossFromSpec, type TrainingLossSpec } from "../../lib/head/training_loss.ts";
import { createOptimizer } from "../../lib/backends/optimizer.ts";

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
