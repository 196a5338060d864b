import assert from "node:assert/strict";
import { setupBackend } from "../lib/backends/backend.ts";
import { DEFAULT_AUGMENT, DEGRADE_AUGMENT, HANDS_AUGMENT } from "../lib/augment/augment.ts";
import {
  augmentFace,
  evaluateFolder,
  faceMetrics,
  prepareTrainFace,
  prepareValFace,
  runPart3,
} from "../lib/course/w300_task.ts";
import { normalisePoints } from "../lib/augment/preprocess.ts";
import { createRng } from "../lib/util/random.ts";
import type { ModelMeta } from "../lib/models/checkpoint.ts";
import { IBUG68 } from "../lib/data/layouts.ts";

const RAW = new URL("../fixtures/300w/raw/", import.meta.url).pathname;
const backend = await setupBackend("wasm");
const meta: ModelMeta = {
  task: "part3",
  layout: "ibug68",
  points: Array.from({ length: 68 }, (_, i) => i),
  inputWidth: 48,
  inputHeight: 48,
  channels: 1,
  boxScale: 0.25,
};

/** A 300-W root with the subset folders, from the fixtures. */
async function makeRoot(train: [string[], string[], string[]], val: string[]): Promise<string> {
  const root = await Deno.makeTempDir();
  const subsets = [
    ["helen_trainset", train[0]],
    ["lfpw_trainset", train[1]],
    ["afw", train[2]],
    ["helen_testset", val],
  ] as const;
  for (const [dir, names] of subsets) {
    await Deno.mkdir(`${root}/${dir}`);
    for (const n of names) {
      for (const e of Deno.readDirSync(RAW)) {
        if (e.name.startsWith(`${n}.`)) {
          await Deno.copyFile(`${RAW}${e.name}`, `${root}/${dir}/${e.name}`);
        }
      }
    }
  }
  return root;
}

function face(x: number, y: number, s: number): Float32Array {
  // A plausible 68-point layout: a ring of points scaled about (x, y).
  return Float32Array.from({ length: 136 }, (_, i) => {
    const a = (Math.floor(i / 2) / 68) * 2 * Math.PI;
    return i % 2 ? y + s * Math.sin(a) : x + s * Math.cos(a);
  });
}

Deno.test("augmented training crops keep a drawn dot under its keypoint", () => {
  const w = 120, h = 100;
  const data = new Float32Array(w * h);
  const pts = face(60, 50, 25);
  // A bright blob at point 30 only.
  const px = Math.round(pts[60]), py = Math.round(pts[61]);
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) data[(py + dy) * w + px + dx] = dx || dy ? 120 : 255;
  }
  pts[60] = px;
  pts[61] = py;
  const sample = {
    name: "dot",
    group: "dot",
    image: { data, width: w, height: h, channels: 1 },
    points: pts,
  };
  const prepared = prepareTrainFace(sample, meta);
  const rng = createRng(4);
  const aug = { ...DEFAULT_AUGMENT, brightness: 0, contrast: 0 };
  for (let t = 0; t < 20; t++) {
    const out = augmentFace(prepared, 48, rng, aug, 0.05);
    let best = 0;
    for (let i = 1; i < out.image.data.length; i++) {
      if (out.image.data[i] > out.image.data[best]) best = i;
    }
    // After a flip, point 30 (nose tip) maps to itself.
    const bx = best % 48, by = Math.floor(best / 48);
    assert.ok(
      Math.abs(bx - out.points[60]) <= 1.5 && Math.abs(by - out.points[61]) <= 1.5,
      `trial ${t}: (${bx}, ${by}) vs (${out.points[60]}, ${out.points[61]})`,
    );
    assert.equal(IBUG68.flip[30], 30);
  }
});

/** A 120x100 grey-ramp image with one face. */
function textured() {
  const w = 120, h = 100;
  const data = Float32Array.from({ length: w * h }, (_, i) => 40 + (i % 97));
  return {
    name: "g",
    group: "g",
    image: { data, width: w, height: h, channels: 1 },
    points: face(60, 50, 25),
  };
}

Deno.test("augmentFace with the degrade preset keeps the undegraded image as clean", () => {
  const prepared = prepareTrainFace(textured(), meta);
  let changed = 0;
  for (let t = 0; t < 12; t++) {
    // Same seed: the degrade preset draws the same warp and colours first.
    const a = augmentFace(prepared, 48, createRng(t), DEGRADE_AUGMENT, 0.05);
    const b = augmentFace(prepared, 48, createRng(t), DEFAULT_AUGMENT, 0.05);
    assert.deepEqual(a.points, b.points);
    assert.deepEqual(a.clean.data, b.image.data);
    assert.deepEqual(b.clean.data, b.image.data);
    if (a.image.data.some((v, i) => Math.abs(v - a.clean.data[i]) > 1e-3)) changed++;
  }
  assert.ok(changed >= 6, `${changed} of 12 degraded`);
});

Deno.test("augmentFace with the hands preset: same warp and points, a hand on about a quarter", () => {
  const prepared = prepareTrainFace(textured(), meta);
  let handed = 0;
  const draws = 40;
  for (let t = 0; t < draws; t++) {
    const a = augmentFace(prepared, 48, createRng(t), HANDS_AUGMENT, 0.05);
    const b = augmentFace(prepared, 48, createRng(t), DEFAULT_AUGMENT, 0.05);
    assert.deepEqual(a.points, b.points);
    assert.deepEqual(a.clean.data, b.image.data);
    if (a.image.data.some((v, i) => Math.abs(v - a.clean.data[i]) > 1e-3)) handed++;
  }
  assert.ok(handed >= 4 && handed <= 18, `${handed} of ${draws} with a hand (p 0.25)`);
});

Deno.test("faceMetrics: perfect predictions give zero error in original pixels", () => {
  const s = {
    name: "a",
    group: "a",
    image: { data: new Float32Array(200 * 160), width: 200, height: 160, channels: 1 },
    points: face(100, 80, 40),
  };
  const f = prepareValFace(s, meta);
  const pred = normalisePoints(f.points, 48, 48);
  const m = faceMetrics(pred, [f], 48);
  assert.ok(m.nme < 1e-5 && m.maePixels < 1e-3, `nme ${m.nme}, mae ${m.maePixels}`);
  assert.equal(m.failureRate, 0);
  // A 2-px shift of every point in the input is 2 * cropSide / 48 px in the image.
  const shifted = normalisePoints(f.points.map((v, i) => (i % 2 ? v : v + 2)), 48, 48);
  const side = 80 * 1.5;
  assert.ok(Math.abs(faceMetrics(shifted, [f], 48).maePixels - (2 * side / 48) / 2) < 1e-2);
  // Moving only the mouth (points 48-67) leaves every other region at zero error.
  const mouth = normalisePoints(
    f.points.map((v, i) => (i >= 96 && i % 2 === 0 ? v + 2 : v)),
    48,
    48,
  );
  const r = faceMetrics(mouth, [f], 48);
  assert.ok(r.regionNme.mouth > 0.01, `mouth ${r.regionNme.mouth}`);
  for (const k of ["jaw", "brows", "nose", "eyes"]) {
    assert.ok(r.regionNme[k] < 1e-5, `${k} ${r.regionNme[k]}`);
  }
  assert.equal(r.hardYaw.faces, 1);
  assert.ok(Math.abs(r.hardYaw.nme - r.nme) < 1e-7);
});

Deno.test("Part 3 trains on mixed fixtures (grayscale JPEG, alpha PNG, 16-bit PNG, 1x1 image, points outside) and evaluates", async () => {
  const root = await makeRoot([["1000_1", "1000_2"], ["image_0007"], ["3000_1"]], ["2000_1"]);
  const out = await Deno.makeTempDir();
  try {
    const summary = await runPart3({
      data: root,
      out,
      epochs: 2,
      batch: 2,
      lr: 1e-3,
      seed: 1,
      resume: false,
      inputSize: 48,
      channels: 1,
      depth: 18,
      width: 0.125,
      bottleneckWidth: 1,
      boxScale: 0.25,
      jitter: 0.05,
      loss: "smoothl1",
      warmup: 1,
      decay: "cosine",
      backend,
      quiet: true,
      recalibrateBn: true,
    });
    assert.equal(summary.trainFaces, 4);
    assert.equal(summary.valFaces, 1);
    assert.ok(Number.isFinite(summary.nmePercent));
    assert.ok(summary.loaderImagesPerSec > 0);
    for (
      const f of ["best/model.json", "ced.png", "val_best_worst.png", "loss.png", "summary.json"]
    ) {
      assert.ok(Deno.statSync(`${out}/${f}`).isFile, f);
    }
    const m = await evaluateFolder(`${out}/best`, [`${root}/helen_testset`]);
    assert.equal(m.faces, 1);
    assert.ok(
      Math.abs(m.nme * 100 - summary.nmePercent) < 1e-3,
      "eval reproduces the training summary",
    );
    // The recalibrated final model: its own folder, and eval reproduces its figure.
    assert.equal(summary.recalibrated?.from, `${out}/last`);
    const mr = await evaluateFolder(`${out}/recalibrated`, [`${root}/helen_testset`]);
    assert.ok(Math.abs(mr.nme * 100 - summary.recalibrated!.nmePercent) < 1e-3);
    assert.throws(() => Deno.statSync(`${out}/recalibrated.tmp`), "no temporary folder left");
    // Flip averaging reads the mirrored crop too: an untrained net is not
    // mirror-consistent, so the figure moves (and stays finite).
    const mf = await evaluateFolder(`${out}/best`, [`${root}/helen_testset`], undefined, true);
    assert.equal(mf.faces, 1);
    assert.ok(Number.isFinite(mf.nme) && mf.nme !== m.nme, `${mf.nme} vs ${m.nme}`);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("Part 3 stops before training on a face whose box lies entirely outside its image", async () => {
  const root = await makeRoot([["1000_1"], ["image_0007"], []], ["2000_1"]);
  const out = await Deno.makeTempDir();
  try {
    // A label whose points all lie far outside the photo.
    await Deno.copyFile(`${RAW}1000_1.jpg`, `${root}/afw/5000_1.jpg`);
    const text = await Deno.readTextFile(`${RAW}1000_1.pts`);
    await Deno.writeTextFile(
      `${root}/afw/5000_1.pts`,
      text.replace(
        /^(-?[\d.]+) (-?[\d.]+)$/gm,
        (_, x, y) => `${Number(x) + 5000} ${Number(y) + 5000}`,
      ),
    );
    await assert.rejects(
      () =>
        runPart3({
          data: root,
          out: `${out}/run`,
          epochs: 1,
          batch: 2,
          lr: 1e-3,
          seed: 1,
          resume: false,
          inputSize: 48,
          channels: 1,
          depth: 18,
          width: 0.125,
          bottleneckWidth: 1,
          boxScale: 0.25,
          jitter: 0.05,
          loss: "smoothl1",
          warmup: 0,
          decay: "cosine",
          backend,
          quiet: true,
        }),
      /5000_1: face box .* lies entirely outside/,
    );
    assert.throws(() => Deno.statSync(`${out}/run`), "nothing written");
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("cedChart draws one curve per model in its own colour", async () => {
  const { cedChart } = await import("../lib/course/w300_task.ts");
  const metrics = (nmes: number[]) => ({
    nme: nmes.reduce((s, v) => s + v, 0) / nmes.length,
    failureRate: 0,
    auc8: 0,
    maePixels: 0,
    perFace: Float32Array.from(nmes),
    failureRate10: 0,
    auc10: 0,
    regionNme: {},
    hardYaw: { faces: 0, nme: 0, minAbsYaw: 0 },
  });
  const img = cedChart([{ name: "a", metrics: metrics([0.02, 0.03]) }, {
    name: "b",
    metrics: metrics([0.05, 0.06]),
  }]);
  const has = (r: number, g: number, b: number) => {
    for (let i = 0; i < img.data.length; i += 4) {
      if (img.data[i] === r && img.data[i + 1] === g && img.data[i + 2] === b) return true;
    }
    return false;
  };
  assert.ok(has(214, 39, 40) && has(31, 119, 180), "both series drawn");
  const one = cedChart([{ name: "a", metrics: metrics([0.02, 0.03]) }]);
  assert.equal(one.width, img.width);
});
