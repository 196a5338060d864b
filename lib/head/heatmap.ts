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
 * reads a heatmap model; `checkpoint.ts` imports it). Its ONNX converter
 * is `../onnx/heatmap_onnx.ts`, registered by the ONNX exporter.
 *
 * ## Which loss to use
 *
 * Recommended: the coordinate loss (`mse` or `smoothl1` on the soft-argmax
 * output, as `lib/train/loop.ts` uses) plus a small heatmap regulariser,
 * `λ · heatmapLoss(probs, gaussianHeatmaps(points, K, H, W, σ = 1), "kl")`
 * with λ ≈ 0.01 against MSE on normalised coordinates (both terms then have
 * similar sizes): {@link heatmapTrainingLoss} does exactly this. Reasons:
 *
 * - The coordinate term optimises what is measured (NME) and has no
 *   target-map floor: the soft-argmax is unbiased for a symmetric peak.
 * - The coordinate term alone only constrains each map's mean: the network
 *   may reach it with spread-out or multi-modal maps, which fit the training
 *   set but do not generalise (DSNT, Nibali et al. 2018, make the same
 *   point). A divergence term keeps each map a single peak at the point.
 * - `"kl"` compares distributions, so its gradient has a useful size at any
 *   resolution; `"mse"` on probability maps is small (values of order
 *   `1 / (2πσ²)`) and needs its weight tuned to the map size; it pushes
 *   towards the target's blur rather than towards the location.
 * - σ ≈ 1 heatmap pixel: a wide target pulls maps of border points inwards
 *   (a truncated Gaussian's mean lies inside), and a narrow one is what the
 *   soft-argmax needs for precision anyway.
 *
 * The tiny experiment behind this (wasm; 8 synthetic 32x32 3-channel
 * images, keypoint k a bright Gaussian dot in channel k, K = 3; U-Net base
 * 8, depth 2, stride 1; Adam 3e-3, 150 full-batch steps; mean error in
 * pixels on 8 held-out images, 2 seeds, start ≈ 10 px):
 *
 * | loss                               | train px   | held-out px |
 * | ---------------------------------- | ---------- | ----------- |
 * | coordinate MSE only                | 0.62, 1.16 | 6.55, 7.45  |
 * | MSE + 0.01 · KL(σ 1)               | 0.51, 0.62 | 0.92, 0.97  |
 * | MSE + 1 · KL(σ 1)                  | 0.92, 0.52 | 2.01, 0.69  |
 * | KL(σ 1) only                       | 0.97, 0.53 | 2.09, 0.57  |
 * | MSE + 1 · "mse" maps               | 0.53, 0.55 | 1.05, 0.93  |
 * | MSE + 100 · "mse" maps             | 0.87, 0.85 | 1.28, 1.16  |
 * | MSE + 0.01 · KL, learnable T       | 0.31, 0.37 | 0.74, 0.68  |
 * | MSE + 0.01 · KL, outputStride 4    | 0.36, 0.37 | 1.48, 2.03  |
 *
 * Far too small to rank the regularisers finely (they are all within
 * noise of each other), but the one clear result is that the coordinate
 * loss alone overfits badly: the plain `lib/train/loop.ts` loop (coordinates
 * only) trains a heatmap model, but should get the heatmap term added.
 * The learnable temperature settled near 0.75 and helped a little.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

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
 * The heatmap head on a feature map: a 1x1 conv to one logit map per
 * keypoint (`heatmap_logits`, zero kernel and bias, so every map starts
 * uniform and every point at the centre) and the soft-argmax layer
 * `keypoints` -> `[N, 2K]` normalised coordinates.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { heatmapHead } from "./heatmap.ts";
 * const features = tf.input({ shape: [8, 8, 4] });
 * console.log(heatmapHead(features, 5).shape); // [null, 10]
 * ```
 */
export function heatmapHead(
  features: tf.SymbolicTensor,
  keypoints: number,
  opts: { temperature?: number; learnableTemperature?: boolean } = {},
): tf.SymbolicTensor {
  const logits = tf.layers.conv2d({
    name: "heatmap_logits",
    filters: keypoints,
    kernelSize: 1,
    padding: "same",
    kernelInitializer: "zeros",
    biasInitializer: "zeros",
  }).apply(features) as tf.SymbolicTensor;
  return new SoftArgmax2D({
    name: "keypoints",
    temperature: opts.temperature ?? 1,
    learnableTemperature: opts.learnableTemperature ?? false,
  }).apply(logits) as tf.SymbolicTensor;
}

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
 * import { buildHeatmapUNet } from "../models/unet.ts";
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
 * values, interleaved x, y as the models output them, on the host or as a
 * `[N, 2K]` tensor): channel k of image n is `exp(-d² / 2σ²)` over the
 * pixel centres, `d` in heatmap pixels, normalised to sum 1 (a
 * distribution, for {@link heatmapLoss}). Points are first clamped to
 * [0, 1] (soft-argmax cannot leave the map anyway), so no map underflows.
 * The tensor form stays on the device (no read-back during training).
 *
 * @example
 * ```ts
 * import { gaussianHeatmaps } from "./heatmap.ts";
 * const t = gaussianHeatmaps([0.5, 0.5], 1, 8, 8, 1);
 * console.log(t.shape, Math.round(t.sum().dataSync()[0] * 1000) / 1000); // [1, 8, 8, 1] 1
 * ```
 */
export function gaussianHeatmaps(
  points: ArrayLike<number> | tf.Tensor,
  keypoints: number,
  height: number,
  width: number,
  sigma: number,
): tf.Tensor4D {
  if (!(sigma > 0)) throw new Error(`sigma must be positive, got ${sigma}`);
  const k = keypoints;
  const size = points instanceof tf.Tensor ? points.size : points.length;
  if (size % (2 * k) !== 0) {
    throw new Error(`${size} coordinates is not a multiple of 2 x ${k} points`);
  }
  const n = size / (2 * k);
  const s2 = 2 * sigma * sigma;
  if (points instanceof tf.Tensor) {
    return tf.tidy(() => {
      const p = tf.clipByValue(tf.reshape(points, [n, k, 2]), 0, 1);
      const [px, py] = tf.split(p, 2, 2); // [N, K, 1] each
      const axis = (len: number, c: tf.Tensor, shape: number[]): tf.Tensor => {
        const centres = tf.reshape(tf.range(0.5, len, 1), [1, len, 1]); // [1, len, 1]
        const d = tf.sub(centres, tf.mul(tf.reshape(c, [n, 1, k]), len)); // [N, len, K]
        const g = tf.exp(tf.div(tf.neg(tf.square(d)), s2));
        return tf.reshape(tf.div(g, tf.sum(g, 1, true)), shape);
      };
      const gx = axis(width, px, [n, 1, width, k]);
      const gy = axis(height, py, [n, height, 1, k]);
      return tf.mul(gy, gx) as tf.Tensor4D;
    });
  }
  const out = new Float32Array(n * height * width * k);
  const gx = new Float64Array(width), gy = new Float64Array(height);
  for (let b = 0; b < n; b++) {
    for (let c = 0; c < k; c++) {
      const x = points[(b * k + c) * 2], y = points[(b * k + c) * 2 + 1];
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        throw new Error(`point ${c} of item ${b} is not finite (${x}, ${y})`);
      }
      const px = Math.min(Math.max(x, 0), 1) * width;
      const py = Math.min(Math.max(y, 0), 1) * height;
      let sx = 0, sy = 0;
      for (let j = 0; j < width; j++) sx += gx[j] = Math.exp(-((j + 0.5 - px) ** 2) / s2);
      for (let i = 0; i < height; i++) sy += gy[i] = Math.exp(-((i + 0.5 - py) ** 2) / s2);
      // Separable: normalise each axis.
      for (let i = 0; i < height; i++) {
        for (let j = 0; j < width; j++) {
          out[((b * height + i) * width + j) * k + c] = (gy[i] / sy) * (gx[j] / sx);
        }
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

/** Options of {@link heatmapTrainingLoss}. */
export interface HeatmapTrainingLossOptions {
  /** Weight of the heatmap term. Default 0.01 (see the module documentation). */
  lambda?: number;
  /** Target Gaussian σ in heatmap pixels. Default 1. */
  sigma?: number;
  /** Heatmap loss. Default `"kl"`. */
  kind?: HeatmapLossKind;
  /** Coordinate loss `(target, pred)`, as `lib/head/losses.ts` makes. Default MSE. */
  coordLoss?: (target: tf.Tensor, pred: tf.Tensor) => tf.Scalar;
  /** Run the model in training mode (BatchNorm batch statistics). Default true. */
  training?: boolean;
}

/**
 * The recommended training loss of a heatmap model: the coordinate loss on
 * the soft-argmax output plus `lambda` times the heatmap loss against
 * Gaussian targets made on the device from the same `[N, 2K]` targets.
 * Meant as the body of `optimizer.minimize(() => ...)`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { buildHeatmapUNet } from "../models/unet.ts";
 * import { heatmapTrainingLoss } from "./heatmap.ts";
 * const m = buildHeatmapUNet({ inputWidth: 16, inputHeight: 16, channels: 1, keypoints: 1, base: 4, depth: 1 });
 * const loss = heatmapTrainingLoss(m, tf.zeros([1, 16, 16, 1]), tf.tensor2d([[0.25, 0.75]]));
 * console.log(loss.dataSync()[0] > 0); // true
 * ```
 */
export function heatmapTrainingLoss(
  model: tf.LayersModel,
  x: tf.Tensor,
  target: tf.Tensor2D,
  opts: HeatmapTrainingLossOptions = {},
): tf.Scalar {
  const lambda = opts.lambda ?? 0.01;
  const coordLoss = opts.coordLoss ??
    ((t: tf.Tensor, p: tf.Tensor): tf.Scalar => tf.mean(tf.squaredDifference(p, t)) as tf.Scalar);
  return tf.tidy(() => {
    const r = heatmapOutputs(model, x, { training: opts.training ?? true });
    const c = coordLoss(target, r.coords);
    if (lambda === 0) return c;
    const [, h, w, k] = r.heatmaps.shape;
    const maps = gaussianHeatmaps(target, k, h, w, opts.sigma ?? 1);
    return tf.add(c, tf.mul(lambda, heatmapLoss(r.heatmaps, maps, opts.kind ?? "kl"))) as tf.Scalar;
  });
}
