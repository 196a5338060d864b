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
for (const [kb, nb] of [[8,8],[16,8],[8,16],[16,16],[16,20],[32,8]]) {
  time(`2pass ${kb}x${nb}`, () => tf.tidy(() => W.reshape([K/kb, kb, N/nb, nb]).transpose([0,2,1,3]).transpose([1,3,0,2]).reshape([N, K])));
  time(`1pass ${kb}x${nb}`, () => tf.tidy(() => W.reshape([K/kb, kb, N/nb, nb]).transpose([2,3,0,1]).reshape([N, K])));
}
time(`pass1 only 16x16`, () => tf.tidy(() => W.reshape([K/16, 16, N/16, 16]).transpose([0,2,1,3])));
time(`3d [K, N1, 16] -> [N1,16,K]`, () => tf.tidy(() => W.reshape([K, N/16, 16]).transpose([1,2,0])));
time(`3d [K, N1, 8] -> [N1,8,K]`, () => tf.tidy(() => W.reshape([K, N/8, 8]).transpose([1,2,0])));
