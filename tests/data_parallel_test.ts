/**
 * Data-parallel training in Deno Workers must train exactly like one
 * process on the whole batch: same losses (up to float rounding of the
 * split mean), and replicas whose weights stay bit-identical.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../lib/backends/backend.ts";
import {
  autoWorkers,
  barrier,
  createDataParallel,
  splitBatch,
} from "../lib/train/data_parallel.ts";
import { createOptimizer } from "../lib/backends/optimizer.ts";
import { createRng } from "../lib/util/random.ts";
import { train } from "../lib/train/loop.ts";
import type { Batch, BatchSource } from "../lib/train/loop.ts";
import { trainingLossFromSpec } from "../lib/head/training_loss.ts";

await setupBackend("wasm");

/** A small conv net without BatchNorm (so a split batch gives the same gradients). */
function smallNet(seed: number): tf.LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed * 10 + s });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [16, 12, 1],
        filters: 6,
        kernelSize: 3,
        padding: "same",
        activation: "relu",
        kernelInitializer: init(1),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 4, kernelInitializer: init(2) }),
    ],
  });
}

function batches(count: number, size: number, seed: number): Batch[] {
  const rng = createRng(seed);
  return Array.from({ length: count }, () => ({
    x: Float32Array.from({ length: size * 16 * 12 }, () => rng.uniform(-0.5, 0.5)),
    y: Float32Array.from({ length: size * 4 }, () => rng.uniform(0.2, 0.8)),
    size,
  }));
}

const spec = { loss: "mse", head: "regression" } as const;

Deno.test("splitBatch shares a batch as evenly as possible", () => {
  assert.deepEqual(splitBatch(8, 2), [4, 4]);
  assert.deepEqual(splitBatch(5, 2), [3, 2]);
  assert.deepEqual(splitBatch(1, 2), [1, 0]);
  assert.deepEqual(splitBatch(7, 3), [3, 2, 2]);
});

Deno.test("autoWorkers: one replica per core on CPU backends, at least 4 images each", () => {
  assert.equal(autoWorkers("cpu", 8, 2), 2);
  assert.equal(autoWorkers("cpu", 16, 16), 4);
  assert.equal(autoWorkers("cpu", 4, 2), 1);
  // wasm: the same with or without a native GEMM (each replica then calls it
  // on its own thread).
  assert.equal(autoWorkers("wasm", 8, 2), 2);
  assert.equal(autoWorkers("cpu", 32, 1), 1);
  assert.equal(autoWorkers("webgpu", 32, 8), 1);
});

Deno.test("barrier throws when the group has failed instead of waiting", () => {
  const ctl = new Int32Array(new SharedArrayBuffer(12));
  ctl[2] = 1;
  assert.throws(() => barrier(ctl, 2, 5000), /worker failed/);
  const quiet = new Int32Array(new SharedArrayBuffer(12));
  assert.throws(() => barrier(quiet, 2, 30), /no answer/);
});

Deno.test("2 replicas train like one process on the whole batch; weights stay identical", async () => {
  const data = [...batches(4, 8, 3), ...batches(1, 5, 4), ...batches(1, 1, 5)];
  const lossFn = trainingLossFromSpec(spec);

  const ref = smallNet(1);
  const refOpt = createOptimizer(2e-3);
  const vars = ref.trainableWeights.map((w) => w.read() as tf.Variable);
  const refLosses: number[] = [];
  for (const b of data) {
    const x = tf.tensor4d(b.x, [b.size, 16, 12, 1]);
    const y = tf.tensor2d(b.y, [b.size, 4]);
    const cost = refOpt.minimize(() => lossFn(ref, x, y), true, vars)!;
    refLosses.push((await cost.data())[0]);
    tf.dispose([x, y, cost]);
  }

  const model = smallNet(1);
  const opt = createOptimizer(2e-3);
  const dp = await createDataParallel(model, opt, {
    workers: 2,
    backend: "wasm",
    loss: spec,
    lr: 2e-3,
  });
  try {
    const losses: number[] = [];
    const counts: number[] = [];
    for (const b of data) {
      losses.push(await dp.step(b.x, b.y, b.size, 2e-3));
      counts.push(tf.memory().numTensors);
    }
    losses.forEach((l, i) =>
      assert.ok(
        Math.abs(l - refLosses[i]) <= 1e-5 * Math.abs(refLosses[i]),
        `step ${i + 1}: ${l} vs one process ${refLosses[i]}`,
      )
    );
    assert.ok(counts.slice(1).every((c) => c === counts[1]), `numTensors ${counts}`);
    const mine = await Promise.all(model.weights.map(async (w) => await w.read().data()));
    const theirs = await dp.workerWeights(1);
    mine.forEach((w, i) => assert.deepEqual(theirs[i], w, `weight ${i} differs between replicas`));
    const expected = await Promise.all(ref.weights.map(async (w) => await w.read().data()));
    let maxDiff = 0;
    mine.forEach((w, i) =>
      w.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - expected[i][j]))))
    );
    assert.ok(maxDiff < 1e-4, `weights vs one process: max diff ${maxDiff}`);
  } finally {
    dp.close();
    ref.dispose();
    model.dispose();
    refOpt.dispose();
    opt.dispose();
  }
});

Deno.test("a worker that cannot start is reported with its message, not a hang", async () => {
  const model = smallNet(2);
  const opt = createOptimizer(1e-3);
  await assert.rejects(
    createDataParallel(model, opt, {
      workers: 2,
      backend: "wasm",
      loss: { loss: "mse", head: "bogus" as "regression" },
      lr: 1e-3,
    }),
    /worker 1: unknown head "bogus"/,
  );
  model.dispose();
  opt.dispose();
});

Deno.test("train() with 2 workers follows the single-process loss history", async () => {
  const data = batches(6, 1, 9);
  const source: BatchSource = {
    inputShape: [16, 12, 1],
    outputs: 4,
    trainSize: 6,
    valSize: 2,
    trainBatch: (idx) => {
      const x = new Float32Array(idx.length * 192), y = new Float32Array(idx.length * 4);
      idx.forEach((i, k) => {
        x.set(data[i].x, k * 192);
        y.set(data[i].y, k * 4);
      });
      return { x, y, size: idx.length };
    },
    valBatch: (idx) => ({
      x: idx.reduce(
        (a, i, k) => (a.set(data[i].x, k * 192), a),
        new Float32Array(idx.length * 192),
      ),
      y: idx.reduce((a, i, k) => (a.set(data[i].y, k * 4), a), new Float32Array(idx.length * 4)),
      size: idx.length,
    }),
  };
  const run = async (workers: number) => {
    const out = await Deno.makeTempDir();
    try {
      const model = smallNet(3);
      const r = await train(model, source, {
        outDir: out,
        epochs: 3,
        batch: 4,
        lr: 3e-3,
        seed: 1,
        loss: "mse",
        resume: false,
        meta: {
          task: "test",
          layout: "none",
          points: [0, 1],
          inputWidth: 12,
          inputHeight: 16,
          channels: 1,
        },
        quiet: true,
        log: () => {},
        workers,
      });
      model.dispose();
      return r.history;
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  };
  const one = await run(1);
  const two = await run(2);
  one.forEach((r, i) => {
    assert.ok(Math.abs(r.trainLoss - two[i].trainLoss) <= 1e-5 * r.trainLoss, `epoch ${i + 1}`);
    assert.ok(Math.abs(r.valLoss - two[i].valLoss) <= 1e-5 * r.valLoss, `epoch ${i + 1} val`);
  });
});
