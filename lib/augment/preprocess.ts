/**
 * The one place where images and keypoints become network inputs and
 * targets, and where outputs become pixels again. Training and inference
 * both call these functions, so they cannot drift apart.
 *
 * Conventions: pixel values 0..255 map to [-0.5, 0.5]; a keypoint at
 * pixel-centre coordinate `x` in a `width`-wide input maps to
 * `(x + 0.5) / width` (0 = left edge, 1 = right edge).
 *
 * @module
 */

import { scaling, transformPoints } from "../image/affine.ts";
import { type FloatImage, resize } from "../image/raster.ts";

/**
 * Writes an image's pixels, scaled to [-0.5, 0.5], into `out` at `offset`.
 *
 * @example
 * ```ts
 * import { normaliseImageInto } from "./preprocess.ts";
 * const out = new Float32Array(1);
 * normaliseImageInto({ data: new Float32Array([255]), width: 1, height: 1, channels: 1 }, out, 0);
 * console.log(out[0]); // 0.5
 * ```
 */
export function normaliseImageInto(
  image: FloatImage,
  out: Float32Array,
  offset: number,
): void {
  const d = image.data;
  for (let i = 0; i < d.length; i++) out[offset + i] = d[i] / 255 - 0.5;
}

/**
 * Pixel-centre points in a `width` x `height` image -> normalised [0, 1].
 *
 * @example
 * ```ts
 * import { normalisePoints } from "./preprocess.ts";
 * console.log(normalisePoints([-0.5, 9.5], 10, 10)); // Float32Array [0, 1]
 * ```
 */
export function normalisePoints(
  points: ArrayLike<number>,
  width: number,
  height: number,
): Float32Array {
  const out = new Float32Array(points.length);
  for (let i = 0; i < points.length; i += 2) {
    out[i] = (points[i] + 0.5) / width;
    out[i + 1] = (points[i + 1] + 0.5) / height;
  }
  return out;
}

/**
 * Normalised [0, 1] points -> pixel-centre points in a `width` x `height`
 * image.
 *
 * @example
 * ```ts
 * import { denormalisePoints } from "./preprocess.ts";
 * console.log(denormalisePoints([0, 1], 10, 10)); // Float32Array [-0.5, 9.5]
 * ```
 */
export function denormalisePoints(
  points: ArrayLike<number>,
  width: number,
  height: number,
): Float32Array {
  const out = new Float32Array(points.length);
  for (let i = 0; i < points.length; i += 2) {
    out[i] = points[i] * width - 0.5;
    out[i + 1] = points[i + 1] * height - 0.5;
  }
  return out;
}

/**
 * Resizes an image (antialiased bilinear) and moves its points with it.
 *
 * @example
 * ```ts
 * import { resizeWithPoints } from "./preprocess.ts";
 * const img = { data: new Float32Array(16), width: 4, height: 4, channels: 1 };
 * console.log(resizeWithPoints(img, [1.5, 1.5], 2, 2).points); // Float32Array [0.5, 0.5]
 * ```
 */
export function resizeWithPoints(
  image: FloatImage,
  points: ArrayLike<number>,
  width: number,
  height: number,
): { image: FloatImage; points: Float32Array } {
  const m = scaling(width / image.width, height / image.height);
  return {
    image: resize(image, width, height),
    points: transformPoints(m, points),
  };
}
