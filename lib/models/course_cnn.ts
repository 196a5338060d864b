/**
 * The course's small CNNs for IMM (Part 1 nose tip, Part 2 all 58 points)
 * as tfjs layers models, NHWC.
 *
 * Weights start like PyTorch's defaults (uniform in ±1/sqrt(fan_in) for
 * kernels and biases), seeded so runs are reproducible.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

type Initializer = ReturnType<typeof tf.initializers.zeros>;

/** Options shared by the model builders. */
export interface ModelOptions {
  /** Seed for the weight initialisers. */
  seed?: number;
}

/** Options of the Part 1 net. */
export interface Part1Options extends ModelOptions {
  /** Kernel size of the first two convs (3, or 5 for the seed's variant). */
  firstKernel?: number;
  /** Output values (default 2: the nose tip x, y). */
  outputs?: number;
}

/** Options of the Part 2 net. */
export interface Part2Options extends ModelOptions {
  /** Output values (default 116: 58 points x, y). */
  outputs?: number;
}

let seedCounter = 0;
function nextSeed(base: number | undefined): number | undefined {
  return base === undefined ? undefined : base * 1000 + seedCounter++;
}

function torchUniform(seed: number | undefined): Initializer {
  // VarianceScaling(scale 1/3, fanIn, uniform) has bound sqrt(3 * (1/3) /
  // fanIn) = 1/sqrt(fanIn): PyTorch's default for Conv2d and Linear.
  return tf.initializers.varianceScaling({
    scale: 1 / 3,
    mode: "fanIn",
    distribution: "uniform",
    seed,
  });
}

function torchBias(
  fanIn: number,
  seed: number | undefined,
): Initializer {
  const b = 1 / Math.sqrt(fanIn);
  return tf.initializers.randomUniform({ minval: -b, maxval: b, seed });
}

/**
 * Conv 3x3 (or `kernel`), padding "same", ReLU, with seeded PyTorch-style
 * initialisation.
 */
function conv(
  name: string,
  filters: number,
  inChannels: number,
  kernel: number,
  seed: number | undefined,
): tf.layers.Layer {
  return tf.layers.conv2d({
    name,
    filters,
    kernelSize: kernel,
    padding: "same",
    activation: "relu",
    kernelInitializer: torchUniform(nextSeed(seed)),
    biasInitializer: torchBias(inChannels * kernel * kernel, nextSeed(seed)),
  });
}

function dense(
  name: string,
  units: number,
  inUnits: number,
  activation: "relu" | "linear",
  seed: number | undefined,
  biasInitializer?: Initializer,
): tf.layers.Layer {
  return tf.layers.dense({
    name,
    units,
    activation,
    kernelInitializer: torchUniform(nextSeed(seed)),
    biasInitializer: biasInitializer ?? torchBias(inUnits, nextSeed(seed)),
  });
}

function pool(name: string): tf.layers.Layer {
  return tf.layers.maxPooling2d({ name, poolSize: 2, strides: 2 });
}

/**
 * Part 1: grayscale 80 wide x 64 high; conv 16, 32, 64, 64 (ReLU, 2x2 max
 * pool after each); FC 64*5*4 -> 64 -> ReLU -> 2.
 *
 * @example
 * ```ts
 * import { buildPart1 } from "./course_cnn.ts";
 * const model = buildPart1({ seed: 1 });
 * console.log(model.outputs[0].shape); // [null, 2]
 * ```
 */
export function buildPart1(opts: Part1Options = {}): tf.Sequential {
  seedCounter = 0;
  const k1 = opts.firstKernel ?? 3;
  const s = opts.seed;
  const model = tf.sequential({ name: "part1" });
  model.add(tf.layers.inputLayer({ inputShape: [64, 80, 1], name: "image" }));
  model.add(conv("conv1", 16, 1, k1, s));
  model.add(pool("pool1"));
  model.add(conv("conv2", 32, 16, k1, s));
  model.add(pool("pool2"));
  model.add(conv("conv3", 64, 32, 3, s));
  model.add(pool("pool3"));
  model.add(conv("conv4", 64, 64, 3, s));
  model.add(pool("pool4"));
  model.add(tf.layers.flatten({ name: "flatten" }));
  model.add(dense("fc1", 64, 64 * 5 * 4, "relu", s));
  model.add(dense("fc2", opts.outputs ?? 2, 64, "linear", s));
  return model;
}

/**
 * Part 2: grayscale 160x120; conv1-relu-pool, conv2-relu, conv3-relu-pool,
 * conv4-relu, conv5-relu-pool (32, 32, 32, 64, 64 filters, 3x3 "same");
 * FC 64*20*15 -> 2000 -> ReLU -> 116, the last bias drawn from
 * N(0.5, 1/sqrt(2000)) so predictions start near the image centre.
 *
 * @example
 * ```ts
 * import { buildPart2 } from "./course_cnn.ts";
 * const model = buildPart2({ seed: 1 });
 * console.log(model.outputs[0].shape); // [null, 116]
 * ```
 */
export function buildPart2(opts: Part2Options = {}): tf.Sequential {
  seedCounter = 0;
  const s = opts.seed;
  const model = tf.sequential({ name: "part2" });
  model.add(tf.layers.inputLayer({ inputShape: [120, 160, 1], name: "image" }));
  model.add(conv("conv1", 32, 1, 3, s));
  model.add(pool("pool1"));
  model.add(conv("conv2", 32, 32, 3, s));
  model.add(conv("conv3", 32, 32, 3, s));
  model.add(pool("pool2"));
  model.add(conv("conv4", 64, 32, 3, s));
  model.add(conv("conv5", 64, 64, 3, s));
  model.add(pool("pool3"));
  model.add(tf.layers.flatten({ name: "flatten" }));
  model.add(dense("fc1", 2000, 64 * 20 * 15, "relu", s));
  model.add(
    dense(
      "fc2",
      opts.outputs ?? 116,
      2000,
      "linear",
      s,
      tf.initializers.randomNormal({
        mean: 0.5,
        stddev: 1 / Math.sqrt(2000),
        seed: nextSeed(s),
      }),
    ),
  );
  return model;
}

/**
 * Counts the multiply-accumulate FLOPs (x2) of one forward pass per image,
 * from the layer shapes (conv and dense layers only).
 *
 * @example
 * ```ts
 * import { buildPart1, forwardFlops } from "./course_cnn.ts";
 * console.log(forwardFlops(buildPart1()) > 1e6); // true
 * ```
 */
export function forwardFlops(model: tf.LayersModel): number {
  let flops = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const out = layer.outputShape as number[];
    if (cls === "Conv2D" || cls === "DepthwiseConv2D") {
      const [kh, kw, cin, cout] = layer.getWeights()[0].shape;
      // [kh, kw, cin, cout] or, depthwise, [kh, kw, cin, multiplier].
      flops += 2 * out[1] * out[2] * kh * kw * cin * cout;
    } else if (cls === "Dense") {
      const [i, o] = layer.getWeights()[0].shape;
      flops += 2 * i * o;
    }
  }
  return flops;
}
