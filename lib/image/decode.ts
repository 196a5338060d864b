/**
 * Decoding of JPEG and PNG files into {@linkcode RgbaImage} and conversion
 * to grayscale.
 *
 * Decoding needs no Deno permissions: JPEG goes through the pure-JavaScript
 * `jpeg-js` decoder and PNG through this project's own codec in `./png.ts`.
 * Only {@linkcode readImage} touches the file system (it needs
 * `--allow-read`).
 *
 * @module
 */

import jpeg from "jpeg-js";
import { applyOrientation, jpegOrientation } from "./exif.ts";
import { decodePng } from "./png.ts";
import type { RgbaImage } from "./rgba.ts";

export type { RgbaImage } from "./rgba.ts";

/** Options of {@linkcode decodeImage} and {@linkcode readImage}. */
export interface DecodeOptions {
  /**
   * Turn a JPEG upright by its EXIF orientation tag, as viewers show it
   * (default false: the stored pixels, the frame dataset labels use).
   */
  upright?: boolean;
}

/** Largest JPEG resolution accepted, in megapixels (about 2^26 pixels). */
const JPEG_MAX_MEGAPIXELS = 67;
/** Memory cap handed to jpeg-js for one decode, in MiB. */
const JPEG_MAX_MEMORY_MB = 1024;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function label(name: string | undefined): string {
  return name ?? "image";
}

function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 &&
    bytes[2] === 0xff;
}

function isPng(bytes: Uint8Array): boolean {
  if (bytes.length < PNG_SIGNATURE.length) return false;
  return PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

/**
 * Walks the JPEG marker segments up to the first start-of-scan and checks that
 * an end-of-image marker (FF D9) follows the entropy-coded data. jpeg-js
 * reports a cut-short file only as "marker was not found" (and, being
 * tolerant, may accept damaged data), so truncation is detected here first
 * with a clear message. Returns a problem description, or `undefined` when the
 * structure looks complete or is too unusual to judge (then jpeg-js decides).
 */
function jpegStructureProblem(bytes: Uint8Array): string | undefined {
  let pos = 2;
  let sawScan = false;
  while (pos < bytes.length) {
    if (bytes[pos] !== 0xff) return undefined; // odd padding: let jpeg-js judge
    // Fill bytes: any number of 0xFF may precede a marker code.
    while (pos < bytes.length && bytes[pos] === 0xff) pos++;
    if (pos >= bytes.length) break;
    const code = bytes[pos];
    pos++;
    if (code === 0xd9) return undefined; // EOI before any scan: let jpeg-js judge
    if (code === 0x01 || (code >= 0xd0 && code <= 0xd7)) continue; // no length
    if (pos + 2 > bytes.length) break;
    const length = (bytes[pos] << 8) | bytes[pos + 1];
    if (length < 2) return undefined;
    if (pos + length > bytes.length) break;
    pos += length;
    if (code === 0xda) {
      sawScan = true;
      break;
    }
  }
  if (!sawScan) return "file is truncated (ends inside the headers)";
  // Entropy-coded data never contains FF D9 (0xFF is always stuffed or a
  // restart/scan marker), so its presence after the scan header marks the end.
  for (let i = bytes.length - 2; i >= pos; i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return undefined;
  }
  return "file is truncated (no end-of-image marker)";
}

function decodeJpeg(bytes: Uint8Array, name: string | undefined): RgbaImage {
  const problem = jpegStructureProblem(bytes);
  if (problem !== undefined) {
    throw new Error(`${label(name)}: corrupt JPEG: ${problem}`);
  }
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      tolerantDecoding: true,
      maxResolutionInMP: JPEG_MAX_MEGAPIXELS,
      maxMemoryUsageInMB: JPEG_MAX_MEMORY_MB,
    });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`${label(name)}: corrupt JPEG: ${msg}`, { cause: err });
  }
  const { width, height, data } = decoded;
  if (
    !(width > 0 && height > 0) || data.length !== width * height * 4
  ) {
    throw new Error(
      `${
        label(name)
      }: corrupt JPEG: decoder returned a ${width}x${height} image with ${data.length} bytes`,
    );
  }
  return { width, height, data };
}

/**
 * Decodes JPEG or PNG file contents into an {@linkcode RgbaImage}. The format
 * is sniffed from the first bytes (JPEG starts with `FF D8 FF`, PNG with its
 * 8-byte signature), never from the name.
 *
 * JPEG: baseline and progressive, grayscale/YCbCr/CMYK, via `jpeg-js`;
 * alpha is always 255. Images above about 67 megapixels are refused, and a
 * file that is cut short is an error (not a partly gray image).
 *
 * PNG: every standard colour type and bit depth (see `./png.ts`). Alpha is
 * kept as stored (straight alpha, not composited); {@linkcode toGray}
 * composites over black.
 *
 * Needs no permissions. Errors start with `name` (default `"image"`), e.g.
 * `"a.jpg: corrupt JPEG: file is truncated (no end-of-image marker)"` or
 * `"a.gif: not a JPEG or PNG image"`.
 *
 * @param bytes Whole file contents.
 * @param name File name or path used in error messages.
 * @param options `upright: true` applies the EXIF orientation of a JPEG.
 * @returns The decoded image.
 * @throws {Error} For unknown formats and corrupt or truncated files.
 *
 * @example Decode a PNG made in memory
 * ```ts
 * import { decodeImage } from "./decode.ts";
 * import { encodePng } from "./png.ts";
 *
 * const png = encodePng({ width: 1, height: 1, data: new Uint8Array([1, 2, 3, 255]) });
 * const img = decodeImage(png, "dot.png");
 * console.log(img.width, img.height); // 1 1
 * ```
 */
export function decodeImage(
  bytes: Uint8Array,
  name?: string,
  options: DecodeOptions = {},
): RgbaImage {
  if (isJpeg(bytes)) {
    const img = decodeJpeg(bytes, name);
    return options.upright ? applyOrientation(img, jpegOrientation(bytes)) : img;
  }
  if (isPng(bytes)) return decodePng(bytes, name);
  throw new Error(`${label(name)}: not a JPEG or PNG image`);
}

/**
 * Converts an image to luma with the Rec. 601 weights
 * `0.299 R + 0.587 G + 0.114 B`, composited over black (each value is
 * multiplied by alpha / 255, so opaque images are unaffected).
 *
 * @param img Source image.
 * @returns `width * height` values in 0..255, row-major.
 *
 * @example
 * ```ts
 * import { toGray } from "./decode.ts";
 *
 * const gray = toGray({ width: 1, height: 1, data: new Uint8Array([255, 255, 255, 255]) });
 * console.log(gray[0]); // ~255
 * ```
 */
export function toGray(img: RgbaImage): Float32Array {
  const n = img.width * img.height;
  const src = img.data;
  if (src.length < n * 4) {
    throw new Error(
      `toGray: image data holds ${src.length} bytes, expected ${
        n * 4
      } for ${img.width}x${img.height}`,
    );
  }
  const out = new Float32Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const luma = 0.299 * src[j] + 0.587 * src[j + 1] + 0.114 * src[j + 2];
    const a = src[j + 3];
    out[i] = a === 255 ? luma : luma * a / 255;
  }
  return out;
}

/**
 * Reads a JPEG or PNG file and decodes it with {@linkcode decodeImage}.
 * Needs `--allow-read` for the path. Errors name the path:
 * `"PATH: file not found"`, `"PATH: read access denied; run with
 * --allow-read=PATH"`, or the decoder's message.
 *
 * @param path File to read.
 * @param options `upright: true` applies the EXIF orientation of a JPEG.
 * @returns The decoded image.
 * @throws {Error} When the file cannot be read or decoded.
 *
 * @example
 * ```ts ignore
 * import { readImage } from "./decode.ts";
 *
 * const img = await readImage("fixtures/einstein.jpg");
 * console.log(img.width, img.height);
 * ```
 */
export async function readImage(path: string, options: DecodeOptions = {}): Promise<RgbaImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(`${path}: file not found`, { cause: err });
    }
    if (err instanceof Deno.errors.NotCapable) {
      throw new Error(
        `${path}: read access denied; run with --allow-read=${path}`,
        { cause: err },
      );
    }
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new Error(
        `${path}: permission denied (check the file's permissions; under Deno also pass --allow-read=${path})`,
        { cause: err },
      );
    }
    if (err instanceof Deno.errors.IsADirectory) {
      throw new Error(`${path}: is a directory, not an image file`, {
        cause: err,
      });
    }
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`${path}: cannot read file: ${msg}`, { cause: err });
  }
  return decodeImage(bytes, path, options);
}
