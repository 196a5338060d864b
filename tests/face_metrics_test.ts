import assert from "node:assert/strict";
import {
  aucAt,
  cedCurve,
  failureRate,
  interOcular,
  nme,
  nmeInterOcular,
} from "../lib/metrics/face_alignment.ts";

function face(eyeGap: number): Float32Array {
  const p = new Float32Array(136);
  for (let i = 0; i < 68; i++) {
    p[2 * i] = 50 + i;
    p[2 * i + 1] = 80 + (i % 7);
  }
  p[2 * 36] = 20;
  p[2 * 36 + 1] = 40;
  p[2 * 45] = 20 + eyeGap;
  p[2 * 45 + 1] = 40;
  return p;
}

Deno.test("interOcular: distance between 0-based points 36 and 45", () => {
  const p = new Float32Array(136);
  p.set([10, 20], 72);
  p.set([13, 24], 90);
  assert.equal(interOcular(p), 5);
  assert.throws(() => interOcular(new Float32Array(116)), /expected 68 points/);
});

Deno.test("nme: mean Euclidean error over points divided by the normaliser", () => {
  // Errors 5 and 0 -> mean 2.5 -> / 10.
  assert.equal(nme([3, 4, 1, 1], [0, 0, 1, 1], 2, 10), 0.25);
  assert.throws(() => nme([0, 0], [0, 0], 1, 0), /positive/);
  assert.throws(() => nme([0, 0], [0, 0, 1, 1], 1, 1), /expected 1 points/);
});

Deno.test("nmeInterOcular: per face, normalised by the target's eye corners", () => {
  const t1 = face(100), t2 = face(50);
  // Face 1: every point off by (3, 4) -> error 5 / 100. Face 2: point 0 off by 68 px
  // -> mean error 1 px / 50.
  const p1 = t1.map((v, i) => v + (i % 2 ? 4 : 3));
  const p2 = new Float32Array(t2);
  p2[0] += 68;
  const target = new Float32Array([...t1, ...t2]);
  const pred = new Float32Array([...p1, ...p2]);
  const out = nmeInterOcular(pred, target);
  assert.equal(out.length, 2);
  assert.ok(Math.abs(out[0] - 0.05) < 1e-6, `face 1: ${out[0]}`);
  assert.ok(Math.abs(out[1] - 0.02) < 1e-6, `face 2: ${out[1]}`);
  assert.throws(() => nmeInterOcular(pred, t1), /whole faces/);
  assert.throws(() => nmeInterOcular(face(0), face(0)), /face 0: outer eye corners/);
});

Deno.test("failureRate: NME above the threshold (and NaN) fails", () => {
  assert.equal(failureRate([0.01, 0.05, 0.08, 0.09, NaN]), 0.4);
  assert.equal(failureRate([0.2], 0.3), 0);
  assert.throws(() => failureRate([]), /no errors/);
});

Deno.test("cedCurve: fraction of faces at or below each error", () => {
  const { x, y } = cedCurve([0.01, 0.05], 0.08, 4);
  assert.deepEqual(Array.from(x, (v) => Math.round(v * 1000) / 1000), [0, 0.02, 0.04, 0.06, 0.08]);
  assert.deepEqual(Array.from(y), [0, 0.5, 0.5, 1, 1]);
  const zero = cedCurve([0, 1], 0.08, 2);
  assert.deepEqual(Array.from(zero.y), [0.5, 0.5, 0.5]);
  assert.throws(() => cedCurve([0.1], 0.08, 0), /steps/);
});

Deno.test("aucAt: exact area under the CED up to the threshold, in [0, 1]", () => {
  // (1 + 0.5 + 0) / 3.
  assert.ok(Math.abs(aucAt([0, 0.04, 0.1], 0.08) - 0.5) < 1e-12);
  assert.equal(aucAt([0, 0, 0]), 1);
  assert.equal(aucAt([0.08, 0.5, Infinity, NaN]), 0);
  // Agrees with the trapezoid rule on a finely sampled CED.
  const nmes = [0.003, 0.021, 0.034, 0.047, 0.052, 0.07, 0.079, 0.11];
  const { x, y } = cedCurve(nmes, 0.08, 8000);
  let area = 0;
  for (let i = 1; i < x.length; i++) area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2;
  assert.ok(Math.abs(area / 0.08 - aucAt(nmes, 0.08)) < 1e-3, `${area / 0.08} vs ${aucAt(nmes)}`);
  assert.throws(() => aucAt([0.1], 0), /threshold/);
});
