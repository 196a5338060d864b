/**
 * The optimizer every training run uses (Adam), made in one place so that
 * the main thread and data-parallel workers build identical ones.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/**
 * Creates the training optimizer: Adam with tfjs's defaults
 * (beta1 0.9, beta2 0.999, the backend's epsilon).
 *
 * @example
 * ```ts
 * import { createOptimizer } from "./optimizer.ts";
 * const opt = createOptimizer(1e-3);
 * console.log(opt.getClassName()); // Adam
 * opt.dispose();
 * ```
 */
export function createOptimizer(learningRate: number): tf.Optimizer {
  return tf.train.adam(learningRate);
}
