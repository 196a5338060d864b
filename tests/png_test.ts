// Tests for lib/image/png.ts. PNG files are built here byte by byte (scanlines
// packed, filtered and interlaced by code in this file, compressed with
// node:zlib) so the decoder is checked against an independent writer.
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { crc32, decodePng, encodePng, PNG_MAX_PIXELS } from "../lib/image/png.ts";
import type { RgbaImage } from "../lib/image/decode.ts";

const SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function u32(n: number): number[] {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

function chunk(type: string, data: Uint8Array | number[]): number[] {
  const body = [...type].map((c) => c.charCodeAt(0)).concat([...data]);
  return [...u32(data.length), ...body, ...u32(crc32(new Uint8Array(body)))];
}

function ihdr(
  w: number,
  h: number,
  depth: number,
  colorType: number,
  interlace = 0,
): number[] {
  return chunk("IHDR", [
    ...u32(w),
    ...u32(h),
    depth,
    colorType,
    0,
    0,
    interlace,
  ]);
}

function png(...chunks: number[][]): Uint8Array {
  return new Uint8Array([...SIG, ...chunks.flat()]);
}

/** Packs one row of samples (MSB first for depths below 8, big-endian for 16). */
function packRow(samples: number[], depth: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((samples.length * depth) / 8));
  samples.forEach((v, i) => {
    if (depth === 16) {
      out[2 * i] = v >> 8;
      out[2 * i + 1] = v & 255;
    } else if (depth === 8) {
      out[i] = v;
    } else {
      const bit = i * depth;
      out[bit >> 3] |= v << (8 - depth - (bit & 7));
    }
  });
  return out;
}

function predictor(type: number, a: number, b: number, c: number): number {
  if (type === 1) return a;
  if (type === 2) return b;
  if (type === 3) return Math.floor((a + b) / 2);
  if (type === 4) {
    const p = a + b - c;
    const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
  }
  return 0;
}

/** Filters packed rows, row r using filter (r + shift) % 5; returns scanlines. */
function filterRows(rows: Uint8Array[], bpp: number, shift: number): number[] {
  const out: number[] = [];
  rows.forEach((row, r) => {
    const type = (r + shift) % 5;
    const prev = r > 0 ? rows[r - 1] : new Uint8Array(row.length);
    out.push(type);
    for (let i = 0; i < row.length; i++) {
      const a = i >= bpp ? row[i - bpp] : 0;
      const c = i >= bpp ? prev[i - bpp] : 0;
      out.push((row[i] - predictor(type, a, prev[i], c)) & 255);
    }
  });
  return out;
}

const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/** Builds the uncompressed image data for samples[y][x] = channel values. */
function imageData(
  samples: number[][][],
  w: number,
  h: number,
  depth: number,
  channels: number,
  interlace: boolean,
  shift: number,
): number[] {
  const bpp = Math.max(1, (depth * channels) >> 3);
  const passes = interlace ? ADAM7 : [[0, 0, 1, 1]];
  const out: number[] = [];
  for (const [x0, y0, dx, dy] of passes) {
    const rows: Uint8Array[] = [];
    for (let y = y0; y < h; y += dy) {
      const row: number[] = [];
      for (let x = x0; x < w; x += dx) row.push(...samples[y][x]);
      if (row.length > 0) rows.push(packRow(row, depth));
    }
    out.push(...filterRows(rows, bpp, shift));
  }
  return out;
}

interface Case {
  colorType: number;
  depth: number;
}

const CASES: Case[] = [
  ...[1, 2, 4, 8, 16].map((depth) => ({ colorType: 0, depth })),
  ...[8, 16].map((depth) => ({ colorType: 2, depth })),
  ...[1, 2, 4, 8].map((depth) => ({ colorType: 3, depth })),
  ...[8, 16].map((depth) => ({ colorType: 4, depth })),
  ...[8, 16].map((depth) => ({ colorType: 6, depth })),
];
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Makes a random image for a case, its PNG bytes and the expected RGBA. */
function buildCase(
  c: Case,
  w: number,
  h: number,
  interlace: boolean,
  seed: number,
  withTrns: boolean,
): { bytes: Uint8Array; expected: Uint8Array } {
  const rand = rng(seed);
  const channels = CHANNELS[c.colorType];
  const max = (1 << c.depth) - 1;
  const palSize = c.colorType === 3 ? Math.min(256, 1 << c.depth) : 0;
  const palette: number[] = [];
  for (let i = 0; i < palSize * 3; i++) palette.push(Math.floor(rand() * 256));
  const palAlpha: number[] = [];
  for (let i = 0; i < Math.max(1, palSize >> 1); i++) {
    palAlpha.push(Math.floor(rand() * 256));
  }
  const samples: number[][][] = [];
  for (let y = 0; y < h; y++) {
    const row: number[][] = [];
    for (let x = 0; x < w; x++) {
      const px: number[] = [];
      for (let k = 0; k < channels; k++) {
        px.push(
          c.colorType === 3 ? Math.floor(rand() * palSize) : Math.floor(rand() * (max + 1)),
        );
      }
      row.push(px);
    }
    samples.push(row);
  }
  // Transparent key colour = the first pixel's value.
  const key = samples[0][0];
  const chunks: number[][] = [
    ihdr(w, h, c.depth, c.colorType, interlace ? 1 : 0),
  ];
  if (c.colorType === 3) {
    chunks.push(chunk("PLTE", palette));
    if (withTrns) chunks.push(chunk("tRNS", palAlpha));
  } else if (withTrns && c.colorType === 0) {
    chunks.push(chunk("tRNS", [key[0] >> 8, key[0] & 255]));
  } else if (withTrns && c.colorType === 2) {
    chunks.push(chunk("tRNS", key.flatMap((v) => [v >> 8, v & 255])));
  }
  chunks.push(chunk("tEXt", [...new TextEncoder().encode("Comment\0test")]));
  const raw = imageData(samples, w, h, c.depth, channels, interlace, seed % 5);
  const z = deflateSync(new Uint8Array(raw));
  // Split the stream over up to three IDAT chunks.
  const cut1 = Math.floor(z.length / 3), cut2 = Math.floor((2 * z.length) / 3);
  chunks.push(chunk("IDAT", z.subarray(0, cut1)));
  chunks.push(chunk("IDAT", z.subarray(cut1, cut2)));
  chunks.push(chunk("IDAT", z.subarray(cut2)));
  chunks.push(chunk("IEND", []));

  const to8 = (v: number): number =>
    c.depth === 16 ? v >> 8 : c.depth === 8 ? v : Math.round((v * 255) / max);
  const expected = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = samples[y][x];
      const o = (y * w + x) * 4;
      let rgba: number[];
      if (c.colorType === 0) {
        rgba = [
          to8(s[0]),
          to8(s[0]),
          to8(s[0]),
          withTrns && s[0] === key[0] ? 0 : 255,
        ];
      } else if (c.colorType === 2) {
        const isKey = withTrns && s.every((v, i) => v === key[i]);
        rgba = [to8(s[0]), to8(s[1]), to8(s[2]), isKey ? 0 : 255];
      } else if (c.colorType === 3) {
        const i = s[0];
        const a = withTrns && i < palAlpha.length ? palAlpha[i] : 255;
        rgba = [palette[3 * i], palette[3 * i + 1], palette[3 * i + 2], a];
      } else if (c.colorType === 4) {
        rgba = [to8(s[0]), to8(s[0]), to8(s[0]), to8(s[1])];
      } else {
        rgba = s.map(to8);
      }
      expected.set(rgba, o);
    }
  }
  return { bytes: png(...chunks), expected };
}

Deno.test("crc32 matches known values", () => {
  assert.equal(crc32(new TextEncoder().encode("IEND")), 0xae426082);
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

for (const c of CASES) {
  for (const interlace of [false, true]) {
    const label = `type ${c.colorType} depth ${c.depth}${interlace ? " Adam7" : ""}`;
    Deno.test(`decodePng: ${label}, all filters, several sizes`, () => {
      const sizes = [[13, 11], [1, 1], [3, 2], [9, 1], [1, 9], [17, 17]];
      sizes.forEach(([w, h], k) => {
        for (const withTrns of [false, true]) {
          const seed = 1000 * c.colorType + 10 * c.depth + k +
            (withTrns ? 7 : 0) +
            (interlace ? 3 : 0);
          const { bytes, expected } = buildCase(
            c,
            w,
            h,
            interlace,
            seed,
            withTrns,
          );
          const img = decodePng(bytes, "case.png");
          assert.equal(img.width, w);
          assert.equal(img.height, h);
          assert.deepEqual(
            Array.from(img.data),
            Array.from(expected),
            `${label} ${w}x${h} tRNS=${withTrns}`,
          );
        }
      });
    });
  }
}

function sampleImage(w: number, h: number, seed: number): RgbaImage {
  const rand = rng(seed);
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < data.length; i++) {
    // Smooth-ish content with noise so every filter gets picked sometimes.
    const p = i >> 2;
    data[i] = ((p % w) * 7 + Math.floor(p / w) * 3 + (i & 3) * 50 +
      Math.floor(rand() * 20)) & 255;
  }
  return { width: w, height: h, data };
}

Deno.test("encodePng -> decodePng round trip for every layout and filter", () => {
  const img = sampleImage(23, 17, 5);
  const filters = [
    "none",
    "sub",
    "up",
    "average",
    "paeth",
    "adaptive",
  ] as const;
  for (const filter of filters) {
    const rgba = decodePng(encodePng(img, { filter }), "rt.png");
    assert.deepEqual(Array.from(rgba.data), Array.from(img.data), filter);

    const rgb = decodePng(encodePng(img, { filter, color: "rgb" }));
    const gray = decodePng(encodePng(img, { filter, color: "gray" }));
    const ga = decodePng(
      encodePng(img, { filter, color: "gray-alpha", level: 9 }),
    );
    for (let i = 0; i < 23 * 17; i++) {
      const [r, g, b, a] = img.data.subarray(4 * i, 4 * i + 4);
      assert.deepEqual([...rgb.data.subarray(4 * i, 4 * i + 4)], [
        r,
        g,
        b,
        255,
      ]);
      const l = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
      assert.deepEqual([...gray.data.subarray(4 * i, 4 * i + 4)], [
        l,
        l,
        l,
        255,
      ]);
      assert.deepEqual([...ga.data.subarray(4 * i, 4 * i + 4)], [l, l, l, a]);
    }
  }
});

Deno.test("encodePng writes a valid header and CRCs, accepts clamped data", () => {
  const img: RgbaImage = {
    width: 3,
    height: 2,
    data: new Uint8ClampedArray(24).fill(200),
  };
  const bytes = encodePng(img, { color: "gray" });
  assert.deepEqual([...bytes.subarray(0, 8)], SIG);
  assert.equal(String.fromCharCode(...bytes.subarray(12, 16)), "IHDR");
  assert.deepEqual([...bytes.subarray(16, 29)], [
    0,
    0,
    0,
    3,
    0,
    0,
    0,
    2,
    8,
    0,
    0,
    0,
    0,
  ]);
  assert.deepEqual([...bytes.subarray(bytes.length - 12)], [
    0,
    0,
    0,
    0,
    0x49,
    0x45,
    0x4e,
    0x44,
    0xae,
    0x42,
    0x60,
    0x82,
  ]);
  assert.deepEqual(
    [...decodePng(bytes).data],
    [...new Uint8Array(24).fill(200)].map((v, i) => i % 4 === 3 ? 255 : v),
  );
  assert.throws(
    () => encodePng({ width: 2, height: 2, data: new Uint8Array(3) }),
    /expected 16/,
  );
  assert.throws(
    () => encodePng({ width: 0, height: 2, data: new Uint8Array(0) }),
    /invalid dimensions/,
  );
});

// --- errors --------------------------------------------------------------

function goodPng(): Uint8Array {
  return encodePng(sampleImage(8, 6, 1));
}

Deno.test("decodePng: bad signature names the file", () => {
  const bytes = goodPng();
  bytes[1] = 0x51;
  assert.throws(
    () => decodePng(bytes, "photos/a.png"),
    /^Error: photos\/a\.png: not a PNG file \(bad signature\)/,
  );
  assert.throws(
    () => decodePng(new Uint8Array(3), "tiny.png"),
    /tiny\.png: not a PNG/,
  );
});

Deno.test("decodePng: CRC mismatch names the file and chunk", () => {
  const bytes = goodPng();
  // IHDR occupies 8..33; the first IDAT data byte is at 33 + 8.
  bytes[33 + 8 + 2] ^= 0x40;
  assert.throws(
    () => decodePng(bytes, "bad.png"),
    /bad\.png: corrupt PNG: CRC mismatch in IDAT chunk at offset 33/,
  );
  const b2 = goodPng();
  b2[20] ^= 1; // inside IHDR
  assert.throws(
    () => decodePng(b2, "bad2.png"),
    /bad2\.png: .*CRC mismatch in IHDR/,
  );
});

Deno.test("decodePng: every truncation is an error naming the file", () => {
  const bytes = goodPng();
  for (let n = 8; n < bytes.length; n++) {
    assert.throws(
      () => decodePng(bytes.subarray(0, n), "cut.png"),
      (err: Error) => {
        assert.match(err.message, /^cut\.png: corrupt PNG: /);
        assert.match(
          err.message,
          /truncated|missing IEND|missing IHDR|cut short/,
        );
        return true;
      },
      `cut at ${n}`,
    );
  }
  assert.throws(
    () => decodePng(bytes.subarray(0, 45), "c.png"),
    /truncated IDAT chunk at offset 33/,
  );
});

Deno.test("decodePng: missing chunks", () => {
  const z = [...deflateSync(new Uint8Array([0, 1]))];
  assert.throws(
    () => decodePng(png(chunk("IDAT", z), chunk("IEND", [])), "m.png"),
    /m\.png: corrupt PNG: missing IHDR chunk \(first chunk is IDAT\)/,
  );
  assert.throws(
    () => decodePng(png(ihdr(1, 1, 8, 0), chunk("IEND", [])), "m.png"),
    /m\.png: corrupt PNG: missing IDAT chunk/,
  );
  assert.throws(
    () => decodePng(png(ihdr(1, 1, 8, 0), chunk("IDAT", z)), "m.png"),
    /missing IEND/,
  );
  assert.throws(
    () =>
      decodePng(
        png(ihdr(1, 1, 8, 3), chunk("IDAT", z), chunk("IEND", [])),
        "m.png",
      ),
    /missing PLTE/,
  );
  assert.throws(
    () => decodePng(new Uint8Array(SIG), "e.png"),
    /e\.png: corrupt PNG: missing IHDR/,
  );
});

Deno.test("decodePng: bad header values and dimensions", () => {
  const z = [...deflateSync(new Uint8Array([0, 1]))];
  const file = (h: number[]) => png(h, chunk("IDAT", z), chunk("IEND", []));
  assert.throws(
    () => decodePng(file(ihdr(0, 5, 8, 0)), "z.png"),
    /z\.png: corrupt PNG: zero image dimension \(0x5\)/,
  );
  assert.throws(
    () => decodePng(file(ihdr(5, 0, 8, 0)), "z.png"),
    /zero image dimension/,
  );
  assert.throws(
    () => decodePng(file(ihdr(100000, 100000, 8, 0)), "big.png"),
    new RegExp(
      `big\\.png: PNG too large: 100000x100000 exceeds the limit of ${PNG_MAX_PIXELS}`,
    ),
  );
  assert.throws(
    () => decodePng(file(ihdr(0x80000000, 1, 8, 0)), "big.png"),
    /out of range/,
  );
  assert.throws(
    () => decodePng(file(ihdr(1, 1, 16, 3)), "d.png"),
    /invalid bit depth 16 for color type 3/,
  );
  assert.throws(
    () => decodePng(file(ihdr(1, 1, 4, 2)), "d.png"),
    /invalid bit depth 4 for color type 2/,
  );
  assert.throws(
    () => decodePng(file(ihdr(1, 1, 8, 5)), "d.png"),
    /invalid color type 5/,
  );
  assert.throws(
    () => decodePng(file(ihdr(1, 1, 8, 0, 2)), "d.png"),
    /unknown interlace method 2/,
  );
  assert.throws(
    () => decodePng(file(chunk("IHDR", [0, 0, 0, 1])), "d.png"),
    /IHDR chunk has length 4/,
  );
});

Deno.test("decodePng: corrupt zlib, short data, bad filter, unknown critical chunk", () => {
  const head = ihdr(2, 2, 8, 0);
  const end = chunk("IEND", []);
  assert.throws(
    () => decodePng(png(head, chunk("IDAT", [1, 2, 3, 4, 5]), end), "z.png"),
    /z\.png: corrupt PNG: corrupt zlib data in IDAT/,
  );
  const full = deflateSync(new Uint8Array([0, 1, 2, 0, 3, 4]));
  assert.throws(
    () =>
      decodePng(
        png(head, chunk("IDAT", full.subarray(0, full.length - 4)), end),
        "z.png",
      ),
    /corrupt zlib data/,
  );
  const short = [...deflateSync(new Uint8Array([0, 1, 2]))];
  assert.throws(
    () => decodePng(png(head, chunk("IDAT", short), end), "s.png"),
    /s\.png: corrupt PNG: image data too short: 3 of 6 bytes/,
  );
  const badFilter = [...deflateSync(new Uint8Array([0, 1, 2, 7, 3, 4]))];
  assert.throws(
    () => decodePng(png(head, chunk("IDAT", badFilter), end), "f.png"),
    /f\.png: corrupt PNG: invalid filter type 7 in scanline 1/,
  );
  const ok = [...deflateSync(new Uint8Array([0, 1, 2, 0, 3, 4]))];
  assert.throws(
    () => decodePng(png(head, chunk("ABCD", []), chunk("IDAT", ok), end), "c.png"),
    /unknown critical chunk ABCD/,
  );
  // A large decompressed stream is refused (decompression bomb guard).
  const bomb = [...deflateSync(new Uint8Array(200000))];
  assert.throws(
    () => decodePng(png(head, chunk("IDAT", bomb), end), "b.png"),
    /larger than the expected 6 bytes/,
  );
  // Unknown ancillary chunks are skipped, tiny trailing slack is accepted.
  const slack = [...deflateSync(new Uint8Array([0, 1, 2, 0, 3, 4, 0, 0]))];
  const img = decodePng(
    png(head, chunk("abCD", [9]), chunk("IDAT", slack), end),
  );
  assert.deepEqual([...img.data], [
    1,
    1,
    1,
    255,
    2,
    2,
    2,
    255,
    3,
    3,
    3,
    255,
    4,
    4,
    4,
    255,
  ]);
});

Deno.test("decodePng: out-of-range palette index is opaque black; default name", () => {
  const z = [...deflateSync(new Uint8Array([0, 0, 5]))];
  const img = decodePng(
    png(
      ihdr(2, 1, 8, 3),
      chunk("PLTE", [10, 20, 30]),
      chunk("IDAT", z),
      chunk("IEND", []),
    ),
  );
  assert.deepEqual([...img.data], [10, 20, 30, 255, 0, 0, 0, 255]);
  assert.throws(
    () => decodePng(new Uint8Array(10)),
    /^Error: PNG: not a PNG file/,
  );
});
