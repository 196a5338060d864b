import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../lib/backends/backend.ts";
import { loadModelFolder } from "../lib/models/checkpoint.ts";
await setupBackend("wasm");
const { model } = await loadModelFolder("models/part3");
const x = tf.randomUniform([1, 112, 112, 1], -0.5, 0.5);
for (let i = 0; i < 10; i++) tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync());
const N = 30;
let t0 = performance.now();
for (let i = 0; i < N; i++) tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync());
console.log("predict ms", ((performance.now() - t0) / N).toFixed(2));
// per op kernel times via tf.profile
const prof = await tf.profile(() => { const y = model.predict(x) as tf.Tensor; y.dataSync(); return y; });
const by: Record<string, { n: number; ms: number }> = {};
let total = 0;
for (const k of prof.kernels) {
  const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
  by[k.name] ??= { n: 0, ms: 0 }; by[k.name].n++; by[k.name].ms += ms; total += ms;
}
console.log("kernels", prof.kernels.length, "sum kernel ms", total.toFixed(2));
console.log(Object.entries(by).sort((a, b) => b[1].ms - a[1].ms).map(([k, v]) => `${k} x${v.n} ${v.ms.toFixed(2)}`).join("\n"));
