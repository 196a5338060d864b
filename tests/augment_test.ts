import assert from "node:assert/strict";
import {
  applyAffineDraw,
  augment,
  augmentPreset,
  colourJitter,
  DEFAULT_AUGMENT,
  flipHorizontal,
  HEAVY_AUGMENT,
  permutePoints,
  randomAffine,
} from "../lib/augment/augment.ts";
import { flipAverageBatch, flipAveragePoints, withMirrored } from "../lib/augment/flip_average.ts";
import { IBUG68, IMM58 } from "../lib/data/layouts.ts";
import { createRng } from "../lib/util/random.ts";
import type { FloatImage } from "../lib/image/raster.ts";

function dotImage(w: number, h: number, x: number, y: number): FloatImage {
  const data = new Float32Array(w * h);
  // A small bright blob (3x3 with a peak) so bilinear sampling keeps a clear maximum.
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      data[(y + dy) * w + x + dx] = dx === 0 && dy === 0 ? 255 : 120;
    }
  }
  return { data, width: w, height: h, channels: 1 };
}

function brightest(img: FloatImage): [number, number] {
  let best = 0;
  for (let i = 1; i < img.data.length; i++) if (img.data[i] > img.data[best]) best = i;
  return [best % img.width, Math.floor(best / img.width)];
}

Deno.test("augmentation moves a drawn dot and its point together (within 1 px)", () => {
  const rng = createRng(123);
  const opts = { ...DEFAULT_AUGMENT, flipProb: 0.5 };
  for (let trial = 0; trial < 40; trial++) {
    const x = 50 + rng.int(60), y = 40 + rng.int(40);
    const img = dotImage(160, 120, x, y);
    const draw = randomAffine(rng, 160, 120, opts);
    const out = applyAffineDraw(img, [x, y], draw, [0]);
    const [bx, by] = brightest(out.image);
    assert.ok(
      Math.abs(bx - out.points[0]) <= 1 && Math.abs(by - out.points[1]) <= 1,
      `trial ${trial}: brightest (${bx}, ${by}) vs point (${out.points[0]}, ${out.points[1]})`,
    );
  }
});

Deno.test("flip maps are involutions and flip twice is the identity", () => {
  for (const layout of [IMM58, IBUG68]) {
    assert.equal(layout.flip.length, layout.names.length);
    layout.flip.forEach((j, i) => assert.equal(layout.flip[j], i, `${layout.id} ${i}`));
    const img = {
      data: new Float32Array(20 * 10).map((_, i) => i),
      width: 20,
      height: 10,
      channels: 1,
    };
    const pts = new Float32Array(layout.flip.length * 2).map((_, i) => (i * 7) % 10);
    const once = flipHorizontal(img, pts, layout.flip);
    const twice = flipHorizontal(once.image, once.points, layout.flip);
    assert.deepEqual(twice.image.data, img.data);
    for (let i = 0; i < pts.length; i++) assert.ok(Math.abs(twice.points[i] - pts[i]) < 1e-4);
  }
});

Deno.test("flipped face: the eye on the image's left stays on the image's left", () => {
  // IMM: 13-20 is the eye on the image's right, 21-28 on the image's left.
  const pts = new Float32Array(116);
  for (let i = 0; i < 58; i++) {
    const onLeft = (i >= 21 && i <= 28) || (i >= 34 && i <= 38);
    const onRight = (i >= 13 && i <= 20) || (i >= 29 && i <= 33);
    pts[2 * i] = onLeft ? 40 + (i % 3) : onRight ? 120 - (i % 3) : 80;
    pts[2 * i + 1] = 50;
  }
  const img = { data: new Float32Array(160 * 120), width: 160, height: 120, channels: 1 };
  const out = flipHorizontal(img, pts, IMM58.flip);
  for (let i = 21; i <= 28; i++) assert.ok(out.points[2 * i] < 80, `left-eye point ${i}`);
  for (let i = 13; i <= 20; i++) assert.ok(out.points[2 * i] > 80, `right-eye point ${i}`);
  // The image-left eye point 21 (outer corner) now holds the mirror of point 13.
  assert.ok(Math.abs(out.points[42] - (159 - pts[26])) < 1e-4);
});

Deno.test("iBUG flip: outer eye corners 36 and 45 swap, nose tip 30 stays", () => {
  assert.equal(IBUG68.flip[36], 45);
  assert.equal(IBUG68.flip[30], 30);
  assert.equal(IBUG68.flip[0], 16);
  assert.equal(IBUG68.flip[48], 54);
  assert.equal(IBUG68.flip[66], 66);
  assert.deepEqual(permutePoints([1, 2, 3, 4], [1, 0]), new Float32Array([3, 4, 1, 2]));
});

Deno.test("colour jitter stays in range and changes the image", () => {
  const img = {
    data: new Float32Array(300).map((_, i) => i % 256),
    width: 10,
    height: 10,
    channels: 3,
  };
  const out = colourJitter(img, createRng(5), DEFAULT_AUGMENT);
  assert.ok(out.data.every((v) => v >= 0 && v <= 255));
  assert.notDeepEqual(out.data, img.data);
  assert.equal(img.data[1], 1, "input untouched");
});

Deno.test("augment is reproducible for a seed", () => {
  const img = dotImage(40, 30, 20, 15);
  const a = augment(img, [20, 15], [0], createRng(9), DEFAULT_AUGMENT);
  const b = augment(img, [20, 15], [0], createRng(9), DEFAULT_AUGMENT);
  assert.deepEqual(a.points, b.points);
  assert.deepEqual(a.image.data, b.image.data);
});

Deno.test("augmentPreset names every preset and refuses others", () => {
  assert.equal(augmentPreset("default"), DEFAULT_AUGMENT);
  assert.equal(augmentPreset("heavy"), HEAVY_AUGMENT);
  const d = augmentPreset("degrade");
  assert.equal(d.rotationDeg, DEFAULT_AUGMENT.rotationDeg);
  assert.ok(d.degrade && d.degrade.occlusionProb > 0);
  const h = augmentPreset("hands");
  assert.equal(h.rotationDeg, DEFAULT_AUGMENT.rotationDeg);
  assert.ok(h.hand && h.hand.prob > 0 && h.degrade === undefined);
  assert.throws(() => augmentPreset("wild" as "heavy"), /unknown augmentation preset "wild"/);
});

Deno.test("flip averaging: a mirror-consistent reading comes back unchanged", () => {
  // 68 points in crop fractions; the mirrored crop's reading of the same face
  // is the points mirrored (x -> 1 - x) and re-paired by the flip map.
  const rng = createRng(3);
  const direct = Float32Array.from({ length: 136 }, () => rng.uniform(0.1, 0.9));
  const mirrored = permutePoints(direct.map((v, i) => (i % 2 === 0 ? 1 - v : v)), IBUG68.flip);
  const avg = flipAveragePoints(direct, mirrored, IBUG68.flip);
  avg.forEach((v, i) => assert.ok(Math.abs(v - direct[i]) < 1e-6, `${i}: ${v} vs ${direct[i]}`));
  // A reading off by +0.02 in x in the mirrored frame is off by -0.01 after averaging.
  const off = flipAveragePoints(
    direct,
    mirrored.map((v, i) => (i % 2 === 0 ? v + 0.02 : v)),
    IBUG68.flip,
  );
  assert.ok(Math.abs(off[0] - (direct[0] - 0.01)) < 1e-6);
  assert.throws(() => flipAveragePoints(direct, mirrored, IMM58.flip), /flip map has 58 points/);
  // Batches: n faces then their mirrors, and the images behind them.
  const batch = new Float32Array(272);
  batch.set(direct);
  batch.set(mirrored, 136);
  assert.deepEqual(Array.from(flipAverageBatch(batch, 1, IBUG68.flip)), Array.from(avg));
  assert.throws(() => flipAverageBatch(batch, 2, IBUG68.flip), /not 2 faces/);
  const img = Float32Array.from({ length: 2 * 3 * 2 }, (_, i) => i); // 2 images 3x1, 2 channels
  const both = withMirrored(img, 2, 3, 1, 2);
  assert.deepEqual(Array.from(both.subarray(0, 12)), Array.from(img));
  assert.deepEqual(Array.from(both.subarray(12, 18)), [4, 5, 2, 3, 0, 1]);
  assert.deepEqual(Array.from(both.subarray(18)), [10, 11, 8, 9, 6, 7]);
  assert.throws(() => withMirrored(img, 3, 3, 1, 2), /expected 3 x 3x1x2/);
});
