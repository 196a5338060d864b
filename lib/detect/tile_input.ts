/**
 * The face finder's network input for one tile, computed from the photo's
 * RGBA bytes in one pass of plain TypeScript: the photo box-averaged by an
 * integer factor `k` (cheap anti-aliasing, `avgPool(k, k, "valid")`), then
 * sampled bilinearly onto an `n` x `n` grid whose pixel centres are at
 * `tile.x + (j + 0.5) * tile.size / n`, with black (-1) outside the photo:
 * the same numbers as `tf.avgPool` + `tf.image.cropAndResize` on the float
 * photo, without building a float copy of the whole photo as a tensor (the
 * slowest part of a whole-photo pass on a 1024-px photo).
 *
 * @module
 */

import type { RgbaLike } from "../image/raster.ts";
import type { Tile } from "./tiles.ts";

/** The photo box-averaged by `k`: RGB floats in [-1, 1], `floor(w / k)` x `floor(h / k)`. */
export interface PooledImage {
  /** Width (`floor(image.width / k)`). */
  width: number;
  /** Height (`floor(image.height / k)`). */
  height: number;
  /** The averaging factor. */
  k: number;
  /** `width * height * 3` RGB values, row-major, scaled by `v / 127.5 - 1`. */
  data: Float32Array;
}

/**
 * Box-averages RGBA bytes by `k` (the cells that fit; the remainder is
 * dropped, as a "valid" average pool does) into RGB floats in [-1, 1].
 *
 * @example
 * ```ts
 * import { poolImage } from "./tile_input.ts";
 * const img = { width: 2, height: 1, data: new Uint8Array([0, 0, 0, 255, 255, 255, 255, 255]) };
 * console.log(Array.from(poolImage(img, 2).data)); // [0, 0, 0]
 * ```
 */
export function poolImage(image: RgbaLike, k: number): PooledImage {
  if (!Number.isInteger(k) || k < 1) {
    throw new Error(`pool factor must be an integer >= 1, got ${k}`);
  }
  const width = Math.floor(image.width / k), height = Math.floor(image.height / k);
  const need = image.width * image.height * 4;
  if (image.data.length < need) {
    throw new Error(`image data holds ${image.data.length} bytes, expected ${need}`);
  }
  const data = new Float32Array(width * height * 3);
  const src = image.data;
  const row = new Float32Array(width * 3);
  const scale = 1 / (127.5 * k * k);
  for (let y = 0; y < height; y++) {
    row.fill(0);
    for (let dy = 0; dy < k; dy++) {
      let s = (y * k + dy) * image.width * 4;
      for (let x = 0; x < width; x++) {
        let r = 0, g = 0, b = 0;
        for (let dx = 0; dx < k; dx++, s += 4) {
          r += src[s];
          g += src[s + 1];
          b += src[s + 2];
        }
        row[x * 3] += r;
        row[x * 3 + 1] += g;
        row[x * 3 + 2] += b;
      }
    }
    const o = y * width * 3;
    for (let i = 0; i < width * 3; i++) data[o + i] = row[i] * scale - 1;
  }
  return { width, height, k, data };
}

/**
 * Samples `tile` (image pixels) of a pooled photo onto an `n` x `n` RGB grid
 * (`n * n * 3` floats), bilinear between the pooled pixels' centres, -1
 * (black) where a sample falls outside them (the rows and columns that
 * `cropAndResize` extrapolates).
 *
 * @example
 * ```ts
 * import { poolImage, sampleTile } from "./tile_input.ts";
 * const img = { width: 4, height: 4, data: new Uint8Array(64).fill(255) };
 * const grid = sampleTile(poolImage(img, 1), { x: -4, y: 0, size: 8 }, 2);
 * console.log(Array.from(grid.subarray(0, 6))); // [-1, -1, -1, 1, 1, 1]
 * ```
 */
export function sampleTile(pooled: PooledImage, tile: Tile, n: number): Float32Array {
  const { width: w, height: h, k, data } = pooled;
  const out = new Float32Array(n * n * 3).fill(-1);
  const s = tile.size / n;
  // Column taps once for the whole grid.
  const x0 = new Int32Array(n), x1 = new Int32Array(n), fx = new Float32Array(n);
  const inside = new Uint8Array(n);
  for (let j = 0; j < n; j++) {
    const p = (tile.x + (j + 0.5) * s) / k - 0.5;
    if (p < 0 || p > w - 1) continue;
    inside[j] = 1;
    x0[j] = Math.floor(p);
    x1[j] = Math.ceil(p);
    fx[j] = p - x0[j];
  }
  for (let i = 0; i < n; i++) {
    const q = (tile.y + (i + 0.5) * s) / k - 0.5;
    if (q < 0 || q > h - 1) continue;
    const top = Math.floor(q), bottom = Math.ceil(q), fy = q - top;
    const t = top * w * 3, b = bottom * w * 3;
    for (let j = 0; j < n; j++) {
      if (!inside[j]) continue;
      const l = x0[j] * 3, r = x1[j] * 3, a = fx[j], o = (i * n + j) * 3;
      for (let c = 0; c < 3; c++) {
        const tl = data[t + l + c], tr = data[t + r + c];
        const bl = data[b + l + c], br = data[b + r + c];
        const upper = tl + (tr - tl) * a, lower = bl + (br - bl) * a;
        out[o + c] = upper + (lower - upper) * fy;
      }
    }
  }
  return out;
}
