/**
 * Pure raster helpers on {@linkcode RgbaImage}: blank canvases, gray-to-RGBA
 * conversion, dots, lines, crosses, rectangles, bitmap text, nearest-neighbour
 * scaling and grids of images. Everything clips at the image border; nothing
 * needs permissions.
 *
 * Coordinates are pixel coordinates with the pixel centres on integers (the
 * convention of 0-based keypoint files), x to the right, y down. Drawing
 * functions change the image in place and write opaque pixels.
 *
 * @module
 */

import type { RgbaImage } from "./rgba.ts";

/** An RGB colour, each component 0..255. */
export type Rgb = readonly [number, number, number];

/** Glyph cell size of the built-in font at scale 1, in pixels. */
export const GLYPH_WIDTH = 5;
/** Glyph height of the built-in font at scale 1, in pixels. */
export const GLYPH_HEIGHT = 7;
/** Horizontal advance per character at scale 1 (glyph plus 1 px gap). */
const ADVANCE = GLYPH_WIDTH + 1;
/** Vertical advance per text line at scale 1. */
const LINE_ADVANCE = GLYPH_HEIGHT + 2;

// A 5x7 font drawn for this project: each glyph is 7 rows of 5 cells, "#" on.
const GLYPH_ROWS: Record<string, string> = {
  "0": ".###. #...# #..## #.#.# ##..# #...# .###.",
  "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
  "2": ".###. #...# ....# ...#. ..#.. .#... #####",
  "3": "##### ...#. ..#.. ...#. ....# #...# .###.",
  "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
  "5": "##### #.... ####. ....# ....# #...# .###.",
  "6": "..##. .#... #.... ####. #...# #...# .###.",
  "7": "##### ....# ...#. ..#.. .#... .#... .#...",
  "8": ".###. #...# #...# .###. #...# #...# .###.",
  "9": ".###. #...# #...# .#### ....# ...#. .##..",
  "A": ".###. #...# #...# ##### #...# #...# #...#",
  "B": "####. #...# #...# ####. #...# #...# ####.",
  "C": ".###. #...# #.... #.... #.... #...# .###.",
  "D": "###.. #..#. #...# #...# #...# #..#. ###..",
  "E": "##### #.... #.... ####. #.... #.... #####",
  "F": "##### #.... #.... ####. #.... #.... #....",
  "G": ".###. #...# #.... #.### #...# #...# .####",
  "H": "#...# #...# #...# ##### #...# #...# #...#",
  "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
  "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
  "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
  "L": "#.... #.... #.... #.... #.... #.... #####",
  "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#",
  "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
  "O": ".###. #...# #...# #...# #...# #...# .###.",
  "P": "####. #...# #...# ####. #.... #.... #....",
  "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#",
  "R": "####. #...# #...# ####. #.#.. #..#. #...#",
  "S": ".#### #.... #.... .###. ....# ....# ####.",
  "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
  "U": "#...# #...# #...# #...# #...# #...# .###.",
  "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
  "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
  "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
  "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
  "Z": "##### ....# ...#. ..#.. .#... #.... #####",
  " ": "..... ..... ..... ..... ..... ..... .....",
  ".": "..... ..... ..... ..... ..... .##.. .##..",
  ",": "..... ..... ..... ..... .##.. ..#.. .#...",
  "-": "..... ..... ..... ##### ..... ..... .....",
  ":": "..... .##.. .##.. ..... .##.. .##.. .....",
  "%": "##... ##..# ...#. ..#.. .#... #..## ...##",
  "/": "..... ....# ...#. ..#.. .#... #.... .....",
  "(": "...#. ..#.. .#... .#... .#... ..#.. ...#.",
  ")": ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
  "+": "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
  "=": "..... ..... ##### ..... ##### ..... .....",
  "_": "..... ..... ..... ..... ..... ..... #####",
  "'": "..#.. ..#.. .#... ..... ..... ..... .....",
  "!": "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..",
  "?": ".###. #...# ....# ...#. ..#.. ..... ..#..",
  "<": "...#. ..#.. .#... #.... .#... ..#.. ...#.",
  ">": ".#... ..#.. ...#. ....# ...#. ..#.. .#...",
};

/** Shown for characters the font lacks: a hollow box. */
const MISSING_GLYPH = "##### #...# #...# #...# #...# #...# #####";

function parseGlyph(rows: string): Uint8Array {
  const parts = rows.split(" ");
  const out = new Uint8Array(GLYPH_HEIGHT);
  for (let r = 0; r < GLYPH_HEIGHT; r++) {
    let bits = 0;
    for (let c = 0; c < GLYPH_WIDTH; c++) {
      if (parts[r][c] === "#") bits |= 1 << (GLYPH_WIDTH - 1 - c);
    }
    out[r] = bits;
  }
  return out;
}

const GLYPHS: Map<string, Uint8Array> = new Map(
  Object.entries(GLYPH_ROWS).map(([ch, rows]) => [ch, parseGlyph(rows)]),
);
const MISSING = parseGlyph(MISSING_GLYPH);

function glyphFor(ch: string): Uint8Array {
  return GLYPHS.get(ch) ?? GLYPHS.get(ch.toUpperCase()) ?? MISSING;
}

function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

function setPixel(img: RgbaImage, x: number, y: number, color: Rgb): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const o = (y * img.width + x) * 4;
  img.data[o] = clampByte(color[0]);
  img.data[o + 1] = clampByte(color[1]);
  img.data[o + 2] = clampByte(color[2]);
  img.data[o + 3] = 255;
}

/**
 * Makes a new image filled with one colour.
 *
 * @param width Width in pixels (positive integer).
 * @param height Height in pixels (positive integer).
 * @param color Fill colour (default black).
 * @param alpha Alpha of every pixel (default 255, opaque).
 * @returns The new image (`Uint8ClampedArray` data).
 *
 * @example
 * ```ts
 * import { blank } from "./draw.ts";
 *
 * const white = blank(64, 32, [255, 255, 255]);
 * console.log(white.data.length); // 8192
 * ```
 */
export function blank(
  width: number,
  height: number,
  color: Rgb = [0, 0, 0],
  alpha = 255,
): RgbaImage {
  if (
    !Number.isInteger(width) || !Number.isInteger(height) || width < 1 ||
    height < 1
  ) {
    throw new RangeError(`blank: invalid size ${width}x${height}`);
  }
  const data = new Uint8ClampedArray(width * height * 4);
  const r = clampByte(color[0]), g = clampByte(color[1]);
  const b = clampByte(color[2]), a = clampByte(alpha);
  for (let o = 0; o < data.length; o += 4) {
    data[o] = r;
    data[o + 1] = g;
    data[o + 2] = b;
    data[o + 3] = a;
  }
  return { width, height, data };
}

/**
 * Turns a gray raster (e.g. from `toGray`, or a heatmap) into an opaque RGBA
 * image, mapping `lo` to black and `hi` to white linearly and clamping
 * outside. If `hi <= lo` the result is a threshold: values `>= hi` are
 * white, the rest black. NaN becomes black.
 *
 * @param gray `width * height` values, row-major.
 * @param width Width in pixels.
 * @param height Height in pixels.
 * @param lo Value shown as black (default 0).
 * @param hi Value shown as white (default 255).
 * @returns The RGBA image.
 *
 * @example Show a heatmap whose values lie in 0..1
 * ```ts
 * import { grayToRgba } from "./draw.ts";
 *
 * const heat = new Float32Array([0, 0.5, 1, 0.25]);
 * const img = grayToRgba(heat, 2, 2, 0, 1);
 * console.log(img.data[4]); // 128
 * ```
 */
export function grayToRgba(
  gray: Float32Array | Uint8Array,
  width: number,
  height: number,
  lo = 0,
  hi = 255,
): RgbaImage {
  const n = width * height;
  if (gray.length < n) {
    throw new RangeError(
      `grayToRgba: ${gray.length} values given for a ${width}x${height} image`,
    );
  }
  const img = blank(width, height);
  const data = img.data;
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  for (let i = 0, o = 0; i < n; i++, o += 4) {
    const v = gray[i];
    const g = scale > 0 ? clampByte((v - lo) * scale) : v >= hi ? 255 : 0;
    data[o] = data[o + 1] = data[o + 2] = Number.isNaN(v) ? 0 : g;
  }
  return img;
}

/**
 * Fills an axis-aligned rectangle (clipped to the image).
 *
 * @param img Image to draw on (changed in place).
 * @param x Left column.
 * @param y Top row.
 * @param w Width in pixels.
 * @param h Height in pixels.
 * @param color Fill colour.
 *
 * @example
 * ```ts
 * import { blank, fillRect } from "./draw.ts";
 *
 * const img = blank(10, 10);
 * fillRect(img, 2, 2, 3, 3, [0, 255, 0]);
 * ```
 */
export function fillRect(
  img: RgbaImage,
  x: number,
  y: number,
  w: number,
  h: number,
  color: Rgb,
): void {
  const x0 = Math.max(0, Math.round(x));
  const y0 = Math.max(0, Math.round(y));
  const x1 = Math.min(img.width, Math.round(x + w));
  const y1 = Math.min(img.height, Math.round(y + h));
  for (let yy = y0; yy < y1; yy++) {
    for (let xx = x0; xx < x1; xx++) setPixel(img, xx, yy, color);
  }
}

/**
 * Draws a filled disc centred on (x, y): every pixel whose centre lies within
 * `radius` of the point. A radius below 0.5 draws the single nearest pixel.
 * Not antialiased.
 *
 * @param img Image to draw on (changed in place).
 * @param x Centre column (may be fractional).
 * @param y Centre row (may be fractional).
 * @param radius Radius in pixels.
 * @param color Dot colour.
 *
 * @example Mark a keypoint
 * ```ts
 * import { blank, drawDot } from "./draw.ts";
 *
 * const img = blank(20, 20);
 * drawDot(img, 10, 5, 2, [255, 0, 0]);
 * console.log(img.data[(5 * 20 + 10) * 4]); // 255
 * ```
 */
export function drawDot(
  img: RgbaImage,
  x: number,
  y: number,
  radius: number,
  color: Rgb,
): void {
  if (!Number.isFinite(x) || !Number.isFinite(y)) return;
  if (!(radius >= 0.5)) {
    setPixel(img, Math.round(x), Math.round(y), color);
    return;
  }
  const r2 = radius * radius;
  const x0 = Math.max(0, Math.ceil(x - radius));
  const x1 = Math.min(img.width - 1, Math.floor(x + radius));
  const y0 = Math.max(0, Math.ceil(y - radius));
  const y1 = Math.min(img.height - 1, Math.floor(y + radius));
  for (let py = y0; py <= y1; py++) {
    for (let px = x0; px <= x1; px++) {
      const dx = px - x, dy = py - y;
      if (dx * dx + dy * dy <= r2) setPixel(img, px, py, color);
    }
  }
}

/**
 * Draws a straight line between two points (Bresenham on the rounded end
 * points); a thickness above 1 stamps a square of that size at each step.
 *
 * @param img Image to draw on (changed in place).
 * @param x0 Start column.
 * @param y0 Start row.
 * @param x1 End column.
 * @param y1 End row.
 * @param color Line colour.
 * @param thickness Line width in pixels (default 1).
 *
 * @example
 * ```ts
 * import { blank, drawLine } from "./draw.ts";
 *
 * const img = blank(50, 50, [255, 255, 255]);
 * drawLine(img, 0, 0, 49, 49, [0, 0, 255], 2);
 * ```
 */
export function drawLine(
  img: RgbaImage,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  color: Rgb,
  thickness = 1,
): void {
  if (![x0, y0, x1, y1].every(Number.isFinite)) return;
  let x = Math.round(x0), y = Math.round(y0);
  const xe = Math.round(x1), ye = Math.round(y1);
  const t = Math.max(1, Math.round(thickness));
  const lo = -Math.floor((t - 1) / 2);
  const hi = lo + t - 1;
  // Skip work for lines far outside the image.
  const m = t + 1;
  if (
    Math.max(x, xe) < -m || Math.min(x, xe) > img.width + m ||
    Math.max(y, ye) < -m || Math.min(y, ye) > img.height + m
  ) return;
  const dx = Math.abs(xe - x), sx = x < xe ? 1 : -1;
  const dy = -Math.abs(ye - y), sy = y < ye ? 1 : -1;
  let err = dx + dy;
  for (;;) {
    if (t === 1) {
      setPixel(img, x, y, color);
    } else {
      for (let oy = lo; oy <= hi; oy++) {
        for (let ox = lo; ox <= hi; ox++) setPixel(img, x + ox, y + oy, color);
      }
    }
    if (x === xe && y === ye) break;
    const e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y += sy;
    }
  }
}

/**
 * Draws a "+" marker centred on (x, y) with arms `size` pixels long on each
 * side.
 *
 * @param img Image to draw on (changed in place).
 * @param x Centre column.
 * @param y Centre row.
 * @param size Arm length in pixels.
 * @param color Marker colour.
 * @param thickness Stroke width (default 1).
 *
 * @example
 * ```ts
 * import { blank, drawCross } from "./draw.ts";
 *
 * const img = blank(20, 20);
 * drawCross(img, 10, 10, 4, [0, 255, 0]);
 * ```
 */
export function drawCross(
  img: RgbaImage,
  x: number,
  y: number,
  size: number,
  color: Rgb,
  thickness = 1,
): void {
  drawLine(img, x - size, y, x + size, y, color, thickness);
  drawLine(img, x, y - size, x, y + size, color, thickness);
}

/**
 * Width in pixels that {@linkcode drawText} uses for `text` (the longest line
 * when it holds newlines).
 *
 * @param text Text to measure.
 * @param scale Integer magnification (default 1).
 * @returns Width in pixels (0 for empty text).
 *
 * @example
 * ```ts
 * import { textWidth } from "./draw.ts";
 *
 * console.log(textWidth("NME", 2)); // 34
 * ```
 */
export function textWidth(text: string, scale = 1): number {
  const longest = Math.max(...text.split("\n").map((l) => [...l].length));
  return longest === 0 ? 0 : (longest * ADVANCE - 1) * Math.max(1, scale);
}

/**
 * Height in pixels that {@linkcode drawText} uses for `text`.
 *
 * @param text Text to measure (lines split on "\n").
 * @param scale Integer magnification (default 1).
 * @returns Height in pixels.
 *
 * @example
 * ```ts
 * import { textHeight } from "./draw.ts";
 *
 * console.log(textHeight("a\nb")); // 16
 * ```
 */
export function textHeight(text: string, scale = 1): number {
  const lines = text.split("\n").length;
  return ((lines - 1) * LINE_ADVANCE + GLYPH_HEIGHT) * Math.max(1, scale);
}

/**
 * Draws text with the built-in 5x7 bitmap font; (x, y) is the top-left
 * corner of the first character. The font has digits, letters (lower case is
 * drawn as upper case), space and `. , - : % / ( ) + = _ ' ! ? < >`; other
 * characters show as a hollow box. "\n" starts a new line.
 *
 * @param img Image to draw on (changed in place).
 * @param x Left column.
 * @param y Top row.
 * @param text Text to draw.
 * @param color Text colour.
 * @param scale Integer magnification (default 1: 5x7 px glyphs, 6 px advance).
 *
 * @example
 * ```ts
 * import { blank, drawText } from "./draw.ts";
 *
 * const img = blank(120, 20, [255, 255, 255]);
 * drawText(img, 2, 2, "NME: 3.5%", [0, 0, 0], 2);
 * ```
 */
export function drawText(
  img: RgbaImage,
  x: number,
  y: number,
  text: string,
  color: Rgb,
  scale = 1,
): void {
  const s = Math.max(1, Math.round(scale));
  let cx = Math.round(x);
  let cy = Math.round(y);
  const left = cx;
  for (const ch of text) {
    if (ch === "\n") {
      cx = left;
      cy += LINE_ADVANCE * s;
      continue;
    }
    const glyph = glyphFor(ch);
    for (let r = 0; r < GLYPH_HEIGHT; r++) {
      const bits = glyph[r];
      if (bits === 0) continue;
      for (let c = 0; c < GLYPH_WIDTH; c++) {
        if ((bits & (1 << (GLYPH_WIDTH - 1 - c))) === 0) continue;
        if (s === 1) setPixel(img, cx + c, cy + r, color);
        else fillRect(img, cx + c * s, cy + r * s, s, s, color);
      }
    }
    cx += ADVANCE * s;
  }
}

/**
 * Copies `src` into `dst` with its top-left corner at (x, y), clipped to
 * `dst`. Pixels are copied as they are (alpha included, no blending).
 *
 * @param dst Destination image (changed in place).
 * @param src Source image.
 * @param x Destination column of the source's left edge.
 * @param y Destination row of the source's top edge.
 *
 * @example
 * ```ts
 * import { blank, blit } from "./draw.ts";
 *
 * const canvas = blank(10, 10);
 * blit(canvas, blank(3, 3, [255, 0, 0]), 4, 4);
 * ```
 */
export function blit(
  dst: RgbaImage,
  src: RgbaImage,
  x: number,
  y: number,
): void {
  const ox = Math.round(x), oy = Math.round(y);
  const x0 = Math.max(0, -ox), x1 = Math.min(src.width, dst.width - ox);
  if (x1 <= x0) return;
  for (let sy = Math.max(0, -oy); sy < src.height; sy++) {
    const dy = sy + oy;
    if (dy >= dst.height) break;
    const s0 = (sy * src.width + x0) * 4;
    const s1 = (sy * src.width + x1) * 4;
    dst.data.set(src.data.subarray(s0, s1), (dy * dst.width + x0 + ox) * 4);
  }
}

/**
 * Resizes by nearest-neighbour sampling: the result is
 * `max(1, round(width * factor))` by `max(1, round(height * factor))`.
 * Integer factors above 1 give crisp pixel blocks (for looking at small
 * crops or heatmaps); factors below 1 subsample.
 *
 * @param img Source image (not changed).
 * @param factor Scale factor, > 0.
 * @returns A new image.
 *
 * @example
 * ```ts
 * import { blank, scaleNearest } from "./draw.ts";
 *
 * const big = scaleNearest(blank(8, 8), 4);
 * console.log(big.width); // 32
 * ```
 */
export function scaleNearest(img: RgbaImage, factor: number): RgbaImage {
  if (!(factor > 0) || !Number.isFinite(factor)) {
    throw new RangeError(`scaleNearest: factor must be > 0, got ${factor}`);
  }
  const w = Math.max(1, Math.round(img.width * factor));
  const h = Math.max(1, Math.round(img.height * factor));
  const out = blank(w, h);
  const src = img.data, dst = out.data;
  const xs = new Int32Array(w);
  for (let x = 0; x < w; x++) {
    xs[x] = Math.min(img.width - 1, Math.floor((x + 0.5) / factor));
  }
  for (let y = 0; y < h; y++) {
    const sy = Math.min(img.height - 1, Math.floor((y + 0.5) / factor));
    const rowS = sy * img.width;
    let o = y * w * 4;
    for (let x = 0; x < w; x++, o += 4) {
      const s = (rowS + xs[x]) * 4;
      dst[o] = src[s];
      dst[o + 1] = src[s + 1];
      dst[o + 2] = src[s + 2];
      dst[o + 3] = src[s + 3];
    }
  }
  return out;
}

/**
 * Lays images out in a grid, left to right then top to bottom. Every cell is
 * as large as the largest image; each image sits at its cell's top-left
 * corner, and `pad` pixels of background surround and separate the cells.
 *
 * @param images Images to place (at least one).
 * @param cols Number of columns (at least 1).
 * @param pad Gap in pixels (default 0).
 * @param background Colour of gaps and unused space (default white).
 * @returns A new image.
 *
 * @example Four crops in a 2x2 grid
 * ```ts
 * import { blank, tile } from "./draw.ts";
 *
 * const crops = [0, 1, 2, 3].map((i) => blank(16, 16, [i * 60, 0, 0]));
 * const grid = tile(crops, 2, 4);
 * console.log(grid.width, grid.height); // 44 44
 * ```
 */
export function tile(
  images: RgbaImage[],
  cols: number,
  pad = 0,
  background: Rgb = [255, 255, 255],
): RgbaImage {
  if (images.length === 0) throw new RangeError("tile: no images given");
  const c = Math.max(1, Math.min(Math.floor(cols), images.length));
  const rows = Math.ceil(images.length / c);
  const p = Math.max(0, Math.round(pad));
  const cellW = Math.max(...images.map((im) => im.width));
  const cellH = Math.max(...images.map((im) => im.height));
  const out = blank(
    c * cellW + (c + 1) * p,
    rows * cellH + (rows + 1) * p,
    background,
  );
  images.forEach((im, i) => {
    const col = i % c, row = Math.floor(i / c);
    blit(out, im, p + col * (cellW + p), p + row * (cellH + p));
  });
  return out;
}
