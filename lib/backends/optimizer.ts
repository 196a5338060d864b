/**
 * The optimizer every training run uses (Adam), made in one place so that
 * the main thread and data-parallel workers build identical ones.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";
import { createAdam } from "./wasm_adam.ts";

/**
 * Creates the training optimizer: Adam with tfjs's defaults
 * (beta1 0.9, beta2 0.999, the backend's epsilon). On the wasm backend the
 * update is one fused SIMD pass (`wasm_adam.ts`), bit-identical to
 * `tf.train.adam` and with the same saved state.
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
  return createAdam(learningRate);
}
