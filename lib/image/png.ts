/**
 * A small PNG codec that needs no Deno permissions: chunk parsing, CRC-32,
 * filtering and Adam7 de-interlacing are done here, and (de)compression uses
 * `node:zlib`.
 *
 * Decoding accepts every colour type and bit depth the PNG specification
 * allows (gray 1/2/4/8/16, RGB 8/16, palette 1/2/4/8 with `tRNS`, gray+alpha
 * 8/16, RGBA 8/16), all five filter types and Adam7 interlacing, and always
 * returns 8-bit RGBA (16-bit samples keep their high byte). Encoding writes
 * 8-bit RGBA, RGB, gray or gray+alpha, non-interlaced.
 *
 * @module
 */

import { deflateSync, inflateSync } from "node:zlib";
import type { RgbaImage } from "./rgba.ts";

/** Largest image accepted by {@linkcode decodePng}: 2^26 pixels (64 Mi). */
export const PNG_MAX_PIXELS: number = 2 ** 26;

const SIGNATURE = new Uint8Array([
  0x89,
  0x50,
  0x4e,
  0x47,
  0x0d,
  0x0a,
  0x1a,
  0x0a,
]);

const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) {
      c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * CRC-32 (ISO 3309 / ITU-T V.42, polynomial 0xEDB88320) as used by PNG
 * chunks, zip and gzip.
 *
 * @param bytes Data to checksum.
 * @returns The CRC as an unsigned 32-bit integer.
 *
 * @example
 * ```ts
 * import { crc32 } from "./png.ts";
 *
 * console.log(crc32(new TextEncoder().encode("IEND")).toString(16)); // "ae426082"
 * ```
 */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

/** Options for {@linkcode encodePng}. */
export interface PngEncodeOptions {
  /**
   * Colour layout to write: `"rgba"` (default), `"rgb"` (alpha dropped),
   * `"gray"` (Rec. 601 luma, alpha dropped) or `"gray-alpha"`.
   */
  color?: "rgba" | "rgb" | "gray" | "gray-alpha";
  /**
   * Row filter: one fixed PNG filter for every row, or `"adaptive"` (default),
   * which picks per row the filter with the smallest sum of absolute values.
   */
  filter?: "none" | "sub" | "up" | "average" | "paeth" | "adaptive";
  /** zlib compression level 0..9 (default 6). */
  level?: number;
}

const FILTER_CODES = { none: 0, sub: 1, up: 2, average: 3, paeth: 4 } as const;
const COLOR_CODES = {
  "gray": 0,
  "rgb": 2,
  "gray-alpha": 4,
  "rgba": 6,
} as const;
const COLOR_CHANNELS = {
  "gray": 1,
  "rgb": 3,
  "gray-alpha": 2,
  "rgba": 4,
} as const;

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/** Writes `cur` filtered with `type` into `out` at `off`; `prev` is the row above. */
function filterRow(
  type: number,
  cur: Uint8Array,
  prev: Uint8Array,
  bpp: number,
  out: Uint8Array,
  off: number,
): void {
  const n = cur.length;
  for (let i = 0; i < n; i++) {
    const a = i >= bpp ? cur[i - bpp] : 0;
    const b = prev[i];
    const c = i >= bpp ? prev[i - bpp] : 0;
    let pred = 0;
    switch (type) {
      case 1:
        pred = a;
        break;
      case 2:
        pred = b;
        break;
      case 3:
        pred = (a + b) >> 1;
        break;
      case 4:
        pred = paeth(a, b, c);
        break;
    }
    out[off + i] = (cur[i] - pred) & 0xff;
  }
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encodes an RGBA image as an 8-bit, non-interlaced PNG.
 *
 * @param img Image to encode (`data` must hold `width * height * 4` bytes).
 * @param options Colour layout, filter and compression level.
 * @returns The PNG file bytes.
 * @throws {Error} When the dimensions or the data length are invalid.
 *
 * @example Write a 2x2 image as a PNG file
 * ```ts ignore
 * import { encodePng } from "./png.ts";
 *
 * const img = { width: 2, height: 2, data: new Uint8Array(16).fill(255) };
 * await Deno.writeFile("white.png", encodePng(img));
 * await Deno.writeFile("white_gray.png", encodePng(img, { color: "gray" }));
 * ```
 */
export function encodePng(
  img: RgbaImage,
  options: PngEncodeOptions = {},
): Uint8Array {
  const { width, height, data } = img;
  if (
    !Number.isInteger(width) || !Number.isInteger(height) || width < 1 ||
    height < 1 || width > 0x7fffffff || height > 0x7fffffff
  ) {
    throw new Error(`encodePng: invalid dimensions ${width}x${height}`);
  }
  if (data.length < width * height * 4) {
    throw new Error(
      `encodePng: data holds ${data.length} bytes, expected ${
        width * height * 4
      } for ${width}x${height} RGBA`,
    );
  }
  const color = options.color ?? "rgba";
  const channels = COLOR_CHANNELS[color];
  if (channels === undefined) {
    throw new Error(`encodePng: unknown color layout "${color}"`);
  }
  const filter = options.filter ?? "adaptive";
  if (filter !== "adaptive" && !(filter in FILTER_CODES)) {
    throw new Error(`encodePng: unknown filter "${filter}"`);
  }

  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1));
  let prev = new Uint8Array(stride);
  let cur = new Uint8Array(stride);
  const trial = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    // Convert one row of RGBA into the chosen layout.
    let s = y * width * 4;
    for (let x = 0, d = 0; x < width; x++, s += 4) {
      const r = data[s], g = data[s + 1], b = data[s + 2], a = data[s + 3];
      if (channels >= 3) {
        cur[d++] = r;
        cur[d++] = g;
        cur[d++] = b;
      } else {
        cur[d++] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
      }
      if (channels === 2 || channels === 4) cur[d++] = a;
    }
    const rowOff = y * (stride + 1);
    if (filter !== "adaptive") {
      raw[rowOff] = FILTER_CODES[filter];
      filterRow(raw[rowOff], cur, prev, channels, raw, rowOff + 1);
    } else {
      let bestType = 0;
      let bestCost = Infinity;
      for (let type = 0; type <= 4; type++) {
        filterRow(type, cur, prev, channels, trial, 0);
        let cost = 0;
        for (let i = 0; i < stride; i++) {
          const v = trial[i];
          cost += v < 128 ? v : 256 - v;
        }
        if (cost < bestCost) {
          bestCost = cost;
          bestType = type;
        }
      }
      raw[rowOff] = bestType;
      filterRow(bestType, cur, prev, channels, raw, rowOff + 1);
    }
    [prev, cur] = [cur, prev];
  }

  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = COLOR_CODES[color];
  // compression 0, filter method 0, interlace 0
  const idat = new Uint8Array(deflateSync(raw, { level: options.level ?? 6 }));
  const parts = [
    SIGNATURE,
    chunk("IHDR", ihdr),
    chunk("IDAT", idat),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

interface Header {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlace: number;
}

const CHANNELS_BY_TYPE: Record<number, number> = {
  0: 1,
  2: 3,
  3: 1,
  4: 2,
  6: 4,
};
const DEPTHS_BY_TYPE: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

/** Adam7 passes as [x0, y0, dx, dy]. */
const ADAM7: readonly (readonly [number, number, number, number])[] = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

interface Pass {
  x0: number;
  y0: number;
  dx: number;
  dy: number;
  w: number;
  h: number;
}

function passesFor(h: Header): Pass[] {
  if (h.interlace === 0) {
    return [{ x0: 0, y0: 0, dx: 1, dy: 1, w: h.width, h: h.height }];
  }
  return ADAM7.map(([x0, y0, dx, dy]) => ({
    x0,
    y0,
    dx,
    dy,
    w: h.width > x0 ? Math.ceil((h.width - x0) / dx) : 0,
    h: h.height > y0 ? Math.ceil((h.height - y0) / dy) : 0,
  }));
}

function rowBytes(width: number, bitsPerPixel: number): number {
  return Math.ceil((width * bitsPerPixel) / 8);
}

/** Undoes the PNG row filters of one pass in place. */
function unfilterPass(
  raw: Uint8Array,
  start: number,
  stride: number,
  rows: number,
  bpp: number,
  fail: (msg: string) => never,
): void {
  for (let r = 0; r < rows; r++) {
    const f = start + r * (stride + 1);
    const type = raw[f];
    const cur = f + 1;
    const prev = cur - (stride + 1); // only read when r > 0
    switch (type) {
      case 0:
        break;
      case 1:
        for (let i = bpp; i < stride; i++) {
          raw[cur + i] = (raw[cur + i] + raw[cur + i - bpp]) & 0xff;
        }
        break;
      case 2:
        if (r === 0) break;
        for (let i = 0; i < stride; i++) {
          raw[cur + i] = (raw[cur + i] + raw[prev + i]) & 0xff;
        }
        break;
      case 3:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? raw[cur + i - bpp] : 0;
          const b = r > 0 ? raw[prev + i] : 0;
          raw[cur + i] = (raw[cur + i] + ((a + b) >> 1)) & 0xff;
        }
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? raw[cur + i - bpp] : 0;
          const b = r > 0 ? raw[prev + i] : 0;
          const c = r > 0 && i >= bpp ? raw[prev + i - bpp] : 0;
          raw[cur + i] = (raw[cur + i] + paeth(a, b, c)) & 0xff;
        }
        break;
      default:
        fail(`invalid filter type ${type} in scanline ${r}`);
    }
  }
}

/** Expands the `count` samples of a row starting at `off` to full precision. */
function readSamples(
  raw: Uint8Array,
  off: number,
  count: number,
  depth: number,
  out: Uint16Array,
): void {
  if (depth === 8) {
    for (let i = 0; i < count; i++) out[i] = raw[off + i];
  } else if (depth === 16) {
    for (let i = 0; i < count; i++) {
      out[i] = (raw[off + 2 * i] << 8) | raw[off + 2 * i + 1];
    }
  } else {
    const mask = (1 << depth) - 1;
    for (let i = 0; i < count; i++) {
      const bit = i * depth;
      const shift = 8 - depth - (bit & 7);
      out[i] = (raw[off + (bit >> 3)] >> shift) & mask;
    }
  }
}

/**
 * Decodes a PNG file into 8-bit RGBA.
 *
 * Supports colour types 0 (gray), 2 (RGB), 3 (palette, with `tRNS`
 * transparency), 4 (gray+alpha) and 6 (RGBA) at every bit depth the
 * specification allows, all five filter types and Adam7 interlacing. Samples
 * below 8 bits are scaled up (gray 1 -> 255), 16-bit samples keep their high
 * byte, and `tRNS` on gray/RGB images makes matching pixels fully
 * transparent. Alpha is returned straight (not composited). Palette indices
 * past the end of `PLTE` decode as opaque black. Ancillary chunks are
 * skipped; gamma and colour profiles are ignored.
 *
 * Errors start with `name` (default `"PNG"`) and say what is wrong: bad
 * signature, truncated chunk, CRC mismatch, missing IHDR/IDAT/IEND/PLTE,
 * zero or too large dimensions (over {@linkcode PNG_MAX_PIXELS}), invalid
 * header values, corrupt zlib data, too little image data, bad filter type.
 * Needs no permissions.
 *
 * @param bytes Whole file contents.
 * @param name File name or path used in error messages.
 * @returns The decoded image; `data` is a `Uint8Array`.
 * @throws {Error} For anything that is not a complete, valid PNG.
 *
 * @example Round trip through the encoder
 * ```ts
 * import { decodePng, encodePng } from "./png.ts";
 *
 * const png = encodePng({ width: 1, height: 1, data: new Uint8Array([10, 20, 30, 255]) });
 * const img = decodePng(png, "pixel.png");
 * console.log(img.data); // Uint8Array [10, 20, 30, 255]
 * ```
 */
export function decodePng(bytes: Uint8Array, name?: string): RgbaImage {
  const who = name ?? "PNG";
  const fail = (msg: string): never => {
    throw new Error(`${who}: corrupt PNG: ${msg}`);
  };
  if (
    bytes.length < SIGNATURE.length ||
    !SIGNATURE.every((b, i) => bytes[i] === b)
  ) {
    throw new Error(`${who}: not a PNG file (bad signature)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  let header: Header | undefined;
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let idatBytes = 0;
  let sawEnd = false;

  let pos = SIGNATURE.length;
  while (pos < bytes.length) {
    if (pos + 8 > bytes.length) {
      fail(`truncated chunk header at offset ${pos} (file cut short?)`);
    }
    const length = view.getUint32(pos);
    const type = String.fromCharCode(
      bytes[pos + 4],
      bytes[pos + 5],
      bytes[pos + 6],
      bytes[pos + 7],
    );
    if (!/^[A-Za-z]{4}$/.test(type)) {
      fail(`invalid chunk type at offset ${pos}`);
    }
    if (length > 0x7fffffff) {
      fail(`chunk ${type} at offset ${pos} has invalid length ${length}`);
    }
    if (pos + 12 + length > bytes.length) {
      fail(
        `truncated ${type} chunk at offset ${pos}: needs ${12 + length} bytes, ${
          bytes.length - pos
        } left (file cut short?)`,
      );
    }
    const data = bytes.subarray(pos + 8, pos + 8 + length);
    const stored = view.getUint32(pos + 8 + length);
    const actual = crc32(bytes.subarray(pos + 4, pos + 8 + length));
    if (stored !== actual) {
      fail(
        `CRC mismatch in ${type} chunk at offset ${pos} (stored ${
          stored.toString(16).padStart(8, "0")
        }, computed ${actual.toString(16).padStart(8, "0")})`,
      );
    }
    if (header === undefined && type !== "IHDR") {
      fail(`missing IHDR chunk (first chunk is ${type})`);
    }
    switch (type) {
      case "IHDR":
        if (header !== undefined) fail("more than one IHDR chunk");
        header = parseHeader(data, who, fail);
        break;
      case "PLTE":
        if (length === 0 || length % 3 !== 0 || length > 768) {
          fail(`PLTE chunk has invalid length ${length}`);
        }
        palette = data;
        break;
      case "tRNS":
        trns = data;
        break;
      case "IDAT":
        idat.push(data);
        idatBytes += length;
        break;
      case "IEND":
        sawEnd = true;
        break;
      default:
        // Uppercase first letter = critical chunk we would need to understand.
        if (type.charCodeAt(0) < 97) {
          fail(`unknown critical chunk ${type} at offset ${pos}`);
        }
    }
    pos += 12 + length;
    if (sawEnd) break;
  }
  if (header === undefined) fail("missing IHDR chunk");
  const h = header as Header;
  if (!sawEnd) fail("missing IEND chunk (file cut short?)");
  if (idat.length === 0) fail("missing IDAT chunk (no image data)");
  if (h.colorType === 3 && palette === undefined) {
    fail("missing PLTE chunk for a palette image");
  }

  const channels = CHANNELS_BY_TYPE[h.colorType];
  const bitsPerPixel = channels * h.depth;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const passes = passesFor(h);
  let expected = 0;
  for (const p of passes) {
    if (p.w > 0 && p.h > 0) expected += p.h * (rowBytes(p.w, bitsPerPixel) + 1);
  }

  const compressed = idat.length === 1 ? idat[0] : concat(idat, idatBytes);
  let raw: Uint8Array;
  try {
    // The cap guards against decompression bombs; a little slack is allowed
    // for encoders that leave harmless trailing bytes.
    raw = inflateSync(compressed, { maxOutputLength: expected + 65536 });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (err instanceof RangeError) {
      fail(
        `decompressed image data is larger than the expected ${expected} bytes`,
      );
    }
    throw new Error(`${who}: corrupt PNG: corrupt zlib data in IDAT: ${msg}`, {
      cause: err,
    });
  }
  if (raw.length < expected) {
    fail(
      `image data too short: ${raw.length} of ${expected} bytes after decompression (file cut short?)`,
    );
  }

  const { width, height } = h;
  const out = new Uint8Array(width * height * 4);
  const samples = new Uint16Array(width * channels);
  const depth = h.depth;
  const maxVal = (1 << depth) - 1;
  // Scale factor for gray samples below 8 bits (1 -> 255, 2 -> 85, 4 -> 17).
  const grayScale = depth < 8 ? 255 / maxVal : 1;
  const shift16 = depth === 16 ? 8 : 0;

  let trnsGray = -1;
  let trnsR = -1, trnsG = -1, trnsB = -1;
  let palAlpha: Uint8Array | undefined;
  if (trns !== undefined) {
    const tv = new DataView(trns.buffer, trns.byteOffset, trns.byteLength);
    if (h.colorType === 0 && trns.length >= 2) {
      trnsGray = tv.getUint16(0) & maxVal;
    } else if (h.colorType === 2 && trns.length >= 6) {
      trnsR = tv.getUint16(0);
      trnsG = tv.getUint16(2);
      trnsB = tv.getUint16(4);
    } else if (h.colorType === 3) {
      palAlpha = trns;
    }
  }
  const pal = palette ?? new Uint8Array(0);
  const palCount = pal.length / 3;

  let start = 0;
  for (const p of passes) {
    if (p.w === 0 || p.h === 0) continue;
    const stride = rowBytes(p.w, bitsPerPixel);
    unfilterPass(raw, start, stride, p.h, bpp, fail);
    const count = p.w * channels;
    for (let r = 0; r < p.h; r++) {
      readSamples(raw, start + r * (stride + 1) + 1, count, depth, samples);
      const y = p.y0 + r * p.dy;
      let o = (y * width + p.x0) * 4;
      const step = p.dx * 4;
      for (let i = 0, s = 0; i < p.w; i++, o += step) {
        switch (h.colorType) {
          case 0: {
            const v = samples[s++];
            const g = depth < 8 ? Math.round(v * grayScale) : v >> shift16;
            out[o] = out[o + 1] = out[o + 2] = g;
            out[o + 3] = v === trnsGray ? 0 : 255;
            break;
          }
          case 2: {
            const r0 = samples[s++], g0 = samples[s++], b0 = samples[s++];
            out[o] = r0 >> shift16;
            out[o + 1] = g0 >> shift16;
            out[o + 2] = b0 >> shift16;
            out[o + 3] = r0 === trnsR && g0 === trnsG && b0 === trnsB ? 0 : 255;
            break;
          }
          case 3: {
            const idx = samples[s++];
            if (idx < palCount) {
              out[o] = pal[idx * 3];
              out[o + 1] = pal[idx * 3 + 1];
              out[o + 2] = pal[idx * 3 + 2];
              out[o + 3] = palAlpha !== undefined && idx < palAlpha.length ? palAlpha[idx] : 255;
            } else {
              out[o] = out[o + 1] = out[o + 2] = 0;
              out[o + 3] = 255;
            }
            break;
          }
          case 4: {
            const g = samples[s++] >> shift16;
            out[o] = out[o + 1] = out[o + 2] = g;
            out[o + 3] = samples[s++] >> shift16;
            break;
          }
          default: {
            out[o] = samples[s++] >> shift16;
            out[o + 1] = samples[s++] >> shift16;
            out[o + 2] = samples[s++] >> shift16;
            out[o + 3] = samples[s++] >> shift16;
          }
        }
      }
    }
    start += p.h * (stride + 1);
  }
  return { width, height, data: out };
}

function parseHeader(
  data: Uint8Array,
  who: string,
  fail: (msg: string) => never,
): Header {
  if (data.length !== 13) fail(`IHDR chunk has length ${data.length}, not 13`);
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const width = v.getUint32(0);
  const height = v.getUint32(4);
  const depth = data[8];
  const colorType = data[9];
  if (width === 0 || height === 0) {
    fail(`zero image dimension (${width}x${height})`);
  }
  if (width > 0x7fffffff || height > 0x7fffffff) {
    fail(`image dimension out of range (${width}x${height})`);
  }
  if (width * height > PNG_MAX_PIXELS) {
    throw new Error(
      `${who}: PNG too large: ${width}x${height} exceeds the limit of ${PNG_MAX_PIXELS} pixels`,
    );
  }
  const depths = DEPTHS_BY_TYPE[colorType];
  if (depths === undefined) fail(`invalid color type ${colorType}`);
  if (!depths.includes(depth)) {
    fail(`invalid bit depth ${depth} for color type ${colorType}`);
  }
  if (data[10] !== 0) fail(`unknown compression method ${data[10]}`);
  if (data[11] !== 0) fail(`unknown filter method ${data[11]}`);
  if (data[12] > 1) fail(`unknown interlace method ${data[12]}`);
  return { width, height, depth, colorType, interlace: data[12] };
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
