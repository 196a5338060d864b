/**
 * Tracking figures on synthetic sequences made from the fixture photo:
 * - a still sequence (the same photo with per-frame pixel noise and
 *   sub-pixel shifts): the std of each keypoint over the frames, with and
 *   without One-Euro smoothing (shifts removed before measuring);
 * - per-frame time of the tracker against running the face finder on every
 *   frame;
 * - a sequence in which the speaker slides out of the frame: when his track
 *   ends.
 *
 * ```sh
 * deno run --allow-read tasks/track_bench.ts [--frames 30]
 * ```
 *
 * @module
 */

import { parseOrExit } from "../lib/cli/args.ts";
import { createKeypointEstimator, createTracker, type RgbaImage } from "../mod.ts";
import { readImage } from "../lib/image/decode.ts";
import { fromRgba, toRgba, warpAffine } from "../lib/image/raster.ts";
import { translation } from "../lib/image/affine.ts";
import { createRng } from "../lib/util/random.ts";

const USAGE = `usage: deno run --allow-read tasks/track_bench.ts [--frames 30]
  keypoint jitter with and without smoothing, tracking vs detecting every frame`;
const { values } = parseOrExit(Deno.args, { frames: { type: "string", default: "30" } }, USAGE);
const frames = Number(values.frames);
const ROOT = new URL("../", import.meta.url).pathname;
const photo = await readImage(`${ROOT}fixtures/einstein.jpg`);
const float = fromRgba(photo, 3);
const rng = createRng(3);

/** The photo shifted by (dx, dy) px with Gaussian-like pixel noise of about `noise` levels. */
function frame(dx: number, dy: number, noise: number): RgbaImage {
  const img = toRgba(warpAffine(float, translation(dx, dy), photo.width, photo.height));
  for (let i = 0; i < img.data.length; i += 4) {
    const n = (rng.next() + rng.next() + rng.next() - 1.5) * 2 * noise;
    for (let k = 0; k < 3; k++) img.data[i + k] = img.data[i + k] + n;
  }
  return img;
}

const estimator = await createKeypointEstimator({ model: "part3" });
const still = Array.from({ length: frames }, () => {
  const [dx, dy] = [rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5)];
  return { img: frame(dx, dy, 4), dx, dy };
});

async function jitter(
  smoothing: boolean,
): Promise<{ std: number; ms: number; detections: number }> {
  const tracker = createTracker(estimator, { smoothing: smoothing ? {} : false });
  const per: number[][] = [];
  const t0 = performance.now();
  for (const [i, f] of still.entries()) {
    const faces = await tracker.track(f.img, i / 30);
    const speaker = faces.find((x) => x.box.x > 300);
    if (speaker) per.push(speaker.keypoints.flatMap((k) => [k.x - f.dx, k.y - f.dy]));
  }
  const ms = (performance.now() - t0) / still.length;
  // Mean over points of the per-point std (x and y pooled), frames 5.. (after the filter settles).
  const use = per.slice(5);
  let sum = 0;
  for (let j = 0; j < use[0].length; j++) {
    const v = use.map((p) => p[j]);
    const m = v.reduce((s, x) => s + x, 0) / v.length;
    sum += Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / v.length);
  }
  return { std: sum / use[0].length, ms, detections: tracker.detections };
}

const smooth = await jitter(true);
const raw = await jitter(false);
const t0 = performance.now();
for (const f of still) await estimator.estimate(f.img);
const detectMs = (performance.now() - t0) / still.length;

// The speaker slides right by 30 px a frame until he leaves.
const slide = createTracker(estimator, { detectEvery: 1000 });
let endedAt = -1;
for (let i = 0; i < 20; i++) {
  const faces = await slide.track(frame(i * 30, 0, 0));
  if (i > 0 && endedAt < 0 && !faces.some((f) => f.id === 1)) endedAt = i;
}
estimator.dispose();

console.log(`| figure (${frames} frames, wasm) | value |\n|---|---|`);
console.log(
  `| keypoint std on a still sequence, One-Euro smoothing on | ${smooth.std.toFixed(3)} px |`,
);
console.log(`| keypoint std on a still sequence, smoothing off | ${raw.std.toFixed(3)} px |`);
console.log(
  `| per frame: tracker (finder every 10 frames, ${smooth.detections} runs) | ${
    smooth.ms.toFixed(0)
  } ms |`,
);
console.log(`| per frame: face finder + keypoints on every frame | ${detectMs.toFixed(0)} ms |`);
console.log(
  `| sliding face: track 1 ended at frame | ${endedAt} (speaker's box leaves at about frame ${
    Math.ceil((photo.width - 354) / 30)
  }) |`,
);
