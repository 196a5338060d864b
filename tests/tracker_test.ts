// Tracking: stable ids, the finder only every N frames, a face that leaves
// ends its track, and the One-Euro filter damps noise without lag on a
// constant signal.
import assert from "node:assert/strict";
import { createKeypointEstimator, createOneEuro, createTracker } from "../mod.ts";
import { readImage } from "../lib/image/decode.ts";
import { fromRgba, toRgba, warpAffine } from "../lib/image/raster.ts";
import { translation } from "../lib/image/affine.ts";
import { createRng } from "../lib/util/random.ts";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("One-Euro: constants pass, noise is damped, a step is followed", () => {
  const rng = createRng(1);
  const f = createOneEuro({ minCutoff: 1, beta: 0 });
  let raw = 0, smooth = 0;
  for (let i = 0; i < 60; i++) {
    const v = 100 + rng.uniform(-1, 1);
    const s = f.filter([v], i / 30)[0];
    if (i > 10) [raw, smooth] = [raw + (v - 100) ** 2, smooth + (s - 100) ** 2];
  }
  assert.ok(smooth < raw / 4, `noise power ${smooth} vs ${raw}`);
  const g = createOneEuro({ minCutoff: 1, beta: 0.5 });
  g.filter([0], 0);
  let last = 0;
  for (let i = 1; i <= 15; i++) last = g.filter([100], i / 30)[0];
  assert.ok(last > 95, `a step of 100 reached ${last} after half a second`);
});

Deno.test("tracker: stable ids, finder every N frames, follows a moving face, ends when it leaves", async () => {
  const photo = await readImage(`${ROOT}fixtures/einstein.jpg`);
  const float = fromRgba(photo, 3);
  const shifted = (dx: number) =>
    toRgba(warpAffine(float, translation(dx, 0), photo.width, photo.height));
  const e = await createKeypointEstimator({ model: "part3" });
  const tracker = createTracker(e, { detectEvery: 3 });
  const ids: number[][] = [];
  for (let i = 0; i < 4; i++) ids.push((await tracker.track(shifted(i * 4))).map((f) => f.id));
  assert.deepEqual(ids, [[1, 2], [1, 2], [1, 2], [1, 2]]);
  assert.equal(tracker.detections, 2, "frames 0 and 3");
  // The speaker (id 1) slides right 15 px a frame: his track follows him.
  const start = meanX((await tracker.track(shifted(12))).find((f) => f.id === 1)!);
  for (let i = 1; i <= 12; i++) {
    const speaker = (await tracker.track(shifted(12 + 15 * i))).find((f) => f.id === 1);
    assert.ok(speaker, `track 1 lost at step ${i}`);
    const moved = meanX(speaker) - start;
    assert.ok(Math.abs(moved - 15 * i) < 12, `step ${i}: track 1 moved ${moved} px, not ${15 * i}`);
  }
  // He leaves the frame: the crop where he was keeps a face-like look to the
  // keypoint model, but two finder passes in a row find no face there.
  let gone = -1;
  for (let i = 1; i <= 8 && gone < 0; i++) {
    const faces = await tracker.track(shifted(600));
    if (!faces.some((f) => f.id === 1)) gone = i;
  }
  e.dispose();
  assert.ok(gone >= 1 && gone <= 6, `track 1 ended after ${gone} frames (two passes: <= 6)`);
});

/** Mean x of a face's keypoints. */
function meanX(face: { keypoints: { x: number }[] }): number {
  return face.keypoints.reduce((s, k) => s + k.x, 0) / face.keypoints.length;
}

Deno.test("predict --sequence: one line per frame with track ids", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facekit-seq-" });
  try {
    for (const n of ["b.jpg", "a.jpg"]) {
      await Deno.copyFile(`${ROOT}fixtures/einstein.jpg`, `${dir}/${n}`);
    }
    const p = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "mod.ts", "predict", "--sequence", dir],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(p.code, 0, new TextDecoder().decode(p.stderr));
    const lines = new TextDecoder().decode(p.stdout).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => [l.image.replace(/^.*\//, ""), l.frame]), [["a.jpg", 0], [
      "b.jpg",
      1,
    ]]);
    assert.deepEqual(lines.map((l) => l.faces.map((f: { id: number }) => f.id)), [[1, 2], [1, 2]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
