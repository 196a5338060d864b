/**
 * Inference latency in one table (warm process unless said, batch 1):
 * keypoints per face (one pass, and with the refining second pass), the
 * face finder on a 1024-px photo (whole-photo pass only, and the default
 * tiling), finder + keypoints on 1024-px photos with 1 and 5 faces, and a
 * cold `predict` process. The photos are the fixture's speaker pasted onto a
 * 1024x768 gray canvas (once at 2x, a face about 170 px wide; five times at
 * 1.5x), so the bench needs no data set.
 *
 * ```sh
 * deno task bench:predict [--model part3] [--backend wasm] [--reps 20] [--no-cold]
 * ```
 *
 * @module
 */

import { parseOrExit } from "../lib/cli/args.ts";
import { createFaceDetector, createKeypointEstimator } from "../mod.ts";
import { readImage } from "../lib/image/decode.ts";
import type { RgbaImage } from "../lib/image/rgba.ts";
import { fromRgba, resize, toRgba } from "../lib/image/raster.ts";

const USAGE =
  `usage: deno task bench:predict [--model part3] [--backend wasm] [--reps 20] [--no-cold]
  latency of the keypoint estimator and the face finder (ms, median and p90)`;

const { values } = parseOrExit(Deno.args, {
  model: { type: "string", default: "part3" },
  backend: { type: "string", default: "wasm" },
  reps: { type: "string", default: "20" },
  "no-cold": { type: "boolean", default: false },
}, USAGE);
const reps = Number(values.reps);
const backend = values.backend as "wasm" | "cpu" | "webgpu";
const ROOT = new URL("../", import.meta.url).pathname;

const photo = await readImage(`${ROOT}fixtures/einstein.jpg`);
const speaker = { x: 354, y: 282, width: 84, height: 99 };

/** The speaker's head scaled by `k` (a face about 85k px wide). */
const headAt = (k: number): RgbaImage => {
  const [cw, ch] = [200, 220];
  const data = new Uint8ClampedArray(cw * ch * 4);
  for (let r = 0; r < ch; r++) {
    const s = ((220 + r) * photo.width + 300) * 4;
    data.set(photo.data.subarray(s, s + cw * 4), r * cw * 4);
  }
  return toRgba(resize(fromRgba({ width: cw, height: ch, data }, 3), cw * k, ch * k));
};

/** `n` (1-6) copies of the head on a 1024x768 gray canvas, 3 per row. */
function canvas(n: number, head: RgbaImage): RgbaImage {
  const [w, h] = [1024, 768];
  const data = new Uint8ClampedArray(w * h * 4).fill(110);
  for (let i = 0; i < n; i++) {
    const x0 = 20 + (i % 3) * 335, y0 = 30 + Math.floor(i / 3) * 370;
    for (let r = 0; r < head.height; r++) {
      data.set(
        head.data.subarray(r * head.width * 4, (r + 1) * head.width * 4),
        ((y0 + r) * w + x0) * 4,
      );
    }
  }
  return { width: w, height: h, data };
}

async function time(f: () => Promise<unknown>): Promise<{ median: number; p90: number }> {
  for (let i = 0; i < 3; i++) await f();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return { median: t[t.length >> 1], p90: t[Math.floor(t.length * 0.9)] };
}

const rows: [string, { median: number; p90: number }, string][] = [];
const estimator = await createKeypointEstimator({ model: values.model, backend });
const finder = await createFaceDetector({ backend });
rows.push([
  "keypoints, one face, one pass",
  await time(() => estimator.estimateFace(photo, speaker)),
  `${values.model}, ${estimator.meta.inputWidth}x${estimator.meta.inputHeight}`,
]);
rows.push([
  "keypoints, one face, with refine pass",
  await time(() => estimator.estimate(photo, { box: speaker, refine: true })),
  "two passes",
]);
try {
  const fast = await createKeypointEstimator({ model: values.model, engine: "onnxruntime" });
  rows.push([
    "keypoints, one face, one pass, engine onnxruntime",
    await time(() => fast.estimateFace(photo, speaker)),
    "onnxruntime-node, --allow-ffi",
  ]);
  rows.push([
    "keypoints, 5 faces of one photo, engine onnxruntime (per photo)",
    await time(() => fast.estimate(photo, { boxes: Array(5).fill(speaker) })),
    "one batch of 5",
  ]);
  fast.dispose();
} catch (e) {
  console.error(`onnxruntime rows skipped: ${(e as Error).message}`);
}
rows.push([
  "keypoints, 5 faces of one photo (per photo)",
  await time(() => estimator.estimate(photo, { boxes: Array(5).fill(speaker) })),
  "one batch of 5",
]);
const one = canvas(1, headAt(2)), five = canvas(5, headAt(1.5));
for (const [label, mfs] of [["whole photo only", 0], ["default tiling", undefined]] as const) {
  const found = await finder.findFaces(one, { minFaceSize: mfs });
  rows.push([
    `face finder, 1024x768, ${label}`,
    await time(() => finder.findFaces(one, { minFaceSize: mfs })),
    `${found.length} face(s)`,
  ]);
}
for (const [n, img] of [[1, one], [5, five]] as const) {
  for (const [label, mfs] of [["whole photo only", 0], ["default tiling", undefined]] as const) {
    const faces = await estimator.estimate(img, { minFaceSize: mfs });
    rows.push([
      `finder + keypoints, 1024x768, ${n} face(s), ${label}`,
      await time(() => estimator.estimate(img, { minFaceSize: mfs })),
      `${faces.length} found`,
    ]);
  }
}
estimator.dispose();
finder.dispose();

if (!values["no-cold"]) {
  const t: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const p = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", `${ROOT}mod.ts`, "predict", `${ROOT}fixtures/einstein.jpg`],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!p.success) throw new Error("cold predict failed");
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  rows.push([
    "cold process: predict einstein.jpg (817x1024)",
    { median: t[1], p90: t[2] },
    "3 runs",
  ]);
}

console.log(`| what (${backend}) | median ms | p90 ms | note |\n|---|---|---|---|`);
for (const [what, t, note] of rows) {
  console.log(`| ${what} | ${t.median.toFixed(1)} | ${t.p90.toFixed(1)} | ${note} |`);
}
