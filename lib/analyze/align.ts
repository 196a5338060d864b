/**
 * Aligned face crops: a similarity transform (rotation, uniform scale,
 * shift) that puts both eye centres level at fixed places in a square
 * crop, the usual input of face recognition and attribute models.
 *
 * @module
 */

import type { Affine } from "../image/affine.ts";
import { fromRgba, type RgbaLike, toRgba, warpAffine } from "../image/raster.ts";
import type { RgbaImage } from "../image/rgba.ts";
import { eyeCentres, type XY } from "./regions.ts";

/** Options of {@linkcode alignFace}. */
export interface AlignOptions {
  /** Side of the square crop in pixels (default 112). */
  size?: number;
  /** Distance between the eye centres as a fraction of `size` (default 0.4). */
  eyeDistance?: number;
  /** Height of the eye line as a fraction of `size` from the top (default 0.4). */
  eyeY?: number;
}

/**
 * The map from image pixels (continuous coordinates) to the aligned crop,
 * for a face's 68 keypoints: the subject's right eye centre goes to
 * `((0.5 - eyeDistance / 2) size, eyeY size)`, the left to
 * `((0.5 + eyeDistance / 2) size, eyeY size)`.
 *
 * @example
 * ```ts
 * import { alignmentMatrix } from "./align.ts";
 * const pts = Array.from({ length: 68 }, () => ({ x: 0, y: 0 }));
 * for (let i = 36; i < 42; i++) pts[i] = { x: 9.5, y: 19.5 };
 * for (let i = 42; i < 48; i++) pts[i] = { x: 29.5, y: 19.5 };
 * console.log(alignmentMatrix(pts, { size: 100, eyeDistance: 0.4, eyeY: 0.4 })); // [2, 0, 10, 0, 2, 0]
 * ```
 */
export function alignmentMatrix(points: readonly XY[], options: AlignOptions = {}): Affine {
  const size = options.size ?? 112, ed = options.eyeDistance ?? 0.4, ey = options.eyeY ?? 0.4;
  const [r, l] = eyeCentres(points).map((p) => ({ x: p.x + 0.5, y: p.y + 0.5 })); // continuous
  const dx = l.x - r.x, dy = l.y - r.y;
  const d = Math.hypot(dx, dy);
  if (!(d > 0)) throw new Error("alignFace: the eye centres coincide");
  const s = ed * size / d;
  const c = s * dx / d, sn = s * dy / d; // rotate by -angle, scale by s
  const tx = (0.5 - ed / 2) * size - (c * r.x + sn * r.y);
  const ty = ey * size - (-sn * r.x + c * r.y);
  const round = (v: number): number => Math.abs(v) < 1e-12 ? 0 : v;
  return [c, sn, tx, -sn, c, ty].map(round) as Affine;
}

/**
 * An aligned `size` x `size` RGBA crop of a face (see
 * {@linkcode alignmentMatrix}); outside the photo is black.
 *
 * @example
 * ```ts ignore
 * import { alignFace } from "./align.ts";
 * const crop = alignFace(rgba, face.keypoints, { size: 112 });
 * ```
 */
export function alignFace(
  image: RgbaLike,
  points: readonly XY[],
  options: AlignOptions = {},
): RgbaImage {
  const size = options.size ?? 112;
  const m = alignmentMatrix(points, options);
  return toRgba(warpAffine(fromRgba(image, 3), m, size, size));
}
