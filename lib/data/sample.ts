/**
 * The labelled-face sample every dataset loader produces, and checks on
 * keypoint arrays.
 *
 * @module
 */

import type { FloatImage } from "../image/raster.ts";

/** One labelled face. */
export interface Sample {
  /** File stem or id, used in messages and pictures. */
  name: string;
  /** Who or which photo it comes from; splits never divide a group. */
  group: string;
  /** The image (0..255 floats). */
  image: FloatImage;
  /** Keypoints as pixel-centre coordinates `[x0, y0, x1, y1, ...]`. */
  points: Float32Array;
}

/**
 * Throws a clear error when a keypoint array has the wrong length or a
 * non-finite value.
 *
 * @example
 * ```ts
 * import { checkPoints } from "./sample.ts";
 * checkPoints(new Float32Array([1, 2]), 1, "a.dat"); // ok
 * ```
 */
export function checkPoints(
  points: ArrayLike<number>,
  count: number,
  source: string,
): void {
  if (points.length !== count * 2) {
    throw new Error(
      `${source}: expected ${count} points, found ${points.length / 2}`,
    );
  }
  for (let i = 0; i < points.length; i++) {
    if (!Number.isFinite(points[i])) {
      throw new Error(
        `${source}: point ${Math.floor(i / 2) + 1} has a non-finite ${
          i % 2 ? "y" : "x"
        } coordinate (${points[i]})`,
      );
    }
  }
}
