/**
 * Heatmap keypoint head: a per-keypoint spatial softmax followed by a
 * soft-argmax (the expected pixel position, as in DSNT, Nibali et al. 2018),
 * so a network that ends in K heatmap channels outputs the same `[N, 2K]`
 * normalised coordinates as the regression models: `x / width`,
 * `y / height` in [0, 1], pixel centres at `(col + 0.5) / W`, interleaved
 * `[x0, y0, x1, y1, ...]`. The training loop, metrics, export and inference
 * therefore treat both heads alike; the heatmaps themselves are available
 * through {@link heatmapOutputs} (pictures, optional heatmap loss).
 *
 * Importing this module registers the {@link SoftArgmax2D} layer class with
 * tfjs serialization (needed before `loadModelFolder` / `tf.loadLayersModel`
 * reads a heatmap model) and its ONNX converter (`./onnx/heatmap_onnx.ts`).
 *
 * ## Which loss to use
 *
 * Recommended: the plain coordinate loss that `lib/train.ts` already uses
 * (`mse` or `smoothl1` on the soft-argmax output), optionally plus
 * `λ · heatmapLoss(probs, gaussianHeatmaps(points, K, H, W, σ = 1), "kl")`
 * with λ ≈ 1 as a regulariser. Reasons:
 *
 * - The soft-argmax is differentiable and unbiased for a symmetric peak, so
 *   the coordinate loss alone trains the network end to end (DSNT) and
 *   optimises exactly what is measured (NME); no target-map hyper-parameter
 *   can put a floor under the error.
 * - `"kl"` is scale-free: it compares two distributions, so its gradient has
 *   a useful size at any resolution. `"mse"` on probability maps is tiny
 *   (the maps hold values of order `1 / (2πσ²)`), so it barely moves the
 *   network unless weighted by thousands, and it keeps pushing towards the
 *   target's blur rather than towards the right location.
 * - A target σ of about 1 heatmap pixel keeps the regulariser from biasing
 *   points near the border (a truncated wide Gaussian has its mean pulled
 *   inwards) while still discouraging multi-modal maps whose mean lies
 *   between two peaks.
 *
 * EXPERIMENT_TODO
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import "./onnx/heatmap_onnx.ts";

/** Configuration of {@link SoftArgmax2D}. */
export interface SoftArgmax2DArgs {
  /**
   * Softmax temperature: probabilities are `softmax(logits / temperature)`
   * over each channel's pixels. Default 1. With `learnableTemperature` this
   * is the initial value.
   */
  temperature?: number;
  /** Learn the temperature (a trainable scalar weight `log_temperature`). */
  learnableTemperature?: boolean;
  /**
   * Also output the probability maps `[N, H, W, K]` as a second output
   * (default false: one output, the coordinates `[N, 2K]`).
   */
  outputHeatmaps?: boolean;
  /** Layer name. */
  name?: string;
  /** Whether the layer's weights train (tfjs layer option). */
  trainable?: boolean;
}

/** What {@link spatialSoftArgmax} and {@link heatmapOutputs} return. */
export interface SoftArgmaxResult {
  /** `[N, 2K]` normalised coordinates, interleaved x, y. */
  coords: tf.Tensor2D;
  /** `[N, H, W, K]` per-channel probability maps (each channel sums to 1). */
  heatmaps: tf.Tensor4D;
}

/**
 * The pixel-centre grid of an `h x w` map: `[h * w, 2]`, row `i * w + j`
 * holding `((j + 0.5) / w, (i + 0.5) / h)`.
 *
 * @example
 * ```ts
 * import { pixelCentreGrid } from "./heatmap.ts";
 * console.log(Array.from(pixelCentreGrid(1, 2))); // [0.25, 0.5, 0.75, 0.5]
 * ```
 */
export function pixelCentreGrid(h: number, w: number): Float32Array {
  const g = new Float32Array(h * w * 2);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      g[2 * (i * w + j)] = (j + 0.5) / w;
      g[2 * (i * w + j) + 1] = (i + 0.5) / h;
    }
  }
  return g;
}

/**
 * Spatial softmax and soft-argmax of `[N, H, W, K]` logits: each channel's
 * `H * W` logits (divided by `temperature`, then shifted by their maximum
 * for numerical stability) become a probability map whose expected pixel
 * centre is the keypoint. Differentiable; uses only Transpose, Reshape,
 * Max, Sub, Mul, Softmax and MatMul, which every backend has.
 *
 * `temperature` is a number or a scalar tensor (a learnable one is
 * differentiated through). The heatmaps are computed only when asked for.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { spatialSoftArgmax } from "./heatmap.ts";
 * const logits = tf.buffer([1, 2, 4, 1]);
 * logits.set(50, 0, 1, 3, 0); // row 1, column 3
 * const { coords } = spatialSoftArgmax(logits.toTensor() as tf.Tensor4D);
 * console.log(Array.from(coords.dataSync())); // [0.875, 0.75]
 * ```
 */
export function spatialSoftArgmax(
  logits: tf.Tensor4D,
  temperature: number | tf.Scalar = 1,
  withHeatmaps = true,
): { coords: tf.Tensor2D; heatmaps?: tf.Tensor4D } {
  if (logits.rank !== 4) {
    throw new Error(`soft-argmax needs [N, H, W, K] logits, got shape [${logits.shape}]`);
  }
  const [n, h, w, k] = logits.shape;
  const grid = tf.tensor2d(pixelCentreGrid(h, w), [h * w, 2]);
  const out = tf.tidy(() => {
    // [N, H, W, K] -> [N * K, H * W]: one row per map.
    let z = tf.reshape(tf.transpose(logits, [0, 3, 1, 2]), [n * k, h * w]);
    z = typeof temperature === "number"
      ? (temperature === 1 ? z : tf.mul(z, 1 / temperature))
      : tf.div(z, temperature);
    z = tf.sub(z, tf.max(z, 1, true));
    const p = tf.softmax(z) as tf.Tensor2D;
    const coords = tf.reshape(tf.matMul(p, grid), [n, 2 * k]) as tf.Tensor2D;
    if (!withHeatmaps) return [coords];
    const maps = tf.transpose(tf.reshape(p, [n, k, h, w]), [0, 2, 3, 1]) as tf.Tensor4D;
    return [coords, maps];
  });
  grid.dispose();
  return { coords: out[0] as tf.Tensor2D, heatmaps: out[1] as tf.Tensor4D | undefined };
}

/**
 * The soft-argmax layer: `[N, H, W, K]` logits -> `[N, 2K]` normalised
 * keypoint coordinates (and, with `outputHeatmaps`, the `[N, H, W, K]`
 * probability maps as a second output). Serializable as `"SoftArgmax2D"`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { SoftArgmax2D } from "./heatmap.ts";
 * const input = tf.input({ shape: [8, 8, 3] });
 * const out = new SoftArgmax2D({ temperature: 0.5 }).apply(input) as tf.SymbolicTensor;
 * console.log(out.shape); // [null, 6]
 * ```
 */
export class SoftArgmax2D extends tf.layers.Layer {
  /** The tfjs serialization class name. */
  static className = "SoftArgmax2D";
  /** Initial (or fixed) temperature. */
  readonly temperature: number;
  /** Whether the temperature is a trainable weight. */
  readonly learnableTemperature: boolean;
  /** Whether the layer also outputs the probability maps. */
  readonly outputHeatmaps: boolean;
  private logTemperature: tf.LayerVariable | null = null;

  /** Creates the layer (see {@link SoftArgmax2DArgs}). */
  constructor(args: SoftArgmax2DArgs = {}) {
    super({ name: args.name, trainable: args.trainable });
    const t = args.temperature ?? 1;
    if (!(t > 0) || !Number.isFinite(t)) {
      throw new Error(`SoftArgmax2D: temperature must be a positive number, got ${t}`);
    }
    this.temperature = t;
    this.learnableTemperature = args.learnableTemperature ?? false;
    this.outputHeatmaps = args.outputHeatmaps ?? false;
  }

  /** Creates the `log_temperature` weight when the temperature is learnable. */
  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    if (shape.length !== 4) {
      throw new Error(`SoftArgmax2D needs [N, H, W, K] input, got [${shape}]`);
    }
    if (this.learnableTemperature) {
      this.logTemperature = this.addWeight(
        "log_temperature",
        [],
        "float32",
        tf.initializers.constant({ value: Math.log(this.temperature) }),
        undefined,
        true,
      );
    }
    this.built = true;
  }

  /** `[N, 2K]`, plus `[N, H, W, K]` with `outputHeatmaps`. */
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const k = s[3];
    const coords: tf.Shape = [s[0], k === null ? null : 2 * k];
    return this.outputHeatmaps ? [coords, s.slice()] : coords;
  }

  /**
   * The probability maps and coordinates of `logits` with this layer's
   * temperature (what {@link heatmapOutputs} uses).
   */
  softArgmax(logits: tf.Tensor4D, withHeatmaps = true): {
    coords: tf.Tensor2D;
    heatmaps?: tf.Tensor4D;
  } {
    if (this.logTemperature === null) {
      return spatialSoftArgmax(logits, this.temperature, withHeatmaps);
    }
    const lt = this.logTemperature;
    const out = tf.tidy(() => {
      const t = tf.exp(lt.read()) as tf.Scalar;
      const r = spatialSoftArgmax(logits, t, withHeatmaps);
      return r.heatmaps ? [r.coords, r.heatmaps] : [r.coords];
    });
    return { coords: out[0] as tf.Tensor2D, heatmaps: out[1] as tf.Tensor4D | undefined };
  }

  /** The current temperature (reads the weight when learnable). */
  currentTemperature(): number {
    if (this.logTemperature === null) return this.temperature;
    return Math.exp((this.logTemperature.read().dataSync() as Float32Array)[0]);
  }

  /** Applies the layer. */
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    const r = this.softArgmax(x, this.outputHeatmaps);
    return this.outputHeatmaps ? [r.coords, r.heatmaps!] : r.coords;
  }

  /** The serializable configuration. */
  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      temperature: this.temperature,
      learnableTemperature: this.learnableTemperature,
      outputHeatmaps: this.outputHeatmaps,
    };
  }
}

tf.serialization.registerClass(SoftArgmax2D);

/**
 * The (last) {@link SoftArgmax2D} layer of a model, or null.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { findSoftArgmax, SoftArgmax2D } from "./heatmap.ts";
 * const input = tf.input({ shape: [4, 4, 1] });
 * const m = tf.model({ inputs: input, outputs: new SoftArgmax2D().apply(input) as tf.SymbolicTensor });
 * console.log(findSoftArgmax(m) !== null); // true
 * ```
 */
export function findSoftArgmax(model: tf.LayersModel): SoftArgmax2D | null {
  for (let i = model.layers.length - 1; i >= 0; i--) {
    const l = model.layers[i];
    if (l instanceof SoftArgmax2D || l.getClassName() === SoftArgmax2D.className) {
      return l as SoftArgmax2D;
    }
  }
  return null;
}

const logitModels = new WeakMap<tf.LayersModel, tf.LayersModel>();

/**
 * The model from the input to the logits that feed its soft-argmax layer
 * (shares every layer and weight with `model`; cached per model).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { heatmapLogitsModel, SoftArgmax2D } from "./heatmap.ts";
 * const input = tf.input({ shape: [4, 4, 1] });
 * const m = tf.model({ inputs: input, outputs: new SoftArgmax2D().apply(input) as tf.SymbolicTensor });
 * console.log(heatmapLogitsModel(m).outputs[0].shape); // [null, 4, 4, 1]
 * ```
 */
export function heatmapLogitsModel(model: tf.LayersModel): tf.LayersModel {
  let sub = logitModels.get(model);
  if (sub) return sub;
  const layer = findSoftArgmax(model);
  if (!layer) throw new Error(`model "${model.name}" has no SoftArgmax2D layer`);
  if (layer.inboundNodes.length !== 1) {
    throw new Error(`SoftArgmax2D layer ${layer.name} is used more than once`);
  }
  const logits = layer.inboundNodes[0].inputTensors[0];
  sub = tf.model({ inputs: model.inputs, outputs: logits, name: `${model.name}_logits` });
  logitModels.set(model, sub);
  return sub;
}

/**
 * Runs a heatmap model and returns both the coordinates (the same values as
 * `model.predict`) and the probability maps `[N, H, W, K]` at the head's
 * resolution. Differentiable (use `training: true` inside an optimizer's
 * loss function for a heatmap loss); the caller disposes the tensors.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { buildHeatmapUNet } from "./unet.ts";
 * import { heatmapOutputs } from "./heatmap.ts";
 * const m = buildHeatmapUNet({ inputWidth: 16, inputHeight: 16, channels: 1, keypoints: 2, base: 4, depth: 2, outputStride: 2 });
 * const { coords, heatmaps } = heatmapOutputs(m, tf.zeros([1, 16, 16, 1]));
 * console.log(coords.shape, heatmaps.shape); // [1, 4] [1, 8, 8, 2]
 * ```
 */
export function heatmapOutputs(
  model: tf.LayersModel,
  x: tf.Tensor,
  opts: { training?: boolean } = {},
): SoftArgmaxResult {
  const layer = findSoftArgmax(model);
  if (!layer) throw new Error(`model "${model.name}" has no SoftArgmax2D layer`);
  const sub = heatmapLogitsModel(model);
  const out = tf.tidy(() => {
    const logits = sub.apply(x, { training: opts.training ?? false }) as tf.Tensor4D;
    const r = layer.softArgmax(logits, true);
    return [r.coords, r.heatmaps!];
  });
  return { coords: out[0] as tf.Tensor2D, heatmaps: out[1] as tf.Tensor4D };
}

/**
 * Gaussian target maps `[N, H, W, K]` for normalised points (`N * 2K`
 * values, interleaved x, y as the models output them): channel k of image n
 * is `exp(-d² / 2σ²)` over the pixel centres, `d` in heatmap pixels,
 * normalised to sum 1 (a distribution, for the "kl" loss). A point so far
 * outside the map that every value underflows is clamped to the border.
 *
 * @example
 * ```ts
 * import { gaussianHeatmaps } from "./heatmap.ts";
 * const t = gaussianHeatmaps([0.5, 0.5], 1, 8, 8, 1);
 * console.log(t.shape, Math.round(t.sum().dataSync()[0] * 1000) / 1000); // [1, 8, 8, 1] 1
 * ```
 */
export function gaussianHeatmaps(
  points: ArrayLike<number>,
  keypoints: number,
  height: number,
  width: number,
  sigma: number,
): tf.Tensor4D {
  if (points.length % (2 * keypoints) !== 0) {
    throw new Error(`${points.length} coordinates is not a multiple of 2 x ${keypoints} points`);
  }
  if (!(sigma > 0)) throw new Error(`sigma must be positive, got ${sigma}`);
  const n = points.length / (2 * keypoints);
  const k = keypoints;
  const out = new Float32Array(n * height * width * k);
  const gx = new Float64Array(width), gy = new Float64Array(height);
  const s2 = 2 * sigma * sigma;
  for (let b = 0; b < n; b++) {
    for (let c = 0; c < k; c++) {
      let px = points[(b * k + c) * 2] * width;
      let py = points[(b * k + c) * 2 + 1] * height;
      if (!Number.isFinite(px) || !Number.isFinite(py)) {
        throw new Error(`point ${c} of item ${b} is not finite (${px}, ${py})`);
      }
      for (let attempt = 0; attempt < 2; attempt++) {
        let sx = 0, sy = 0;
        for (let j = 0; j < width; j++) sx += gx[j] = Math.exp(-((j + 0.5 - px) ** 2) / s2);
        for (let i = 0; i < height; i++) sy += gy[i] = Math.exp(-((i + 0.5 - py) ** 2) / s2);
        if (sx > 0 && sy > 0) {
          // The map is separable: normalise each axis.
          for (let i = 0; i < height; i++) {
            for (let j = 0; j < width; j++) {
              out[((b * height + i) * width + j) * k + c] = (gy[i] / sy) * (gx[j] / sx);
            }
          }
          break;
        }
        px = Math.min(Math.max(px, 0.5), width - 0.5);
        py = Math.min(Math.max(py, 0.5), height - 0.5);
      }
    }
  }
  return tf.tensor4d(out, [n, height, width, k]);
}

/** Heatmap loss kinds of {@link heatmapLoss}. */
export type HeatmapLossKind = "mse" | "kl";

/**
 * A loss between predicted probability maps and target maps, both
 * `[N, H, W, K]` with each channel summing to 1 (see
 * {@link gaussianHeatmaps}), averaged over the N * K maps:
 *
 * - `"kl"`: KL(target ‖ pred) = Σ t (log t − log p) per map (with 1e-12
 *   inside the logs), scale-free;
 * - `"mse"`: Σ (p − t)² per map (summed over pixels, so it does not shrink
 *   with the resolution; still small, of order 1 / (4πσ²)).
 *
 * See the module documentation for which to use.
 *
 * @example
 * ```ts
 * import { gaussianHeatmaps, heatmapLoss } from "./heatmap.ts";
 * const t = gaussianHeatmaps([0.5, 0.5], 1, 8, 8, 1);
 * console.log(heatmapLoss(t, t, "kl").dataSync()[0]); // 0
 * ```
 */
export function heatmapLoss(
  pred: tf.Tensor4D,
  target: tf.Tensor4D,
  kind: HeatmapLossKind = "kl",
): tf.Scalar {
  if (pred.shape.join() !== target.shape.join()) {
    throw new Error(`heatmap shapes differ: [${pred.shape}] vs [${target.shape}]`);
  }
  const maps = pred.shape[0] * pred.shape[3];
  return tf.tidy(() => {
    if (kind === "mse") {
      return tf.div(tf.sum(tf.square(tf.sub(pred, target))), maps) as tf.Scalar;
    }
    if (kind === "kl") {
      const eps = 1e-12;
      const d = tf.sub(tf.log(tf.add(target, eps)), tf.log(tf.add(pred, eps)));
      return tf.div(tf.sum(tf.mul(target, d)), maps) as tf.Scalar;
    }
    throw new Error(`unknown heatmap loss "${kind}" (use mse or kl)`);
  });
}
