/**
 * Heatmap head: the soft-argmax layer (exact pixel centres, symmetric
 * blobs, serialization), Gaussian targets and losses, the U-Net (shapes,
 * training on wasm without leaks, model.json round trip) and backend parity
 * (wasm and, when an adapter exists, WebGPU against cpu).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { hasWebGpu, setupBackend } from "../lib/backends/backend.ts";
import { folderSaver, loadModelFolder } from "../lib/models/checkpoint.ts";
import {
  findSoftArgmax,
  gaussianHeatmaps,
  heatmapLoss,
  heatmapOutputs,
  heatmapTrainingLoss,
  pixelCentreGrid,
  SoftArgmax2D,
  spatialSoftArgmax,
} from "../lib/head/heatmap.ts";
import { buildHeatmapUNet, type HeatmapUNetOptions } from "../lib/models/unet.ts";
import { createRng } from "../lib/util/random.ts";

const SMALL: HeatmapUNetOptions = {
  inputWidth: 32,
  inputHeight: 24,
  channels: 3,
  keypoints: 3,
  base: 8,
  depth: 2,
  seed: 1,
};

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates
  }
  return m;
}

/** Images with a bright dot for keypoint k in channel k; targets normalised. */
function dots(
  n: number,
  h: number,
  w: number,
  k: number,
  seed: number,
): { x: tf.Tensor4D; y: tf.Tensor2D; points: Float32Array } {
  const rng = createRng(seed);
  const x = new Float32Array(n * h * w * k).fill(-0.5);
  const points = new Float32Array(n * 2 * k);
  for (let b = 0; b < n; b++) {
    for (let c = 0; c < k; c++) {
      const px = rng.uniform(3, w - 3), py = rng.uniform(3, h - 3);
      points[(b * k + c) * 2] = px / w;
      points[(b * k + c) * 2 + 1] = py / h;
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const d2 = (j + 0.5 - px) ** 2 + (i + 0.5 - py) ** 2;
          x[((b * h + i) * w + j) * k + c] += Math.exp(-d2 / 4.5);
        }
      }
    }
  }
  return {
    x: tf.tensor4d(x, [n, h, w, k]),
    y: tf.tensor2d(points, [n, 2 * k]),
    points,
  };
}

/** Mean point error in input pixels. */
function pixelError(pred: ArrayLike<number>, target: ArrayLike<number>, w: number, h: number) {
  let s = 0;
  for (let i = 0; i < target.length; i += 2) {
    s += Math.hypot((pred[i] - target[i]) * w, (pred[i + 1] - target[i + 1]) * h);
  }
  return s / (target.length / 2);
}

function randomizeBatchNorm(model: tf.LayersModel): void {
  let s = 100;
  for (const layer of model.layers) {
    if (layer.getClassName() !== "BatchNormalization") continue;
    layer.setWeights(
      layer.getWeights().map((w, i) => {
        const name = layer.weights[i].originalName;
        const positive = name.endsWith("moving_variance") || name.endsWith("gamma");
        return tf.randomUniform(
          w.shape,
          positive ? 0.5 : -0.3,
          positive ? 1.5 : 0.3,
          "float32",
          s++,
        );
      }),
    );
  }
  // Non-zero logits so the maps are not uniform.
  const head = model.getLayer("heatmap_logits");
  head.setWeights(head.getWeights().map((w) => tf.randomNormal(w.shape, 0, 0.5, "float32", s++)));
}

Deno.test("soft-argmax: a one-hot map gives exactly that pixel's centre", async () => {
  await setupBackend("cpu");
  const [h, w, k] = [5, 7, 3];
  const hot = [[0, 0], [4, 6], [2, 3]]; // (row, col) per channel
  for (const [temperature, logit] of [[1, 100], [0.01, 1]]) {
    const buf = tf.buffer([2, h, w, k]);
    hot.forEach(([i, j], c) => {
      buf.set(logit, 0, i, j, c);
      buf.set(logit, 1, h - 1 - i, w - 1 - j, c);
    });
    const logits = buf.toTensor() as tf.Tensor4D;
    const layer = new SoftArgmax2D({ temperature });
    const out = layer.apply(logits) as tf.Tensor;
    assert.deepEqual(out.shape, [2, 2 * k]);
    const got = out.dataSync();
    const want: number[] = [];
    for (const flip of [false, true]) {
      for (const [i, j] of hot) {
        const [ii, jj] = flip ? [h - 1 - i, w - 1 - j] : [i, j];
        want.push((jj + 0.5) / w, (ii + 0.5) / h);
      }
    }
    assert.ok(maxDiff(got, want) <= 1e-4, `T ${temperature}: ${got} vs ${want}`);
    tf.dispose([logits, out]);
  }
  assert.deepEqual(Array.from(pixelCentreGrid(2, 2)), [
    0.25,
    0.25,
    0.75,
    0.25,
    0.25,
    0.75,
    0.75,
    0.75,
  ]);
});

Deno.test("soft-argmax: a symmetric blob gives its centre; shift-invariant logits", async () => {
  await setupBackend("cpu");
  const [h, w] = [20, 24];
  const centres = [[8, 6], [12.5, 10], [15.25, 9.75]]; // (x, y) in pixels, edge coordinates
  const buf = tf.buffer([1, h, w, centres.length]);
  centres.forEach(([cx, cy], c) => {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        // Large offsets must not overflow: the max is subtracted first.
        buf.set(1000 - ((j + 0.5 - cx) ** 2 + (i + 0.5 - cy) ** 2) / (2 * 1.5 ** 2), 0, i, j, c);
      }
    }
  });
  const logits = buf.toTensor() as tf.Tensor4D;
  const { coords, heatmaps } = spatialSoftArgmax(logits);
  const want = centres.flatMap(([cx, cy]) => [cx / w, cy / h]);
  assert.ok(maxDiff(coords.dataSync(), want) <= 1e-4, `${coords.dataSync()} vs ${want}`);
  const sums = tf.sum(heatmaps!, [1, 2]).dataSync();
  assert.ok(maxDiff(sums, [1, 1, 1]) <= 1e-5);
  tf.dispose([logits, coords, heatmaps!]);
});

Deno.test("SoftArgmax2D: config, learnable temperature, heatmap output", async () => {
  await setupBackend("cpu");
  const input = tf.input({ shape: [6, 8, 2] });
  const fixed = new SoftArgmax2D({ temperature: 0.5 });
  assert.deepEqual((fixed.apply(input) as tf.SymbolicTensor).shape, [null, 4]);
  assert.equal(fixed.trainableWeights.length, 0);
  const learn = new SoftArgmax2D({
    temperature: 2,
    learnableTemperature: true,
    outputHeatmaps: true,
  });
  const outs = learn.apply(input) as tf.SymbolicTensor[];
  assert.deepEqual(outs.map((o) => o.shape), [[null, 4], [null, 6, 8, 2]]);
  assert.equal(learn.trainableWeights.length, 1);
  assert.ok(Math.abs(learn.currentTemperature() - 2) < 1e-6);
  const c = learn.getConfig();
  assert.equal(c.temperature, 2);
  assert.equal(c.learnableTemperature, true);
  assert.equal(c.outputHeatmaps, true);
  assert.throws(() => new SoftArgmax2D({ temperature: 0 }), /positive/);
  // The temperature receives a gradient.
  const logits = tf.randomNormal([2, 6, 8, 2], 0, 1, "float32", 5) as tf.Tensor4D;
  const model = tf.model({ inputs: input, outputs: outs });
  const g = tf.grads((l: tf.Tensor) => {
    const [xy] = model.apply(l) as tf.Tensor[];
    return tf.sum(tf.square(tf.sub(xy, 0.3)));
  });
  const [dl] = g([logits]);
  assert.ok(tf.abs(dl).max().dataSync()[0] > 0);
  const { grads } = tf.variableGrads(() => {
    const [xy] = model.apply(logits) as tf.Tensor[];
    return tf.sum(tf.square(tf.sub(xy, 0.3))) as tf.Scalar;
  });
  const tg = Object.values(grads);
  assert.equal(tg.length, 1);
  assert.ok(Math.abs(tg[0].dataSync()[0]) > 0);
  tf.dispose([logits, dl, ...tg]);
  model.dispose();
});

Deno.test("gaussianHeatmaps and heatmapLoss", async () => {
  await setupBackend("cpu");
  const points = [0.3, 0.6, 0.9, 0.1, 1.4, -0.2]; // the last one is clamped to (1, 0)
  const host = gaussianHeatmaps(points, 3, 12, 16, 1);
  const pts = tf.tensor2d(points, [1, 6]);
  const dev = gaussianHeatmaps(pts, 3, 12, 16, 1);
  assert.deepEqual(host.shape, [1, 12, 16, 3]);
  assert.ok(maxDiff(host.dataSync(), dev.dataSync()) <= 1e-6);
  assert.ok(maxDiff(tf.sum(host, [1, 2]).dataSync(), [1, 1, 1]) <= 1e-5);
  // Soft-argmax of log(target) is the point (σ = 1 keeps truncation tiny for inner points).
  const { coords } = spatialSoftArgmax(tf.log(tf.add(host, 1e-30)) as tf.Tensor4D, 1, false);
  assert.ok(maxDiff(coords.dataSync().slice(0, 2), [0.3, 0.6]) <= 1e-3);
  for (const kind of ["mse", "kl"] as const) {
    assert.ok(Math.abs(heatmapLoss(host, dev, kind).dataSync()[0]) <= 1e-6, kind);
    const other = gaussianHeatmaps([0.5, 0.5, 0.5, 0.5, 0.5, 0.5], 3, 12, 16, 1);
    assert.ok(heatmapLoss(other, host, kind).dataSync()[0] > 1e-3, kind);
    other.dispose();
  }
  assert.throws(() => gaussianHeatmaps([0.5, NaN], 1, 4, 4, 1), /not finite/);
  assert.throws(() => gaussianHeatmaps([0.5], 1, 4, 4, 1), /multiple/);
  tf.dispose([host, pts, dev, coords]);
});

Deno.test("U-Net: shapes per stride and upsampling, input checks, plain convs only", async () => {
  await setupBackend("cpu");
  for (const stride of [1, 2, 4] as const) {
    for (const upsampling of ["nearest", "bilinear", "transpose"] as const) {
      const m = buildHeatmapUNet({ ...SMALL, outputStride: stride, upsampling });
      assert.deepEqual(m.outputs[0].shape, [null, 6]);
      assert.deepEqual(m.getLayer("heatmap_logits").outputShape, [
        null,
        24 / stride,
        32 / stride,
        3,
      ]);
      assert.ok(findSoftArgmax(m) instanceof SoftArgmax2D);
      assert.ok(!m.layers.some((l) => /Depthwise|Separable/.test(l.getClassName())));
      m.dispose();
    }
  }
  assert.throws(() => buildHeatmapUNet({ ...SMALL, inputWidth: 30 }), /multiple of 2\^depth/);
  assert.throws(() => buildHeatmapUNet({ ...SMALL, depth: 1, outputStride: 4 }), /depth >= 2/);
  // Zero-initialised logits: every point starts at the centre.
  const m = buildHeatmapUNet(SMALL);
  const x = tf.randomUniform([1, 24, 32, 3], -0.5, 0.5, "float32", 2);
  const y = m.predict(x) as tf.Tensor;
  assert.ok(maxDiff(y.dataSync(), new Array(6).fill(0.5)) <= 1e-5);
  tf.dispose([x, y]);
  m.dispose();
});

Deno.test("heatmapOutputs: same coordinates as predict, normalised maps", async () => {
  await setupBackend("cpu");
  const m = buildHeatmapUNet({ ...SMALL, outputStride: 2, learnableTemperature: true });
  randomizeBatchNorm(m);
  const x = tf.randomUniform([2, 24, 32, 3], -0.5, 0.5, "float32", 3);
  const y = m.predict(x) as tf.Tensor;
  const { coords, heatmaps } = heatmapOutputs(m, x);
  assert.deepEqual(heatmaps.shape, [2, 12, 16, 3]);
  assert.ok(maxDiff(coords.dataSync(), y.dataSync()) <= 1e-6);
  assert.ok(maxDiff(tf.sum(heatmaps, [1, 2]).dataSync(), new Array(6).fill(1)) <= 1e-5);
  // The coordinates are the maps' expected pixel centres.
  const grid = pixelCentreGrid(12, 16);
  const hm = heatmaps.dataSync();
  let ex = 0, ey = 0;
  for (let p = 0; p < 12 * 16; p++) {
    ex += hm[p * 3] * grid[2 * p];
    ey += hm[p * 3] * grid[2 * p + 1];
  }
  assert.ok(maxDiff([ex, ey], coords.dataSync().slice(0, 2)) <= 1e-5);
  tf.dispose([x, y, coords, heatmaps]);
  m.dispose();
});

Deno.test("training on wasm: Adam steps reduce the error; no tensor leaks", async () => {
  await setupBackend("wasm");
  const m = buildHeatmapUNet({ ...SMALL, upsampling: "transpose", learnableTemperature: true });
  const { x, y, points } = dots(2, 24, 32, 3, 7);
  const opt = tf.train.adam(5e-3);
  const STEPS = 80;
  const before = pixelError((m.predict(x) as tf.Tensor).dataSync(), points, 32, 24);
  const counts: number[] = [];
  const losses: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    const cost = opt.minimize(() => heatmapTrainingLoss(m, x, y), true)!;
    losses.push(cost.dataSync()[0]);
    cost.dispose();
    counts.push(tf.memory().numTensors);
  }
  // Adam creates its moments in the first step; after that nothing grows.
  assert.ok(counts.slice(1).every((c) => c === counts[1]), `tensor counts ${counts}`);
  const pred = m.predict(x) as tf.Tensor;
  const after = pixelError(pred.dataSync(), points, 32, 24);
  console.log(`heatmap U-Net on 2 images: error ${before.toFixed(2)} px -> ${after.toFixed(2)} px`);
  assert.ok(after < before * 0.5, `error ${before.toFixed(2)} px -> ${after.toFixed(2)} px`);
  assert.ok(losses[STEPS - 1] < losses[0]);
  // The plain coordinate loss (what lib/train/loop.ts minimises) also trains it.
  const m2 = buildHeatmapUNet({ ...SMALL, seed: 2 });
  const opt2 = tf.train.adam(3e-3);
  const l2: number[] = [];
  for (let s = 0; s < 10; s++) {
    const cost = opt2.minimize(
      () => tf.mean(tf.squaredDifference(m2.apply(x, { training: true }) as tf.Tensor, y)),
      true,
    ) as tf.Scalar;
    l2.push(cost.dataSync()[0]);
    cost.dispose();
  }
  assert.ok(l2[9] < l2[0], `coordinate loss ${l2}`);
  tf.dispose([x, y, pred]);
  opt.dispose();
  opt2.dispose();
  m.dispose();
  m2.dispose();
});

Deno.test("model.json round trip (folderSaver / loadModelFolder) keeps outputs", async () => {
  await setupBackend("cpu");
  const dir = await Deno.makeTempDir({ prefix: "facekit_heatmap_" });
  try {
    const m = buildHeatmapUNet({ ...SMALL, outputStride: 2, learnableTemperature: true });
    randomizeBatchNorm(m);
    const sa = findSoftArgmax(m)!;
    sa.setWeights([tf.scalar(Math.log(0.7))]);
    heatmapOutputs(m, tf.zeros([1, 24, 32, 3])).heatmaps.dispose(); // builds the logits model
    await m.save(folderSaver(dir, {
      task: "heatmap",
      layout: "test",
      points: [0, 1, 2],
      inputWidth: 32,
      inputHeight: 24,
      channels: 3,
    }));
    const { model: loaded, meta } = await loadModelFolder(dir);
    assert.equal(meta?.task, "heatmap");
    const la = findSoftArgmax(loaded)!;
    assert.ok(la instanceof SoftArgmax2D);
    assert.ok(Math.abs(la.currentTemperature() - 0.7) < 1e-6);
    const x = tf.randomUniform([2, 24, 32, 3], -0.5, 0.5, "float32", 9);
    const a = m.predict(x) as tf.Tensor, b = loaded.predict(x) as tf.Tensor;
    assert.equal(maxDiff(a.dataSync(), b.dataSync()), 0);
    tf.dispose([x, a, b]);
    m.dispose();
    loaded.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function parityAgainstCpu(backend: "wasm" | "webgpu", tol: number): Promise<void> {
  await setupBackend("cpu");
  const models = (["nearest", "bilinear", "transpose"] as const).map((upsampling) => {
    const m = buildHeatmapUNet({ ...SMALL, upsampling, outputStride: 2, temperature: 0.5 });
    randomizeBatchNorm(m);
    return m;
  });
  const x = tf.randomUniform([2, 24, 32, 3], -0.5, 0.5, "float32", 11);
  const logits = tf.randomNormal([2, 6, 8, 3], 0, 3, "float32", 12) as tf.Tensor4D;
  const layer = new SoftArgmax2D({ temperature: 0.7 });
  const gradOf = () =>
    tf.grad((l: tf.Tensor) => tf.sum(tf.square(tf.sub(layer.apply(l) as tf.Tensor, 0.4))))(logits);
  const ref = models.map((m) => (m.predict(x) as tf.Tensor).dataSync());
  const refGrad = gradOf().dataSync();
  await setupBackend(backend);
  for (let i = 0; i < models.length; i++) {
    const got = await (models[i].predict(x) as tf.Tensor).data();
    const d = maxDiff(got, ref[i]);
    assert.ok(d <= tol, `${backend} model ${i}: max |diff| ${d}`);
  }
  const d = maxDiff(await gradOf().data(), refGrad);
  assert.ok(d <= tol, `${backend} soft-argmax gradient: max |diff| ${d}`);
  models.forEach((m) => m.dispose());
  tf.dispose([x, logits]);
  await setupBackend("cpu");
}

Deno.test("wasm matches cpu (U-Net outputs, soft-argmax gradient)", async () => {
  await parityAgainstCpu("wasm", 1e-5);
});

const gpu = await hasWebGpu();
Deno.test({
  name: "webgpu matches cpu (U-Net outputs, soft-argmax gradient)",
  ignore: !gpu,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await parityAgainstCpu("webgpu", 1e-4);
  },
});
