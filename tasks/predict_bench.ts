/**
 * Per-face latency of the inference API in a warm process (batch 1):
 * `estimate` on a decoded photo with a box (crop, resize, normalise,
 * predict, map back). `deno task onnx:check` times the network alone.
 *
 * ```sh
 * deno run --allow-read tasks/predict_bench.ts [--model part3] [--backend wasm] [--reps 50]
 * ```
 *
 * @module
 */

import { parseOrExit } from "../lib/cli/args.ts";
import { createKeypointEstimator } from "../mod.ts";
import { readImage } from "../lib/image/decode.ts";

const USAGE = `usage: deno task bench:predict [--model part3] [--backend wasm] [--reps 50]
  per-face latency of the keypoint estimator`;

const { values } = parseOrExit(Deno.args, {
  model: { type: "string", default: "part3" },
  backend: { type: "string", default: "wasm" },
  reps: { type: "string", default: "50" },
}, USAGE);
const reps = Number(values.reps);
const estimator = await createKeypointEstimator({
  model: values.model,
  backend: values.backend as "wasm" | "cpu" | "webgpu",
});
const photo = await readImage(new URL("../fixtures/einstein.jpg", import.meta.url).pathname);
const box = { x: 354, y: 282, width: 84, height: 99 };
for (let i = 0; i < 5; i++) await estimator.estimate(photo, { box });
const times: number[] = [];
for (let i = 0; i < reps; i++) {
  const t = performance.now();
  await estimator.estimate(photo, { box });
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
const { inputWidth: w, inputHeight: h, channels: c } = estimator.meta;
console.log(
  `${values.model} on ${values.backend}: estimate() median ${times[reps >> 1].toFixed(2)} ms, ` +
    `p90 ${times[Math.floor(reps * 0.9)].toFixed(2)} ms per face (batch 1, ${w}x${h}x${c}, warm)`,
);
estimator.dispose();
