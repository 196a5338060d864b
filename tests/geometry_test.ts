import assert from "node:assert/strict";
import {
  applyToPoints,
  chain,
  compose,
  invert,
  rotation,
  scaling,
  toContinuous,
  toPixelCentres,
  translation,
} from "../lib/image/affine.ts";
import { resize, warpAffine } from "../lib/image/raster.ts";
import { denormalisePoints, normalisePoints, resizeWithPoints } from "../lib/augment/preprocess.ts";

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol, `index ${i}: ${a[i]} vs ${b[i]}`);
  }
};

Deno.test("affine: compose applies the right map last, invert undoes", () => {
  const m = compose(translation(3, -2), chain(rotation(0.3), scaling(2, 0.5)));
  const p = [1, 2, -4, 7];
  close(applyToPoints(invert(m), applyToPoints(m, p)), p);
  close(applyToPoints(compose(translation(1, 0), scaling(2, 2)), [1, 1]), [3, 2]);
});

Deno.test("affine: singular map is refused", () => {
  assert.throws(() => invert([0, 0, 0, 0, 0, 0]), /not invertible/);
});

Deno.test("pixel-centre <-> continuous round trip", () => {
  close(toPixelCentres(toContinuous([0, 0, 3.25, 9])), [0, 0, 3.25, 9]);
});

Deno.test("resize: constant image stays constant, downscale averages", () => {
  const img = { data: new Float32Array(64).fill(9), width: 8, height: 8, channels: 1 };
  close(resize(img, 3, 5).data, new Float32Array(15).fill(9));
  // A 1-px checkerboard averages to grey when halved (no aliasing).
  const cb = new Float32Array(64).map((_, i) => ((i % 8) + Math.floor(i / 8)) % 2 ? 255 : 0);
  const half = resize({ data: cb, width: 8, height: 8, channels: 1 }, 4, 4);
  for (const v of half.data) assert.ok(Math.abs(v - 127.5) < 30, `value ${v}`);
});

Deno.test("resizeWithPoints keeps a bright pixel under its point", () => {
  const w = 64, h = 48;
  const data = new Float32Array(w * h);
  data[20 * w + 40] = 255;
  const r = resizeWithPoints({ data, width: w, height: h, channels: 1 }, [40, 20], 32, 24);
  let best = 0;
  for (let i = 1; i < r.image.data.length; i++) if (r.image.data[i] > r.image.data[best]) best = i;
  const bx = best % 32, by = Math.floor(best / 32);
  assert.ok(Math.abs(bx - r.points[0]) <= 1 && Math.abs(by - r.points[1]) <= 1);
});

Deno.test("warpAffine: translation shifts by whole pixels, fill outside", () => {
  const img = { data: new Float32Array([0, 10, 20, 30]), width: 4, height: 1, channels: 1 };
  close(warpAffine(img, translation(1, 0), 4, 1, -1).data, [-1, 0, 10, 20]);
});

Deno.test("normalise / denormalise points are inverse and edge-anchored", () => {
  close(normalisePoints([-0.5, -0.5, 159.5, 119.5], 160, 120), [0, 0, 1, 1]);
  close(denormalisePoints(normalisePoints([12.3, 45.6], 160, 120), 160, 120), [12.3, 45.6], 1e-4);
});

Deno.test("faceInput maps the face box onto the input, for crop and whole-image models", async () => {
  const { faceInput, toImagePoints } = await import("../lib/infer/face_input.ts");
  const { applyToPoints } = await import("../lib/image/affine.ts");
  const img = { data: new Float32Array(200 * 100), width: 200, height: 100, channels: 1 };
  const imm = {
    task: "part2",
    layout: "imm58",
    points: [],
    inputWidth: 160,
    inputHeight: 120,
    channels: 1,
    boxScale: 0,
  };
  const box = { x: 20, y: 10, w: 80, h: 60 };
  const a = faceInput(img, box, imm);
  assert.equal(a.image.width, 160);
  assert.equal(a.image.height, 120);
  close(applyToPoints(a.matrix, [20, 10, 100, 70]), [0, 0, 160, 120], 1e-4);
  const crop = { ...imm, task: "part3", inputWidth: 64, inputHeight: 64, boxScale: 0.25 };
  const b = faceInput(img, box, crop);
  // Enlarged by 25 % per side (120 x 90), squared to 120 x 120 about the centre (60, 40).
  close(applyToPoints(b.matrix, [0, -20, 120, 100]), [0, 0, 64, 64], 1e-4);
  close(toImagePoints(applyToPoints(b.matrix, [33.5, 44.5]).map((v) => v - 0.5), b.matrix), [
    33,
    44,
  ], 1e-3);
});
