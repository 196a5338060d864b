import assert from "node:assert/strict";
import {
  DEFAULT_HAND,
  drawHand,
  type HandShape,
  occludeHand,
  paintHand,
} from "../lib/augment/hand_occlusion.ts";
import { createRng } from "../lib/util/random.ts";
import type { FloatImage } from "../lib/image/raster.ts";

/** Five face-like points: eyes, nose, mouth corners (centroid 50, 60). */
const PTS = [30, 40, 70, 40, 50, 60, 35, 80, 65, 80];

function flat(value: number, w = 100, h = 100, channels = 1): FloatImage {
  return { data: new Float32Array(w * h * channels).fill(value), width: w, height: h, channels };
}

Deno.test("drawHand: fingers start on a point, point outwards, sized by the face", () => {
  const rng = createRng(11);
  let lowTips = 0;
  const draws = 300;
  for (let t = 0; t < draws; t++) {
    const hand = drawHand(PTS, rng, DEFAULT_HAND);
    const n = hand.fingers.length;
    assert.ok(n >= DEFAULT_HAND.fingers[0] && n <= DEFAULT_HAND.fingers[1], `${n} fingers`);
    // The face is 40 px wide: finger radius 0.47 * (0.11..0.18) * 40.
    const r = hand.fingers[0].radius;
    assert.ok(r >= 0.47 * 0.11 * 40 - 1e-6 && r <= 0.47 * 0.18 * 40 + 1e-6, `radius ${r}`);
    // The middle of the fingertips lies within one finger width of a keypoint.
    const mx = hand.fingers.reduce((s, f) => s + f.tip[0], 0) / n;
    const my = hand.fingers.reduce((s, f) => s + f.tip[1], 0) / n;
    let near = Infinity;
    for (let i = 0; i < PTS.length; i += 2) {
      near = Math.min(near, Math.hypot(mx - PTS[i], my - PTS[i + 1]));
    }
    assert.ok(near <= 2.2 * r, `tips ${near.toFixed(1)} px from the nearest point`);
    if (my > 60) lowTips++;
    // Fingers run from the tip away from the centroid (within 90 degrees).
    const f = hand.fingers[0];
    const ux = f.base[0] - f.tip[0], uy = f.base[1] - f.tip[1];
    const ox = mx - 50, oy = my - 60;
    if (Math.hypot(ox, oy) > 5) {
      assert.ok(ux * ox + uy * oy > -1e-6, "a finger points into the face");
    }
  }
  // Seven in ten are drawn from the points below the centroid, plus their share of the rest.
  assert.ok(lowTips / draws > 0.7, `${lowTips} of ${draws} on the lower face`);
});

Deno.test("drawHand refuses fewer than two points", () => {
  assert.throws(
    () => drawHand([1, 2], createRng(1), DEFAULT_HAND),
    /at least 2 keypoints.*2 values/,
  );
});

Deno.test("paintHand: texture times gain inside, darker rims, untouched outside", () => {
  const img = flat(100);
  // A textured source strip at y = 10 with value 150, the hand shows it via the offset.
  for (let x = 0; x < 100; x++) img.data[10 * 100 + x] = 150;
  const hand: HandShape = {
    fingers: [{ tip: [50.5, 30.5], base: [50.5, 60.5], radius: 6 }],
    palm: { centre: [-100, -100], radius: 2 },
    offset: [0, 10 - 45],
    gain: 1.2,
  };
  const out = paintHand(img, hand);
  // On the centre line at y = 45 the source pixel is (50, 10): 150 * 1.2.
  assert.ok(Math.abs(out.data[45 * 100 + 50] - 180) < 1e-3, `${out.data[45 * 100 + 50]}`);
  // Elsewhere on the centre line the source is 100: 120; near the rim it is darker.
  const centre = out.data[40 * 100 + 50];
  const rim = out.data[40 * 100 + 55];
  assert.ok(Math.abs(centre - 120) < 1e-3, `centre ${centre}`);
  assert.ok(rim < centre - 10, `rim ${rim} vs centre ${centre}`);
  // Outside the capsule (and its soft edge) nothing changes, the input is untouched.
  assert.equal(out.data[40 * 100 + 60], 100);
  assert.equal(out.data[20 * 100 + 50], 100);
  assert.equal(img.data[40 * 100 + 50], 100);
  // Bright textures are clamped to 255.
  const bright = paintHand(flat(250), { ...hand, gain: 1.25 });
  assert.ok(Math.max(...bright.data) <= 255);
});

Deno.test("paintHand works per channel on RGB images", () => {
  const img = flat(0, 20, 20, 3);
  for (let p = 0; p < 400; p++) img.data.set([200, 100, 50], p * 3);
  const out = paintHand(img, {
    fingers: [{ tip: [10, 4], base: [10, 16], radius: 3 }],
    palm: { centre: [10, 18], radius: 2 },
    offset: [0, 0],
    gain: 0.5,
  });
  const o = (10 * 20 + 10) * 3;
  assert.deepEqual(Array.from(out.data.subarray(o, o + 3)), [100, 50, 25]);
});

Deno.test("occludeHand: never at prob 0, always at prob 1, only near the face", () => {
  const img = flat(90);
  for (let t = 0; t < 20; t++) {
    assert.equal(occludeHand(img, PTS, createRng(t), { ...DEFAULT_HAND, prob: 0 }), img);
    const out = occludeHand(img, PTS, createRng(t), { ...DEFAULT_HAND, prob: 1 });
    let changed = 0, far = 0;
    for (let y = 0; y < 100; y++) {
      for (let x = 0; x < 100; x++) {
        if (out.data[y * 100 + x] === 90) continue;
        changed++;
        // Fingers (<= 0.55 * 40 * 1.1 + tips) and palm stay within about 70 px of the face.
        if (Math.hypot(x - 50, y - 60) > 75) far++;
      }
    }
    assert.ok(changed > 20, `draw ${t}: ${changed} pixels changed`);
    assert.equal(far, 0, `draw ${t}: ${far} pixels far from the face`);
  }
});
