/**
 * An exponential moving average of a model's weights (Polyak averaging):
 * after every optimizer step, `avg = d * avg + (1 - d) * w` for every
 * weight, batch-norm statistics included. The average is evaluated and
 * saved in place of the last step's weights: it smooths out the
 * step-to-step noise that makes one epoch's validation error differ from
 * the next by several percent. The decay warms up as
 * `min(decay, (1 + n) / (10 + n))` after `n` updates, so early weights
 * are not averaged in with a long memory.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/** A running average of a model's weights. */
export interface WeightEma {
  /** Folds the model's current weights into the average. */
  update(): void;
  /** Runs `fn` with the averaged weights in the model, then puts the model's own back. */
  withAverage<T>(fn: () => Promise<T>): Promise<T>;
  /** The averaged weights, in `model.weights` order (for saving). */
  values(): tf.Tensor[];
  /** Updates done so far. */
  count(): number;
  /** Frees the average. */
  dispose(): void;
}

/**
 * The decay used at update `n` (0-based): `min(decay, (1 + n) / (10 + n))`.
 *
 * @example
 * ```ts
 * import { emaDecay } from "./weight_ema.ts";
 * console.log(emaDecay(0.999, 0), emaDecay(0.999, 1e6)); // 0.1 0.999
 * ```
 */
export function emaDecay(decay: number, n: number): number {
  return Math.min(decay, (1 + n) / (10 + n));
}

/**
 * Starts an average of `model`'s weights from their current values;
 * `initial` (same order and shapes as `model.weights`) and `count` restore
 * a saved average.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createWeightEma } from "./weight_ema.ts";
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] });
 * const ema = createWeightEma(model, 0.99);
 * ema.update();
 * console.log(ema.count()); // 1
 * ema.dispose();
 * model.dispose();
 * ```
 */
export function createWeightEma(
  model: tf.LayersModel,
  decay: number,
  initial?: tf.Tensor[],
  count = 0,
): WeightEma {
  if (!(decay > 0 && decay < 1)) throw new Error(`EMA decay must be in (0, 1), got ${decay}`);
  const weights = model.weights;
  if (initial && initial.length !== weights.length) {
    throw new Error(`EMA: ${initial.length} saved averages for ${weights.length} weights`);
  }
  const avg = weights.map((w, i) => {
    const src = initial ? initial[i] : w.read();
    if (initial && initial[i].shape.join(",") !== w.shape.join(",")) {
      throw new Error(
        `EMA: saved average ${i} has shape [${src.shape}], weight ${w.name} [${w.shape}]`,
      );
    }
    return tf.variable(src.clone(), false);
  });
  let n = count;
  return {
    update(): void {
      const d = emaDecay(decay, n);
      tf.tidy(() => {
        weights.forEach((w, i) => avg[i].assign(avg[i].mul(d).add(w.read().mul(1 - d))));
      });
      n++;
    },
    async withAverage<T>(fn: () => Promise<T>): Promise<T> {
      const own = weights.map((w) => w.read().clone());
      model.setWeights(avg);
      try {
        return await fn();
      } finally {
        model.setWeights(own);
        tf.dispose(own);
      }
    },
    values(): tf.Tensor[] {
      return avg;
    },
    count(): number {
      return n;
    },
    dispose(): void {
      tf.dispose(avg);
    },
  };
}
