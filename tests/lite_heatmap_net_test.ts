/**
 * The latency-designed heatmap net: shapes and option checks, no layer
 * outside the trainable set, conv + BN + ReLU folded by the lean path to the
 * same outputs, and training on wasm without tensor leaks.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../lib/backends/backend.ts";
import { findSoftArgmax, SoftArgmax2D } from "../lib/head/heatmap.ts";
import { compileLean } from "../lib/infer/lean_graph.ts";
import { buildLiteHeatmapNet } from "../lib/models/lite_heatmap_net.ts";
import { randomizeWeights } from "./model_test_util.ts";

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

Deno.test("lite net: quarter-resolution logits, trainable layers only, checks", async () => {
  await setupBackend("cpu");
  const m = buildLiteHeatmapNet({ inputSize: 48, channels: 1, keypoints: 5, seed: 1 });
  assert.deepEqual(m.outputs[0].shape, [null, 10]);
  assert.deepEqual(m.getLayer("heatmap_logits").outputShape, [null, 12, 12, 5]);
  assert.ok(findSoftArgmax(m) instanceof SoftArgmax2D);
  const allowed = new Set([
    "InputLayer",
    "Conv2D",
    "BatchNormalization",
    "ReLU",
    "UpSampling2D",
    "Add",
    "SoftArgmax2D",
  ]);
  const classes = new Set(m.layers.map((l) => l.getClassName()));
  assert.deepEqual([...classes].filter((c) => !allowed.has(c)), []);
  // No convolution at the input's resolution beyond the stride-2 stem.
  for (const l of m.layers) {
    if (l.getClassName() !== "Conv2D") continue;
    const [, h] = l.outputShape as number[];
    assert.ok(h <= 24, `${l.name} runs at ${h}x${h}`);
  }
  // The widths scale with base.
  const wide = buildLiteHeatmapNet({ inputSize: 48, channels: 1, keypoints: 5, base: 24 });
  assert.equal((wide.getLayer("enc16_down_conv").getConfig() as { filters: number }).filters, 192);
  assert.equal((wide.getLayer("dec4_mix0_conv").getConfig() as { filters: number }).filters, 72);
  assert.ok(wide.countParams() > 2 * m.countParams());
  wide.dispose();
  // Zero-initialised logits: every point starts at the centre.
  const y = tf.tidy(() => (m.predict(tf.randomNormal([2, 48, 48, 1])) as tf.Tensor).dataSync());
  assert.ok(maxDiff(y, new Array(20).fill(0.5)) <= 1e-5);
  m.dispose();
  assert.throws(
    () => buildLiteHeatmapNet({ inputSize: 40, channels: 1, keypoints: 5 }),
    /multiple of 16/,
  );
  assert.throws(
    () => buildLiteHeatmapNet({ inputSize: 32, channels: 1, keypoints: 0 }),
    /positive integer/,
  );
  assert.throws(
    () => buildLiteHeatmapNet({ inputSize: 32, channels: 1, keypoints: 2, depths: [0, 1, 1] }),
    /depths/,
  );
});

Deno.test("lite net: the lean path folds every conv and equals predict", async () => {
  await setupBackend("wasm");
  for (const fineSkip of [false, true]) {
    const m = buildLiteHeatmapNet({ inputSize: 32, channels: 1, keypoints: 4, seed: 2, fineSkip });
    randomizeWeights(m, 10);
    const convs = m.layers.filter((l) => l.getClassName() === "Conv2D").length;
    const lean = compileLean(m)!;
    assert.equal(lean.folded, convs - 1); // all but the logits conv (no BN after it)
    const x = tf.randomUniform([2, 32, 32, 1], -0.5, 0.5, "float32", 1) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const [a] = lean.run(x);
    const b = m.predict(x) as tf.Tensor;
    assert.ok(maxDiff(await a.data(), await b.data()) <= 1e-4, `fineSkip ${fineSkip}`);
    tf.dispose([a, b]);
    assert.equal(tf.memory().numTensors, before);
    lean.dispose();
    x.dispose();
    m.dispose();
  }
});

Deno.test("lite net: the fine skip adds a 2x2 stride-2 view of the stem", async () => {
  await setupBackend("cpu");
  const m = buildLiteHeatmapNet({ inputSize: 48, channels: 1, keypoints: 5, fineSkip: true });
  const conv = m.getLayer("dec4_fine_conv").getConfig() as {
    kernelSize: number[];
    strides: number[];
    filters: number;
  };
  assert.deepEqual([conv.kernelSize, conv.strides, conv.filters], [[2, 2], [2, 2], 48]);
  assert.deepEqual(m.getLayer("dec4_fine_conv").outputShape, [null, 12, 12, 48]);
  // The stem feeds both the encoder and the fine skip.
  assert.equal(m.getLayer("stem_relu").outboundNodes.length, 2);
  const plain = buildLiteHeatmapNet({ inputSize: 48, channels: 1, keypoints: 5 });
  assert.equal(m.countParams() - plain.countParams(), 4 * 16 * 48 + 4 * 48);
  m.dispose();
  plain.dispose();
});

Deno.test("lite net: Adam steps on wasm reduce the loss, no tensor leaks", async () => {
  await setupBackend("wasm");
  const m = buildLiteHeatmapNet({ inputSize: 32, channels: 1, keypoints: 2, seed: 3 });
  // Two images with a bright dot per keypoint; targets are the dots' centres.
  const x = tf.buffer([2, 32, 32, 1]);
  const target = [[0.25, 0.3, 0.7, 0.65], [0.6, 0.2, 0.35, 0.8]];
  target.forEach((t, b) => {
    for (let k = 0; k < 2; k++) {
      const cx = Math.floor(t[2 * k] * 32), cy = Math.floor(t[2 * k + 1] * 32);
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) x.set(1, b, cy + dy, cx + dx, 0);
      }
    }
  });
  const xs = x.toTensor(), ys = tf.tensor2d(target);
  const opt = tf.train.adam(3e-3);
  const losses: number[] = [], counts: number[] = [];
  for (let i = 0; i < 25; i++) {
    const cost = opt.minimize(
      () => tf.mean(tf.squaredDifference(m.apply(xs, { training: true }) as tf.Tensor, ys)),
      true,
    ) as tf.Scalar;
    losses.push((await cost.data())[0]);
    cost.dispose();
    counts.push(tf.memory().numTensors);
  }
  assert.ok(counts.slice(1).every((c) => c === counts[1]), `tensor counts ${counts}`);
  assert.ok(losses[24] < losses[0] * 0.5, `loss ${losses[0]} -> ${losses[24]}`);
  tf.dispose([xs, ys]);
  opt.dispose();
  m.dispose();
});
