/**
 * Float images (HWC, interleaved channels, values 0..255) and the resampling
 * every part of the toolkit shares: antialiased bilinear resize and bilinear
 * affine warps. Pure functions, no tfjs.
 *
 * @module
 */

import { type Affine, invert } from "./affine.ts";

/** A float image: `data[(y * width + x) * channels + c]`. */
export interface FloatImage {
  /** Pixel values, usually 0..255. */
  data: Float32Array;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 1 (grayscale) or 3 (RGB). */
  channels: number;
}

/** Anything with RGBA bytes, like `ImageData`. */
export interface RgbaLike {
  /** RGBA bytes, 4 per pixel, row-major. */
  data: ArrayLike<number>;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/**
 * Converts RGBA bytes to a float image with 1 (luma, ITU-R 601) or 3
 * channels; alpha is ignored.
 *
 * @example
 * ```ts
 * import { fromRgba } from "./raster.ts";
 * const img = fromRgba({ data: [255, 255, 255, 255], width: 1, height: 1 }, 1);
 * console.log(Math.round(img.data[0])); // 255
 * ```
 */
export function fromRgba(img: RgbaLike, channels: 1 | 3): FloatImage {
  const n = img.width * img.height;
  if (img.data.length < n * 4) {
    throw new Error(
      `image data has ${img.data.length} bytes, expected ${
        n * 4
      } for ${img.width}x${img.height} RGBA`,
    );
  }
  const out = new Float32Array(n * channels);
  const d = img.data;
  for (let i = 0; i < n; i++) {
    const r = d[i * 4], g = d[i * 4 + 1], b = d[i * 4 + 2];
    if (channels === 1) out[i] = 0.299 * r + 0.587 * g + 0.114 * b;
    else {
      out[i * 3] = r;
      out[i * 3 + 1] = g;
      out[i * 3 + 2] = b;
    }
  }
  return { data: out, width: img.width, height: img.height, channels };
}

/**
 * Converts a float image (0..255) back to RGBA bytes, e.g. for drawing.
 *
 * @example
 * ```ts
 * import { toRgba } from "./raster.ts";
 * const rgba = toRgba({ data: new Float32Array([128]), width: 1, height: 1, channels: 1 });
 * console.log(rgba.data[0], rgba.data[3]); // 128 255
 * ```
 */
export function toRgba(
  img: FloatImage,
): { data: Uint8ClampedArray; width: number; height: number } {
  const n = img.width * img.height;
  const out = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      out[i * 4 + c] = img.data[i * img.channels + (img.channels === 1 ? 0 : c)];
    }
    out[i * 4 + 3] = 255;
  }
  return { data: out, width: img.width, height: img.height };
}

/** Per-axis filter taps: for each output index, a start and weights. */
interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array;
  maxTaps: number;
}

function triangleTaps(inSize: number, outSize: number): Taps {
  // Triangle (bilinear) filter whose support widens when downscaling, so a
  // reduction averages all covered source pixels instead of aliasing.
  const scale = inSize / outSize;
  const support = Math.max(1, scale);
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * maxTaps);
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale; // continuous source coordinate
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(inSize - 1, Math.ceil(centre + support));
    let total = 0;
    let k = 0;
    const first = lo;
    for (let i = lo; i <= hi && k < maxTaps; i++, k++) {
      const w = Math.max(0, 1 - Math.abs(i + 0.5 - centre) / support);
      weights[o * maxTaps + k] = w;
      total += w;
    }
    if (total <= 0) {
      const nearest = Math.min(inSize - 1, Math.max(0, Math.floor(centre)));
      start[o] = nearest;
      count[o] = 1;
      weights[o * maxTaps] = 1;
      continue;
    }
    for (let j = 0; j < k; j++) weights[o * maxTaps + j] /= total;
    start[o] = first;
    count[o] = k;
  }
  return { start, count, weights, maxTaps };
}

/**
 * Resizes with a bilinear (triangle) filter, antialiased when shrinking.
 * Continuous coordinates scale by `outWidth / width` on x and
 * `outHeight / height` on y.
 *
 * @example
 * ```ts
 * import { resize } from "./raster.ts";
 * const img = { data: new Float32Array(16).fill(7), width: 4, height: 4, channels: 1 };
 * console.log(resize(img, 2, 2).data); // Float32Array [7, 7, 7, 7]
 * ```
 */
export function resize(
  img: FloatImage,
  outWidth: number,
  outHeight: number,
): FloatImage {
  if (outWidth < 1 || outHeight < 1 || img.width < 1 || img.height < 1) {
    throw new Error(
      `cannot resize ${img.width}x${img.height} to ${outWidth}x${outHeight}`,
    );
  }
  const ch = img.channels;
  const tx = triangleTaps(img.width, outWidth);
  const ty = triangleTaps(img.height, outHeight);
  // Horizontal pass: height x outWidth.
  const mid = new Float32Array(img.height * outWidth * ch);
  for (let y = 0; y < img.height; y++) {
    for (let o = 0; o < outWidth; o++) {
      const s = tx.start[o], n = tx.count[o], wOff = o * tx.maxTaps;
      for (let c = 0; c < ch; c++) {
        let acc = 0;
        for (let k = 0; k < n; k++) {
          acc += tx.weights[wOff + k] *
            img.data[((y * img.width) + s + k) * ch + c];
        }
        mid[(y * outWidth + o) * ch + c] = acc;
      }
    }
  }
  const out = new Float32Array(outHeight * outWidth * ch);
  for (let o = 0; o < outHeight; o++) {
    const s = ty.start[o], n = ty.count[o], wOff = o * ty.maxTaps;
    for (let x = 0; x < outWidth; x++) {
      for (let c = 0; c < ch; c++) {
        let acc = 0;
        for (let k = 0; k < n; k++) {
          acc += ty.weights[wOff + k] * mid[((s + k) * outWidth + x) * ch + c];
        }
        out[(o * outWidth + x) * ch + c] = acc;
      }
    }
  }
  return { data: out, width: outWidth, height: outHeight, channels: ch };
}

/**
 * Warps an image with the affine map `m` (source continuous coordinates ->
 * output continuous coordinates), sampling bilinearly. Output pixels whose
 * source falls outside the image get `fill`.
 *
 * @example
 * ```ts
 * import { warpAffine } from "./raster.ts";
 * import { translation } from "./affine.ts";
 * const img = { data: new Float32Array([0, 10, 20, 30]), width: 4, height: 1, channels: 1 };
 * console.log(warpAffine(img, translation(1, 0), 4, 1).data); // Float32Array [0, 0, 10, 20]
 * ```
 */
export function warpAffine(
  img: FloatImage,
  m: Affine,
  outWidth: number,
  outHeight: number,
  fill = 0,
): FloatImage {
  const [a, b, c, d, e, f] = invert(m);
  const ch = img.channels, w = img.width, h = img.height, src = img.data;
  const out = new Float32Array(outWidth * outHeight * ch);
  for (let oy = 0; oy < outHeight; oy++) {
    const cy = oy + 0.5;
    for (let ox = 0; ox < outWidth; ox++) {
      const cx = ox + 0.5;
      // Source position in pixel-index space (centre of pixel 0 = 0).
      const sx = a * cx + b * cy + c - 0.5;
      const sy = d * cx + e * cy + f - 0.5;
      const o = (oy * outWidth + ox) * ch;
      if (sx < -0.5 || sy < -0.5 || sx > w - 0.5 || sy > h - 0.5) {
        for (let k = 0; k < ch; k++) out[o + k] = fill;
        continue;
      }
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const fx = sx - x0, fy = sy - y0;
      const xa = Math.max(0, x0), xb = Math.min(w - 1, x0 + 1);
      const ya = Math.max(0, y0), yb = Math.min(h - 1, y0 + 1);
      for (let k = 0; k < ch; k++) {
        const p00 = src[(ya * w + xa) * ch + k];
        const p01 = src[(ya * w + xb) * ch + k];
        const p10 = src[(yb * w + xa) * ch + k];
        const p11 = src[(yb * w + xb) * ch + k];
        out[o + k] = (p00 * (1 - fx) + p01 * fx) * (1 - fy) +
          (p10 * (1 - fx) + p11 * fx) * fy;
      }
    }
  }
  return { data: out, width: outWidth, height: outHeight, channels: ch };
}
