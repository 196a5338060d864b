/**
 * Pixel U-Net heatmap keypoint model: an encoder-decoder with skip
 * connections whose last 1x1 conv gives one logit map per keypoint, turned
 * into `[N, 2K]` normalised coordinates by the soft-argmax layer
 * (`SoftArgmax2D`), the same output as the regression models.
 *
 * Only layers whose training kernels exist on webgpu, wasm (with
 * `lib/backends/wasm_kernels.ts`) and cpu: Conv2D, BatchNormalization, ReLU,
 * MaxPooling2D, UpSampling2D, Conv2DTranspose, Concatenate. No depthwise or
 * separable convs (the wasm backend cannot backpropagate them).
 *
 * Importing this module imports `lib/head/heatmap.ts`, which registers the
 * `SoftArgmax2D` class (for loading saved models) and its ONNX converter.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { heatmapHead } from "../head/heatmap.ts";

type SymbolicTensor = tf.SymbolicTensor;
type Initializer = ReturnType<typeof tf.initializers.zeros>;

/** How the decoder doubles the resolution. */
export type UpsamplingKind = "nearest" | "bilinear" | "transpose";

/** Options of {@link buildHeatmapUNet}. */
export interface HeatmapUNetOptions {
  /** Input width in pixels (a multiple of `2^depth`). */
  inputWidth: number;
  /** Input height in pixels (a multiple of `2^depth`). */
  inputHeight: number;
  /** 1 (grayscale) or 3 (RGB). */
  channels: number;
  /** Number of keypoints K (the model outputs 2K values). */
  keypoints: number;
  /** Filters of the first level; level l has `base * 2^l`. Default 16. */
  base?: number;
  /** Number of 2x down-sampling levels. Default 3. */
  depth?: number;
  /**
   * Heatmap resolution as a fraction of the input: 1 = full, 2 = half,
   * 4 = quarter (at most `2^depth`). Default 1.
   */
  outputStride?: 1 | 2 | 4;
  /**
   * Decoder up-sampling: `"nearest"` (UpSampling2D + conv 3x3, the default),
   * `"bilinear"` (the same with tfjs's bilinear resize, which samples at
   * `dest * in / out`, i.e. shifted by a quarter input pixel; the convs
   * learn to compensate) or `"transpose"` (Conv2DTranspose 2x2, stride 2).
   */
  upsampling?: UpsamplingKind;
  /**
   * Replace the first level (two full-resolution convs and a pool) by one
   * 3x3 stride-2 conv to `base` filters: much faster, since full-resolution
   * layers with few channels are the slowest per FLOP. Needs
   * `outputStride >= 2`. Default false.
   */
  stridedStem?: boolean;
  /** Seed for the weight initialisers. */
  seed?: number;
  /** Soft-argmax temperature (initial value when learnable). Default 1. */
  temperature?: number;
  /** Learn the soft-argmax temperature. Default false. */
  learnableTemperature?: boolean;
  /** Model name. Default `"heatmap_unet"`. */
  name?: string;
}

/**
 * Builds the heatmap U-Net: per level conv3x3-BN-ReLU x2 (no conv bias),
 * 2x2 max pool down; a bottleneck block at `1 / 2^depth`; per decoder level
 * an up-sampling step to `base * 2^l` filters (BN-ReLU), concatenation with
 * the encoder's skip and conv3x3-BN-ReLU x2, until the resolution
 * `1 / outputStride`; a 1x1 conv to K logit maps (`heatmap_logits`); the
 * `SoftArgmax2D` layer `keypoints` -> `[N, 2K]`.
 *
 * The 1x1 conv starts with a zero kernel and bias, so every map starts
 * uniform and every point at the centre (0.5, 0.5), like the regression
 * heads' 0.5 bias; the gradient still reaches it from the first step.
 *
 * @example
 * ```ts
 * import { buildHeatmapUNet } from "./unet.ts";
 * const m = buildHeatmapUNet({ inputWidth: 32, inputHeight: 32, channels: 1, keypoints: 5, base: 8, depth: 2 });
 * console.log(m.outputs[0].shape); // [null, 10]
 * ```
 */
export function buildHeatmapUNet(opts: HeatmapUNetOptions): tf.LayersModel {
  const base = opts.base ?? 16;
  const depth = opts.depth ?? 3;
  const stride = opts.outputStride ?? 1;
  const up = opts.upsampling ?? "nearest";
  const { inputWidth: w, inputHeight: h, channels, keypoints } = opts;
  if (![1, 2, 4].includes(stride)) throw new Error(`outputStride must be 1, 2 or 4, got ${stride}`);
  if (!Number.isInteger(depth) || depth < 0) throw new Error(`depth must be >= 0, got ${depth}`);
  const stop = Math.log2(stride);
  if (stop > depth) throw new Error(`outputStride ${stride} needs depth >= ${stop}, got ${depth}`);
  const stem = opts.stridedStem ?? false;
  if (stem && (stop < 1 || depth < 1)) {
    throw new Error(`stridedStem needs outputStride >= 2 and depth >= 1`);
  }
  const f = 2 ** depth;
  if (!Number.isInteger(w / f) || !Number.isInteger(h / f) || w <= 0 || h <= 0) {
    throw new Error(`input ${w}x${h} must be a multiple of 2^depth = ${f} on both sides`);
  }
  if (!(keypoints >= 1) || !Number.isInteger(keypoints)) {
    throw new Error(`keypoints must be a positive integer, got ${keypoints}`);
  }
  if (!["nearest", "bilinear", "transpose"].includes(up)) {
    throw new Error(`unknown upsampling "${up}" (use nearest, bilinear or transpose)`);
  }

  let seedCounter = 0;
  const seed = (): number | undefined =>
    opts.seed === undefined ? undefined : opts.seed * 1000 + seedCounter++;
  const heInit = (): Initializer => tf.initializers.heNormal({ seed: seed() });

  const conv = (x: SymbolicTensor, filters: number, name: string, strides = 1): SymbolicTensor =>
    tf.layers.conv2d({
      name,
      filters,
      kernelSize: 3,
      strides,
      padding: "same",
      useBias: false,
      kernelInitializer: heInit(),
    }).apply(x) as SymbolicTensor;
  const bnRelu = (x: SymbolicTensor, name: string): SymbolicTensor => {
    const y = tf.layers.batchNormalization({
      name: `${name}_bn`,
      axis: -1,
      momentum: 0.9,
      epsilon: 1e-5,
    }).apply(x) as SymbolicTensor;
    return tf.layers.reLU({ name: `${name}_relu` }).apply(y) as SymbolicTensor;
  };
  const block = (x: SymbolicTensor, filters: number, name: string): SymbolicTensor => {
    x = bnRelu(conv(x, filters, `${name}_conv1`), `${name}_1`);
    return bnRelu(conv(x, filters, `${name}_conv2`), `${name}_2`);
  };

  const input = tf.input({ shape: [h, w, channels], name: "image" });
  const skips: SymbolicTensor[] = [];
  let x = input;
  for (let l = 0; l < depth; l++) {
    if (l === 0 && stem) {
      x = bnRelu(conv(x, base, "stem_conv", 2), "stem");
      skips.push(x); // never used: the decoder stops at level >= 1
      continue;
    }
    x = block(x, base * 2 ** l, `enc${l}`);
    skips.push(x);
    x = tf.layers.maxPooling2d({ name: `pool${l}`, poolSize: 2, strides: 2 })
      .apply(x) as SymbolicTensor;
  }
  x = block(x, base * 2 ** depth, "bottleneck");
  for (let l = depth - 1; l >= stop; l--) {
    const filters = base * 2 ** l;
    if (up === "transpose") {
      x = tf.layers.conv2dTranspose({
        name: `up${l}_tconv`,
        filters,
        kernelSize: 2,
        strides: 2,
        padding: "same",
        useBias: false,
        kernelInitializer: heInit(),
      }).apply(x) as SymbolicTensor;
    } else {
      x = tf.layers.upSampling2d({ name: `up${l}_resize`, size: [2, 2], interpolation: up })
        .apply(x) as SymbolicTensor;
      x = conv(x, filters, `up${l}_conv`);
    }
    x = bnRelu(x, `up${l}`);
    x = tf.layers.concatenate({ name: `up${l}_concat`, axis: -1 })
      .apply([x, skips[l]]) as SymbolicTensor;
    x = block(x, filters, `dec${l}`);
  }
  const coords = heatmapHead(x, keypoints, {
    temperature: opts.temperature,
    learnableTemperature: opts.learnableTemperature,
  });
  return tf.model({ inputs: input, outputs: coords, name: opts.name ?? "heatmap_unet" });
}
