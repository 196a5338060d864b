/**
 * Inference latency in one table (warm process unless said, batch 1):
 * keypoints per face (one pass, and with the refining second pass), the
 * face finder on a 1024-px photo (whole-photo pass only, and the default
 * tiling), finder + keypoints on 1024-px photos with 1 and 5 faces, and a
 * cold `predict` process. The photos are the fixture's speaker pasted onto a
 * 1024x768 gray canvas (once at 2x, a face about 170 px wide; five times at
 * 1.5x), so the bench needs no data set.
 *
 * face-api.js (`@vladmandic/face-api`, pinned in deno.json) is an optional
 * peer, timed on the same tfjs instance and backend with the same inputs:
 * its 68-point landmark nets (full and tiny) on the speaker's box, its
 * detectors (SSD MobileNetV1 with default options, TinyFaceDetector at
 * input size 416) and detector + landmarks (SSD + full net, TinyFaceDetector
 * + tiny net) on the one-face photo; the image-to-tensor copy is timed, as
 * ours is. Its weights are read from the package's `model/` folder. The last two columns give
 * each peer's median (p90, faces found) and our median divided by the
 * peer's; when the package cannot be loaded, or with `--no-peer`, one line
 * says why and the table has no peer entries.
 *
 * ```sh
 * deno task bench:predict [--model part3] [--fast part3-fast] [--backend wasm] [--reps 20] [--no-cold] [--no-peer]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { nativeBlas } from "../lib/backends/native_blas.ts";
import { setNativeEnabled } from "../lib/backends/native_conv.ts";
import { parseOrExit } from "../lib/cli/args.ts";
import { createFaceDetector, createKeypointEstimator } from "../mod.ts";
import { readImage } from "../lib/image/decode.ts";
import type { RgbaImage } from "../lib/image/rgba.ts";
import { fromRgba, resize, toRgba } from "../lib/image/raster.ts";

const USAGE =
  `usage: deno task bench:predict [--model part3] [--fast part3-fast] [--backend wasm] [--reps 20]
                               [--no-cold] [--no-peer]
  latency of the keypoint estimator and the face finder (ms, median and p90), for the accurate
  model (--model) and the fast one (--fast; "none" skips its rows),
  next to face-api.js (npm:@vladmandic/face-api) where it is installed;
  --no-cold skips the cold-process row, --no-peer skips face-api.js`;

const { values } = parseOrExit(Deno.args, {
  model: { type: "string", default: "part3" },
  fast: { type: "string", default: "part3-fast" },
  backend: { type: "string", default: "wasm" },
  reps: { type: "string", default: "20" },
  "no-cold": { type: "boolean", default: false },
  "no-peer": { type: "boolean", default: false },
}, USAGE);
const reps = Number(values.reps);
const backend = values.backend as "wasm" | "cpu" | "webgpu";
const ROOT = new URL("../", import.meta.url).pathname;

const photo = await readImage(`${ROOT}fixtures/einstein.jpg`);
const speaker = { x: 354, y: 282, width: 84, height: 99 };

/** The pixels of `box` (inside `img`) as an image of their own. */
function cropRgba(
  img: RgbaImage,
  box: { x: number; y: number; width: number; height: number },
): RgbaImage {
  const { x, y, width: w, height: h } = box;
  const data = new Uint8ClampedArray(w * h * 4);
  for (let r = 0; r < h; r++) {
    const s = ((y + r) * img.width + x) * 4;
    data.set(img.data.subarray(s, s + w * 4), r * w * 4);
  }
  return { width: w, height: h, data };
}

/** The speaker's head scaled by `k` (a face about 85k px wide). */
const headAt = (k: number): RgbaImage => {
  const head = cropRgba(photo, { x: 300, y: 220, width: 200, height: 220 });
  return toRgba(resize(fromRgba(head, 3), head.width * k, head.height * k));
};

/** `n` (1-6) copies of the head on a 1024x768 gray canvas, 3 per row. */
function canvas(n: number, head: RgbaImage): RgbaImage {
  const [w, h] = [1024, 768];
  const data = new Uint8ClampedArray(w * h * 4).fill(110);
  for (let i = 0; i < n; i++) {
    const x0 = 20 + (i % 3) * 335, y0 = 30 + Math.floor(i / 3) * 370;
    for (let r = 0; r < head.height; r++) {
      data.set(
        head.data.subarray(r * head.width * 4, (r + 1) * head.width * 4),
        ((y0 + r) * w + x0) * 4,
      );
    }
  }
  return { width: w, height: h, data };
}

async function time(f: () => Promise<unknown>): Promise<{ median: number; p90: number }> {
  for (let i = 0; i < 3; i++) await f();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return { median: t[t.length >> 1], p90: t[Math.floor(t.length * 0.9)] };
}

/** Median and p90 of one measurement, in ms. */
type Timing = { median: number; p90: number };
/** One peer measurement set against one of our rows. */
type Peer = { name: string; t: Timing; found?: number };
/** One table row: ours, and the peers it is compared with. */
type Row = { what: string; t: Timing; note: string; peers: Peer[] };

const rows: Row[] = [];
const row = (what: string, t: Timing, note: string): Row => {
  const r = { what, t, note, peers: [] };
  rows.push(r);
  return r;
};
const estimator = await createKeypointEstimator({ model: values.model, backend });
const finder = await createFaceDetector({ backend });
// The default path has no --allow-ffi, so no native GEMM: keep it off here
// too, except for the one row that shows what it adds.
setNativeEnabled(false);
const onePass = row(
  "keypoints, one face, one pass",
  await time(() => estimator.estimateFace(photo, speaker)),
  `${values.model}, ${estimator.meta.inputWidth}x${estimator.meta.inputHeight}`,
);
if (nativeBlas()) {
  setNativeEnabled(true);
  row(
    "keypoints, one face, one pass, wasm + native GEMM",
    await time(() => estimator.estimateFace(photo, speaker)),
    "OpenBLAS, --allow-ffi",
  );
  setNativeEnabled(false);
}
row(
  "keypoints, one face, with refine pass",
  await time(() => estimator.estimate(photo, { box: speaker, refine: true })),
  "two passes",
);
try {
  const fast = await createKeypointEstimator({ model: values.model, engine: "onnxruntime" });
  row(
    "keypoints, one face, one pass, engine onnxruntime",
    await time(() => fast.estimateFace(photo, speaker)),
    "onnxruntime-node, --allow-ffi",
  );
  row(
    "keypoints, 5 faces of one photo, engine onnxruntime (per photo)",
    await time(() => fast.estimate(photo, { boxes: Array(5).fill(speaker) })),
    "one batch of 5",
  );
  fast.dispose();
} catch (e) {
  console.error(`onnxruntime rows skipped: ${(e as Error).message}`);
}
row(
  "keypoints, 5 faces of one photo (per photo)",
  await time(() => estimator.estimate(photo, { boxes: Array(5).fill(speaker) })),
  "one batch of 5",
);
const one = canvas(1, headAt(2)), five = canvas(5, headAt(1.5));
/** Our face-finder rows and our finder + keypoints rows on `one`. */
const finderRows: Row[] = [], pipelineRows: Row[] = [];
for (const [label, mfs] of [["whole photo only", 0], ["default tiling", undefined]] as const) {
  const found = await finder.findFaces(one, { minFaceSize: mfs });
  finderRows.push(row(
    `face finder, 1024x768, ${label}`,
    await time(() => finder.findFaces(one, { minFaceSize: mfs })),
    `${found.length} face(s)`,
  ));
}
for (const [n, img] of [[1, one], [5, five]] as const) {
  for (const [label, mfs] of [["whole photo only", 0], ["default tiling", undefined]] as const) {
    const faces = await estimator.estimate(img, { minFaceSize: mfs });
    const r = row(
      `finder + keypoints, 1024x768, ${n} face(s), ${label}`,
      await time(() => estimator.estimate(img, { minFaceSize: mfs })),
      `${faces.length} found`,
    );
    if (n === 1) pipelineRows.push(r);
  }
}
estimator.dispose();
/** Rows of the fast model that the landmark peers are compared with. */
const fastOnePass: Row[] = [];
if (values.fast !== "none") {
  const fast = await createKeypointEstimator({ model: values.fast, backend });
  fastOnePass.push(row(
    `keypoints, one face, one pass, ${values.fast}`,
    await time(() => fast.estimateFace(photo, speaker)),
    `${fast.meta.inputWidth}x${fast.meta.inputHeight}, --allow-read only`,
  ));
  try {
    const ort = await createKeypointEstimator({ model: values.fast, engine: "onnxruntime" });
    row(
      `keypoints, one face, one pass, ${values.fast}, engine onnxruntime`,
      await time(() => ort.estimateFace(photo, speaker)),
      "onnxruntime-node, --allow-ffi",
    );
    ort.dispose();
  } catch (e) {
    console.error(`onnxruntime rows skipped: ${(e as Error).message}`);
  }
  for (const [label, mfs] of [["whole photo only", 0], ["default tiling", undefined]] as const) {
    const faces = await fast.estimate(one, { minFaceSize: mfs });
    pipelineRows.push(row(
      `finder + keypoints, 1024x768, 1 face(s), ${label}, ${values.fast}`,
      await time(() => fast.estimate(one, { minFaceSize: mfs })),
      `${faces.length} found`,
    ));
  }
  fast.dispose();
}
finder.dispose();

/** The parts of face-api.js (`@vladmandic/face-api` 1.7) used here. */
interface FaceApi {
  version: string;
  nets: {
    faceLandmark68Net: LandmarkNet;
    faceLandmark68TinyNet: LandmarkNet;
    ssdMobilenetv1: FaceApiNet;
    tinyFaceDetector: FaceApiNet;
  };
  SsdMobilenetv1Options: new () => object;
  TinyFaceDetectorOptions: new (o: { inputSize: number }) => object;
  detectAllFaces(input: tf.Tensor3D, options: object): DetectTask;
}
interface FaceApiNet {
  loadFromDisk(dir: string): Promise<void>;
}
interface LandmarkNet extends FaceApiNet {
  detectLandmarks(input: tf.Tensor3D): Promise<{ positions: unknown[] }>;
}
interface DetectTask extends PromiseLike<unknown[]> {
  withFaceLandmarks(tiny?: boolean): PromiseLike<unknown[]>;
}

/** The RGB of `img` (or of its `box`) as an int32 tensor, as face-api takes it. */
function rgbTensor(img: RgbaImage, box = { x: 0, y: 0, width: img.width, height: img.height }) {
  const rgb = fromRgba(cropRgba(img, box), 3);
  return tf.tensor3d(rgb.data, [rgb.height, rgb.width, 3], "int32");
}

/**
 * Times face-api.js on our inputs and adds its medians to our rows; the
 * image-to-tensor copy is inside each timing, as our rows convert theirs.
 */
async function facePeer(): Promise<void> {
  // A computed specifier: the bench must still run when the package is absent.
  // The nobundle ESM build imports tfjs's ESM files by extensionless paths,
  // which Deno cannot resolve; the node-wasm build requires the same
  // @tensorflow/tfjs and tfjs-backend-wasm modules as ours, so it shares our
  // engine, kernels and backend.
  const spec = "@vladmandic/face-api/dist/face-api.node-wasm.js";
  const faceapi = (await import(spec)) as FaceApi;
  const dir = new URL("../model", import.meta.resolve(spec)).pathname;
  const { nets } = faceapi;
  for (
    const net of [
      nets.faceLandmark68Net,
      nets.faceLandmark68TinyNet,
      nets.ssdMobilenetv1,
      nets.tinyFaceDetector,
    ]
  ) {
    await net.loadFromDisk(dir);
  }
  if (tf.getBackend() !== backend) throw new Error(`tfjs backend is now ${tf.getBackend()}`);
  const tag = `face-api ${faceapi.version}`;
  const withTensor = async <T>(make: () => tf.Tensor3D, f: (x: tf.Tensor3D) => PromiseLike<T>) => {
    const x = make();
    try {
      return await f(x);
    } finally {
      x.dispose();
    }
  };
  /** Times `f` on a fresh tensor from `make`; counts the faces when `f` returns a list. */
  const peer = async (
    name: string,
    make: () => tf.Tensor3D,
    f: (x: tf.Tensor3D) => PromiseLike<unknown>,
  ): Promise<Peer> => {
    const out = await withTensor(make, f);
    const found = Array.isArray(out) ? out.length : undefined;
    return { name, t: await time(() => withTensor(make, f)), found };
  };
  const crop = () => rgbTensor(photo, speaker);
  const whole = () => rgbTensor(one);
  const ssd = new faceapi.SsdMobilenetv1Options();
  const tiny = new faceapi.TinyFaceDetectorOptions({ inputSize: 416 });
  const landmarks = [
    await peer("68 landmarks", crop, (x) => nets.faceLandmark68Net.detectLandmarks(x)),
    await peer(
      "68 landmarks tiny",
      crop,
      (x) => nets.faceLandmark68TinyNet.detectLandmarks(x),
    ),
  ];
  const detectors = [
    await peer("SSD MobileNetV1", whole, (x) => faceapi.detectAllFaces(x, ssd)),
    await peer("TinyFaceDetector 416", whole, (x) => faceapi.detectAllFaces(x, tiny)),
  ];
  const pipelines = [
    await peer(
      "SSD + 68 landmarks",
      whole,
      (x) => faceapi.detectAllFaces(x, ssd).withFaceLandmarks(),
    ),
    await peer(
      "TinyFaceDetector 416 + 68 tiny",
      whole,
      (x) => faceapi.detectAllFaces(x, tiny).withFaceLandmarks(true),
    ),
  ];
  const name = (p: Peer) => ({ ...p, name: `${tag} ${p.name}` });
  for (const r of [onePass, ...fastOnePass]) r.peers.push(...landmarks.map(name));
  for (const r of finderRows) r.peers.push(...detectors.map(name));
  for (const r of pipelineRows) r.peers.push(...pipelines.map(name));
}

if (values["no-peer"]) {
  console.error("face-api.js peer skipped: --no-peer");
} else {
  try {
    await facePeer();
  } catch (e) {
    console.error(`face-api.js peer skipped: ${(e as Error).message.split("\n")[0]}`);
  }
}

if (!values["no-cold"]) {
  const t: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const p = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", `${ROOT}mod.ts`, "predict", `${ROOT}fixtures/einstein.jpg`],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!p.success) throw new Error("cold predict failed");
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  row("cold process: predict einstein.jpg (817x1024)", { median: t[1], p90: t[2] }, "3 runs");
}

const ms = (x: number) => x.toFixed(1);
console.log(
  `| what (${backend}) | median ms | p90 ms | note | peer: median ms (p90, faces) | ours / peer |`,
);
console.log("|---|---|---|---|---|---|");
for (const { what, t, note, peers } of rows) {
  const peer = peers.map((p) =>
    `${p.name}: ${ms(p.t.median)} (p90 ${ms(p.t.p90)}${
      p.found === undefined ? "" : `, ${p.found} face(s)`
    })`
  ).join("; ") || "-";
  const ratio = peers.map((p) =>
    (t.median / p.t.median).toFixed(2)
  ).join("; ") || "-";
  console.log(`| ${what} | ${ms(t.median)} | ${ms(t.p90)} | ${note} | ${peer} | ${ratio} |`);
}
