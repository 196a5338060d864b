import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
await tf.setBackend("wasm");
function time(label: string, f: () => tf.Tensor, n = 3) {
  const r = f(); r.dispose();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) { const r = f(); r.dispose(); }
  console.log(label, ((performance.now() - t0) / n).toFixed(1), "ms");
}
const K = 19200, N = 2000;
const W = tf.randomNormal([K, N]);
const x = tf.randomNormal([8, K]);
time("transpose 2d", () => tf.transpose(W));
for (const [kb, nb] of [[16,16],[32,16],[64,16],[16,40],[64,40],[128,16],[32,50],[128,50]]) {
  const f = () => tf.tidy(() => {
    const p1 = W.reshape([K/kb, kb, N/nb, nb]).transpose([0,2,1,3]);
    return p1.transpose([1,3,0,2]).reshape([N, K]);
  });
  time(`blocked ${kb}x${nb}`, f);
}
const WT = tf.transpose(W);
const ref = tf.transpose(W);
const d = tf.tidy(() => { const p1 = W.reshape([K/64, 64, N/40, 40]).transpose([0,2,1,3]); return p1.transpose([1,3,0,2]).reshape([N, K]).sub(ref).abs().max(); });
console.log("diff", d.dataSync());
time("mm swapped (WT given)", () => tf.tidy(() => tf.matMul(WT, x.transpose()).transpose()));
time("mm direct fresh", () => tf.tidy(() => tf.matMul(x, W.clone())));
time("clone", () => W.clone());
