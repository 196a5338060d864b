// The onnxruntime engine gives the tfjs engine's keypoints (to 1e-3 px) and
// says which permission it needs when --allow-ffi is missing.
import assert from "node:assert/strict";
import { createKeypointEstimator } from "../mod.ts";
import { readImage } from "../lib/image/decode.ts";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("engine onnxruntime: same keypoints as tfjs to 1e-3 px (part3, part3-fast)", async () => {
  const img = await readImage(`${ROOT}fixtures/einstein.jpg`);
  const boxes = [{ x: 354, y: 282, width: 84, height: 99 }, {
    x: 130,
    y: 630,
    width: 45,
    height: 48,
  }];
  for (const model of ["part3", "part3-fast"]) {
    const a = await createKeypointEstimator({ model });
    const b = await createKeypointEstimator({ model, engine: "onnxruntime" });
    const fa = await a.estimate(img, { boxes }), fb = await b.estimate(img, { boxes });
    a.dispose();
    b.dispose();
    assert.equal(fb.length, 2);
    for (const [i, f] of fa.entries()) {
      const g = fb.find((x) => x.box.x === f.box.x)!;
      f.keypoints.forEach((k, j) => {
        assert.ok(Math.abs(k.x - g.keypoints[j].x) < 1e-3, `${model} face ${i} point ${j}`);
        assert.ok(Math.abs(k.y - g.keypoints[j].y) < 1e-3, `${model} face ${i} point ${j}`);
      });
    }
  }
});

Deno.test("engine onnxruntime without --allow-ffi names the flag", async () => {
  const p = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `--allow-read=${ROOT}`,
      "mod.ts",
      "predict",
      "fixtures/einstein.jpg",
      "--engine",
      "onnxruntime",
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(p.code, 1);
  assert.match(new TextDecoder().decode(p.stderr), /--allow-ffi/);
});
