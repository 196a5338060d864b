// Head pose, aligned crops and the 68-point measures.
import assert from "node:assert/strict";
import {
  alignFace,
  alignmentMatrix,
  createKeypointEstimator,
  drawFaces,
  eyeAspectRatio,
  eyeCentres,
  headPose,
  interOcularDistance,
  mouthAspectRatio,
  projectMeanFace,
  regions,
  REGIONS_68,
} from "../mod.ts";
import { readImage } from "../lib/image/decode.ts";
import { mirrorRgba } from "./image_util.ts";
import { createRng } from "../lib/util/random.ts";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("head pose: synthetic faces up to 60 deg yaw and 30 deg pitch/roll, 1 px noise: MAE <= 3 deg", () => {
  const rng = createRng(7);
  const err = { yaw: 0, pitch: 0, roll: 0 };
  let n = 0;
  for (let yaw = -60; yaw <= 60; yaw += 10) {
    for (let pitch = -30; pitch <= 30; pitch += 10) {
      for (let roll = -30; roll <= 30; roll += 10) {
        // A face about 100 px between the outer eye corners, like a face crop.
        const pts = projectMeanFace({ yaw, pitch, roll }, 1.1, { x: 200, y: 200 }).map((p) => {
          const a = rng.uniform(0, 2 * Math.PI);
          return { x: p.x + Math.cos(a), y: p.y + Math.sin(a) }; // 1 px noise
        });
        const e = headPose(pts);
        err.yaw += Math.abs(e.yaw - yaw);
        err.pitch += Math.abs(e.pitch - pitch);
        err.roll += Math.abs(e.roll - roll);
        n++;
      }
    }
  }
  for (const [k, v] of Object.entries(err)) assert.ok(v / n <= 3, `${k} MAE ${(v / n).toFixed(2)}`);
  // Signs: the nose moves toward the image's right for yaw > 0, up for pitch > 0.
  const front = projectMeanFace({ yaw: 0, pitch: 0, roll: 0 }, 1, { x: 0, y: 0 });
  const turned = projectMeanFace({ yaw: 30, pitch: 0, roll: 0 }, 1, { x: 0, y: 0 });
  assert.ok(turned[30].x - turned[27].x > front[30].x - front[27].x + 5);
  const up = projectMeanFace({ yaw: 0, pitch: 20, roll: 0 }, 1, { x: 0, y: 0 });
  assert.ok(up[30].y - up[36].y < front[30].y - front[36].y - 3, "pitch > 0: the nose moves up");
  const tilted = projectMeanFace({ yaw: 0, pitch: 0, roll: 20 }, 1, { x: 0, y: 0 });
  assert.ok(tilted[45].y > tilted[36].y, "roll > 0 turns the eye line clockwise");
});

Deno.test("head pose on a real photo: mirroring negates yaw and roll, keeps pitch", async () => {
  const img = await readImage(`${ROOT}fixtures/einstein.jpg`);
  const mirrored = mirrorRgba(img);
  const e = await createKeypointEstimator({ model: "part3" });
  const box = { x: 354, y: 282, width: 84, height: 99 };
  // Flip averaging makes the points of the mirrored photo the mirrored points
  // (a net alone is only nearly mirror-consistent), so this checks the pose's
  // conventions, not the net.
  const [a] = await e.estimate(img, { box, flip: true });
  const [b] = await e.estimate(mirrored, {
    box: { ...box, x: img.width - box.x - box.width },
    flip: true,
  });
  e.dispose();
  const pa = headPose(a.keypoints), pb = headPose(b.keypoints);
  assert.ok(Math.abs(pa.yaw) > 5 && Math.abs(pa.roll) > 5, JSON.stringify(pa));
  assert.ok(Math.abs(pa.yaw + pb.yaw) < 0.5, `yaw ${pa.yaw} vs mirrored ${pb.yaw}`);
  assert.ok(Math.abs(pa.roll + pb.roll) < 0.5, `roll ${pa.roll} vs mirrored ${pb.roll}`);
  assert.ok(Math.abs(pa.pitch - pb.pitch) < 0.5, `pitch ${pa.pitch} vs mirrored ${pb.pitch}`);
});

Deno.test("aligned crop: the eyes land level at the chosen places", () => {
  const pts = projectMeanFace({ yaw: 0, pitch: 0, roll: 25 }, 2, { x: 150, y: 160 });
  const m = alignmentMatrix(pts, { size: 100, eyeDistance: 0.4, eyeY: 0.35 });
  const [r, l] = eyeCentres(pts).map((p) => ({
    x: m[0] * (p.x + 0.5) + m[1] * (p.y + 0.5) + m[2],
    y: m[3] * (p.x + 0.5) + m[4] * (p.y + 0.5) + m[5],
  }));
  assert.ok(Math.abs(r.x - 30) < 1e-9 && Math.abs(l.x - 70) < 1e-9);
  assert.ok(Math.abs(r.y - 35) < 1e-9 && Math.abs(l.y - 35) < 1e-9);
  const img = { width: 300, height: 300, data: new Uint8ClampedArray(300 * 300 * 4).fill(200) };
  const crop = alignFace(img, pts, { size: 64 });
  assert.deepEqual([crop.width, crop.height, crop.data.length], [64, 64, 64 * 64 * 4]);
});

Deno.test("drawFaces with pose draws the head axes from the nose tip", () => {
  const pts = projectMeanFace({ yaw: 30, pitch: 0, roll: 0 }, 1.5, { x: 150, y: 150 });
  const face = {
    box: { x: 60, y: 100, width: 180, height: 180 },
    score: 1,
    keypoints: pts.map((p, i) => ({ ...p, name: `p${i}` })),
  };
  const img = { width: 300, height: 300, data: new Uint8ClampedArray(300 * 300 * 4) };
  const lit = (o: { data: Uint8ClampedArray | Uint8Array }) =>
    o.data.filter((v, i) => i % 4 !== 3 && v > 0).length;
  const plain = drawFaces(img, [face]);
  const axes = drawFaces(img, [face], { pose: true });
  assert.ok(lit(axes) > lit(plain) + 100, "axes add drawn pixels");
  // The facing axis of a face turned to the image's right points right of the nose.
  const n = pts[30];
  const row = Math.round(n.y);
  let blueRight = 0;
  for (let x = Math.round(n.x) + 5; x < 300; x++) {
    if (axes.data[(row * 300 + x) * 4 + 2] > 200) blueRight++;
  }
  assert.ok(blueRight > 5, `blue pixels right of the nose: ${blueRight}`);
});

Deno.test("regions and aspect ratios", () => {
  const pts = projectMeanFace({ yaw: 0, pitch: 0, roll: 0 }, 1, { x: 0, y: 0 });
  const g = regions(pts);
  assert.equal(Object.values(g).reduce((s, r) => s + r.length, 0), 68);
  assert.equal(g.jaw.length, 17);
  assert.deepEqual(REGIONS_68.leftEye, [42, 47]);
  assert.ok(g.rightEye[0].x < g.leftEye[0].x, "the subject's right eye is on the image's left");
  assert.equal(interOcularDistance(pts), 90);
  const ear = eyeAspectRatio(pts, "right");
  assert.ok(ear > 0.15 && ear < 0.45, `open eye EAR ${ear}`);
  assert.ok(Math.abs(ear - eyeAspectRatio(pts, "left")) < 1e-9, "symmetric mean face");
  const closed = pts.map((
    p,
    i,
  ) => (i >= 36 && i <= 47 ? { x: p.x, y: pts[i < 42 ? 36 : 45].y } : p));
  assert.ok(eyeAspectRatio(closed, "right") < 0.05);
  const open = pts.map((p, i) => (i >= 65 ? { x: p.x, y: p.y + 20 } : p));
  assert.ok(mouthAspectRatio(open) > mouthAspectRatio(pts) + 0.3);
  assert.throws(() => regions(pts.slice(0, 10)), /68 points/);
});
