/**
 * Mapping from a BlazeFace detector box to the bounding box of the 68 iBUG
 * landmarks (jaw, brows; the box the keypoint models are trained on).
 *
 * The mapping is `cx' = cx + dx * w`, `cy' = cy + dy * h`,
 * `w' = w * exp(logW)`, `h' = h * exp(logH)`; its constants are the means
 * over matched detections of the 300-W training crops (helen_trainset and
 * lfpw_trainset), measured by `calibrate.ts`.
 *
 * @module
 */

import type { FaceBox as Box } from "./face_finder.ts";

/** Offsets and log-scales from a detector box to a target box. */
export interface BoxCalibration {
  /** Mean of `(truth_cx - det_cx) / det_w`. */
  dx: number;
  /** Mean of `(truth_cy - det_cy) / det_h`. */
  dy: number;
  /** Mean of `log(truth_w / det_w)`. */
  logW: number;
  /** Mean of `log(truth_h / det_h)`. */
  logH: number;
}

/**
 * BlazeFace ({@link findFaces} with default options) to the 68-landmark
 * box, fitted on the 300-W training crops (helen_trainset + lfpw_trainset,
 * 1662 matched faces) resampled so the face is 24-112 model-input pixels
 * wide, the sizes at which the default tiling sees faces in photos (stds
 * 0.025, 0.041, 0.074, 0.078; see `calibrate.ts`). The 68-point box sits
 * lower (brows to chin, no forehead) and is about 6 % narrower and 8 %
 * shorter than the detector box. Mean IoU with the 68-point box: AFW photos
 * 0.819 raw -> 0.853, helen_testset 0.785 -> 0.848.
 */
export const BLAZEFACE_TO_68PT: BoxCalibration = {
  dx: 0.0050,
  dy: 0.0595,
  logW: -0.0621,
  logH: -0.0821,
};

/**
 * The same fit on the training crops as they are (the face about half the
 * crop, so about 128 input pixels wide, where BlazeFace's box is relatively
 * larger): better for face-filling crops, worse for photos (AFW IoU 0.830).
 */
export const BLAZEFACE_TO_68PT_CLOSEUP: BoxCalibration = {
  dx: -0.0026,
  dy: 0.0766,
  logW: -0.0876,
  logH: -0.1073,
};

/**
 * One sample of the calibration quantities for a detection box and its
 * truth box.
 *
 * @example
 * ```ts
 * import { calibrationSample } from "./calibration.ts";
 * const s = calibrationSample({ x: 0, y: 0, width: 10, height: 10 }, { x: 1, y: 2, width: 10, height: 10 });
 * console.log(s.dx, s.dy, s.logW); // 0.1 0.2 0
 * ```
 */
export function calibrationSample(det: Box, truth: Box): BoxCalibration {
  return {
    dx: (truth.x + truth.width / 2 - (det.x + det.width / 2)) / det.width,
    dy: (truth.y + truth.height / 2 - (det.y + det.height / 2)) / det.height,
    logW: Math.log(truth.width / det.width),
    logH: Math.log(truth.height / det.height),
  };
}

/**
 * Applies a {@link BoxCalibration} to a detector box.
 *
 * @example
 * ```ts
 * import { calibrateBox } from "./calibration.ts";
 * const b = calibrateBox({ x: 0, y: 0, width: 10, height: 10 }, { dx: 0.1, dy: 0, logW: 0, logH: Math.log(2) });
 * console.log(b); // { x: 1, y: -5, width: 10, height: 20 }
 * ```
 */
export function calibrateBox(box: Box, cal: BoxCalibration = BLAZEFACE_TO_68PT): Box {
  const cx = box.x + box.width / 2 + cal.dx * box.width;
  const cy = box.y + box.height / 2 + cal.dy * box.height;
  const width = box.width * Math.exp(cal.logW);
  const height = box.height * Math.exp(cal.logH);
  return { x: cx - width / 2, y: cy - height / 2, width, height };
}
