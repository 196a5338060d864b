/**
 * ResNet family as tfjs layers models (NHWC): ResNet-18/34 (basic blocks),
 * ResNet-50 and Wide-ResNet-50-2 (bottleneck blocks), with BatchNorm, a
 * global average pool and a dense keypoint head whose bias starts at the
 * crop centre (0.5) or at a given mean shape.
 *
 * A width multiplier and input size make light CPU-friendly variants
 * (e.g. ResNet-18 at 112x112 with half the channels).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

type Initializer = ReturnType<typeof tf.initializers.zeros>;
type SymbolicTensor = tf.SymbolicTensor;

/** ResNet depths this builder knows. */
export type ResNetDepth = 18 | 34 | 50;

/** Options of {@link buildResNet}. */
export interface ResNetOptions {
  /** 18, 34 (basic blocks) or 50 (bottleneck). */
  depth: ResNetDepth;
  /** Input side in pixels (square). Default 224. */
  inputSize?: number;
  /** 1 (grayscale) or 3 (RGB). Default 3. */
  channels?: number;
  /** Number of outputs (2 x keypoints). Default 136. */
  outputs?: number;
  /** Multiplies every stage's channel count (1 = standard 64..512). */
  widthMultiplier?: number;
  /** Bottleneck inner width multiplier (2 = Wide-ResNet-50-2). Default 1. */
  bottleneckWidth?: number;
  /** Initial output bias (e.g. the training mean shape); default 0.5 everywhere. */
  initialBias?: Float32Array;
  /** Seed for weight initialisation. */
  seed?: number;
  /** Model name. */
  name?: string;
}

const STAGES: Record<ResNetDepth, number[]> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  50: [3, 4, 6, 3],
};

/**
 * Builds a ResNet keypoint regressor.
 *
 * @example
 * ```ts
 * import { buildResNet } from "./resnet.ts";
 * const m = buildResNet({ depth: 18, inputSize: 64, widthMultiplier: 0.25, outputs: 136 });
 * console.log(m.outputs[0].shape); // [null, 136]
 * ```
 */
export function buildResNet(opts: ResNetOptions): tf.LayersModel {
  const size = opts.inputSize ?? 224;
  const channels = opts.channels ?? 3;
  const outputs = opts.outputs ?? 136;
  const wm = opts.widthMultiplier ?? 1;
  const bw = opts.bottleneckWidth ?? 1;
  const bottleneck = opts.depth === 50;
  let seedCounter = 0;
  const seed = (): number | undefined =>
    opts.seed === undefined ? undefined : opts.seed * 1000 + seedCounter++;
  const heInit = (): Initializer => tf.initializers.heNormal({ seed: seed() });
  const ch = (c: number): number => Math.max(8, Math.round(c * wm));

  const conv = (
    x: SymbolicTensor,
    filters: number,
    kernel: number,
    stride: number,
    name: string,
  ): SymbolicTensor =>
    tf.layers.conv2d({
      name,
      filters,
      kernelSize: kernel,
      strides: stride,
      padding: "same",
      useBias: false,
      kernelInitializer: heInit(),
    }).apply(x) as SymbolicTensor;
  const bn = (x: SymbolicTensor, name: string, zeroGamma = false): SymbolicTensor =>
    tf.layers.batchNormalization({
      name,
      axis: -1,
      momentum: 0.9,
      epsilon: 1e-5,
      gammaInitializer: zeroGamma ? "zeros" : "ones",
    }).apply(x) as SymbolicTensor;
  const relu = (x: SymbolicTensor, name: string): SymbolicTensor =>
    tf.layers.reLU({ name }).apply(x) as SymbolicTensor;

  const input = tf.input({ shape: [size, size, channels], name: "image" });
  let x = conv(input, ch(64), 7, 2, "stem_conv");
  x = relu(bn(x, "stem_bn"), "stem_relu");
  x = tf.layers.maxPooling2d({
    name: "stem_pool",
    poolSize: 3,
    strides: 2,
    padding: "same",
  }).apply(x) as SymbolicTensor;

  let inChannels = ch(64);
  STAGES[opts.depth].forEach((blocks, stage) => {
    const width = ch(64 * 2 ** stage);
    const outChannels = bottleneck ? width * 4 : width;
    for (let b = 0; b < blocks; b++) {
      const stride = b === 0 && stage > 0 ? 2 : 1;
      const p = `s${stage + 1}b${b + 1}`;
      let y: SymbolicTensor;
      if (bottleneck) {
        const inner = width * bw;
        y = relu(bn(conv(x, inner, 1, 1, `${p}_conv1`), `${p}_bn1`), `${p}_relu1`);
        y = relu(bn(conv(y, inner, 3, stride, `${p}_conv2`), `${p}_bn2`), `${p}_relu2`);
        y = bn(conv(y, outChannels, 1, 1, `${p}_conv3`), `${p}_bn3`, true);
      } else {
        y = relu(bn(conv(x, width, 3, stride, `${p}_conv1`), `${p}_bn1`), `${p}_relu1`);
        y = bn(conv(y, width, 3, 1, `${p}_conv2`), `${p}_bn2`, true);
      }
      let shortcut = x;
      if (stride !== 1 || inChannels !== outChannels) {
        shortcut = bn(conv(x, outChannels, 1, stride, `${p}_down`), `${p}_down_bn`);
      }
      x = relu(
        tf.layers.add({ name: `${p}_add` }).apply([y, shortcut]) as SymbolicTensor,
        `${p}_out`,
      );
      inChannels = outChannels;
    }
  });
  x = tf.layers.globalAveragePooling2d({ name: "pool" }).apply(x) as SymbolicTensor;
  const fanIn = inChannels;
  const bound = 1 / Math.sqrt(fanIn);
  const biasInit: Initializer = opts.initialBias
    ? tf.initializers.constant({ value: 0 })
    : tf.initializers.constant({ value: 0.5 });
  const head = tf.layers.dense({
    name: "keypoints",
    units: outputs,
    kernelInitializer: tf.initializers.randomUniform({
      minval: -bound,
      maxval: bound,
      seed: seed(),
    }),
    biasInitializer: biasInit,
  });
  const out = head.apply(x) as SymbolicTensor;
  const model = tf.model({
    inputs: input,
    outputs: out,
    name: opts.name ?? `resnet${opts.depth}`,
  });
  if (opts.initialBias) {
    if (opts.initialBias.length !== outputs) {
      throw new Error(
        `initialBias has ${opts.initialBias.length} values, expected ${outputs}`,
      );
    }
    const [kernel] = head.getWeights();
    const bias = tf.tensor1d(opts.initialBias);
    head.setWeights([kernel, bias]);
    bias.dispose();
  }
  return model;
}
