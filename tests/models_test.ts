import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { buildPart1, buildPart2, forwardFlops } from "../lib/models/course_cnn.ts";

await tf.setBackend("cpu");

Deno.test("Part 1 net: 80x64 grey in, 2 out, FC 64*5*4", () => {
  const m = buildPart1({ seed: 1 });
  assert.deepEqual(m.inputs[0].shape, [null, 64, 80, 1]);
  assert.deepEqual(m.outputs[0].shape, [null, 2]);
  assert.deepEqual(m.getLayer("fc1").getWeights()[0].shape, [64 * 5 * 4, 64]);
  const v = buildPart1({ seed: 1, firstKernel: 5 });
  assert.deepEqual(v.getLayer("conv1").getWeights()[0].shape, [5, 5, 1, 16]);
  assert.deepEqual(v.getLayer("conv2").getWeights()[0].shape, [5, 5, 16, 32]);
  m.dispose();
  v.dispose();
});

Deno.test("Part 2 net: 160x120 in, 116 out, FC 64*20*15 -> 2000, bias near 0.5", async () => {
  const m = buildPart2({ seed: 1 });
  assert.deepEqual(m.outputs[0].shape, [null, 116]);
  assert.deepEqual(m.getLayer("fc1").getWeights()[0].shape, [64 * 20 * 15, 2000]);
  const bias = await m.getLayer("fc2").getWeights()[1].data();
  const mean = Array.from(bias).reduce((a, b) => a + b, 0) / bias.length;
  assert.ok(Math.abs(mean - 0.5) < 0.01, `bias mean ${mean}`);
  const y = m.predict(tf.zeros([1, 120, 160, 1])) as tf.Tensor;
  assert.deepEqual(y.shape, [1, 116]);
  // Forward FLOPs from the layer shapes: 5 convs + 2 dense layers.
  const conv = 2 * 9 * (160 * 120 * 1 * 32 + 80 * 60 * 32 * 32 * 2 + 40 * 30 * (32 * 64 + 64 * 64));
  const dense = 2 * (19200 * 2000 + 2000 * 116);
  assert.equal(forwardFlops(m), conv + dense);
  m.dispose();
});

Deno.test("same seed, same weights", async () => {
  const a = await buildPart1({ seed: 7 }).getLayer("conv1").getWeights()[0].data();
  const b = await buildPart1({ seed: 7 }).getLayer("conv1").getWeights()[0].data();
  const c = await buildPart1({ seed: 8 }).getLayer("conv1").getWeights()[0].data();
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});
