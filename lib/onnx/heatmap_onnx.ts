/**
 * ONNX converter for the heatmap head's `SoftArgmax2D` layer
 * (`lib/head/heatmap.ts`, which imports this module, so importing either one
 * makes heatmap models exportable with `tfjsToOnnx`).
 *
 * The layer's input lives in the ONNX graph as NCHW `[N, K, H, W]`, which is
 * already one map per row once reshaped to `[N, K, H*W]`; then
 * `Mul(1 / temperature)`, `Softmax(axis -1)` (ONNX's softmax subtracts the
 * maximum itself), `MatMul` with the constant pixel-centre grid
 * `[H*W, 2]` and a `Reshape` to `[N, 2K]` give the interleaved coordinates.
 * A learnable temperature is read from the layer's `log_temperature` weight
 * at export time. With `outputHeatmaps`, the probabilities reshaped to
 * `[N, K, H, W]` are the second output (NCHW, like every rank-4 output).
 *
 * This module reads the layer only through its config and weights (no
 * import of `lib/head/heatmap.ts`, so there is no import cycle).
 *
 * @module
 */

import { type OnnxConverterContext, type OnnxValue, registerOnnxConverter } from "./convert.ts";
import type * as tf from "@tensorflow/tfjs";

/** The layer class name this module converts. */
export const SOFT_ARGMAX_CLASS = "SoftArgmax2D";

/**
 * Converts one `SoftArgmax2D` call (registered for that class name when this
 * module is imported).
 *
 * @example
 * ```ts
 * import { supportedOnnxLayers } from "./convert.ts";
 * import "./heatmap_onnx.ts";
 * console.log(supportedOnnxLayers().includes("SoftArgmax2D")); // true
 * ```
 */
export function convertSoftArgmax2D(
  ctx: OnnxConverterContext,
  layer: tf.layers.Layer,
  [x]: OnnxValue[],
): string | string[] {
  const c = layer.getConfig() as {
    temperature?: number;
    learnableTemperature?: boolean;
    outputHeatmaps?: boolean;
  };
  if (x.shape.length !== 4) ctx.unsupported(`input of rank ${x.shape.length}, expected 4`);
  const [, h, w, k] = x.shape;
  if (h === null || w === null || k === null) ctx.unsupported("unknown spatial size or channels");
  let temperature = c.temperature ?? 1;
  if (c.learnableTemperature) {
    const lt = ctx.weights().get("log_temperature");
    if (!lt) return ctx.unsupported("no log_temperature weight");
    temperature = Math.exp(lt.data[0]);
  }
  const hw = h * w;
  const grid = new Float32Array(hw * 2);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      grid[2 * (i * w + j)] = (j + 0.5) / w;
      grid[2 * (i * w + j) + 1] = (i + 0.5) / h;
    }
  }
  // NCHW [N, K, H, W] -> [N, K, H*W]: one map per row, no transpose needed.
  let z = ctx.op("Reshape", [x.name, ctx.int64Const("maps_shape", [0, k, hw])]);
  if (temperature !== 1) {
    z = ctx.op("Mul", [z, ctx.floatConst("inv_temperature", [], [1 / temperature])]);
  }
  const p = ctx.op("Softmax", [z], { axis: -1 });
  const xy = ctx.op("MatMul", [p, ctx.floatConst("grid", [hw, 2], grid)]); // [N, K, 2]
  const coords = ctx.op("Reshape", [xy, ctx.int64Const("coords_shape", [0, 2 * k])]);
  if (!c.outputHeatmaps) return coords;
  const maps = ctx.op("Reshape", [p, ctx.int64Const("heatmap_shape", [0, k, h, w])]);
  return [coords, maps];
}

registerOnnxConverter(SOFT_ARGMAX_CLASS, convertSoftArgmax2D);
