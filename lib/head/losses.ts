/**
 * Coordinate losses for keypoint regression.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/** Loss names accepted by `--loss`. */
export type LossName = "mse" | "smoothl1";

/**
 * Mean squared error over every coordinate.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { mseLoss } from "./losses.ts";
 * console.log((await mseLoss(tf.tensor([1, 2]), tf.tensor([1, 4])).data())[0]); // 2
 * ```
 */
export function mseLoss(target: tf.Tensor, pred: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.square(tf.sub(pred, target))) as tf.Scalar);
}

/**
 * Smooth L1 (Huber with slope 1): `0.5 d^2 / beta` for `|d| < beta`, else
 * `|d| - 0.5 beta`, averaged. `beta` is in the units of the targets (for
 * normalised coordinates, 1 px of a 224-px input is `1 / 224`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { smoothL1Loss } from "./losses.ts";
 * console.log((await smoothL1Loss(tf.tensor([0]), tf.tensor([3]), 1).data())[0]); // 2.5
 * ```
 */
export function smoothL1Loss(
  target: tf.Tensor,
  pred: tf.Tensor,
  beta: number,
): tf.Scalar {
  return tf.tidy(() => {
    // With m = min(|d|, beta): 0.5 m^2 / beta + (|d| - m) equals the two
    // branches, using only ops that have gradients.
    const d = tf.abs(tf.sub(pred, target));
    const m = tf.minimum(d, beta);
    return tf.mean(tf.add(tf.div(tf.mul(0.5, tf.square(m)), beta), tf.sub(d, m))) as tf.Scalar;
  });
}

/**
 * Returns the loss function for a name.
 *
 * @example
 * ```ts
 * import { lossFunction } from "./losses.ts";
 * const f = lossFunction("smoothl1", 1 / 224);
 * console.log(typeof f); // function
 * ```
 */
export function lossFunction(
  name: LossName,
  beta = 1 / 224,
): (target: tf.Tensor, pred: tf.Tensor) => tf.Scalar {
  if (name === "mse") return mseLoss;
  if (name === "smoothl1") return (t, p) => smoothL1Loss(t, p, beta);
  throw new Error(`unknown loss "${name}" (use mse or smoothl1)`);
}

/**
 * The same losses on plain arrays (for validation on the host).
 *
 * @example
 * ```ts
 * import { hostLoss } from "./losses.ts";
 * console.log(hostLoss("mse", [1, 4], [1, 2])); // 2
 * ```
 */
export function hostLoss(
  name: LossName,
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  beta = 1 / 224,
): number {
  let acc = 0;
  for (let i = 0; i < pred.length; i++) {
    const d = Math.abs(pred[i] - target[i]);
    acc += name === "mse" ? d * d : d < beta ? 0.5 * d * d / beta : d - 0.5 * beta;
  }
  return acc / Math.max(1, pred.length);
}
