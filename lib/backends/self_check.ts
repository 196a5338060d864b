/**
 * Backend self-check: one training step's loss and gradients of a model on
 * the active backend against the cpu backend, from the same weights and
 * batch. tfjs backends can be silently wrong (see `webgpu.ts`), so training
 * refuses to start on a backend that disagrees.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { mseLoss } from "../head/losses.ts";
import { createRng } from "../util/random.ts";

/** Outcome of {@link selfCheck}. */
export interface SelfCheckResult {
  /** Backend checked. */
  backend: string;
  /** Loss on the backend and on cpu. */
  loss: [number, number];
  /** Largest relative gradient error over all variables. */
  maxRelError: number;
  /** The variable with the largest error. */
  worst: string;
  /** Whether the error is within the tolerance. */
  ok: boolean;
}

async function gradients(
  build: () => tf.LayersModel,
  weights: tf.NamedTensorMap | null,
  x: Float32Array,
  y: Float32Array,
  batch: number,
): Promise<{ loss: number; grads: Float32Array[]; names: string[]; weights: Float32Array[] }> {
  const model = build();
  if (weights) {
    model.setWeights(model.weights.map((w) => weights[w.originalName]));
  }
  const [, h, w, c] = model.inputs[0].shape as number[];
  const out = (model.outputs[0].shape as number[])[1];
  const xt = tf.tensor4d(x, [batch, h, w, c]);
  const yt = tf.tensor2d(y, [batch, out]);
  const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(
    () => mseLoss(yt, model.apply(xt, { training: true }) as tf.Tensor),
    vars,
  );
  const names = vars.map((v) => v.name);
  const result = {
    loss: (await value.data())[0],
    grads: await Promise.all(names.map(async (n) => (await grads[n].data()) as Float32Array)),
    names: model.trainableWeights.map((v) => v.originalName),
    weights: await Promise.all(
      model.weights.map(async (v) => (await v.read().data()) as Float32Array),
    ),
  };
  tf.dispose([xt, yt, value, ...Object.values(grads)]);
  model.dispose();
  return result;
}

/**
 * Runs one forward/backward pass of `build()` on `backend` and on cpu from
 * identical weights and inputs (batch 1, or 2 for models with BatchNorm);
 * passes when every gradient's max error is
 * within `tolerance` of that gradient's max magnitude (floored at 1e-3 of
 * the model's largest gradient). Leaves `backend`
 * active.
 *
 * @example
 * ```ts ignore
 * import { selfCheck } from "./self_check.ts";
 * const r = await selfCheck(() => buildPart1({ seed: 1 }), "wasm", async (b) => { await setupBackend(b); });
 * console.log(r.ok);
 * ```
 */
export async function selfCheck(
  build: () => tf.LayersModel,
  backend: string,
  activate: (name: string) => Promise<void>,
  batch?: number,
  tolerance = 1e-2,
): Promise<SelfCheckResult> {
  await activate("cpu");
  const probe = build();
  // One image is enough without BatchNorm; BatchNorm needs two for batch
  // statistics (more only for tiny feature maps, where they degenerate).
  batch ??= probe.layers.some((l) => l.getClassName() === "BatchNormalization") ? 2 : 1;
  const [, h, w, c] = probe.inputs[0].shape as number[];
  const out = (probe.outputs[0].shape as number[])[1];
  const rng = createRng(12345);
  // A zero-initialised kernel (e.g. a heatmap head) would stop every
  // gradient below it: give such kernels small random values so that the
  // step exercises the whole network.
  const start: tf.NamedTensorMap = {};
  const trainable = new Set(probe.trainableWeights.map((v) => v.originalName));
  for (const v of probe.weights) {
    let values = (await v.read().data()) as Float32Array;
    if (trainable.has(v.originalName) && v.shape.length >= 2 && values.every((e) => e === 0)) {
      values = Float32Array.from(values, () => rng.uniform(-0.05, 0.05));
    }
    start[v.originalName] = tf.tensor(values, v.shape as number[]);
  }
  probe.dispose();
  const x = Float32Array.from({ length: batch * h * w * c }, () => rng.uniform(-0.5, 0.5));
  const y = Float32Array.from({ length: batch * out }, () => rng.uniform(0.2, 0.8));
  const ref = await gradients(build, start, x, y, batch);
  tf.dispose(Object.values(start));
  // Same weights on the checked backend.
  await activate(backend);
  const shapes = build();
  const named: tf.NamedTensorMap = {};
  shapes.weights.forEach((v, i) => {
    named[v.originalName] = tf.tensor(ref.weights[i], v.shape as number[]);
  });
  shapes.dispose();
  const got = await gradients(build, named, x, y, batch);
  tf.dispose(Object.values(named));
  // Each gradient's error is measured against its own largest magnitude,
  // floored at 1e-3 of the largest gradient of the model: a weight whose
  // true gradient is exactly zero (e.g. a bias before a softmax that
  // ignores constant shifts) has only rounding noise to compare.
  let global = 0;
  for (const g of ref.grads) for (const v of g) global = Math.max(global, Math.abs(v));
  let maxRel = 0, worst = "";
  ref.grads.forEach((g, i) => {
    let scale = 0, err = 0;
    for (let k = 0; k < g.length; k++) {
      scale = Math.max(scale, Math.abs(g[k]));
      err = Math.max(err, Math.abs(g[k] - got.grads[i][k]));
    }
    const rel = err / Math.max(scale, 1e-3 * global, 1e-30);
    if (!(rel <= maxRel)) {
      maxRel = rel;
      worst = ref.names[i];
    }
  });
  const lossOk = Math.abs(got.loss - ref.loss) <= tolerance * Math.max(1e-6, Math.abs(ref.loss));
  return {
    backend,
    loss: [got.loss, ref.loss],
    maxRelError: maxRel,
    worst,
    ok: lossOk && maxRel <= tolerance,
  };
}
