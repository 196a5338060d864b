import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { createDetector } from "../mod.ts";
import { loadModel } from "../lib/infer/keypoint_estimator.ts";
import { resolveModelLocation } from "../lib/models/location.ts";
import { folderSaver } from "../lib/models/checkpoint.ts";
import { buildPart1 } from "../lib/models/course_cnn.ts";
import { parseBox } from "../lib/cli/predict.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const FACE = `${ROOT}fixtures/einstein.jpg`;
const DENO = Deno.execPath();

function readPts(path: string): Float32Array {
  const body = Deno.readTextFileSync(path).split("{")[1].split("}")[0];
  return Float32Array.from(body.trim().split(/\s+/).map(Number));
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = await new Deno.Command(DENO, { args, cwd: ROOT, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: p.code, out: dec.decode(p.stdout), err: dec.decode(p.stderr) };
}

for (const name of ["part3", "part3-fast"]) {
  Deno.test(`${name} weights ship and land on the face in the fixture photo`, async () => {
    const pts = readPts(`${ROOT}fixtures/einstein.pts`);
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (let i = 0; i < 68; i++) {
      x0 = Math.min(x0, pts[2 * i]);
      x1 = Math.max(x1, pts[2 * i]);
      y0 = Math.min(y0, pts[2 * i + 1]);
      y1 = Math.max(y1, pts[2 * i + 1]);
    }
    const box = { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
    const detector = await createDetector({ model: name });
    const face = await detector.estimate(await Deno.readFile(FACE), { box });
    detector.dispose();
    assert.equal(face.keypoints.length, 68);
    const k = (name: string) => face.keypoints.find((p) => p.name === name)!;
    const nose = k("nose_bridge_3");
    assert.ok(
      nose.x > box.x && nose.x < box.x + box.width && nose.y > box.y && nose.y < box.y + box.height,
      "nose tip inside the face box",
    );
    const eyeY = (k("right_eye_0").y + k("left_eye_3").y) / 2;
    const mouthY = (k("outer_lip_3").y + k("outer_lip_9").y) / 2;
    assert.ok(
      eyeY < nose.y && nose.y < mouthY,
      `eyes ${eyeY} above nose ${nose.y} above mouth ${mouthY}`,
    );
    assert.ok(k("right_eye_0").x < k("left_eye_3").x, "subject's right eye on the image's left");
    // Mean error against the annotation, relative to the inter-ocular distance.
    const iod = Math.hypot(pts[90] - pts[72], pts[91] - pts[73]);
    let err = 0;
    face.keypoints.forEach((
      p,
      i,
    ) => (err += Math.hypot(p.x - pts[2 * i], p.y - pts[2 * i + 1]) / 68));
    assert.ok(err / iod < 0.2, `NME on the fixture ${(100 * err / iod).toFixed(1)} %`);
  });
}

Deno.test("estimate accepts bytes, ImageData-like objects and tensors alike", async () => {
  const detector = await createDetector({ model: "part1" });
  const bytes = await Deno.readFile(`${ROOT}fixtures/imm/33-1m.jpg`);
  const a = await detector.estimate(bytes);
  const { decodeImage } = await import("../lib/image/decode.ts");
  const rgba = decodeImage(bytes);
  const b = await detector.estimate(rgba);
  const t = tf.tensor3d(
    Float32Array.from(
      { length: rgba.width * rgba.height * 3 },
      (_, i) => rgba.data[Math.floor(i / 3) * 4 + (i % 3)],
    ),
    [rgba.height, rgba.width, 3],
  );
  const c = await detector.estimate(t);
  t.dispose();
  detector.dispose();
  assert.equal(a.keypoints[0].name, "nose_tip");
  assert.deepEqual(a, b);
  assert.ok(Math.abs(a.keypoints[0].x - c.keypoints[0].x) < 1e-3);
  assert.deepEqual(a.box, { x: 0, y: 0, width: 640, height: 480 });
  await assert.rejects(
    () => createDetector({ model: "part1" }).then((d) => d.estimate(new Uint8Array([1, 2, 3]))),
    /not a JPEG or PNG image/,
  );
});

Deno.test("model loading refuses traversal, shape mismatch and truncated weights", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await buildPart1({ seed: 1 }).save(
      folderSaver(dir, {
        task: "part1",
        layout: "imm58",
        points: [52],
        inputWidth: 80,
        inputHeight: 64,
        channels: 1,
      }),
    );
    const json = JSON.parse(await Deno.readTextFile(`${dir}/model.json`));
    const loc = resolveModelLocation(dir);
    const bad = structuredClone(json);
    bad.weightsManifest[0].paths = ["../../etc/passwd"];
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(bad));
    await assert.rejects(() => loadModel(loc), /escapes the model folder/);
    const shape = structuredClone(json);
    shape.weightsManifest[0].weights[0].shape = [3, 3, 1, 15];
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(shape));
    await assert.rejects(() => loadModel(loc), /oversized file/);
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(json));
    const w = await Deno.readFile(`${dir}/weights.bin`);
    await Deno.writeFile(`${dir}/weights.bin`, w.slice(0, w.length - 8));
    await assert.rejects(() => loadModel(loc), /truncated file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict runs with read access to the model folder and the photo only", async () => {
  const modelDir = `${ROOT}models`; // part3 and the face finder (blazeface)
  const ok = await run([
    "run",
    "--no-prompt",
    `--allow-read=${modelDir},${FACE}`,
    "mod.ts",
    "predict",
    FACE,
    "--json",
    "--box",
    "354,282,84,99",
  ]);
  assert.equal(ok.code, 0, ok.err);
  const line = JSON.parse(ok.out);
  assert.equal(line.image, FACE);
  assert.equal(line.faces.length, 1);
  assert.equal(line.faces[0].keypoints.length, 68);
  // Without the model folder: a clear message naming the flag.
  const noModel = await run([
    "run",
    "--no-prompt",
    `--allow-read=${FACE}`,
    "mod.ts",
    "predict",
    FACE,
  ]);
  assert.equal(noModel.code, 1);
  assert.match(noModel.err, /--allow-read=.*models\/part3/);
  // Without read access to the photo.
  const noImage = await run([
    "run",
    "--no-prompt",
    `--allow-read=${modelDir}`,
    "mod.ts",
    "predict",
    FACE,
  ]);
  assert.equal(noImage.code, 1);
  assert.match(noImage.err, /einstein\.jpg: read access denied; run with --allow-read=/);
  // --out writes atomically (temp file + rename), so it needs read and
  // write access to the output's folder, and says so when one is missing.
  const dir = await Deno.makeTempDir();
  const out = `${dir}/face.png`;
  const read = `--allow-read=${modelDir},${FACE}`;
  const denied = await run(["run", "--no-prompt", read, "mod.ts", "predict", FACE, "--out", out]);
  assert.equal(denied.code, 1);
  assert.match(denied.err, new RegExp(`--allow-write=${dir}`));
  const noRead = await run([
    "run",
    "--no-prompt",
    read,
    `--allow-write=${dir}`,
    "mod.ts",
    "predict",
    FACE,
    "--out",
    out,
  ]);
  assert.equal(noRead.code, 1);
  assert.match(noRead.err, new RegExp(`--allow-read=${dir}`));
  const args = [
    "run",
    "--no-prompt",
    `${read},${dir}`,
    `--allow-write=${dir}`,
    "mod.ts",
    "predict",
    FACE,
  ];
  const drawn = await run([...args, "--out", out]);
  assert.equal(drawn.code, 0, drawn.err);
  assert.deepEqual([...(await Deno.readFile(out)).slice(1, 4)], [80, 78, 71], "a PNG was written");
  assert.deepEqual(
    [...Deno.readDirSync(dir)].map((e) => e.name),
    ["face.png"],
    "no temp file left",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("estimate on bytes needs no permission at all once the model is loaded", async () => {
  // A child with read access to the model folder only; the photo arrives as bytes on stdin.
  const p = new Deno.Command(DENO, {
    args: [
      "run",
      "--no-prompt",
      `--allow-read=${ROOT}models/part3`,
      "tests/child/estimate_bytes.ts",
    ],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(await Deno.readFile(FACE));
  await w.close();
  const r = await p.output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  assert.equal(new TextDecoder().decode(r.stdout).trim(), "68");
});

Deno.test("parseBox checks its input", () => {
  assert.deepEqual(parseBox("1,2,3,4"), { x: 1, y: 2, width: 3, height: 4 });
  assert.throws(() => parseBox("1,2,3"), /--box/);
  assert.throws(() => parseBox("1,2,-3,4"), /positive/);
});
