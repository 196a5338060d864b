// Shared by the model tests: random weights with valid BatchNorm statistics.
import * as tf from "@tensorflow/tfjs";

/**
 * Gives every weight of `model` a seeded random value: gammas and moving
 * variances in [0.5, 1.5] (valid statistics), everything else in
 * [-scale, scale].
 */
export function randomizeWeights(model: tf.LayersModel, seed: number, scale = 0.3): void {
  let s = seed;
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    layer.setWeights(
      layer.getWeights().map((w, i) => {
        const positive = /moving_variance|gamma/.test(layer.weights[i].originalName);
        return tf.randomUniform(
          w.shape,
          positive ? 0.5 : -scale,
          positive ? 1.5 : scale,
          "float32",
          s++,
        );
      }),
    );
  }
}
