// Coordinate distillation: targets blend labels with the teacher's points;
// a teacher of the wrong shape is refused.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../lib/backends/backend.ts";
import { distilledSource } from "../lib/course/distill.ts";
import type { BatchSource } from "../lib/train/loop.ts";
import { createRng } from "../lib/util/random.ts";

/** A teacher whose output is the mean of its 2x2x1 input, twice. */
function meanTeacher(): tf.LayersModel {
  const input = tf.input({ shape: [2, 2, 1] });
  const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const out = tf.layers.dense({
    units: 2,
    kernelInitializer: tf.initializers.constant({ value: 0.25 }),
    biasInitializer: "zeros",
  }).apply(flat) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

const source: BatchSource = {
  inputShape: [2, 2, 1],
  outputs: 2,
  trainSize: 2,
  valSize: 1,
  trainBatch: (idx) => ({
    x: new Float32Array(idx.flatMap((i) => [i, i, i, i])),
    y: new Float32Array(idx.flatMap(() => [0.2, 0.8])),
    size: idx.length,
  }),
  valBatch: (idx) => ({ x: new Float32Array(4 * idx.length), y: new Float32Array(2), size: 1 }),
};

Deno.test("distilledSource blends labels and teacher points; validation keeps labels", async () => {
  await setupBackend("cpu");
  const teacher = meanTeacher();
  const src = distilledSource(source, teacher, 0.25);
  const b = await src.trainBatch([0, 1], createRng(1));
  // Item 0: teacher (0, 0); item 1: teacher (1, 1).
  const want = [0.15, 0.6, 0.4, 0.85];
  want.forEach((v, i) => assert.ok(Math.abs(b.y[i] - v) < 1e-6, `${b.y[i]} vs ${v}`));
  assert.deepEqual(Array.from(src.valBatch([0]).y), [0, 0]);
  const before = tf.memory().numTensors;
  await src.trainBatch([1], createRng(2));
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => distilledSource(source, teacher, 1.5), /in \[0, 1\]/);
  assert.throws(
    () => distilledSource({ ...source, inputShape: [3, 3, 1] }, teacher, 0.5),
    /teacher takes \[2,2,1\]/,
  );
  // A source that degrades its inputs: the teacher reads the clean ones, and
  // the blended batch no longer carries them.
  const degrading: BatchSource = {
    ...source,
    trainBatch: (idx) => ({
      x: new Float32Array(4 * idx.length).fill(9),
      clean: new Float32Array(idx.flatMap((i) => [i, i, i, i])),
      y: new Float32Array(idx.flatMap(() => [0.2, 0.8])),
      size: idx.length,
    }),
  };
  const dsrc = distilledSource(degrading, teacher, 0.25);
  const d = await dsrc.trainBatch([0, 1], createRng(1));
  want.forEach((v, i) => assert.ok(Math.abs(d.y[i] - v) < 1e-6, `${d.y[i]} vs ${v}`));
  assert.equal(d.x[0], 9);
  assert.equal(d.clean, undefined);
  dsrc.dispose();
  const held = tf.memory().numTensors;
  src.dispose();
  assert.ok(tf.memory().numTensors <= held);
  teacher.dispose();
});

Deno.test("distilledSource with a flip map flip-averages the teacher's points", async () => {
  await setupBackend("cpu");
  // One point: x = mean of the left column, y = 0.
  const input = tf.input({ shape: [2, 2, 1] });
  const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ units: 2, useBias: false });
  const teacher = tf.model({ inputs: input, outputs: dense.apply(flat) as tf.SymbolicTensor });
  dense.setWeights([tf.tensor2d([0.5, 0, 0, 0, 0.5, 0, 0, 0], [4, 2])]);
  const sided: BatchSource = {
    ...source,
    trainBatch: (idx) => ({
      x: new Float32Array(idx.flatMap(() => [0.3, 0.1, 0.3, 0.1])), // left 0.3, right 0.1
      y: new Float32Array(idx.flatMap(() => [0, 0])),
      size: idx.length,
    }),
  };
  const plain = await distilledSource(sided, teacher, 1).trainBatch([0], createRng(1));
  assert.ok(Math.abs(plain.y[0] - 0.3) < 1e-6, `${plain.y[0]}`);
  const src = distilledSource(sided, teacher, 1, [0]);
  const before = tf.memory().numTensors;
  const b = await src.trainBatch([0, 1], createRng(1));
  // Mirrored, the left column reads 0.1: back in the direct frame 1 - 0.1.
  for (const i of [0, 1]) assert.ok(Math.abs(b.y[2 * i] - (0.3 + 0.9) / 2) < 1e-6, `${b.y}`);
  assert.equal(b.x.length, 8); // the student still gets the direct inputs only
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => distilledSource(sided, teacher, 1, [0, 1]), /flip map has 2 points/);
  src.dispose();
  teacher.dispose();
});
