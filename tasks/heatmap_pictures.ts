/**
 * Pictures of the heatmap head: (1) the predicted heatmaps of a few
 * keypoints of one validation face, overlaid on the image; (2) training
 * dynamics on one image: a fresh U-Net's predictions after 0, 10, 25, 50,
 * 100 and 200 Adam steps, converging from the centre.
 *
 * ```sh
 * deno run -A tasks/heatmap_pictures.ts [--model models/part3] [--out runs/heatmaps]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { parseOrExit } from "../lib/cli/args.ts";
import { setupBackend } from "../lib/backends/backend.ts";
import { loadModelFolder } from "../lib/models/checkpoint.ts";
import { ensureDir } from "../lib/util/fs_util.ts";
import { heatmapOutputs, heatmapTrainingLoss } from "../lib/head/heatmap.ts";
import { IBUG68 } from "../lib/data/layouts.ts";
import {
  denormalisePoints,
  normaliseImageInto,
  normalisePoints,
} from "../lib/augment/preprocess.ts";
import { GREEN, overlay, RED, savePng, titledGrid } from "../lib/report/pictures.ts";
import { buildHeatmapUNet } from "../lib/models/unet.ts";
import { load300w } from "../lib/data/w300.ts";
import { prepareValFace } from "../lib/course/w300_task.ts";
import type { RgbaImage } from "../lib/image/decode.ts";

const USAGE =
  `usage: deno task pictures:heatmap [--model models/part3] [--out runs/heatmaps] [--face 0]
  heatmaps of one face and the training dynamics on one image`;

const { values } = parseOrExit(Deno.args, {
  model: { type: "string", default: "models/part3" },
  out: { type: "string", default: "runs/heatmaps" },
  face: { type: "string", default: "0" },
}, USAGE);
await setupBackend("wasm");
await ensureDir(values.out!);
const { model, meta } = await loadModelFolder(values.model!);
if (!meta) throw new Error("no metadata");
const size = meta.inputWidth;
const samples = await load300w(["../shared/data/300w/helen_testset"], { channels: 1, limit: 8 });
const face = prepareValFace(samples[Number(values.face)], meta);
const x = new Float32Array(size * size);
normaliseImageInto(face.image, x, 0);
const xt = tf.tensor4d(x, [1, size, size, 1]);

// (1) Heatmaps of a few keypoints, blended in red over the face.
const r = heatmapOutputs(model, xt, { training: false });
const [, hh, hw, k] = r.heatmaps.shape;
const maps = (await r.heatmaps.data()) as Float32Array;
const pred = denormalisePoints(await r.coords.data(), size, size);
const picks = [36, 45, 30, 48, 8];
const tiles: RgbaImage[] = picks.map((p) => {
  const base = overlay(face.image, [], 2);
  let peak = 0;
  for (let i = 0; i < hh * hw; i++) peak = Math.max(peak, maps[i * k + p]);
  for (let y = 0; y < base.height; y++) {
    for (let xx = 0; xx < base.width; xx++) {
      const v =
        maps[(Math.floor(y * hh / base.height) * hw + Math.floor(xx * hw / base.width)) * k + p] /
        peak;
      const o = (y * base.width + xx) * 4;
      base.data[o] = Math.min(255, base.data[o] * (1 - v) + 255 * v);
      base.data[o + 1] = base.data[o + 1] * (1 - 0.7 * v);
      base.data[o + 2] = base.data[o + 2] * (1 - 0.7 * v);
    }
  }
  return base;
}).map((img, i) => {
  const p = picks[i];
  const dot = overlay(
    face.image,
    [
      { points: face.points.subarray(2 * p, 2 * p + 2), color: GREEN },
      { points: pred.subarray(2 * p, 2 * p + 2), color: RED },
    ],
    2,
    IBUG68.names[p],
  );
  // Heatmap tile above, the point pair below.
  return titledGrid([img, dot], 1, IBUG68.names[p]);
});
await savePng(
  `${values.out}/heatmaps_one_face.png`,
  titledGrid(
    tiles,
    5,
    `${face.name}: heatmaps (${hh}x${hw}) of 5 keypoints; green truth, red soft-argmax`,
  ),
);
tf.dispose([r.coords, r.heatmaps]);

// (2) Training dynamics of a fresh U-Net on this one image.
const fresh = buildHeatmapUNet({
  inputWidth: size,
  inputHeight: size,
  channels: 1,
  keypoints: 68,
  outputStride: 4,
  seed: 3,
});
const target = tf.tensor2d(normalisePoints(face.points, size, size), [1, 136]);
const opt = tf.train.adam(2e-3);
const vars = fresh.trainableWeights.map((v) => v.read() as tf.Variable);
const snaps: RgbaImage[] = [];
let step = 0;
for (const at of [0, 10, 25, 50, 100, 200]) {
  for (; step < at; step++) {
    opt.minimize(() => heatmapTrainingLoss(fresh, xt, target), false, vars);
  }
  const p = fresh.predict(xt) as tf.Tensor;
  const pts = denormalisePoints(await p.data(), size, size);
  p.dispose();
  snaps.push(
    overlay(
      face.image,
      [{ points: face.points, color: GREEN }, { points: pts, color: RED }],
      2,
      `step ${at}`,
    ),
  );
}
await savePng(
  `${values.out}/training_dynamics.png`,
  titledGrid(
    snaps,
    6,
    "one image, fresh U-Net: predictions (red) converge from the centre to the truth (green)",
  ),
);
tf.dispose([xt, target]);
opt.dispose();
console.log(`wrote ${values.out}/heatmaps_one_face.png and ${values.out}/training_dynamics.png`);
