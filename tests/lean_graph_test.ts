import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { compileLean } from "../lib/infer/lean_graph.ts";
import { loadModelFolder } from "../lib/models/checkpoint.ts";

await tf.setBackend("cpu");
const ROOT = new URL("../", import.meta.url).pathname;

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync() as Float32Array, y = b.dataSync() as Float32Array;
  assert.equal(x.length, y.length);
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
}

Deno.test("lean path equals predict on the shipped models and leaks nothing", async () => {
  for (const name of ["part3", "part3-fast", "part2"]) {
    const { model, meta } = await loadModelFolder(`${ROOT}models/${name}`);
    const lean = compileLean(model);
    assert.ok(lean, `${name} compiles`);
    assert.ok(lean.folded >= 10, `${name}: ${lean.folded} BatchNorms folded`);
    const x = tf.randomUniform([2, meta!.inputHeight, meta!.inputWidth, meta!.channels], -0.5, 0.5);
    const before = tf.memory().numTensors;
    const [got] = lean.run(x as tf.Tensor4D);
    const want = model.predict(x) as tf.Tensor;
    assert.ok(maxDiff(got, want) < 1e-5, `${name}: ${maxDiff(got, want)}`);
    tf.dispose([got, want]);
    assert.equal(tf.memory().numTensors, before, `${name}: no tensor left behind`);
    lean.dispose();
    x.dispose();
    model.dispose();
  }
});

Deno.test("lean path: BN not after a conv, conv output used twice, relu conv, inner outputs", () => {
  const L = tf.layers;
  const inp = tf.input({ shape: [9, 7, 2] });
  const c1 = L.conv2d({ filters: 4, kernelSize: 3, padding: "same", name: "c1" }).apply(inp);
  const b1 = L.batchNormalization({ name: "b1" }).apply(c1);
  const r1 = L.reLU({ name: "r1" }).apply(b1) as tf.SymbolicTensor;
  const c2 = L.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: "valid", name: "c2" })
    .apply(r1) as tf.SymbolicTensor;
  const twice = L.add().apply([
    L.batchNormalization({ name: "b2" }).apply(c2) as tf.SymbolicTensor,
    c2,
  ]) as tf.SymbolicTensor;
  const c3 = L.conv2d({ filters: 3, kernelSize: 1, activation: "relu", name: "c3" })
    .apply(twice) as tf.SymbolicTensor;
  const pool = L.globalAveragePooling2d({}).apply(
    L.batchNormalization({ name: "b3" }).apply(L.maxPooling2d({ poolSize: 2 }).apply(c3)),
  ) as tf.SymbolicTensor;
  const model = tf.model({ inputs: inp, outputs: [pool, r1] });
  // Non-trivial BatchNorm statistics.
  for (const l of model.layers.filter((l) => l.getClassName() === "BatchNormalization")) {
    l.setWeights(l.getWeights().map((w, i) => tf.randomUniform(w.shape, 0.5, 1.5, "float32", i)));
  }
  const lean = compileLean(model, [pool, r1, c2])!;
  assert.equal(lean.folded, 1, "only c1 + b1 (+ r1) fold: c2 has two consumers");
  const x = tf.randomUniform([3, 9, 7, 2], -1, 1);
  const [p, r, c] = lean.run(x as tf.Tensor4D);
  const [wp, wr] = model.predict(x) as tf.Tensor[];
  const wc = tf.model({ inputs: inp, outputs: c2 }).predict(x) as tf.Tensor;
  assert.ok(maxDiff(p, wp) < 1e-5);
  assert.ok(maxDiff(r, wr) < 1e-5);
  assert.ok(maxDiff(c, wc) < 1e-5);
  lean.dispose();
});
