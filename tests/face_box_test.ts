import assert from "node:assert/strict";
import { transformPoints } from "../lib/image/affine.ts";
import {
  type Box,
  boxFromPoints,
  checkBox,
  cropAffine,
  cropFace,
  enlargeBox,
  jitterBox,
  squareBox,
} from "../lib/data/face_box.ts";
import { createRng } from "../lib/util/random.ts";
import { type FloatImage, resize, warpAffine } from "../lib/image/raster.ts";

function close(a: number, b: number, eps = 1e-5): boolean {
  return Math.abs(a - b) <= eps;
}

function assertBox(actual: Box, expected: Box): void {
  for (const k of ["x", "y", "w", "h"] as const) {
    assert.ok(close(actual[k], expected[k]), `${k}: ${actual[k]} vs ${expected[k]}`);
  }
}

/** A dark image with a bright Gaussian dot centred on pixel-centre point (px, py). */
function dotImage(w: number, h: number, px: number, py: number, channels = 1): FloatImage {
  const data = new Float32Array(w * h * channels);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = 20 + 230 * Math.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * 1.2 ** 2));
      for (let c = 0; c < channels; c++) data[(y * w + x) * channels + c] = v;
    }
  }
  return { data, width: w, height: h, channels };
}

function brightest(img: FloatImage): [number, number] {
  let best = -Infinity, at = 0;
  for (let i = 0; i < img.width * img.height; i++) {
    if (img.data[i * img.channels] > best) {
      best = img.data[i * img.channels];
      at = i;
    }
  }
  return [at % img.width, Math.floor(at / img.width)];
}

Deno.test("boxFromPoints: tight box in continuous coordinates", () => {
  assertBox(boxFromPoints([0, 0, 10, 4]), { x: 0.5, y: 0.5, w: 10, h: 4 });
  assertBox(boxFromPoints([5, 7, 2, 9, 3, 1]), { x: 2.5, y: 1.5, w: 3, h: 8 });
  assert.throws(() => boxFromPoints([]), /at least one point/);
  assert.throws(() => boxFromPoints([1, NaN], "f.pts"), /f\.pts: point 0 is not finite/);
});

Deno.test("enlargeBox adds the fraction per side; squareBox keeps the centre", () => {
  assertBox(enlargeBox({ x: 10, y: 20, w: 100, h: 50 }, 0.1), { x: 0, y: 15, w: 120, h: 60 });
  assertBox(enlargeBox({ x: 10, y: 20, w: 100, h: 50 }, -0.25), { x: 35, y: 32.5, w: 50, h: 25 });
  assert.throws(() => enlargeBox({ x: 0, y: 0, w: 1, h: 1 }, -0.5), /above -0\.5/);
  assertBox(squareBox({ x: 0, y: 10, w: 40, h: 20 }), { x: 0, y: 0, w: 40, h: 40 });
  assertBox(squareBox({ x: 5, y: 0, w: 10, h: 30 }), { x: -5, y: 0, w: 30, h: 30 });
});

Deno.test("jitterBox: shifts and scales within the ranges, reproducibly", () => {
  const box = { x: 100, y: 50, w: 80, h: 80 };
  for (let seed = 0; seed < 50; seed++) {
    const b = jitterBox(box, createRng(seed), { shift: 0.1, scale: 0.2 });
    assert.ok(close(b.w, b.h), "stays square");
    assert.ok(b.w >= 64 && b.w <= 96, `size ${b.w}`);
    const cx = b.x + b.w / 2, cy = b.y + b.h / 2;
    assert.ok(Math.abs(cx - 140) <= 8 && Math.abs(cy - 90) <= 8, `centre ${cx},${cy}`);
  }
  assert.deepEqual(jitterBox(box, createRng(7)), jitterBox(box, createRng(7)));
  assertBox(jitterBox(box, createRng(1), { shift: 0, scale: 0 }), box);
  assert.throws(() => jitterBox(box, createRng(1), { shift: -1, scale: 0 }), /shift >= 0/);
});

Deno.test("cropAffine maps the box onto [0, outSize]^2", () => {
  const m = cropAffine({ x: 10, y: 20, w: 200, h: 100 }, 50);
  const corners = transformPoints(m, [9.5, 19.5, 209.5, 119.5]); // pixel-centre of the corners
  assert.deepEqual(Array.from(corners), [-0.5, -0.5, 49.5, 49.5]);
});

Deno.test("checkBox / cropFace: bad boxes and images give clear errors naming the sample", () => {
  const img = dotImage(20, 20, 10, 10);
  assert.throws(
    () => checkBox({ x: 0, y: 0, w: 0, h: 5 }, "s1"),
    /s1: face box must have a positive size, got 0x5/,
  );
  const bad: [Box, RegExp][] = [
    [{ x: 0, y: 0, w: 0, h: 10 }, /face1: face box must have a positive size/],
    [{ x: 0, y: 0, w: 10, h: -3 }, /face1: face box must have a positive size/],
    [{ x: NaN, y: 0, w: 10, h: 10 }, /face1: face box has a non-finite value/],
    [{ x: 0, y: 0, w: Infinity, h: 10 }, /face1: face box has a non-finite value/],
    [{ x: 20, y: 0, w: 10, h: 10 }, /face1: face box .* lies entirely outside the 20x20 image/],
    [{ x: -15, y: -15, w: 15, h: 10 }, /face1: .*entirely outside/],
  ];
  for (const [box, re] of bad) {
    assert.throws(() => cropFace(img, [10, 10], box, 16, { name: "face1" }), re);
  }
  assert.throws(
    () => cropFace(img, [10, 10], { x: 0, y: 0, w: 10, h: 10 }, 0, { name: "face1" }),
    /face1: crop size must be a positive integer/,
  );
  const empty = { data: new Float32Array(0), width: 0, height: 0, channels: 1 };
  assert.throws(
    () => cropFace(empty, [0, 0], { x: 0, y: 0, w: 1, h: 1 }, 4, { name: "e" }),
    /e: cannot crop an empty/,
  );
});

Deno.test("cropFace on a 1x1 image: the pixel lands in the middle, padding around", () => {
  const img = { data: new Float32Array([200, 100, 50]), width: 1, height: 1, channels: 3 };
  const out = cropFace(img, [0, 0], { x: -1, y: -1, w: 3, h: 3 }, 3);
  assert.deepEqual(Array.from(out.points), [1, 1]);
  assert.deepEqual(Array.from(out.image.data.slice(12, 15)), [200, 100, 50]); // pixel (1, 1)
  assert.deepEqual(Array.from(out.image.data.slice(0, 3)), [0, 0, 0]);
  // A strong shrink of a 1x1 image works too (downscale path).
  const small = cropFace(img, [0, 0], { x: -10, y: -10, w: 21, h: 21 }, 4);
  assert.equal(small.image.width, 4);
  assert.ok(small.points.every(Number.isFinite));
});

Deno.test("cropFace keeps points exact: brightest crop pixel within 1 px of the moved point", () => {
  const cases: {
    name: string;
    w: number;
    h: number;
    p: [number, number];
    box: Box;
    out: number;
  }[] = [
    { name: "upscale", w: 60, h: 50, p: [30.3, 20.6], box: { x: 10, y: 5, w: 40, h: 40 }, out: 64 },
    { name: "same scale", w: 60, h: 50, p: [12, 33], box: { x: 0, y: 10, w: 40, h: 40 }, out: 40 },
    // The box sticks out of the image on the left/top; the dot is 1.5 px from
    // the image border, right next to the padded region.
    {
      name: "partly outside",
      w: 80,
      h: 60,
      p: [1.5, 2],
      box: { x: -30, y: -25, w: 70, h: 70 },
      out: 56,
    },
    // Shrink by 4x (antialiased path), box past the right and bottom edges.
    {
      name: "shrink 4x",
      w: 200,
      h: 160,
      p: [196, 150.5],
      box: { x: 100, y: 80, w: 160, h: 160 },
      out: 40,
    },
    {
      name: "shrink 5x, rgb",
      w: 240,
      h: 200,
      p: [3, 197],
      box: { x: -60, y: 60, w: 200, h: 200 },
      out: 40,
    },
  ];
  for (const c of cases) {
    const img = dotImage(c.w, c.h, c.p[0], c.p[1], c.name.includes("rgb") ? 3 : 1);
    const crop = cropFace(img, c.p, c.box, c.out, { name: c.name });
    assert.equal(crop.image.width, c.out);
    assert.equal(crop.image.height, c.out);
    const expected = transformPoints(cropAffine(c.box, c.out), c.p);
    assert.deepEqual(crop.points, expected, `${c.name}: points moved by the crop matrix`);
    assert.deepEqual(crop.matrix, cropAffine(c.box, c.out));
    const [bx, by] = brightest(crop.image);
    const d = Math.hypot(bx - crop.points[0], by - crop.points[1]);
    assert.ok(
      d <= 1,
      `${c.name}: brightest pixel (${bx}, ${by}) vs point ${crop.points} (${d} px)`,
    );
    // Outside the image the crop is padded with 0 (not clamped edge pixels).
    const inv = (ox: number, oy: number) => [
      c.box.x + (ox + 0.5) * c.box.w / c.out,
      c.box.y + (oy + 0.5) * c.box.h / c.out,
    ];
    for (const [ox, oy] of [[0, 0], [c.out - 1, c.out - 1], [0, c.out - 1], [c.out - 1, 0]]) {
      const [sx, sy] = inv(ox, oy);
      if (sx < -1 || sy < -1 || sx > c.w + 1 || sy > c.h + 1) {
        assert.equal(crop.image.data[(oy * c.out + ox) * img.channels], 0, `${c.name}: padding`);
      }
    }
  }
});

Deno.test("cropFace: fill value pads outside the image", () => {
  const img = { data: new Float32Array(100).fill(50), width: 10, height: 10, channels: 1 };
  const out = cropFace(img, [5, 5], { x: -10, y: 0, w: 20, h: 10 }, 20, { fill: 7 });
  assert.equal(out.image.data[0], 7);
  assert.equal(out.image.data[19], 50);
});

Deno.test("cropFace antialiases a strong shrink (no moire on fine stripes)", () => {
  // One-pixel vertical stripes 0/255: a 5x shrink should be mid-gray
  // everywhere. Plain bilinear sampling would alias to a pattern.
  const w = 400, h = 200;
  const data = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = x % 2 ? 255 : 0;
  const img = { data, width: w, height: h, channels: 1 };
  const box = { x: 13.3, y: 0, w: 200, h: 200 };
  const crop = cropFace(img, [0, 0], box, 40);
  let min = Infinity, max = -Infinity;
  for (const v of crop.image.data) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  assert.ok(min > 110 && max < 145, `antialiased crop spans ${min}..${max}`);
  const naive = warpAffine(img, cropAffine(box, 40), 40, 40);
  let nmin = Infinity, nmax = -Infinity;
  for (const v of naive.data) {
    nmin = Math.min(nmin, v);
    nmax = Math.max(nmax, v);
  }
  assert.ok(nmax - nmin > 100, "plain bilinear warp aliases (sanity check of the test)");
});

Deno.test("cropFace: a shrink of the whole image equals the antialiased resize", () => {
  const img = dotImage(200, 120, 77, 51, 3);
  const crop = cropFace(img, [77, 51], { x: 0, y: 0, w: 200, h: 120 }, 40);
  const ref = resize(img, 40, 40);
  let worst = 0;
  for (let i = 0; i < ref.data.length; i++) {
    worst = Math.max(worst, Math.abs(ref.data[i] - crop.image.data[i]));
  }
  assert.ok(worst < 1e-3, `max difference ${worst}`);
});
