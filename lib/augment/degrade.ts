/**
 * Photometric degradations that real photos have and clean training crops
 * lack: occluding patches (a hand, a microphone, hair), blur (focus, motion,
 * small faces upscaled) and sensor noise. Each takes a float image (0..255)
 * and returns a new one; keypoints are unchanged (an occluded point keeps
 * its true position, so the net learns to infer it from the face's shape).
 *
 * @module
 */

import type { FloatImage } from "../image/raster.ts";
import type { Rng } from "../util/random.ts";

/** Probabilities and strengths of the degradations. */
export interface DegradeOptions {
  /** Probability of one or two occluding rectangles. */
  occlusionProb: number;
  /** Largest rectangle side as a fraction of the image side. */
  occlusionMaxSide: number;
  /** Probability of a box blur (radius 1 or 2). */
  blurProb: number;
  /** Probability of Gaussian pixel noise. */
  noiseProb: number;
  /** Largest noise standard deviation in grey levels. */
  noiseMaxStd: number;
}

/** The degradations of the heavy augmentation preset. */
export const DEFAULT_DEGRADE: DegradeOptions = {
  occlusionProb: 0.4,
  occlusionMaxSide: 0.4,
  blurProb: 0.2,
  noiseProb: 0.2,
  noiseMaxStd: 8,
};

/**
 * Paints one axis-aligned rectangle: uniform grey or noise, chosen at random.
 * Pixels with `x0 <= x < x1, y0 <= y < y1` change.
 *
 * @example
 * ```ts
 * import { occludeRect } from "./degrade.ts";
 * import { createRng } from "../util/random.ts";
 * const img = { data: new Float32Array(16), width: 4, height: 4, channels: 1 };
 * const out = occludeRect(img, { x0: 0, y0: 0, x1: 2, y1: 2 }, createRng(1));
 * console.log(out.data.length); // 16
 * ```
 */
export function occludeRect(
  image: FloatImage,
  rect: { x0: number; y0: number; x1: number; y1: number },
  rng: Rng,
): FloatImage {
  const data = new Float32Array(image.data);
  const ch = image.channels;
  const grey = rng.uniform(0, 255);
  const noisy = rng.next() < 0.5;
  const x0 = Math.max(0, Math.floor(rect.x0)), x1 = Math.min(image.width, Math.ceil(rect.x1));
  const y0 = Math.max(0, Math.floor(rect.y0)), y1 = Math.min(image.height, Math.ceil(rect.y1));
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const o = (y * image.width + x) * ch;
      for (let c = 0; c < ch; c++) data[o + c] = noisy ? rng.uniform(0, 255) : grey;
    }
  }
  return { ...image, data };
}

/**
 * Separable box blur of radius `r` (edges clamped), per channel.
 *
 * @example
 * ```ts
 * import { boxBlur } from "./degrade.ts";
 * const img = { data: new Float32Array([0, 0, 9, 0, 0]), width: 5, height: 1, channels: 1 };
 * console.log(Array.from(boxBlur(img, 1).data)); // [0, 3, 3, 3, 0]
 * ```
 */
export function boxBlur(image: FloatImage, r: number): FloatImage {
  const { width: w, height: h, channels: ch } = image;
  const pass = (src: Float32Array, horizontal: boolean): Float32Array => {
    const out = new Float32Array(src.length);
    const n = 2 * r + 1;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < ch; c++) {
          let s = 0;
          for (let k = -r; k <= r; k++) {
            const xx = horizontal ? Math.min(w - 1, Math.max(0, x + k)) : x;
            const yy = horizontal ? y : Math.min(h - 1, Math.max(0, y + k));
            s += src[(yy * w + xx) * ch + c];
          }
          out[(y * w + x) * ch + c] = s / n;
        }
      }
    }
    return out;
  };
  const horizontal = pass(image.data, true);
  return { ...image, data: h > 1 ? pass(horizontal, false) : horizontal };
}

/**
 * Adds Gaussian noise of standard deviation `std`, clamped to 0..255.
 *
 * @example
 * ```ts
 * import { addNoise } from "./degrade.ts";
 * import { createRng } from "../util/random.ts";
 * const img = { data: new Float32Array([128, 128]), width: 2, height: 1, channels: 1 };
 * console.log(addNoise(img, 5, createRng(1)).data.length); // 2
 * ```
 */
export function addNoise(image: FloatImage, std: number, rng: Rng): FloatImage {
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i++) {
    const v = image.data[i] + rng.normal() * std;
    data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return { ...image, data };
}

/**
 * Draws the degradations of `opts` and applies them: up to two occluding
 * rectangles, then maybe a blur, then maybe noise.
 *
 * @example
 * ```ts
 * import { degrade, DEFAULT_DEGRADE } from "./degrade.ts";
 * import { createRng } from "../util/random.ts";
 * const img = { data: new Float32Array(64).fill(100), width: 8, height: 8, channels: 1 };
 * console.log(degrade(img, createRng(2), DEFAULT_DEGRADE).width); // 8
 * ```
 */
export function degrade(image: FloatImage, rng: Rng, opts: DegradeOptions): FloatImage {
  let out = image;
  if (rng.next() < opts.occlusionProb) {
    const count = rng.next() < 0.3 ? 2 : 1;
    for (let i = 0; i < count; i++) {
      const rw = rng.uniform(0.1, opts.occlusionMaxSide) * image.width;
      const rh = rng.uniform(0.1, opts.occlusionMaxSide) * image.height;
      const x0 = rng.uniform(0, image.width - rw);
      const y0 = rng.uniform(0, image.height - rh);
      out = occludeRect(out, { x0, y0, x1: x0 + rw, y1: y0 + rh }, rng);
    }
  }
  if (rng.next() < opts.blurProb) out = boxBlur(out, rng.next() < 0.7 ? 1 : 2);
  if (rng.next() < opts.noiseProb) out = addNoise(out, rng.uniform(2, opts.noiseMaxStd), rng);
  return out;
}
