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

Deno.test("tracker: stable ids, finder every N frames, a face sliding out ends its track", async () => {
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
  // Slide the speaker (id 1) right, out of the frame: his track ends, the other stays.
  let gone = -1;
  for (let i = 1; i < 12 && gone < 0; i++) {
    const faces = await tracker.track(shifted(i * 50));
    if (!faces.some((f) => f.id === 1)) gone = i;
  }
  e.dispose();
  assert.ok(gone >= 7 && gone <= 11, `track 1 ended at step ${gone}`);
});

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
