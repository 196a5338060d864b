import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../lib/backends/backend.ts";
import {
  centreCropBatches,
  recalibrateBatchNorm,
  recalibrateFolder,
} from "../lib/train/bn_recalibrate.ts";
import { folderSaver, loadModelFolder } from "../lib/models/checkpoint.ts";

await setupBackend("wasm");

/** conv (fixed weights) -> batch norm with momentum 0.9, on 2x2x2 inputs. */
function net(): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [2, 2, 2], filters: 2, kernelSize: 1, useBias: false }),
      tf.layers.batchNormalization({ momentum: 0.9 }),
    ],
  });
  // The identity 1x1 conv: the batch norm sees the inputs themselves.
  model.layers[0].setWeights([tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2])]);
  return model;
}

Deno.test("recalibrateBatchNorm: moving statistics become the mean of every batch's", async () => {
  const model = net();
  const batches = [
    Float32Array.from({ length: 16 }, (_, i) => i), // 2 images
    Float32Array.from({ length: 8 }, (_, i) => 3 * i - 5), // 1 image
    Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * 10), // 3 images
  ];
  // Expected: per channel (interleaved), each batch's mean and biased variance, averaged.
  const stats = batches.map((b) =>
    [0, 1].map((c) => {
      const v = Array.from(b).filter((_, i) => i % 2 === c);
      const m = v.reduce((s, x) => s + x, 0) / v.length;
      return [m, v.reduce((s, x) => s + (x - m) ** 2, 0) / v.length];
    })
  );
  const kernel = Array.from(await model.layers[0].getWeights()[0].data());
  const before = tf.memory().numTensors;
  const n = await recalibrateBatchNorm(model, batches, [2, 2, 2]);
  assert.equal(n, 1);
  assert.equal(tf.memory().numTensors, before, "no tensor leak");
  const [gamma, beta, mean, variance] = await Promise.all(
    model.layers[1].getWeights().map(async (w) => Array.from(await w.data())),
  );
  for (const c of [0, 1]) {
    const em = stats.reduce((s, b) => s + b[c][0], 0) / 3;
    const ev = stats.reduce((s, b) => s + b[c][1], 0) / 3;
    assert.ok(Math.abs(mean[c] - em) < 1e-4, `mean ${c}: ${mean[c]} vs ${em}`);
    assert.ok(Math.abs(variance[c] - ev) < 1e-3 * ev, `variance ${c}: ${variance[c]} vs ${ev}`);
  }
  // Only the moving statistics change, and the momentum is back.
  assert.deepEqual([gamma, beta], [[1, 1], [0, 0]]);
  assert.deepEqual(Array.from(await model.layers[0].getWeights()[0].data()), kernel);
  assert.equal((model.layers[1] as unknown as { momentum: number }).momentum, 0.9);
  model.dispose();
});

Deno.test("recalibrateBatchNorm refuses ragged batches and an empty set, and keeps the momentum", async () => {
  const model = net();
  await assert.rejects(
    recalibrateBatchNorm(model, [new Float32Array(8), new Float32Array(5)], [2, 2, 2]),
    /a batch of 5 values is not whole 2x2x2 images/,
  );
  assert.equal((model.layers[1] as unknown as { momentum: number }).momentum, 0.9);
  await assert.rejects(recalibrateBatchNorm(model, [], [2, 2, 2]), /no batches/);
  model.dispose();
});

Deno.test("centreCropBatches: the middle of each image, normalised, in batches", () => {
  // 4x4 images whose value is 10 * row + col; the middle 2x2 is rows/cols 1-2.
  const img = (k: number) => ({
    data: Float32Array.from({ length: 16 }, (_, i) => 10 * Math.floor(i / 4) + (i % 4) + k),
    width: 4,
    height: 4,
    channels: 1,
  });
  const out = [...centreCropBatches([img(0), img(100), img(200)], 2, 2)];
  assert.deepEqual(out.map((b) => b.length), [8, 4]);
  // Inputs are value / 255 - 0.5.
  const back = Array.from(out[0]).map((v) => Math.round((v + 0.5) * 255));
  assert.deepEqual(back, [11, 12, 21, 22, 111, 112, 121, 122]);
  assert.deepEqual([...centreCropBatches([], 2)], []);
});

Deno.test("recalibrateFolder writes a whole new folder and returns the recalibrated model", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = net();
    await model.save(folderSaver(`${dir}/from`));
    model.dispose();
    const batch = Float32Array.from({ length: 16 }, (_, i) => i);
    const rec = await recalibrateFolder(`${dir}/from`, `${dir}/to`, [batch], [2, 2, 2]);
    const { model: saved } = await loadModelFolder(`${dir}/to`);
    const a = await Promise.all(rec.getWeights().map(async (w) => Array.from(await w.data())));
    const b = await Promise.all(saved.getWeights().map(async (w) => Array.from(await w.data())));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a[3], [0, 0], "moving mean moved from its initial zeros");
    assert.throws(() => Deno.statSync(`${dir}/to.tmp`));
    rec.dispose();
    saved.dispose();
    await assert.rejects(
      recalibrateFolder(`${dir}/missing`, `${dir}/x`, [batch], [2, 2, 2]),
      /missing/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
