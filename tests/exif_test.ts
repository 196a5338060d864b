// EXIF orientation: the tag is read from a JPEG's APP1 segment (both byte
// orders) and the pixels are turned upright the way viewers show them.
import assert from "node:assert/strict";
import jpeg from "jpeg-js";
import { applyOrientation, jpegOrientation } from "../lib/image/exif.ts";
import { decodeImage } from "../lib/image/decode.ts";
import type { RgbaImage } from "../lib/image/rgba.ts";

/** A w x h image whose pixel (x, y) holds red = x, green = y. */
function coords(w: number, h: number): RgbaImage {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) data.set([x, y, 0, 255], (y * w + x) * 4);
  }
  return { width: w, height: h, data };
}

// Independent reference: each orientation as a composition of plain turns.
const at = (
  img: RgbaImage,
  x: number,
  y: number,
): number[] => [...img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4)];
function build(w: number, h: number, f: (x: number, y: number) => number[]): RgbaImage {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(f(x, y), (y * w + x) * 4);
  return { width: w, height: h, data };
}
const flipH = (i: RgbaImage) => build(i.width, i.height, (x, y) => at(i, i.width - 1 - x, y));
const flipV = (i: RgbaImage) => build(i.width, i.height, (x, y) => at(i, x, i.height - 1 - y));
const cw = (i: RgbaImage) => build(i.height, i.width, (x, y) => at(i, y, i.height - 1 - x));
const REFERENCE: Record<number, (i: RgbaImage) => RgbaImage> = {
  2: flipH,
  3: (i) => flipH(flipV(i)),
  4: flipV,
  5: (i) => flipH(cw(i)), // transpose
  6: cw,
  7: (i) => flipV(cw(i)), // transverse
  8: (i) => cw(cw(cw(i))),
};

Deno.test("applyOrientation matches plain turns and flips for orientations 2-8", () => {
  const img = coords(3, 2);
  assert.equal(applyOrientation(img, 1), img);
  for (let o = 2; o <= 8; o++) {
    const got = applyOrientation(img, o);
    const want = REFERENCE[o](img);
    assert.deepEqual([got.width, got.height], [want.width, want.height], `orientation ${o}`);
    assert.deepEqual([...got.data], [...want.data], `orientation ${o}`);
  }
});

/** A JPEG with an EXIF APP1 segment holding `orientation`, in either byte order. */
function jpegWithOrientation(orientation: number, little: boolean): Uint8Array {
  const img = coords(4, 2);
  const plain = new Uint8Array(jpeg.encode({ ...img, data: img.data }, 95).data);
  const u16 = (v: number) => little ? [v & 255, v >> 8] : [v >> 8, v & 255];
  const u32 = (v: number) =>
    little ? [v & 255, (v >> 8) & 255, 0, 0] : [0, 0, (v >> 8) & 255, v & 255];
  const tiff = [
    ...(little ? [0x49, 0x49] : [0x4d, 0x4d]),
    ...u16(42),
    ...u32(8),
    ...u16(1), // one IFD entry
    ...u16(0x0112),
    ...u16(3), // SHORT
    ...u32(1),
    ...u16(orientation),
    0,
    0,
    ...u32(0),
  ];
  const body = [0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff]; // "Exif\0\0"
  const len = body.length + 2;
  const app1 = [0xff, 0xe1, len >> 8, len & 255, ...body];
  return new Uint8Array([...plain.subarray(0, 2), ...app1, ...plain.subarray(2)]);
}

Deno.test("jpegOrientation reads the tag in both byte orders; decode turns upright on request", () => {
  for (const little of [true, false]) {
    for (const o of [1, 3, 6, 8]) assert.equal(jpegOrientation(jpegWithOrientation(o, little)), o);
  }
  const bytes = jpegWithOrientation(6, true);
  const stored = decodeImage(bytes, "phone.jpg");
  assert.deepEqual([stored.width, stored.height], [4, 2]);
  const upright = decodeImage(bytes, "phone.jpg", { upright: true });
  assert.deepEqual([upright.width, upright.height], [2, 4]);
  assert.equal(jpegOrientation(new Uint8Array([0xff, 0xd8, 0xff, 0xe1, 0, 1])), 1); // damaged
});
