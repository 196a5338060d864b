import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../lib/backends/backend.ts";
import { buildHeatmapUNet } from "../lib/models/unet.ts";
import { compileLean } from "../lib/infer/lean_graph.ts";
await setupBackend("wasm");
const cfgs = [{ base: 8, size: 112 }, { base: 8, size: 96 }, { base: 10, size: 96 }, { base: 12, size: 80 }, {base: 8, size: 128}];
for (const c of cfgs) {
  const m = buildHeatmapUNet({ inputWidth: c.size, inputHeight: c.size, channels: 1, keypoints: 68, outputStride: 4, base: c.base, seed: 1 });
  const lean = compileLean(m)!;
  const x = tf.randomUniform([1, c.size, c.size, 1], -0.5, 0.5) as tf.Tensor4D;
  const B: number[] = [];
  for (let i = 0; i < 60; i++) { const t0 = performance.now(); tf.tidy(() => lean.run(x)[0].dataSync()); B.push(performance.now() - t0); }
  const v = B.slice(5).sort((a, b) => a - b);
  console.log(JSON.stringify(c), "params", m.countParams(), "lean min", v[0].toFixed(2), "med", v[v.length >> 1].toFixed(2));
}
