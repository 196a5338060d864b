/**
 * Mapping from a BlazeFace detector box to the bounding box of the 68 iBUG
 * landmarks (jaw, brows; the box the keypoint models are trained on).
 *
 * The mapping is `cx' = cx + dx * w`, `cy' = cy + dy * h`,
 * `w' = w * exp(logW)`, `h' = h * exp(logH)`; its constants are the means
 * over matched detections of the 300-W training crops (helen_trainset and
 * lfpw_trainset), measured by `calibrate.ts`. BlazeFace's box is not
 * scale-consistent (relative to the face it is ~4 % wider at 20-100
 * model-input pixels than at 130-160, see `size_range.ts`), so the fit
 * depends on the face sizes it was measured at.
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
 * shorter than the detector box. Mean IoU with the 68-point box (matched
 * faces, default options): AFW photos 0.815 raw -> 0.849, helen_testset
 * 0.812 -> 0.867.
 */
export const BLAZEFACE_TO_68PT: BoxCalibration = {
  dx: 0.0050,
  dy: 0.0595,
  logW: -0.0621,
  logH: -0.0821,
};

/**
 * The same fit on the training crops as they are, through {@link findFaces}
 * with default options (1665 faces; the face is about half the crop, so
 * about 100 input pixels wide, where BlazeFace's box is relatively larger):
 * as good on helen_testset (IoU 0.867), worse on photos (AFW 0.843).
 */
export const BLAZEFACE_TO_68PT_CLOSEUP: BoxCalibration = {
  dx: 0.0010,
  dy: 0.0637,
  logW: -0.0719,
  logH: -0.0915,
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
