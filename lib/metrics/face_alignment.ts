/**
 * Face-alignment metrics of the 300-W literature: the normalised mean error
 * (NME, here normalised by the inter-ocular distance between the outer eye
 * corners), the failure rate at a threshold, the cumulative error
 * distribution (CED) and the area under it.
 *
 * Points are interleaved `[x0, y0, x1, y1, ...]` arrays in any common unit
 * (pixels of the same image for prediction and target). The mean absolute
 * error in original pixels is {@linkcode meanAbsoluteError} in `./point_errors.ts`.
 *
 * @module
 */

import { pointErrors } from "./point_errors.ts";

/** Number of points in the iBUG 68-point markup. */
const IBUG_POINTS = 68;
/** 0-based index of the outer corner of the eye on the image's left (subject's right). */
export const OUTER_EYE_RIGHT = 36;
/** 0-based index of the outer corner of the eye on the image's right (subject's left). */
export const OUTER_EYE_LEFT = 45;

/**
 * Inter-ocular distance of one 68-point face: the Euclidean distance
 * between the outer eye corners (0-based points 36 and 45), the 300-W
 * challenge's normaliser.
 *
 * @param points68 One face, 136 values.
 * @returns The distance, in the units of the points.
 * @throws {Error} When the face does not have 68 points.
 *
 * @example
 * ```ts
 * import { interOcular } from "./face_alignment.ts";
 * const pts = new Float32Array(136);
 * pts[2 * 36] = 10; // x of point 36
 * pts[2 * 45] = 50; // x of point 45
 * console.log(interOcular(pts)); // 40
 * ```
 */
export function interOcular(points68: ArrayLike<number>): number {
  if (points68.length !== IBUG_POINTS * 2) {
    throw new Error(
      `interOcular: expected 68 points (136 values), got ${points68.length} values`,
    );
  }
  return Math.hypot(
    points68[2 * OUTER_EYE_LEFT] - points68[2 * OUTER_EYE_RIGHT],
    points68[2 * OUTER_EYE_LEFT + 1] - points68[2 * OUTER_EYE_RIGHT + 1],
  );
}

/**
 * Normalised mean error of one face: the mean Euclidean point error divided
 * by `norm` (e.g. the inter-ocular distance).
 *
 * @param pred Predicted points, `2 * nPoints` values.
 * @param target True points, `2 * nPoints` values.
 * @param nPoints Number of points.
 * @param norm Positive normaliser in the units of the points.
 * @returns The NME (0 = perfect).
 * @throws {Error} On length mismatch or a normaliser that is not positive.
 *
 * @example
 * ```ts
 * import { nme } from "./face_alignment.ts";
 * console.log(nme([3, 4, 0, 0], [0, 0, 0, 0], 2, 10)); // 0.25
 * ```
 */
export function nme(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  nPoints: number,
  norm: number,
): number {
  if (pred.length !== nPoints * 2 || target.length !== nPoints * 2) {
    throw new Error(
      `nme: expected ${nPoints} points (${
        nPoints * 2
      } values), got prediction ${pred.length} and target ${target.length} values`,
    );
  }
  if (!(norm > 0) || !Number.isFinite(norm)) {
    throw new Error(`nme: normaliser must be a positive number, got ${norm}`);
  }
  const e = pointErrors(pred, target);
  let s = 0;
  for (let i = 0; i < e.length; i++) s += e[i];
  return s / nPoints / norm;
}

/**
 * Inter-ocular NME of many 68-point faces stored one after the other
 * (`136 * faces` values each); each face is normalised by the inter-ocular
 * distance of its target.
 *
 * @param pred Predicted points of every face.
 * @param target True points of every face.
 * @returns One NME per face.
 * @throws {Error} On length mismatch, or a target face whose eye corners coincide.
 *
 * @example
 * ```ts
 * import { nmeInterOcular } from "./face_alignment.ts";
 * const target = new Float32Array(136);
 * target[2 * 45] = 100; // eyes 100 px apart
 * const pred = target.map((v, i) => (i % 2 ? v : v + 5)); // every x off by 5 px
 * console.log(nmeInterOcular(pred, target)); // Float32Array [0.05]
 * ```
 */
export function nmeInterOcular(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
): Float32Array {
  const per = IBUG_POINTS * 2;
  if (pred.length !== target.length || target.length % per !== 0) {
    throw new Error(
      `nmeInterOcular: prediction has ${pred.length} values, target ${target.length}; ` +
        `both must hold whole faces of 68 points (${per} values each)`,
    );
  }
  const faces = target.length / per;
  const out = new Float32Array(faces);
  for (let f = 0; f < faces; f++) {
    const p = Array.prototype.slice.call(pred, f * per, (f + 1) * per) as number[];
    const t = Array.prototype.slice.call(target, f * per, (f + 1) * per) as number[];
    const d = interOcular(t);
    if (!(d > 0)) {
      throw new Error(
        `nmeInterOcular: face ${f}: outer eye corners (points 36 and 45) coincide`,
      );
    }
    out[f] = nme(p, t, IBUG_POINTS, d);
  }
  return out;
}

function checkNonEmpty(nmes: ArrayLike<number>, fn: string): void {
  if (nmes.length === 0) throw new Error(`${fn}: no errors given`);
}

/**
 * Failure rate: the fraction of faces whose NME is above `threshold`
 * (non-finite errors count as failures).
 *
 * @param nmes Per-face errors.
 * @param threshold Failure threshold, 0.08 by default (300-W convention).
 * @returns A fraction in [0, 1].
 * @throws {Error} When `nmes` is empty.
 *
 * @example
 * ```ts
 * import { failureRate } from "./face_alignment.ts";
 * console.log(failureRate([0.01, 0.05, 0.09, 0.2])); // 0.5
 * ```
 */
export function failureRate(
  nmes: ArrayLike<number>,
  threshold = 0.08,
): number {
  checkNonEmpty(nmes, "failureRate");
  let fails = 0;
  for (let i = 0; i < nmes.length; i++) {
    if (!(nmes[i] <= threshold)) fails++;
  }
  return fails / nmes.length;
}

/**
 * Cumulative error distribution: for `steps + 1` evenly spaced errors
 * `x[i] = i * maxErr / steps`, the fraction of faces with NME at most
 * `x[i]`.
 *
 * @param nmes Per-face errors.
 * @param maxErr Right end of the curve, 0.08 by default.
 * @param steps Number of intervals, 100 by default.
 * @returns The curve as two arrays of `steps + 1` values.
 * @throws {Error} When `nmes` is empty or `steps` is not a positive integer.
 *
 * @example
 * ```ts
 * import { cedCurve } from "./face_alignment.ts";
 * const { x, y } = cedCurve([0.02, 0.06], 0.08, 4);
 * console.log(x, y); // x ≈ [0, 0.02, 0.04, 0.06, 0.08], y: Float32Array [0, 0.5, 0.5, 1, 1]
 * ```
 */
export function cedCurve(
  nmes: ArrayLike<number>,
  maxErr = 0.08,
  steps = 100,
): { x: Float32Array; y: Float32Array } {
  checkNonEmpty(nmes, "cedCurve");
  if (!Number.isInteger(steps) || steps < 1) {
    throw new Error(`cedCurve: steps must be a positive integer, got ${steps}`);
  }
  if (!(maxErr > 0)) {
    throw new Error(`cedCurve: maxErr must be positive, got ${maxErr}`);
  }
  const sorted = Float64Array.from(nmes, (v) => (Number.isFinite(v) ? v : Infinity)).sort();
  const x = new Float32Array(steps + 1);
  const y = new Float32Array(steps + 1);
  let k = 0; // number of errors <= current x
  for (let i = 0; i <= steps; i++) {
    const xi = (i * maxErr) / steps;
    while (k < sorted.length && sorted[k] <= xi) k++;
    x[i] = xi;
    y[i] = k / sorted.length;
  }
  return { x, y };
}

/**
 * Area under the CED from 0 to `threshold`, divided by `threshold` so that
 * 1 means every face is perfect and 0 means every face fails. Computed
 * exactly (not from a sampled curve): the mean over faces of
 * `max(0, 1 - nme / threshold)`; non-finite errors count as 0.
 *
 * @param nmes Per-face errors.
 * @param threshold Upper limit of the integral, 0.08 by default.
 * @returns A value in [0, 1].
 * @throws {Error} When `nmes` is empty or the threshold is not positive.
 *
 * @example
 * ```ts
 * import { aucAt } from "./face_alignment.ts";
 * console.log(aucAt([0, 0.04, 0.1], 0.08)); // 0.5
 * ```
 */
export function aucAt(nmes: ArrayLike<number>, threshold = 0.08): number {
  checkNonEmpty(nmes, "aucAt");
  if (!(threshold > 0)) {
    throw new Error(`aucAt: threshold must be positive, got ${threshold}`);
  }
  let s = 0;
  for (let i = 0; i < nmes.length; i++) {
    const e = nmes[i];
    if (Number.isFinite(e) && e < threshold) s += 1 - Math.max(0, e) / threshold;
  }
  return s / nmes.length;
}
