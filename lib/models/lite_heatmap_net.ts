/**
 * The latency-designed heatmap model ("lite"): the same output as the
 * heatmap U-Net (`[N, 2K]` normalised coordinates from a soft-argmax over K
 * logit maps at a quarter of the input resolution), built for batch-1
 * inference on single-threaded wasm, where full-resolution convolutions with
 * few channels are the slowest per multiply-add and every extra kernel call
 * costs time:
 *
 * - no convolution at the input's resolution: a 3x3 stride-2 stem, then each
 *   level starts with a 3x3 stride-2 conv (no pooling layers);
 * - the width doubles per level (16 at 1/2, 32 at 1/4, 64 at 1/8, 128 at
 *   1/16), and the cheap coarse levels get the extra depth;
 * - an FPN-style decoder: 1x1 conv to the decoder width at the coarse level,
 *   nearest 2x up-sampling, added to a 1x1 projection of the encoder's skip
 *   (an Add, not a Concatenate), then 3x3 convs;
 * - optionally (`fineSkip`) the stem's half-resolution features reach the
 *   quarter-resolution decoder too, through a 2x2 stride-2 conv (a learned
 *   space-to-depth: detail finer than one heatmap cell, for eyes and brows).
 *
 * Every conv is conv-BN-ReLU without a conv bias, so the lean inference path
 * (`lib/infer/lean_graph.ts`) folds each into one fused kernel. Only layers
 * with training kernels on wasm, webgpu and cpu (Conv2D, BatchNormalization,
 * ReLU, UpSampling2D, Add).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { heatmapHead } from "../head/heatmap.ts";

type SymbolicTensor = tf.SymbolicTensor;

/** Options of {@link buildLiteHeatmapNet}. */
export interface LiteHeatmapNetOptions {
  /** Input side in pixels (square, a multiple of 16). */
  inputSize: number;
  /** 1 (grayscale) or 3 (RGB). */
  channels: number;
  /** Number of keypoints K (the model outputs 2K values). */
  keypoints: number;
  /**
   * Width of the stem; the defaults of `widths` and `decoder` scale with it
   * (`[b, 2b, 4b, 8b]` and `[4b, 3b]`). Default 16.
   */
  base?: number;
  /** Encoder widths at 1/2, 1/4, 1/8 and 1/16 of the input. Default `[16, 32, 64, 128]`. */
  widths?: [number, number, number, number];
  /** Convs per encoder level at 1/4, 1/8, 1/16 (stride-2 conv included). Default `[2, 2, 3]`. */
  depths?: [number, number, number];
  /** Decoder widths at 1/8 and 1/4. Default `[64, 48]`. */
  decoder?: [number, number];
  /** 3x3 convs of the decoder at 1/4. Default 1. */
  finalConvs?: number;
  /**
   * Also add the stem's 1/2-resolution features into the 1/4 decoder through
   * a 2x2 stride-2 conv (each 2x2 block of the stem seen at once, so detail
   * finer than a quarter-resolution cell reaches the heatmaps). Default false.
   */
  fineSkip?: boolean;
  /** Seed for the weight initialisers. */
  seed?: number;
  /** Model name. Default `"lite_heatmap"`. */
  name?: string;
}

/**
 * Builds the lite heatmap model (see the module doc). The 1x1 logit conv
 * starts at zero, so every point starts at the crop's centre.
 *
 * @example
 * ```ts
 * import { buildLiteHeatmapNet } from "./lite_heatmap_net.ts";
 * const m = buildLiteHeatmapNet({ inputSize: 64, channels: 1, keypoints: 5 });
 * console.log(m.outputs[0].shape); // [null, 10]
 * ```
 */
export function buildLiteHeatmapNet(opts: LiteHeatmapNetOptions): tf.LayersModel {
  const { inputSize: size, channels, keypoints } = opts;
  const b = opts.base ?? 16;
  if (!Number.isInteger(b) || b < 1) throw new Error(`base must be a positive integer, got ${b}`);
  const widths = opts.widths ?? [b, 2 * b, 4 * b, 8 * b];
  const depths = opts.depths ?? [2, 2, 3];
  const [dec8, dec4] = opts.decoder ?? [4 * b, 3 * b];
  const finalConvs = opts.finalConvs ?? 1;
  if (!Number.isInteger(size / 16) || size <= 0) {
    throw new Error(`inputSize must be a positive multiple of 16, got ${size}`);
  }
  if (!(keypoints >= 1) || !Number.isInteger(keypoints)) {
    throw new Error(`keypoints must be a positive integer, got ${keypoints}`);
  }
  if (depths.some((d) => !Number.isInteger(d) || d < 1) || finalConvs < 0) {
    throw new Error(`depths must be integers >= 1 and finalConvs >= 0`);
  }

  let seedCounter = 0;
  const heInit = () =>
    tf.initializers.heNormal({
      seed: opts.seed === undefined ? undefined : opts.seed * 1000 + seedCounter++,
    });
  const cbr = (x: SymbolicTensor, filters: number, name: string, kernel = 3, strides = 1) => {
    const y = tf.layers.conv2d({
      name: `${name}_conv`,
      filters,
      kernelSize: kernel,
      strides,
      padding: "same",
      useBias: false,
      kernelInitializer: heInit(),
    }).apply(x) as SymbolicTensor;
    const z = tf.layers.batchNormalization({
      name: `${name}_bn`,
      axis: -1,
      momentum: 0.9,
      epsilon: 1e-5,
    }).apply(y) as SymbolicTensor;
    return tf.layers.reLU({ name: `${name}_relu` }).apply(z) as SymbolicTensor;
  };
  const level = (x: SymbolicTensor, filters: number, convs: number, name: string) => {
    x = cbr(x, filters, `${name}_down`, 3, 2);
    for (let i = 1; i < convs; i++) x = cbr(x, filters, `${name}_${i}`);
    return x;
  };
  const merge = (coarse: SymbolicTensor, skip: SymbolicTensor, filters: number, name: string) => {
    const up = tf.layers.upSampling2d({ name: `${name}_up`, size: [2, 2] })
      .apply(cbr(coarse, filters, `${name}_reduce`, 1)) as SymbolicTensor;
    const lateral = cbr(skip, filters, `${name}_lateral`, 1);
    return tf.layers.add({ name: `${name}_add` }).apply([up, lateral]) as SymbolicTensor;
  };

  const input = tf.input({ shape: [size, size, channels], name: "image" });
  const s2 = cbr(input, widths[0], "stem", 3, 2);
  const s4 = level(s2, widths[1], depths[0], "enc4");
  const s8 = level(s4, widths[2], depths[1], "enc8");
  const s16 = level(s8, widths[3], depths[2], "enc16");
  let x = cbr(merge(s16, s8, dec8, "dec8"), dec8, "dec8_mix");
  x = merge(x, s4, dec4, "dec4");
  if (opts.fineSkip) {
    const fine = cbr(s2, dec4, "dec4_fine", 2, 2);
    x = tf.layers.add({ name: "dec4_fine_add" }).apply([x, fine]) as SymbolicTensor;
  }
  for (let i = 0; i < finalConvs; i++) x = cbr(x, dec4, `dec4_mix${i}`);
  const coords = heatmapHead(x, keypoints);
  return tf.model({ inputs: input, outputs: coords, name: opts.name ?? "lite_heatmap" });
}
