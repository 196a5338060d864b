/**
 * Keypoint error metrics on plain arrays of interleaved coordinates.
 *
 * @module
 */

/**
 * Euclidean error of each point, in the units of the inputs after scaling
 * x by `sx` and y by `sy` (e.g. normalised predictions times the input
 * size gives pixels).
 *
 * @example
 * ```ts
 * import { pointErrors } from "./point_errors.ts";
 * console.log(pointErrors([3, 4], [0, 0])); // Float32Array [5]
 * ```
 */
export function pointErrors(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  sx = 1,
  sy = 1,
): Float32Array {
  if (pred.length !== target.length) {
    throw new Error(
      `prediction has ${pred.length} values, target ${target.length}`,
    );
  }
  const out = new Float32Array(pred.length / 2);
  for (let i = 0; i < out.length; i++) {
    const dx = (pred[2 * i] - target[2 * i]) * sx;
    const dy = (pred[2 * i + 1] - target[2 * i + 1]) * sy;
    out[i] = Math.hypot(dx, dy);
  }
  return out;
}

/**
 * Mean of an array.
 *
 * @example
 * ```ts
 * import { mean } from "./point_errors.ts";
 * console.log(mean([1, 2, 3])); // 2
 * ```
 */
export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return values.length ? s / values.length : NaN;
}

/**
 * Mean per-face Euclidean error for `faces` faces of `points` points each,
 * returned per face.
 *
 * @example
 * ```ts
 * import { perFaceErrors } from "./point_errors.ts";
 * console.log(perFaceErrors([3, 4, 0, 0], [0, 0, 0, 0], 2, 1)); // Float32Array [5, 0]
 * ```
 */
export function perFaceErrors(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  faces: number,
  points: number,
  sx = 1,
  sy = 1,
): Float32Array {
  const e = pointErrors(pred, target, sx, sy);
  const out = new Float32Array(faces);
  for (let f = 0; f < faces; f++) {
    out[f] = mean(e.subarray(f * points, (f + 1) * points));
  }
  return out;
}

/**
 * Mean absolute error over every coordinate (the Kaggle score of the
 * course): mean of |dx| and |dy|, after scaling.
 *
 * @example
 * ```ts
 * import { meanAbsoluteError } from "./point_errors.ts";
 * console.log(meanAbsoluteError([3, 4], [0, 0])); // 3.5
 * ```
 */
export function meanAbsoluteError(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  sx = 1,
  sy = 1,
): number {
  let s = 0;
  for (let i = 0; i < pred.length; i++) {
    s += Math.abs(pred[i] - target[i]) * (i % 2 ? sy : sx);
  }
  return s / Math.max(1, pred.length);
}
