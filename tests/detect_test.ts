// The face finder's pure parts: anchors, decoding, flip averaging, NMS,
// tiling and calibration.
import { deepStrictEqual, ok } from "node:assert/strict";
import {
  BLAZEFACE_BACK_ANCHORS,
  calibrateBox,
  calibrationSample,
  cornerIou,
  decodeDetections,
  type Detection,
  generateAnchors,
  greedyNms,
  keepFromTile,
  mergeFlipped,
  mirrorAnchors,
  planTiles,
  weightedNms,
} from "../lib/detect/mod.ts";

const assert = (v: unknown, msg = ""): void => ok(v, msg);
const assertEquals = <T>(a: T, b: T): void => deepStrictEqual(a, b);
const assertAlmostEquals = (a: number, b: number, tol = 1e-7): void =>
  ok(Math.abs(a - b) <= tol, `${a} is not within ${tol} of ${b}`);

const det = (x1: number, y1: number, x2: number, y2: number, score: number): Detection => ({
  x1,
  y1,
  x2,
  y2,
  score,
  keypoints: [x1, y1],
});

Deno.test("anchors: 16x16x2 then 8x8x6, cell centres, row-major", () => {
  const a = generateAnchors(BLAZEFACE_BACK_ANCHORS);
  assertEquals(a.length, 896);
  assertEquals(a[0], { cx: 0.5 / 16, cy: 0.5 / 16, w: 1, h: 1 });
  assertEquals(a[1].cx, a[0].cx);
  assertAlmostEquals(a[2].cx, 1.5 / 16);
  assertAlmostEquals(a[511].cx, 15.5 / 16);
  assertAlmostEquals(a[512].cx, 0.5 / 8);
  assertAlmostEquals(a[512 + 5].cy, 0.5 / 8);
  assertAlmostEquals(a[512 + 6].cx, 1.5 / 8);
  assertAlmostEquals(a[895].cy, 7.5 / 8);
});

Deno.test("mirrorAnchors is an involution that mirrors cx", () => {
  const a = generateAnchors(BLAZEFACE_BACK_ANCHORS);
  const m = mirrorAnchors(a);
  for (let i = 0; i < a.length; i++) {
    assertEquals(m[m[i]], i);
    assertAlmostEquals(a[m[i]].cx, 1 - a[i].cx);
    assertEquals(a[m[i]].cy, a[i].cy);
  }
});

Deno.test("mergeFlipped of a symmetric pair returns the plain pass", () => {
  const a = generateAnchors(BLAZEFACE_BACK_ANCHORS);
  const m = mirrorAnchors(a);
  const logits = new Float32Array(a.length).fill(-5);
  const regs = new Float32Array(a.length * 16);
  logits[0] = 2;
  regs.set([3, 4, 50, 60, -10, 1, 10, 2, 0, 5, 0, 9, -20, 0, 20, 1], 0);
  // The same face seen mirrored: at anchor m[0], x offsets negated, sides swapped.
  const fl = new Float32Array(a.length).fill(-5);
  const fr = new Float32Array(a.length * 16);
  fl[m[0]] = 2;
  fr.set([-3, 4, 50, 60, -10, 2, 10, 1, 0, 5, 0, 9, -20, 1, 20, 0], m[0] * 16);
  const r = mergeFlipped(logits, regs, fl, fr, m);
  assertAlmostEquals(r.logits[0], 2, 1e-5);
  for (let v = 0; v < 16; v++) assertAlmostEquals(r.regs[v], regs[v], 1e-5);
});

Deno.test("decodeDetections: offsets from the anchor centre, sizes over the scale", () => {
  const regs = new Float32Array(16);
  regs.set([25.6, -25.6, 51.2, 25.6, 0, 0, 12.8, 0], 0);
  const [d] = decodeDetections(
    new Float32Array([0]),
    regs,
    [{ cx: 0.5, cy: 0.5, w: 1, h: 1 }],
    256,
    0.5,
  );
  assertAlmostEquals(d.x1, 0.5);
  assertAlmostEquals(d.x2, 0.7);
  assertAlmostEquals(d.y1, 0.35);
  assertAlmostEquals(d.y2, 0.45);
  assertAlmostEquals(d.score, 0.5);
  assertAlmostEquals(d.keypoints[2], 0.55);
  assertEquals(
    decodeDetections(new Float32Array([-0.1]), regs, [{ cx: 0, cy: 0, w: 1, h: 1 }], 256, 0.5),
    [],
  );
});

Deno.test("NMS: greedy keeps the best, weighted blends the cluster", () => {
  const a = det(0, 0, 10, 10, 0.9);
  const b = det(2, 0, 12, 10, 0.3);
  const c = det(50, 50, 60, 60, 0.5);
  assertAlmostEquals(cornerIou(a, b), 80 / 120);
  const g = greedyNms([b, c, a], 0.3);
  assertEquals(g.map((d) => d.score), [0.9, 0.5]);
  assertEquals(g[0].x1, 0);
  const w = weightedNms([b, c, a], 0.3);
  assertEquals(w.map((d) => d.score), [0.9, 0.5]);
  assertAlmostEquals(w[0].x1, (0 * 0.9 + 2 * 0.3) / 1.2);
  assertEquals(greedyNms([a, b, c], 0.3, 1).length, 1);
});

Deno.test("planTiles: whole pass always; tiles cover the image with overlap", () => {
  const whole = planTiles(1024, 768);
  assertEquals(whole.length, 1);
  assertAlmostEquals(whole[0].size, 1280);
  assertAlmostEquals(whole[0].x, -128);
  const tiles = planTiles(1024, 768, 32);
  const level = tiles.filter((t) => t.maxFace !== undefined);
  assert(level.length > 1);
  // Every point of the image lies in some tile of the finest level.
  const finest = Math.min(...level.map((t) => t.size));
  for (let y = 0; y < 768; y += 37) {
    for (let x = 0; x < 1024; x += 37) {
      assert(
        level.some((t) =>
          t.size === finest && x >= t.x && x <= t.x + t.size && y >= t.y && y <= t.y + t.size
        ),
      );
    }
  }
  assertEquals(planTiles(300, 200, 48).length, 1);
});

Deno.test("keepFromTile drops boxes cut by an inner tile edge or too big", () => {
  const t = { x: 100, y: 0, size: 100, maxFace: 40 };
  assert(keepFromTile(det(120, 10, 150, 40, 1), t, 400, 400, 0.15));
  assert(!keepFromTile(det(90, 10, 120, 40, 1), t, 400, 400, 0.15));
  assert(keepFromTile(det(120, -5, 150, 25, 1), t, 400, 400, 0.15)); // top edge is the image's
  assert(!keepFromTile(det(110, 10, 160, 60, 1), t, 400, 400, 0.15));
  assert(keepFromTile(det(0, 0, 300, 300, 1), { x: 0, y: 0, size: 400 }, 400, 400, 0.15));
});

Deno.test("calibration maps a detector box onto its target box exactly", () => {
  const d = { x: 10, y: 20, width: 100, height: 120 };
  const t = { x: 20, y: 40, width: 90, height: 100 };
  const b = calibrateBox(d, calibrationSample(d, t));
  assertAlmostEquals(b.x, t.x);
  assertAlmostEquals(b.y, t.y);
  assertAlmostEquals(b.width, t.width);
  assertAlmostEquals(b.height, t.height);
});
