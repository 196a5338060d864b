import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../lib/backends/backend.ts";
import { loadModelFolder } from "../lib/models/checkpoint.ts";
import { compileLean } from "../lib/infer/lean_graph.ts";
await setupBackend((Deno.args[0] ?? "wasm") as "wasm");
for (const dir of ["models/part3", "models/part3-fast", "models/part1", "models/part2"]) {
  const { model, meta } = await loadModelFolder(dir);
  const lean = compileLean(model)!;
  const x = tf.randomUniform([1, meta!.inputHeight, meta!.inputWidth, meta!.channels], -0.5, 0.5) as tf.Tensor4D;
  const a = (model.predict(x) as tf.Tensor).dataSync();
  const [y] = lean.run(x); const b = y.dataSync(); y.dispose();
  let md = 0; for (let i = 0; i < a.length; i++) md = Math.max(md, Math.abs(a[i] - b[i]));
  const time = (f: () => tf.Tensor) => { for (let i = 0; i < 3; i++) tf.tidy(() => f().dataSync()); const ts=[]; for (let i = 0; i < 25; i++) { const t0 = performance.now(); tf.tidy(() => f().dataSync()); ts.push(performance.now()-t0);} ts.sort((p,q)=>p-q); return ts[12]; };
  const n0 = tf.memory().numTensors;
  const r = [time(() => model.predict(x) as tf.Tensor), time(() => lean.run(x)[0]), time(() => model.predict(x) as tf.Tensor), time(() => lean.run(x)[0])];
  console.log(dir, "folded", lean.folded, "maxdiff", md.toExponential(2), "predict/lean ms", r.map((v) => v.toFixed(2)).join(" "), "leak", tf.memory().numTensors - n0);
}
