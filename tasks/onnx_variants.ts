/**
 * Smaller ONNX exports of a 68-point model: float32, float16 and int8
 * weight storage, each run by onnxruntime-node on helen_testset (landmarks'
 * box, as `main.ts eval`), with file size, NME, its change against float32,
 * the largest keypoint difference from float32 and the batch-1 time per face.
 * `--write` puts the variants into the model folder (`model.fp16.onnx`,
 * `model.int8.onnx`).
 *
 * ```sh
 * deno run -A tasks/onnx_variants.ts [--model models/part3] [--data DIR] [--write]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { parseOrExit } from "../lib/cli/args.ts";
import { loadModelFolder } from "../lib/models/checkpoint.ts";
import { tfjsToOnnx } from "../lib/onnx/convert.ts";
import { onnxMetadata } from "../lib/onnx/export.ts";
import type { WeightStorage } from "../lib/onnx/compress.ts";
import { ONNX_FILES } from "../lib/infer/onnx_engine.ts";
import { load300w, resolve300wDir } from "../lib/data/w300.ts";
import { faceMetrics, prepareValFace } from "../lib/course/w300_task.ts";
import { normaliseImageInto } from "../lib/augment/preprocess.ts";
import { writeFileAtomic } from "../lib/util/fs_util.ts";

const USAGE = `usage: deno run -A tasks/onnx_variants.ts [--model DIR] [--data DIR] [--write]
  float32 / float16 / int8 ONNX exports of a 68-point model on helen_testset (onnxruntime-node)
    --model DIR   model folder (models/part3)
    --data DIR    300-W root (../shared/data/300w or $FACEKIT_300W)
    --write       write model.fp16.onnx and model.int8.onnx into the model folder`;

const { values } = parseOrExit(Deno.args, {
  model: { type: "string", default: "models/part3" },
  data: { type: "string" },
  write: { type: "boolean", default: false },
}, USAGE);

await tf.setBackend("cpu");
const ort = await import("onnxruntime-node");
const { model, meta } = await loadModelFolder(values.model);
if (!meta || meta.layout !== "ibug68") throw new Error(`${values.model}: not a 68-point model`);
const samples = await load300w([`${resolve300wDir(values.data)}/helen_testset`], {
  channels: meta.channels as 1 | 3,
});
const faces = samples.map((s) => prepareValFace(s, meta));
const size = meta.inputWidth, ch = meta.channels;
const pixels = size * size * ch;
const nchw = new Float32Array(faces.length * pixels);
faces.forEach((f, i) => {
  const nhwc = new Float32Array(pixels);
  normaliseImageInto(f.image, nhwc, 0);
  for (let p = 0; p < size * size; p++) {
    for (let c = 0; c < ch; c++) nchw[i * pixels + c * size * size + p] = nhwc[p * ch + c];
  }
});

const rows: string[][] = [];
let reference: Float32Array | undefined;
let referenceNme = 0;
for (const weights of ["float32", "float16", "int8"] as WeightStorage[]) {
  const bytes = tfjsToOnnx(model, { metadata: onnxMetadata(meta), weights });
  if (values.write && weights !== "float32") {
    await writeFileAtomic(`${values.model}/${ONNX_FILES[weights]}`, bytes);
  }
  const session = await ort.InferenceSession.create(bytes);
  const [input] = session.inputNames, [output] = session.outputNames;
  const pred = new Float32Array(faces.length * 136);
  const times: number[] = [];
  for (let i = 0; i < faces.length; i++) {
    const x = new ort.Tensor("float32", nchw.subarray(i * pixels, (i + 1) * pixels), [
      1,
      ch,
      size,
      size,
    ]);
    const t0 = performance.now();
    const out = await session.run({ [input]: x });
    times.push(performance.now() - t0);
    pred.set(out[output].data as Float32Array, i * 136);
  }
  await session.release();
  const m = faceMetrics(pred, faces, size);
  let maxDiff = 0;
  if (reference) {
    for (let i = 0; i < pred.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(pred[i] - reference[i]) * size);
    }
  } else {
    reference = pred;
    referenceNme = m.nme;
  }
  times.sort((a, b) => a - b);
  rows.push([
    weights,
    (bytes.byteLength / 1024).toFixed(0),
    (m.nme * 100).toFixed(3),
    ((m.nme - referenceNme) * 100).toFixed(3),
    maxDiff.toFixed(3),
    times[times.length >> 1].toFixed(2),
  ]);
}
model.dispose();

console.log(`${values.model} on helen_testset (${faces.length} faces), onnxruntime-node\n`);
console.log(
  "| weights | size KiB | NME % | NME change (% points) | max point diff vs float32 (input px) | ms/face (median) |",
);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
