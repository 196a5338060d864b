import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../lib/backends/backend.ts";
import { buildHeatmapUNet } from "../lib/models/unet.ts";
await setupBackend("wasm");
const cfgs = [
  { base: 16, size: 112 }, { base: 8, size: 112 }, { base: 12, size: 112 }, { base: 16, size: 80 }, { base: 12, size: 96 },
];
for (const c of cfgs) {
  const m = buildHeatmapUNet({ inputWidth: c.size, inputHeight: c.size, channels: 1, keypoints: 68, outputStride: 4, base: c.base, seed: 1 });
  const x = tf.randomUniform([1, c.size, c.size, 1], -0.5, 0.5);
  for (let i = 0; i < 5; i++) tf.tidy(() => (m.predict(x) as tf.Tensor).dataSync());
  const N = 30; const ts: number[] = [];
  for (let i = 0; i < N; i++) { const t0 = performance.now(); tf.tidy(() => (m.predict(x) as tf.Tensor).dataSync()); ts.push(performance.now() - t0); }
  ts.sort((a, b) => a - b);
  console.log(JSON.stringify(c), "params", m.countParams(), "median ms", ts[N >> 1].toFixed(2), "min", ts[0].toFixed(2));
  m.dispose(); x.dispose();
}
