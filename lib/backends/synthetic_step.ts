/**
 * One training step on a fixed synthetic batch, the way every run trains
 * (forward, MSE, backward, the training optimizer): what `auto` times when
 * it picks a backend and what `deno task bench` measures.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { mseLoss } from "../head/losses.ts";
import { createOptimizer } from "./optimizer.ts";

/** A repeatable training step and the release of what it holds. */
export interface SyntheticStep {
  /** Runs one step and waits for its loss. */
  step(): Promise<void>;
  /** Frees the batch and the optimizer (not the model). */
  dispose(): void;
}

/**
 * Prepares training steps of `model` on a seeded random batch of `batch`
 * images on the active backend.
 *
 * @example
 * ```ts ignore
 * import { syntheticStep } from "./synthetic_step.ts";
 * const s = syntheticStep(model, 8);
 * await s.step();
 * s.dispose();
 * ```
 */
export function syntheticStep(model: tf.LayersModel, batch: number): SyntheticStep {
  const [, h, w, c] = model.inputs[0].shape as number[];
  const out = (model.outputs[0].shape as number[])[1];
  const x = tf.randomUniform([batch, h, w, c], -0.5, 0.5, "float32", 7);
  const y = tf.randomUniform([batch, out], 0.2, 0.8, "float32", 8);
  const opt = createOptimizer(1e-4);
  const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
  return {
    async step() {
      const cost = opt.minimize(
        () => mseLoss(y, model.apply(x, { training: true }) as tf.Tensor),
        true,
        vars,
      )!;
      await cost.data();
      cost.dispose();
    },
    dispose() {
      tf.dispose([x, y]);
      opt.dispose();
    },
  };
}
