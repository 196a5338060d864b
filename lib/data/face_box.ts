/**
 * Face boxes and face crops: a box around the keypoints, enlarged and made
 * square, optionally jittered for training, and an exact crop of the image
 * and its points to a fixed-size square.
 *
 * A {@linkcode Box} is in continuous image coordinates (see `../image/affine.ts`:
 * pixel `i` covers `[i, i + 1)`), so a box from `x` to `x + w` covers whole
 * pixels when `x` and `w` are integers; a dlib box `left/top/width/height`
 * is the same box. Keypoints stay in pixel-centre coordinates.
 *
 * The crop pads with a fill value outside the image instead of clamping the
 * box, so the points move by exactly the same matrix as the pixels.
 *
 * @module
 */

import {
  type Affine,
  chain,
  compose,
  invert,
  scaling,
  transformPoints,
  translation,
} from "../image/affine.ts";
import type { Rng } from "../util/random.ts";
import { type FloatImage, resize, warpAffine } from "../image/raster.ts";

/** An axis-aligned box in continuous image coordinates. */
export interface Box {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width (positive). */
  w: number;
  /** Height (positive). */
  h: number;
}

/**
 * Throws a clear error naming `source` when a box has a non-finite
 * coordinate or a size that is not positive.
 *
 * @param box The box to check.
 * @param source Sample or file name for the message.
 * @throws {Error} For a bad box.
 *
 * @example
 * ```ts
 * import { checkBox } from "./face_box.ts";
 * checkBox({ x: 0, y: 0, w: 10, h: 10 }, "a.jpg"); // ok
 * ```
 */
export function checkBox(box: Box, source = "box"): void {
  const { x, y, w, h } = box;
  if (![x, y, w, h].every(Number.isFinite)) {
    throw new Error(
      `${source}: face box has a non-finite value (x=${x}, y=${y}, w=${w}, h=${h})`,
    );
  }
  if (!(w > 0 && h > 0)) {
    throw new Error(`${source}: face box must have a positive size, got ${w}x${h}`);
  }
}

/**
 * The tight box around pixel-centre keypoints, in continuous coordinates
 * (so a single point at pixel centre (0, 0) gives a zero-size box at
 * (0.5, 0.5)). Non-finite values throw.
 *
 * @param points Interleaved `[x0, y0, ...]` pixel-centre points.
 * @param source Name for error messages.
 * @returns The box (its size may be zero for a single point).
 *
 * @example
 * ```ts
 * import { boxFromPoints } from "./face_box.ts";
 * console.log(boxFromPoints([0, 0, 10, 4])); // { x: 0.5, y: 0.5, w: 10, h: 4 }
 * ```
 */
export function boxFromPoints(points: ArrayLike<number>, source = "points"): Box {
  if (points.length < 2 || points.length % 2 !== 0) {
    throw new Error(
      `${source}: need at least one point (an even number of values), got ${points.length} values`,
    );
  }
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let i = 0; i < points.length; i += 2) {
    const x = points[i], y = points[i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      throw new Error(`${source}: point ${i / 2} is not finite (${x}, ${y})`);
    }
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return { x: x0 + 0.5, y: y0 + 0.5, w: x1 - x0, h: y1 - y0 };
}

/**
 * Grows a box by `fraction` of its width on the left and on the right, and
 * of its height on the top and on the bottom (0.1 makes it 1.2 times as
 * wide and as high, about the same centre). Negative fractions shrink it.
 *
 * @param box The box.
 * @param fraction Growth per side, greater than -0.5.
 * @returns A new box.
 *
 * @example
 * ```ts
 * import { enlargeBox } from "./face_box.ts";
 * console.log(enlargeBox({ x: 10, y: 20, w: 100, h: 50 }, 0.1)); // { x: 0, y: 15, w: 120, h: 60 }
 * ```
 */
export function enlargeBox(box: Box, fraction: number): Box {
  if (!Number.isFinite(fraction) || fraction <= -0.5) {
    throw new Error(`enlargeBox: fraction must be a number above -0.5, got ${fraction}`);
  }
  return {
    x: box.x - fraction * box.w,
    y: box.y - fraction * box.h,
    w: box.w * (1 + 2 * fraction),
    h: box.h * (1 + 2 * fraction),
  };
}

/**
 * The square with the same centre whose side is the larger of the box's
 * width and height.
 *
 * @param box The box.
 * @returns A square box.
 *
 * @example
 * ```ts
 * import { squareBox } from "./face_box.ts";
 * console.log(squareBox({ x: 0, y: 10, w: 40, h: 20 })); // { x: 0, y: 0, w: 40, h: 40 }
 * ```
 */
export function squareBox(box: Box): Box {
  const side = Math.max(box.w, box.h);
  const cx = box.x + box.w / 2, cy = box.y + box.h / 2;
  return { x: cx - side / 2, y: cy - side / 2, w: side, h: side };
}

/** Ranges of {@linkcode jitterBox}. */
export interface JitterOptions {
  /** Maximum centre shift as a fraction of the box width/height (uniform in ±). Default 0.05. */
  shift: number;
  /** Maximum relative size change (uniform factor in [1 - scale, 1 + scale]). Default 0.05. */
  scale: number;
}

/**
 * Randomly moves and rescales a box (the same factor on both sides, so a
 * square stays square), to train a model that tolerates imprecise face
 * detections.
 *
 * @param box The box.
 * @param rng Seeded random source (`../util/random.ts`).
 * @param opts Shift and scale ranges.
 * @returns A new box.
 *
 * @example
 * ```ts
 * import { jitterBox } from "./face_box.ts";
 * import { createRng } from "../util/random.ts";
 * const b = jitterBox({ x: 0, y: 0, w: 100, h: 100 }, createRng(1), { shift: 0.1, scale: 0.1 });
 * console.log(b.w === b.h, b.w >= 90 && b.w <= 110); // true true
 * ```
 */
export function jitterBox(
  box: Box,
  rng: Rng,
  opts: JitterOptions = { shift: 0.05, scale: 0.05 },
): Box {
  if (!(opts.shift >= 0) || !(opts.scale >= 0 && opts.scale < 1)) {
    throw new Error(
      `jitterBox: need shift >= 0 and 0 <= scale < 1, got shift=${opts.shift}, scale=${opts.scale}`,
    );
  }
  const cx = box.x + box.w / 2 + rng.uniform(-opts.shift, opts.shift) * box.w;
  const cy = box.y + box.h / 2 + rng.uniform(-opts.shift, opts.shift) * box.h;
  const s = 1 + rng.uniform(-opts.scale, opts.scale);
  const w = box.w * s, h = box.h * s;
  return { x: cx - w / 2, y: cy - h / 2, w, h };
}

/**
 * The affine map (continuous coordinates) that sends the box onto the
 * output square `[0, outSize] x [0, outSize]`.
 *
 * @param box The crop box.
 * @param outSize Output side in pixels.
 * @returns The map from image to crop coordinates.
 *
 * @example
 * ```ts
 * import { cropAffine } from "./face_box.ts";
 * console.log(cropAffine({ x: 10, y: 20, w: 200, h: 200 }, 100)); // [0.5, 0, -5, 0, 0.5, -10]
 * ```
 */
export function cropAffine(box: Box, outSize: number): Affine {
  checkBox(box, "cropAffine");
  if (!(outSize > 0)) throw new Error(`cropAffine: outSize must be positive, got ${outSize}`);
  return chain(translation(-box.x, -box.y), scaling(outSize / box.w, outSize / box.h));
}

/** A face crop and the map that made it. */
export interface FaceCrop {
  /** The `outSize` x `outSize` crop. */
  image: FloatImage;
  /** The keypoints in crop pixel-centre coordinates. */
  points: Float32Array;
  /** Image -> crop map in continuous coordinates ({@linkcode cropAffine}). */
  matrix: Affine;
}

/** Options of {@linkcode cropFace}. */
export interface CropOptions {
  /** Sample name for error messages. */
  name?: string;
  /** Value of crop pixels outside the image (default 0). */
  fill?: number;
}

/**
 * Crops the box out of an image into an `outSize` x `outSize` square and
 * moves the keypoints by the same matrix. Parts of the box outside the
 * image are padded with `fill` (the box is never clamped, so points keep
 * their exact place). When the crop shrinks the image by more than 2x, the
 * covered region is first downscaled with the antialiased `resize` of
 * `../image/raster.ts`, so the bilinear warp does not alias.
 *
 * @param image Source image (any size from 1x1, any channel count).
 * @param points Pixel-centre keypoints in the source image (may lie outside it).
 * @param box Crop box in continuous coordinates (may extend past the image).
 * @param outSize Output side in pixels (a positive integer).
 * @param opts Sample name for errors and the fill value.
 * @returns The crop, its points and the matrix.
 * @throws {Error} For an empty image, a box with a bad size, or a box entirely outside the image.
 *
 * @example
 * ```ts
 * import { cropFace } from "./face_box.ts";
 * const img = { data: new Float32Array(100).fill(9), width: 10, height: 10, channels: 1 };
 * const out = cropFace(img, [4.5, 4.5], { x: 0, y: 0, w: 10, h: 10 }, 20);
 * console.log(out.image.width, out.points); // 20 Float32Array [9.5, 9.5]
 * ```
 */
export function cropFace(
  image: FloatImage,
  points: ArrayLike<number>,
  box: Box,
  outSize: number,
  opts: CropOptions = {},
): FaceCrop {
  const name = opts.name ?? "image";
  const fill = opts.fill ?? 0;
  const { width: W, height: H } = image;
  if (!(W >= 1 && H >= 1) || image.data.length < W * H * image.channels) {
    throw new Error(`${name}: cannot crop an empty or malformed ${W}x${H} image`);
  }
  if (!Number.isInteger(outSize) || outSize < 1) {
    throw new Error(`${name}: crop size must be a positive integer, got ${outSize}`);
  }
  checkBox(box, name);
  if (box.x >= W || box.y >= H || box.x + box.w <= 0 || box.y + box.h <= 0) {
    throw new Error(
      `${name}: face box (x=${box.x}, y=${box.y}, w=${box.w}, h=${box.h}) lies entirely outside the ${W}x${H} image`,
    );
  }
  const matrix = cropAffine(box, outSize);
  const outPoints = transformPoints(matrix, points);
  const sx = outSize / box.w, sy = outSize / box.h;
  if (sx >= 0.5 && sy >= 0.5) {
    return {
      image: warpAffine(image, matrix, outSize, outSize, fill),
      points: outPoints,
      matrix,
    };
  }
  // Shrinking by more than 2x: cut out the covered region of the image (with
  // a margin for the filter), downscale it to about the final scale with the
  // antialiased resize, then warp the small image by the remaining map.
  const mx = Math.ceil(2 / Math.min(1, sx)) + 1;
  const my = Math.ceil(2 / Math.min(1, sy)) + 1;
  const x0 = Math.max(0, Math.floor(box.x) - mx);
  const y0 = Math.max(0, Math.floor(box.y) - my);
  const x1 = Math.min(W, Math.ceil(box.x + box.w) + mx);
  const y1 = Math.min(H, Math.ceil(box.y + box.h) + my);
  const region = cutRegion(image, x0, y0, x1 - x0, y1 - y0);
  const rw = Math.max(1, Math.round(region.width * Math.min(1, sx)));
  const rh = Math.max(1, Math.round(region.height * Math.min(1, sy)));
  const small = resize(region, rw, rh);
  // Image -> small-image continuous coordinates.
  const pre = chain(translation(-x0, -y0), scaling(rw / region.width, rh / region.height));
  const rest = compose(matrix, invert(pre));
  return {
    image: warpAffine(small, rest, outSize, outSize, fill),
    points: outPoints,
    matrix,
  };
}

function cutRegion(
  image: FloatImage,
  x0: number,
  y0: number,
  w: number,
  h: number,
): FloatImage {
  const ch = image.channels;
  const data = new Float32Array(w * h * ch);
  for (let y = 0; y < h; y++) {
    const from = ((y0 + y) * image.width + x0) * ch;
    data.set(image.data.subarray(from, from + w * ch), y * w * ch);
  }
  return { data, width: w, height: h, channels: ch };
}
