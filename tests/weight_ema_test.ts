import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../lib/backends/backend.ts";
import { createWeightEma, emaDecay } from "../lib/train/weight_ema.ts";

await setupBackend("wasm");

function tiny(): tf.LayersModel {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 2, inputShape: [3] }),
      tf.layers.batchNormalization(),
    ],
  });
  return model;
}

async function values(ts: tf.Tensor[]): Promise<number[][]> {
  return await Promise.all(ts.map(async (t) => Array.from(await t.data())));
}

Deno.test("emaDecay warms up and then holds the decay", () => {
  assert.equal(emaDecay(0.999, 0), 0.1);
  assert.equal(emaDecay(0.999, 10), 11 / 20);
  assert.equal(emaDecay(0.9, 1000), 0.9);
  assert.ok(emaDecay(0.999, 5000) < 0.999 && emaDecay(0.999, 9000) === 0.999);
});

Deno.test("the average follows the weights with the warmed-up decay, batch-norm statistics included", async () => {
  const model = tiny();
  const start = await values(model.getWeights());
  const ema = createWeightEma(model, 0.5);
  try {
    assert.equal(ema.values().length, model.weights.length); // kernel, bias, BN x4
    // Move every weight by +1 and update three times: d = 0.1, 2/11, then 0.5.
    tf.tidy(() => model.setWeights(model.getWeights().map((w) => w.add(1))));
    let gap = 1;
    for (let n = 0; n < 3; n++) {
      ema.update();
      gap *= emaDecay(0.5, n);
    }
    assert.equal(ema.count(), 3);
    const avg = await values(ema.values());
    avg.forEach((a, i) =>
      a.forEach((v, k) => {
        // avg = w_new - gap * (w_new - w_start) = start + 1 - gap
        assert.ok(Math.abs(v - (start[i][k] + 1 - gap)) < 1e-5, `weight ${i}[${k}]: ${v}`);
      })
    );
  } finally {
    ema.dispose();
    model.dispose();
  }
});

Deno.test("withAverage evaluates the average and puts the model's own weights back exactly", async () => {
  const model = tiny();
  const ema = createWeightEma(model, 0.9);
  try {
    tf.tidy(() => model.setWeights(model.getWeights().map((w) => w.mul(3).add(0.25))));
    const before = tf.memory().numTensors;
    ema.update();
    const own = await values(model.getWeights());
    const seen = await ema.withAverage(async () => await values(model.getWeights()));
    assert.deepEqual(seen, await values(ema.values()));
    assert.notDeepEqual(seen, own);
    assert.deepEqual(await values(model.getWeights()), own);
    // A failing evaluation still restores the weights.
    await assert.rejects(ema.withAverage(() => Promise.reject(new Error("boom"))), /boom/);
    assert.deepEqual(await values(model.getWeights()), own);
    assert.equal(tf.memory().numTensors, before, "no tensor leak");
  } finally {
    ema.dispose();
    model.dispose();
  }
});

Deno.test("createWeightEma checks its decay and a restored average", () => {
  const model = tiny();
  try {
    assert.throws(() => createWeightEma(model, 1), /decay must be in \(0, 1\), got 1/);
    assert.throws(
      () => createWeightEma(model, 0.9, [tf.zeros([1])]),
      /1 saved averages for 6 weights/,
    );
    const wrong = model.weights.map((w) => tf.zeros(w.shape.map((d) => (d ?? 1) + 1)));
    assert.throws(() => createWeightEma(model, 0.9, wrong), /saved average 0 has shape \[4,3\]/);
    tf.dispose(wrong);
  } finally {
    model.dispose();
  }
});
