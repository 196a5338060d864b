// Flip averaging is mirror-symmetric by construction: on the mirrored photo
// with the mirrored box it gives exactly the mirrored points; point scores
// are in [0, 1] and sharp heatmaps score high.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { createKeypointEstimator } from "../mod.ts";
import { IBUG68 } from "../lib/data/layouts.ts";
import { readImage } from "../lib/image/decode.ts";
import { mirrorRgba } from "./image_util.ts";
import { createKeypointNet, peakMass, peakShare } from "../lib/infer/keypoint_net.ts";
import { loadModel } from "../lib/infer/keypoint_estimator.ts";
import { resolveModelLocation } from "../lib/models/location.ts";
import { compileLean } from "../lib/infer/lean_graph.ts";
import { fromRgba } from "../lib/image/raster.ts";
import { faceInput } from "../lib/infer/face_input.ts";
import { normaliseImageInto } from "../lib/augment/preprocess.ts";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("flip averaging: mirrored photo and box give the mirrored points", async () => {
  const img = await readImage(`${ROOT}fixtures/einstein.jpg`);
  const mirrored = mirrorRgba(img);
  const e = await createKeypointEstimator({ model: "part3" });
  const before = tf.memory().numTensors;
  const box = { x: 354, y: 282, width: 84, height: 99 };
  const mbox = { ...box, x: img.width - box.x - box.width };
  const [a] = await e.estimate(img, { box, flip: true, refine: false });
  const [b] = await e.estimate(mirrored, { box: mbox, flip: true, refine: false });
  const [plain] = await e.estimate(img, { box, refine: false });
  assert.equal(tf.memory().numTensors, before);
  e.dispose();
  let worst = 0, moved = 0;
  a.keypoints.forEach((k, j) => {
    const m = b.keypoints[IBUG68.flip[j]];
    worst = Math.max(worst, Math.abs(k.x - (img.width - 1 - m.x)), Math.abs(k.y - m.y));
    moved = Math.max(moved, Math.hypot(k.x - plain.keypoints[j].x, k.y - plain.keypoints[j].y));
  });
  assert.ok(worst < 0.02, `mirror mismatch ${worst} px`);
  assert.ok(moved > 0.01 && moved < 5, `flip moved points by up to ${moved} px`);
});

Deno.test("peakMass: sharp peaks near 1, flat maps low, neighbours count", () => {
  const sharp = new Float32Array(28 * 28).fill(-30);
  sharp[14 * 28 + 14] = 10;
  assert.ok(peakMass(sharp, 28, 28, 0) > 0.999);
  const flat = new Float32Array(28 * 28);
  assert.ok(Math.abs(peakMass(flat, 28, 28, 0) - 4 / 784) < 1e-9); // corner peak: 2x2 cells
  const two = new Float32Array(28 * 28).fill(-30);
  two[0] = 10;
  two[27 * 28 + 27] = 10;
  assert.ok(Math.abs(peakMass(two, 28, 28, 0) - 0.5) < 1e-6);
});

Deno.test("peakShare of the softmax equals peakMass of the logits", () => {
  const logits = new Float32Array(6 * 5).map((_, i) => Math.sin(i * 1.7) * 4);
  const m = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - m));
  const total = e.reduce((a, b) => a + b, 0);
  const probs = e.map((v) => v / total);
  assert.ok(Math.abs(peakShare(probs, 5, 6, 0) - peakMass(logits, 5, 6, 0)) < 1e-6);
});

Deno.test("point scores from the head's maps equal peakMass of the logits (shipped models)", async () => {
  const img = await readImage(`${ROOT}fixtures/einstein.jpg`);
  for (const name of ["part3", "part3-fast"]) {
    const { model, meta } = await loadModel(resolveModelLocation(name));
    const box = { x: 354, y: 282, w: 84, h: 99 };
    const [r] = await createKeypointNet(model, meta).run(img, [box]);
    // The reference: the logits layer's output, scored as before.
    const input = faceInput(fromRgba(img, 1), box, meta);
    const x = new Float32Array(112 * 112);
    normaliseImageInto(input.image, x, 0);
    const lean = compileLean(model, [
      model.getLayer("heatmap_logits").output as tf.SymbolicTensor,
    ])!;
    const [t] = lean.run(tf.tensor4d(x, [1, 112, 112, 1]));
    const logits = await t.data();
    t.dispose();
    lean.dispose();
    let worst = 0;
    for (let j = 0; j < 68; j++) {
      worst = Math.max(worst, Math.abs(r.scores![j] - peakMass(logits, 28, 28, j, 68)));
    }
    assert.ok(worst < 1e-4, `${name}: scores differ by ${worst}`);
    model.dispose();
  }
});

Deno.test("cropping only the needed region gives exactly the whole-image crop", async () => {
  const tf = await import("@tensorflow/tfjs");
  const { loadModel } = await import("../lib/infer/keypoint_estimator.ts");
  const { resolveModelLocation } = await import("../lib/models/location.ts");
  const { createKeypointNet } = await import("../lib/infer/keypoint_net.ts");
  const { faceInput, toImagePoints } = await import("../lib/infer/face_input.ts");
  const { fromRgba } = await import("../lib/image/raster.ts");
  const { normaliseImageInto, denormalisePoints } = await import("../lib/augment/preprocess.ts");
  const img = await readImage(`${ROOT}fixtures/einstein.jpg`);
  const { model, meta } = await loadModel(resolveModelLocation("part3"));
  const net = createKeypointNet(model, meta);
  const whole = fromRgba(img, 1);
  // Small, shrunk more than 2x, and partly outside the photo.
  const boxes = [{ x: 354, y: 282, w: 84, h: 99 }, { x: 200, y: 100, w: 400, h: 450 }, {
    x: -60,
    y: 900,
    w: 200,
    h: 220,
  }];
  const got = await net.run(img, boxes);
  for (const [i, b] of boxes.entries()) {
    const input = faceInput(whole, b, meta);
    const x = new Float32Array(112 * 112);
    normaliseImageInto(input.image, x, 0);
    const y = tf.tidy(() =>
      model.predict(tf.tensor4d(x, [1, 112, 112, 1])) as typeof tf.Tensor.prototype
    );
    const want = toImagePoints(denormalisePoints(await y.data(), 112, 112), input.matrix);
    y.dispose();
    // 1e-3 px: the net folds BatchNorm into its convs (float rounding, magnified by big boxes).
    want.forEach((v, j) =>
      assert.ok(
        Math.abs(v - got[i].points[j]) < 1e-3,
        `box ${i} value ${j}: ${v} vs ${got[i].points[j]}`,
      )
    );
  }
  net.dispose();
});
