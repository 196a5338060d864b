/**
 * The training loss as plain data, so that the same loss can be rebuilt in
 * another thread (data-parallel workers) or from a checkpoint's metadata.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { heatmapTrainingLoss } from "./heatmap.ts";
import { lossFunction, type LossName } from "./losses.ts";

/** A serialisable description of a training loss. */
export interface TrainingLossSpec {
  /** Coordinate loss. */
  loss: LossName;
  /** Smooth-L1 beta in normalised units. */
  beta?: number;
  /**
   * `regression`: the coordinate loss on the model's output. `heatmap`: the
   * coordinate loss on the soft-argmax plus 0.01 x KL to Gaussian heatmaps
   * (see `heatmap.ts`).
   */
  head: "regression" | "heatmap";
}

/** A training loss: model, input batch and targets to a scalar. */
export type TrainingLossFn = (model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor) => tf.Scalar;

/**
 * Builds the training loss a spec describes.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { trainingLossFromSpec } from "./training_loss.ts";
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
 * const f = trainingLossFromSpec({ loss: "mse", head: "regression" });
 * const l = f(model, tf.ones([4, 3]), tf.zeros([4, 2]));
 * console.log(l.shape.length); // 0
 * ```
 */
export function trainingLossFromSpec(spec: TrainingLossSpec): TrainingLossFn {
  const coord = lossFunction(spec.loss, spec.beta);
  if (spec.head === "heatmap") {
    return (m, x, y) => heatmapTrainingLoss(m, x, y as tf.Tensor2D, { coordLoss: coord });
  }
  if (spec.head !== "regression") {
    throw new Error(`unknown head "${spec.head}" (use regression or heatmap)`);
  }
  return (m, x, y) => tf.tidy(() => coord(y, m.apply(x, { training: true }) as tf.Tensor));
}
