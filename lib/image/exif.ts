/**
 * EXIF orientation: phones store the sensor's pixels and a tag (TIFF tag
 * 0x0112 in the JPEG's APP1 "Exif" segment) saying how to turn them upright.
 * {@linkcode jpegOrientation} reads the tag and {@linkcode applyOrientation}
 * turns the pixels, so keypoints come out in the upright image a person sees.
 *
 * Orientation values (EXIF 2.3, TIFF 6.0): 1 upright, 2 mirrored, 3 turned
 * 180 degrees, 4 flipped vertically, 5 transposed, 6 needs a 90 degree turn
 * clockwise, 7 transversed, 8 needs a 90 degree turn counter-clockwise.
 *
 * @module
 */

import type { RgbaImage } from "./rgba.ts";

/**
 * The EXIF orientation (1..8) of a JPEG, or 1 when it has none or the tag is
 * unreadable (a damaged tag never stops a decode).
 *
 * @example
 * ```ts
 * import { jpegOrientation } from "./exif.ts";
 * console.log(jpegOrientation(new Uint8Array([0xff, 0xd8, 0xff, 0xd9]))); // 1
 * ```
 */
export function jpegOrientation(bytes: Uint8Array): number {
  let pos = 2;
  while (pos + 4 <= bytes.length && bytes[pos] === 0xff) {
    const code = bytes[pos + 1];
    if (code === 0xd8 || code === 0x01 || (code >= 0xd0 && code <= 0xd7)) {
      pos += 2;
      continue;
    }
    if (code === 0xda || code === 0xd9) return 1; // scan data: no more headers
    const length = (bytes[pos + 2] << 8) | bytes[pos + 3];
    if (length < 2) return 1;
    const start = pos + 4;
    if (
      code === 0xe1 && length >= 8 && start + 6 <= bytes.length &&
      String.fromCharCode(...bytes.subarray(start, start + 4)) === "Exif"
    ) {
      return tiffOrientation(bytes.subarray(start + 6, Math.min(bytes.length, pos + 2 + length)));
    }
    pos += 2 + length;
  }
  return 1;
}

/** The orientation tag of a TIFF header block (1 when absent or unreadable). */
function tiffOrientation(t: Uint8Array): number {
  if (t.length < 8) return 1;
  const little = t[0] === 0x49 && t[1] === 0x49; // "II"
  if (!little && !(t[0] === 0x4d && t[1] === 0x4d)) return 1; // not "MM" either
  const u16 = (o: number): number => little ? t[o] | (t[o + 1] << 8) : (t[o] << 8) | t[o + 1];
  const u32 = (o: number): number =>
    little
      ? (t[o] | (t[o + 1] << 8) | (t[o + 2] << 16) | (t[o + 3] << 24)) >>> 0
      : ((t[o] << 24) | (t[o + 1] << 16) | (t[o + 2] << 8) | t[o + 3]) >>> 0;
  if (u16(2) !== 42) return 1;
  const ifd = u32(4);
  if (ifd + 2 > t.length) return 1;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > t.length) return 1;
    if (u16(e) === 0x0112) {
      const v = u16(e + 8);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

/**
 * Turns the pixels of `img` upright for EXIF orientation `orientation`; 1 (or
 * any unknown value) returns `img` itself. Orientations 5 to 8 swap width and
 * height.
 *
 * @example A 2x1 image with orientation 6 (turn clockwise) becomes 1x2
 * ```ts
 * import { applyOrientation } from "./exif.ts";
 * const img = { width: 2, height: 1, data: new Uint8Array([1, 1, 1, 255, 2, 2, 2, 255]) };
 * const up = applyOrientation(img, 6);
 * console.log(up.width, up.height, up.data[0], up.data[4]); // 1 2 1 2
 * ```
 */
export function applyOrientation(img: RgbaImage, orientation: number): RgbaImage {
  if (!(orientation >= 2 && orientation <= 8)) return img;
  const { width: w, height: h } = img;
  const swap = orientation >= 5;
  const ow = swap ? h : w, oh = swap ? w : h;
  const out = new Uint8Array(ow * oh * 4);
  const aligned = img.data.byteOffset % 4 === 0;
  const src = aligned ? new Uint32Array(img.data.buffer, img.data.byteOffset, w * h) : null;
  const dst = new Uint32Array(out.buffer);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      // (sx, sy): the stored pixel shown at upright (x, y).
      let sx: number, sy: number;
      switch (orientation) {
        case 2:
          [sx, sy] = [w - 1 - x, y];
          break;
        case 3:
          [sx, sy] = [w - 1 - x, h - 1 - y];
          break;
        case 4:
          [sx, sy] = [x, h - 1 - y];
          break;
        case 5:
          [sx, sy] = [y, x];
          break;
        case 6:
          [sx, sy] = [y, h - 1 - x];
          break;
        case 7:
          [sx, sy] = [w - 1 - y, h - 1 - x];
          break;
        default:
          [sx, sy] = [w - 1 - y, x];
          break; // 8
      }
      if (src) dst[y * ow + x] = src[sy * w + sx];
      else out.set(img.data.subarray((sy * w + sx) * 4, (sy * w + sx) * 4 + 4), (y * ow + x) * 4);
    }
  }
  return { width: ow, height: oh, data: out };
}
