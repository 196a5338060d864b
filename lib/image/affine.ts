/**
 * 2-D affine maps as 2x3 matrices `[a, b, c, d, e, f]` meaning
 * `x' = a x + b y + c`, `y' = d x + e y + f`.
 *
 * Coordinates are continuous image coordinates: pixel `i` covers `[i, i+1)`,
 * so its centre is `i + 0.5`. Keypoint files store pixel-centre indices
 * (centre of the top-left pixel = 0); convert with {@link toContinuous}.
 *
 * @module
 */

/** A 2x3 affine matrix `[a, b, c, d, e, f]`. */
export type Affine = [number, number, number, number, number, number];

/**
 * The identity map.
 *
 * @example
 * ```ts
 * import { identity } from "./affine.ts";
 * console.log(identity()); // [1, 0, 0, 0, 1, 0]
 * ```
 */
export function identity(): Affine {
  return [1, 0, 0, 0, 1, 0];
}

/**
 * `compose(m2, m1)` applies `m1` first, then `m2`.
 *
 * @example
 * ```ts
 * import { compose, scaling, translation } from "./affine.ts";
 * const m = compose(translation(1, 0), scaling(2, 2));
 * console.log(m); // [2, 0, 1, 0, 2, 0]
 * ```
 */
export function compose(m2: Affine, m1: Affine): Affine {
  const [a2, b2, c2, d2, e2, f2] = m2;
  const [a1, b1, c1, d1, e1, f1] = m1;
  return [
    a2 * a1 + b2 * d1,
    a2 * b1 + b2 * e1,
    a2 * c1 + b2 * f1 + c2,
    d2 * a1 + e2 * d1,
    d2 * b1 + e2 * e1,
    d2 * c1 + e2 * f1 + f2,
  ];
}

/**
 * Composes many maps; the first one in the list is applied first.
 *
 * @example
 * ```ts
 * import { chain, scaling, translation } from "./affine.ts";
 * console.log(chain(scaling(2, 2), translation(1, 0))); // [2, 0, 1, 0, 2, 0]
 * ```
 */
export function chain(...maps: Affine[]): Affine {
  return maps.reduce((acc, m) => compose(m, acc), identity());
}

/**
 * The inverse map; throws when the matrix is singular.
 *
 * @example
 * ```ts
 * import { invert, scaling } from "./affine.ts";
 * console.log(invert(scaling(2, 4))); // [0.5, 0, 0, 0, 0.25, 0]
 * ```
 */
export function invert(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) {
    throw new Error(`affine map is not invertible: [${m.join(", ")}]`);
  }
  const ia = e / det, ib = -b / det, id = -d / det, ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

/**
 * Translation by (tx, ty).
 *
 * @example
 * ```ts
 * import { translation } from "./affine.ts";
 * console.log(translation(3, 4)); // [1, 0, 3, 0, 1, 4]
 * ```
 */
export function translation(tx: number, ty: number): Affine {
  return [1, 0, tx, 0, 1, ty];
}

/**
 * Scaling about the origin.
 *
 * @example
 * ```ts
 * import { scaling } from "./affine.ts";
 * console.log(scaling(2, 3)); // [2, 0, 0, 0, 3, 0]
 * ```
 */
export function scaling(sx: number, sy: number): Affine {
  return [sx, 0, 0, 0, sy, 0];
}

/**
 * Rotation by `radians` about the origin (clockwise on screen, since y
 * points down).
 *
 * @example
 * ```ts
 * import { rotation } from "./affine.ts";
 * console.log(rotation(0)); // [1, -0, 0, 0, 1, 0]
 * ```
 */
export function rotation(radians: number): Affine {
  const c = Math.cos(radians), s = Math.sin(radians);
  return [c, -s, 0, s, c, 0];
}

/**
 * Rotation, uniform scaling and mirroring about a centre point `(cx, cy)`.
 *
 * @example
 * ```ts
 * import { aboutCentre, rotation } from "./affine.ts";
 * const m = aboutCentre(rotation(Math.PI), 5, 5);
 * console.log(m[2], m[5]); // 10 10
 * ```
 */
export function aboutCentre(m: Affine, cx: number, cy: number): Affine {
  return chain(translation(-cx, -cy), m, translation(cx, cy));
}

/**
 * Applies a map to interleaved points `[x0, y0, x1, y1, ...]`.
 *
 * @example
 * ```ts
 * import { applyToPoints, translation } from "./affine.ts";
 * console.log(applyToPoints(translation(1, 2), [0, 0])); // Float32Array [1, 2]
 * ```
 */
export function applyToPoints(
  m: Affine,
  points: ArrayLike<number>,
): Float32Array {
  const out = new Float32Array(points.length);
  const [a, b, c, d, e, f] = m;
  for (let i = 0; i < points.length; i += 2) {
    const x = points[i], y = points[i + 1];
    out[i] = a * x + b * y + c;
    out[i + 1] = d * x + e * y + f;
  }
  return out;
}

/**
 * Converts pixel-centre indices (top-left pixel centre = 0) to continuous
 * coordinates (top-left pixel centre = 0.5).
 *
 * @example
 * ```ts
 * import { toContinuous } from "./affine.ts";
 * console.log(toContinuous([0, 0])); // Float32Array [0.5, 0.5]
 * ```
 */
export function toContinuous(points: ArrayLike<number>): Float32Array {
  return Float32Array.from(points, (v) => v + 0.5);
}

/**
 * Converts continuous coordinates back to pixel-centre indices.
 *
 * @example
 * ```ts
 * import { toPixelCentres } from "./affine.ts";
 * console.log(toPixelCentres([0.5, 0.5])); // Float32Array [0, 0]
 * ```
 */
export function toPixelCentres(points: ArrayLike<number>): Float32Array {
  return Float32Array.from(points, (v) => v - 0.5);
}

/**
 * Applies a continuous-coordinate affine map to pixel-centre points.
 *
 * @example
 * ```ts
 * import { scaling, transformPoints } from "./affine.ts";
 * console.log(transformPoints(scaling(2, 2), [0, 0])); // Float32Array [0.5, 0.5]
 * ```
 */
export function transformPoints(
  m: Affine,
  points: ArrayLike<number>,
): Float32Array {
  return toPixelCentres(applyToPoints(m, toContinuous(points)));
}
