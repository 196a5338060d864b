import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import * as ort from "onnxruntime-web";
import { compressWeights, fromHalfBits, quantizeInt8, toHalfBits } from "../lib/onnx/compress.ts";
import { tfjsToOnnx } from "../lib/onnx/mod.ts";
import { DataType } from "../lib/onnx/proto.ts";
import { buildHeatmapUNet } from "../lib/models/unet.ts";

await tf.setBackend("cpu");
ort.env.wasm.numThreads = 1;

Deno.test("float16 bits: exact values, rounding to nearest even, overflow, subnormals", () => {
  assert.equal(toHalfBits(1), 0x3c00);
  assert.equal(toHalfBits(-2), 0xc000);
  assert.equal(toHalfBits(65504), 0x7bff);
  assert.equal(toHalfBits(65520), 0x7c00); // rounds up past the largest finite half
  assert.equal(toHalfBits(2 ** -24), 0x0001); // smallest subnormal
  assert.equal(toHalfBits(2 ** -26), 0x0000);
  assert.equal(toHalfBits(1 + 2 ** -11), 0x3c00); // a tie goes to the even mantissa
  assert.equal(toHalfBits(1 + 3 * 2 ** -11), 0x3c02);
  assert.ok(Number.isNaN(fromHalfBits(toHalfBits(NaN))));
  for (const v of [0.1, -3.14159, 1e-5, 1234.5]) {
    const back = fromHalfBits(toHalfBits(v));
    assert.ok(Math.abs(back - v) <= Math.abs(v) * 2 ** -11 + 2 ** -25, `${v} -> ${back}`);
  }
});

Deno.test("int8: one scale per output channel, values within half a step", () => {
  const w = new Float32Array([0.5, -1, 0.25, 0.1, 8, -4, 2, 1]);
  const q = quantizeInt8(w, [2, 4], 0);
  assert.deepEqual(Array.from(q.scales), [1 / 127, 8 / 127].map(Math.fround));
  assert.equal(q.values[1], -127);
  assert.equal(q.values[4], 127);
  w.forEach((v, i) => {
    const s = q.scales[i < 4 ? 0 : 1];
    assert.ok(Math.abs(q.values[i] * s - v) <= s / 2 + 1e-7);
  });
  // Along axis 1 of a [2, 2] matrix: columns.
  const c = quantizeInt8(new Float32Array([1, 10, -2, 5]), [2, 2], 1);
  assert.deepEqual(Array.from(c.scales), [2 / 127, 10 / 127].map(Math.fround));
});

Deno.test("compressWeights: small constants stay float32, restore nodes come first", () => {
  const g = {
    nodes: [{ opType: "Conv", inputs: ["x", "w", "b"], outputs: ["y"] }],
    initializers: [
      { name: "w", dataType: DataType.FLOAT, dims: [4, 2, 3, 3], data: new Float32Array(72) },
      { name: "b", dataType: DataType.FLOAT, dims: [4], data: new Float32Array(4) },
    ],
  };
  compressWeights(g, "float16");
  assert.deepEqual(g.nodes.map((n) => n.opType), ["Cast", "Conv"]);
  assert.deepEqual(g.initializers.map((t) => t.name), ["w_fp16", "b"]);
  assert.equal(g.initializers[0].dataType, DataType.FLOAT16);
});

Deno.test("float16 and int8 exports of a heatmap U-Net run in onnxruntime close to float32", async () => {
  const model = buildHeatmapUNet({
    inputWidth: 32,
    inputHeight: 32,
    channels: 1,
    keypoints: 5,
    outputStride: 4,
    seed: 4,
  });
  const x = new Float32Array(2 * 32 * 32).map((_, i) => Math.sin(i * 0.37) * 0.5);
  const run = async (weights: "float32" | "float16" | "int8") => {
    const bytes = tfjsToOnnx(model, { weights });
    const s = await ort.InferenceSession.create(bytes);
    const out = await s.run({ input: new ort.Tensor("float32", x, [2, 1, 32, 32]) });
    await s.release();
    return { bytes: bytes.byteLength, y: out.output.data as Float32Array };
  };
  const f32 = await run("float32"), f16 = await run("float16"), i8 = await run("int8");
  assert.ok(f16.bytes < f32.bytes * 0.6, `float16 ${f16.bytes} vs ${f32.bytes} bytes`);
  assert.ok(i8.bytes < f32.bytes * 0.35, `int8 ${i8.bytes} vs ${f32.bytes} bytes`);
  const diff = (a: Float32Array, b: Float32Array) =>
    a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  // Keypoints are fractions of the input: 1e-3 is 0.03 px of 32.
  assert.ok(diff(f16.y, f32.y) < 1e-3, `float16 max diff ${diff(f16.y, f32.y)}`);
  assert.ok(diff(i8.y, f32.y) < 2e-2, `int8 max diff ${diff(i8.y, f32.y)}`);
  assert.ok(diff(i8.y, f32.y) > 0, "int8 weights change the output a little");
  model.dispose();
});
