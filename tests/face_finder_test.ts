// The face finder end to end through the public API: every face of a
// photo, nothing on photos without a face, several faces side by side, no
// tensor leaks; and predict on a batch with a corrupt file.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { createKeypointEstimator, type Face, type KeypointEstimator } from "../mod.ts";
import { boxFromPoints } from "../lib/data/face_box.ts";
import { parsePts } from "../lib/data/w300.ts";
import { readImage } from "../lib/image/decode.ts";
import type { RgbaImage as RgbaLike } from "../lib/image/rgba.ts";
import { iou, matchFaces } from "../lib/metrics/detection.ts";
import { nmeInterOcular } from "../lib/metrics/face_alignment.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const TRAIN = `${ROOT}../shared/data/300w/helen_trainset`;
const haveTrain = (() => {
  try {
    return Deno.statSync(TRAIN).isDirectory;
  } catch {
    return false;
  }
})();

let shared: KeypointEstimator | undefined;
async function estimator(): Promise<KeypointEstimator> {
  shared ??= await createKeypointEstimator({ model: "part3" });
  return shared;
}

/** `images` pasted left to right on a gray canvas, each at its own vertical centre. */
function sideBySide(images: RgbaLike[], gap = 40): RgbaLike {
  const width = images.reduce((s, i) => s + i.width, 0) + gap * (images.length + 1);
  const height = Math.max(...images.map((i) => i.height)) + 2 * gap;
  const data = new Uint8ClampedArray(width * height * 4).fill(128);
  let x0 = gap;
  for (const img of images) {
    const y0 = Math.floor((height - img.height) / 2);
    for (let y = 0; y < img.height; y++) {
      data.set(
        img.data.subarray(y * img.width * 4, (y + 1) * img.width * 4),
        ((y0 + y) * width + x0) * 4,
      );
    }
    x0 += img.width + gap;
  }
  return { width, height, data };
}

function flat(face: Face): Float32Array {
  return Float32Array.from(face.keypoints.flatMap((k) => [k.x, k.y]));
}

Deno.test("einstein: two faces, best first; the annotated one on its landmarks", async () => {
  const e = await estimator();
  await e.estimate(`${ROOT}fixtures/einstein.jpg`); // loads the face finder
  const before = tf.memory().numTensors;
  const faces = await e.estimate(`${ROOT}fixtures/einstein.jpg`);
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  assert.equal(faces.length, 2);
  assert.ok(faces[0].score >= faces[1].score);
  const truth = parsePts(Deno.readTextFileSync(`${ROOT}fixtures/einstein.pts`), "einstein.pts");
  const b = boxFromPoints(truth);
  const truthBox = { x: b.x, y: b.y, width: b.w, height: b.h };
  const match = matchFaces([truthBox], faces);
  assert.ok(match[0] >= 0, "the annotated face was not found");
  const speaker = faces[match[0]];
  assert.ok(iou(speaker.box, truthBox) > 0.6, `IoU ${iou(speaker.box, truthBox)}`);
  const [nme] = nmeInterOcular(flat(speaker), truth);
  assert.ok(nme < 0.08, `NME ${nme}`);
  // The seated man at the lower left (not annotated).
  const other = faces[1 - match[0]];
  assert.ok(other.box.x < 250 && other.box.y > 550, JSON.stringify(other.box));
  for (const f of faces) {
    assert.equal(f.keypoints.length, 68);
    for (const k of f.keypoints) assert.ok(k.score! >= 0 && k.score! <= 1);
  }
});

Deno.test("no face: blank images and a photo of a cat give []", async () => {
  const e = await estimator();
  for (const v of [0, 128, 255]) {
    const blank = { width: 640, height: 480, data: new Uint8ClampedArray(640 * 480 * 4).fill(v) };
    assert.deepEqual(await e.estimate(blank), []);
  }
  assert.deepEqual(await e.estimate(`${ROOT}fixtures/chelsea_cat.jpg`), []);
});

Deno.test("two faces pasted side by side give two faces, left and right", async () => {
  const img = await readImage(`${ROOT}fixtures/einstein.jpg`);
  // The speaker's head with margin, cut out as a separate picture.
  const crop = (x: number, y: number, w: number, h: number): RgbaLike => {
    const data = new Uint8ClampedArray(w * h * 4);
    for (let r = 0; r < h; r++) {
      data.set(
        img.data.subarray(((y + r) * img.width + x) * 4, ((y + r) * img.width + x + w) * 4),
        r * w * 4,
      );
    }
    return { width: w, height: h, data };
  };
  const head = crop(300, 220, 200, 220);
  const faces = await (await estimator()).estimate(sideBySide([head, head]));
  assert.equal(faces.length, 2);
  const xs = faces.map((f) => f.box.x + f.box.width / 2).sort((a, b) => a - b);
  assert.ok(xs[0] < 40 + 200 && xs[1] > 40 + 200 + 40, `centres ${xs}`);
});

Deno.test({
  name: "two 300-W training crops side by side give two faces on their landmarks",
  ignore: !haveTrain,
  async fn() {
    const names = [...Deno.readDirSync(TRAIN)].map((e) => e.name).filter((n) => n.endsWith(".pts"))
      .sort().slice(0, 6);
    const e = await estimator();
    let pairs = 0;
    for (let i = 0; i + 1 < names.length; i += 2) {
      const load = async (n: string) => {
        const stem = n.replace(/\.pts$/, "");
        const image = await readImage(`${TRAIN}/${stem}.jpg`);
        return { image, pts: parsePts(Deno.readTextFileSync(`${TRAIN}/${n}`), n) };
      };
      const [a, b] = [await load(names[i]), await load(names[i + 1])];
      const faces = await e.estimate(sideBySide([a.image, b.image]));
      assert.equal(faces.length, 2, `${names[i]} + ${names[i + 1]}: ${faces.length} faces`);
      pairs++;
    }
    assert.equal(pairs, 3);
  },
});

Deno.test("box and boxes skip finding; a box outside the image is an error", async () => {
  const e = await estimator();
  const box = { x: 354, y: 282, width: 84, height: 99 };
  const [one] = await e.estimate(`${ROOT}fixtures/einstein.jpg`, { box });
  assert.deepEqual(one.box, box);
  const two = await e.estimate(`${ROOT}fixtures/einstein.jpg`, {
    boxes: [box, { ...box, x: 100 }],
  });
  assert.equal(two.length, 2);
  await assert.rejects(
    () =>
      e.estimate(`${ROOT}fixtures/einstein.jpg`, { box: { x: 5000, y: 0, width: 10, height: 10 } }),
    /outside the 817x1024 image/,
  );
});

Deno.test("predict: a batch with a corrupt file gives 2 results, 1 error line, exit 1", async () => {
  const out = await Deno.makeTempDir({ prefix: "facekit-predict-" });
  try {
    const p = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-read=${ROOT},${out}`,
        `--allow-write=${out}`,
        "mod.ts",
        "predict",
        "fixtures/einstein.jpg",
        "fixtures/bad/truncated.jpg",
        "fixtures/chelsea_cat.jpg",
        "--out",
        out,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(p.code, 1, new TextDecoder().decode(p.stderr));
    const lines = new TextDecoder().decode(p.stdout).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 3);
    assert.deepEqual(lines.map((l) => l.image), [
      "fixtures/einstein.jpg",
      "fixtures/bad/truncated.jpg",
      "fixtures/chelsea_cat.jpg",
    ]);
    assert.equal(lines[0].faces.length, 2);
    assert.match(lines[1].error, /truncated\.jpg: corrupt JPEG/);
    assert.deepEqual(lines[2].faces, []);
    const pngs = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    assert.deepEqual(pngs, ["chelsea_cat.png", "einstein.png"]);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("release the shared estimator", () => {
  shared?.dispose();
});
