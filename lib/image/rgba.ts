/**
 * The 8-bit RGBA image type shared by the toolkit.
 *
 * @module
 */

/**
 * An 8-bit RGBA raster: 4 bytes per pixel (red, green, blue, alpha), rows
 * stored top to bottom, pixels left to right, no padding between rows, so the
 * pixel at (x, y) starts at byte `(y * width + x) * 4`. Alpha is straight
 * (not premultiplied); 255 is opaque.
 *
 * @example Make a 2x1 image holding one red and one blue pixel
 * ```ts
 * import type { RgbaImage } from "./rgba.ts";
 *
 * const img: RgbaImage = {
 *   width: 2,
 *   height: 1,
 *   data: new Uint8ClampedArray([255, 0, 0, 255, 0, 0, 255, 255]),
 * };
 * ```
 */
export interface RgbaImage {
  /** Pixel bytes, `width * height * 4` of them. */
  data: Uint8ClampedArray | Uint8Array;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}
