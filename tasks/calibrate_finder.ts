/**
 * Fits the face finder's box calibration (`BLAZEFACE_TO_68PT` in
 * `lib/detect/calibration.ts`) on the 300-W TRAINING crops only
 * (helen_trainset, lfpw_trainset): each crop is resampled so that its
 * 68-point box is 24-112 model-input pixels wide (the sizes at which the
 * default tiling sees most faces in photos) at a random place in the
 * input; the matched detection's box gives one sample of
 * `(truth_cx - det_cx) / det_w`, `(truth_cy - det_cy) / det_h`,
 * `log(truth_w / det_w)`, `log(truth_h / det_h)`. Prints their means and
 * stds, then (for reporting only, never fitted) the mean IoU with the
 * 68-point boxes of helen_testset, raw and calibrated.
 *
 * ```sh
 * deno run -A tasks/calibrate_finder.ts [--data ../shared/data/300w] [--limit N]
 * ```
 *
 * @module
 */

import { parseOrExit } from "../lib/cli/args.ts";
import { labelledPhotos } from "../lib/course/detect_eval.ts";
import { boxFromPoints } from "../lib/data/face_box.ts";
import { resolve300wDir } from "../lib/data/w300.ts";
import { setupBackend } from "../lib/backends/backend.ts";
import {
  BLAZEFACE_TO_68PT,
  type BoxCalibration,
  calibrateBox,
  calibrationSample,
  detectInTiles,
  type FaceBox,
  findFaces,
  loadBlazeFace,
  mergeDetections,
} from "../lib/detect/mod.ts";
import { readImage } from "../lib/image/decode.ts";
import { toFaceBox } from "../lib/infer/keypoint_net.ts";
import { iou, matchFaces } from "../lib/metrics/detection.ts";
import { createRng } from "../lib/util/random.ts";

const USAGE = `usage: deno run -A tasks/calibrate_finder.ts [--data DIR] [--limit N]
  fit the face finder's box calibration on the 300-W training crops`;

const { values } = parseOrExit(Deno.args, {
  data: { type: "string" },
  limit: { type: "string" },
}, USAGE);
const root = resolve300wDir(values.data);
const limit = values.limit ? Number(values.limit) : Infinity;

await setupBackend("wasm");
const model = await loadBlazeFace();

const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
const std = (a: number[]): number => Math.sqrt(mean(a.map((v) => (v - mean(a)) ** 2)));

/** (detection, truth) box pairs of one training folder at photo scale. */
async function photoScalePairs(dir: string, seed: number): Promise<[FaceBox, FaceBox][]> {
  const rng = createRng(seed);
  const pairs: [FaceBox, FaceBox][] = [];
  for (const photo of (await labelledPhotos(dir)).slice(0, limit)) {
    const truth = toFaceBox(boxFromPoints(photo.faces[0]));
    const f = rng.uniform(24, 112);
    const size = model.inputSize * truth.width / f;
    const margin = (model.inputSize - f) / 2 * 0.8 * size / model.inputSize;
    const tile = {
      x: truth.x + truth.width / 2 - size / 2 + rng.uniform(-1, 1) * margin,
      y: truth.y + truth.height / 2 - size / 2 + rng.uniform(-1, 1) * margin,
      size,
    };
    const dets = await detectInTiles(model, await readImage(photo.image), [tile], {
      minScore: 0.7,
    });
    const faces = mergeDetections(dets, { minFaceSize: 0 });
    const [m] = matchFaces([truth], faces);
    if (m >= 0) pairs.push([faces[m].box, truth]);
  }
  return pairs;
}

const train = [
  ...await photoScalePairs(`${root}/helen_trainset`, 1),
  ...await photoScalePairs(`${root}/lfpw_trainset`, 2),
];
const samples = train.map(([d, t]) => calibrationSample(d, t));
const keys: (keyof BoxCalibration)[] = ["dx", "dy", "logW", "logH"];
console.log(`${samples.length} matched training faces`);
console.log("| quantity | mean | std | shipped |\n|---|---|---|---|");
const fitted = {} as BoxCalibration;
for (const k of keys) {
  const v = samples.map((s) => s[k]);
  fitted[k] = mean(v);
  console.log(
    `| ${k} | ${mean(v).toFixed(4)} | ${std(v).toFixed(4)} | ${BLAZEFACE_TO_68PT[k].toFixed(4)} |`,
  );
}

const test: [FaceBox, FaceBox][] = [];
for (const photo of (await labelledPhotos(`${root}/helen_testset`)).slice(0, limit)) {
  const truth = toFaceBox(boxFromPoints(photo.faces[0]));
  const faces = await findFaces(model, await readImage(photo.image));
  const [m] = matchFaces([truth], faces);
  if (m >= 0) test.push([faces[m].box, truth]);
}
const meanIou = (cal?: BoxCalibration): string =>
  mean(test.map(([d, t]) => iou(cal ? calibrateBox(d, cal) : d, t))).toFixed(4);
console.log(
  `helen_testset (report only), mean IoU with the 68-point box over ${test.length} faces: ` +
    `raw ${meanIou()}, fitted now ${meanIou(fitted)}, shipped ${meanIou(BLAZEFACE_TO_68PT)}`,
);
model.graph.dispose();
