/**
 * Knowledge distillation on coordinates: a trained teacher model sees every
 * augmented training batch and the student learns a blend of the labels and
 * the teacher's points, `(1 - w) * label + w * teacher`. The teacher's points
 * are smoother than hand labels (300-W's jaw points are noisy) and carry its
 * reading of each augmented image; validation still uses the labels. When
 * the source degrades its inputs (occluding patches, blur, noise) and hands
 * over the images before that (`Batch.clean`), the teacher sees those: a
 * hidden point is taught where it is, not where an occluded teacher guesses.
 *
 * With a flip map the teacher also reads the mirrored images and its two
 * readings are flip-averaged (test-time flip averaging, twice its work): a
 * better teacher for the cost of one more forward pass.
 *
 * The teacher runs on the main thread before each step (through the lean
 * inference graph, BatchNorm folded), so it works with data-parallel
 * replicas unchanged: they receive blended targets like any other.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { flipAverageBatch, withMirrored } from "../augment/flip_average.ts";
import { compileLean } from "../infer/lean_graph.ts";
import type { Batch, BatchSource } from "../train/loop.ts";

/**
 * Wraps `source` so each training batch's targets are blended with
 * `teacher`'s predictions on the same inputs; `dispose` frees what the
 * wrapper allocated. The teacher must take the
 * source's input shape and give its number of outputs.
 *
 * @param weight The teacher's share in the targets, in [0, 1].
 * @param flip The layout's flip map: the teacher's points are flip-averaged.
 * @example
 * ```ts ignore
 * import { distilledSource } from "./distill.ts";
 * const src = distilledSource(source, teacherModel, 0.5);
 * ```
 */
export function distilledSource(
  source: BatchSource,
  teacher: tf.LayersModel,
  weight: number,
  flip?: number[],
): BatchSource & { dispose(): void } {
  if (!(weight >= 0 && weight <= 1)) {
    throw new Error(`teacher weight must be in [0, 1], got ${weight}`);
  }
  const [h, w, c] = source.inputShape;
  const shape = teacher.inputs[0].shape;
  const outs = teacher.outputs[0].shape[1];
  if (shape[1] !== h || shape[2] !== w || shape[3] !== c || outs !== source.outputs) {
    throw new Error(
      `teacher takes [${shape.slice(1)}] and gives ${outs} values; the student's data is ` +
        `[${h},${w},${c}] with ${source.outputs} targets`,
    );
  }
  if (flip && flip.length * 2 !== outs) {
    throw new Error(`flip map has ${flip.length} points, the teacher gives ${outs / 2}`);
  }
  const lean = compileLean(teacher);
  const forward = (x: tf.Tensor4D): tf.Tensor =>
    lean ? lean.run(x)[0] : teacher.predict(x) as tf.Tensor;
  return {
    ...source,
    async trainBatch(indices, rng): Promise<Batch> {
      const { clean, ...b } = await source.trainBatch(indices, rng);
      const x = clean ?? b.x;
      const n = flip ? 2 * b.size : b.size;
      const t = tf.tidy(() =>
        forward(tf.tensor4d(flip ? withMirrored(x, b.size, w, h, c) : x, [n, h, w, c]))
      );
      const raw = await t.data() as Float32Array;
      t.dispose();
      const p = flip ? flipAverageBatch(raw, b.size, flip) : raw;
      const y = new Float32Array(b.y.length);
      for (let i = 0; i < y.length; i++) y[i] = (1 - weight) * b.y[i] + weight * p[i];
      return { ...b, y };
    },
    /** Frees the teacher's folded weights (not the teacher). */
    dispose() {
      lean?.dispose();
    },
  };
}
