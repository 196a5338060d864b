/**
 * End-to-end evaluation of face finding plus keypoints on labelled photos
 * (`main.ts eval --detect`): folders of 300-W crops (`NAME.pts` beside
 * `NAME.jpg`) and dlib XML photo sets. For each photo the estimator finds
 * the faces itself; found faces are matched to the labelled ones by the
 * rule of `../metrics/detection.ts` (IoU >= 0.3 with the landmarks' box, or
 * its centre inside the found box). Reported: recall, precision, and the
 * NME of the matched faces next to the NME of the same faces estimated
 * from their truth boxes.
 *
 * @module
 */

import { boxFromPoints } from "../data/face_box.ts";
import { dirname, isAbsolute, join } from "node:path";
import { guessLabelFormat, readLabels } from "../data/label_formats.ts";
import { readImage } from "../image/decode.ts";
import type { EstimateOptions, Face, KeypointEstimator } from "../infer/keypoint_estimator.ts";
import { toFaceBox } from "../infer/keypoint_net.ts";
import { type DetectionCounts, detectionCounts, matchFaces } from "../metrics/detection.ts";
import { interOcular, nmeInterOcular } from "../metrics/face_alignment.ts";
import { mean } from "../metrics/point_errors.ts";
import { createProgress } from "../util/progress.ts";

/** One labelled photo: its path and the 68 points of each labelled face. */
export interface LabelledPhoto {
  /** Image path. */
  image: string;
  /** Each face's 68 points, interleaved, in the stored image's pixels. */
  faces: Float32Array[];
}

/**
 * The labelled 68-point photos of any label source (a folder of 300-W
 * crops, a dlib XML, COCO JSON or CSV file; see `../data/label_formats.ts`),
 * image paths resolved, in file order.
 *
 * @example
 * ```ts ignore
 * import { labelledPhotos } from "./detect_eval.ts";
 * const photos = await labelledPhotos("../shared/data/300w_photos/afw/faces.xml");
 * console.log(photos.length); // 145
 * ```
 */
export async function labelledPhotos(source: string): Promise<LabelledPhoto[]> {
  const format = await guessLabelFormat(source);
  const set = await readLabels(source, format);
  if (set.points !== 68) throw new Error(`${source}: faces have ${set.points} points, not 68`);
  const base = format === "pts" ? source : dirname(source);
  return set.images.map((im) => ({
    image: isAbsolute(im.image) ? im.image : join(base, im.image),
    faces: im.faces.map((f) => f.points),
  }));
}

/** The result of {@linkcode evaluateDetection} on one source. */
export interface DetectionReport extends DetectionCounts {
  /** The folder or XML file. */
  source: string;
  /** Photos. */
  images: number;
  /** Mean inter-ocular NME of the matched faces, end to end (found boxes). */
  nmeFound: number;
  /** Mean NME of the same faces estimated from their truth boxes. */
  nmeTruthBox: number;
  /** nmeFound / nmeTruthBox. */
  nmeRatio: number;
  /** Mean time per photo of finding plus keypoints, ms. */
  msPerImage: number;
  /**
   * Point confidence against error (found faces, heatmap models): the mean
   * point error / inter-ocular distance of the 10 % of points with the
   * lowest scores, and of the other 90 %. Absent without point scores.
   */
  pointScores?: { lowestTenthError: number; restError: number };
}

function flatten(faces: Face[]): Float32Array {
  return Float32Array.from(faces.flatMap((f) => f.keypoints.flatMap((k) => [k.x, k.y])));
}

/**
 * Runs the estimator with face finding on every photo of `source` and
 * compares with the labels (see the module doc).
 *
 * @example
 * ```ts ignore
 * import { evaluateDetection } from "./detect_eval.ts";
 * const r = await evaluateDetection(estimator, "../shared/data/300w/helen_testset");
 * console.log(r.recall, r.nmeFound / r.nmeTruthBox);
 * ```
 */
export async function evaluateDetection(
  estimator: KeypointEstimator,
  source: string,
  options: EstimateOptions = {},
  quiet = false,
): Promise<DetectionReport> {
  const photos = await labelledPhotos(source);
  const progress = quiet ? undefined : createProgress(source.replace(/^.*\/(.+\/)?/, "$1"));
  let faces = 0, detections = 0, matched = 0, ms = 0;
  const found: number[] = [], truth: number[] = [];
  const pointErr: { score: number; err: number }[] = [];
  for (const [i, photo] of photos.entries()) {
    progress?.update(i, photos.length, `recall ${(matched / Math.max(1, faces)).toFixed(3)}`);
    const rgba = await readImage(photo.image);
    const boxes = photo.faces.map((p) => toFaceBox(boxFromPoints(p, photo.image)));
    const t0 = performance.now();
    const result = await estimator.estimate(rgba, { ...options, box: undefined, boxes: undefined });
    ms += performance.now() - t0;
    const match = matchFaces(boxes, result);
    faces += boxes.length;
    detections += result.length;
    const hit = match.map((d, t) => ({ d, t })).filter((m) => m.d >= 0);
    matched += hit.length;
    if (hit.length === 0) continue;
    const fromTruth = await estimator.estimate(rgba, {
      ...options,
      boxes: hit.map((m) => boxes[m.t]),
    });
    const target = Float32Array.from(hit.flatMap((m) => [...photo.faces[m.t]]));
    found.push(...nmeInterOcular(flatten(hit.map((m) => result[m.d])), target));
    for (const m of hit) {
      const t = photo.faces[m.t];
      const iod = interOcular(t);
      result[m.d].keypoints.forEach((k, j) => {
        if (k.score !== undefined) {
          pointErr.push({
            score: k.score,
            err: Math.hypot(k.x - t[2 * j], k.y - t[2 * j + 1]) / iod,
          });
        }
      });
    }
    truth.push(...nmeInterOcular(flatten(fromTruth), target)); // given boxes keep their order
  }
  const counts = detectionCounts(faces, detections, matched);
  pointErr.sort((a, b) => a.score - b.score);
  const cut = Math.floor(pointErr.length / 10);
  const pointScores = cut > 0
    ? {
      lowestTenthError: mean(pointErr.slice(0, cut).map((p) => p.err)),
      restError: mean(pointErr.slice(cut).map((p) => p.err)),
    }
    : undefined;
  progress?.finish(
    `recall ${counts.recall.toFixed(3)}, precision ${counts.precision.toFixed(3)}, ` +
      `NME found ${(100 * mean(found)).toFixed(2)} % vs truth box ${
        (100 * mean(truth)).toFixed(2)
      } %`,
  );
  return {
    source,
    images: photos.length,
    ...counts,
    nmeFound: mean(found),
    nmeTruthBox: mean(truth),
    nmeRatio: mean(found) / mean(truth),
    msPerImage: ms / photos.length,
    ...(pointScores ? { pointScores } : {}),
  };
}
