import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../lib/backends/backend.ts";
import { loadModelFolder } from "../lib/models/checkpoint.ts";
import { compileLean } from "../lib/infer/lean_graph.ts";
await setupBackend("wasm");
for (const dir of ["models/part3", "models/part3-fast"]) {
  const { model, meta } = await loadModelFolder(dir);
  const lean = compileLean(model)!;
  const x = tf.randomUniform([1, meta!.inputHeight, meta!.inputWidth, meta!.channels], -0.5, 0.5) as tf.Tensor4D;
  const A: number[] = [], B: number[] = [];
  for (let i = 0; i < 60; i++) {
    let t0 = performance.now(); tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync()); A.push(performance.now() - t0);
    t0 = performance.now(); tf.tidy(() => lean.run(x)[0].dataSync()); B.push(performance.now() - t0);
  }
  const st = (v: number[]) => { v = v.slice(5).sort((a, b) => a - b); return `min ${v[0].toFixed(2)} p25 ${v[v.length >> 2].toFixed(2)} med ${v[v.length >> 1].toFixed(2)}`; };
  console.log(dir, "predict", st(A), "| lean", st(B));
}
