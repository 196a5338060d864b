/**
 * Checks exported ONNX models against tfjs on real faces, with
 * onnxruntime-node and onnxruntime-web, and times batch-1 inference of the
 * exported model in onnxruntime-node against our tfjs-wasm path.
 *
 * ```sh
 * deno run -A tasks/onnx_check.ts [--models models/part1,models/part3,runs/part2/best] [--faces 16]
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import * as ortWeb from "onnxruntime-web";
import { parseOrExit } from "../lib/cli/args.ts";
import { setupBackend } from "../lib/backends/backend.ts";
import { loadModelFolder } from "../lib/models/checkpoint.ts";
import { boxFromPoints } from "../lib/data/face_box.ts";
import { faceInput } from "../lib/infer/face_input.ts";
import { loadImm } from "../lib/data/imm.ts";
import { exportOnnxFile } from "../lib/onnx/export.ts";
import { normaliseImageInto } from "../lib/augment/preprocess.ts";
import { load300w } from "../lib/data/w300.ts";

const USAGE = `usage: deno task onnx:check [--models models/part1,models/part3,...] [--faces 16]
  exported ONNX vs tfjs on real faces, in onnxruntime-node and onnxruntime-web`;

const { values } = parseOrExit(Deno.args, {
  models: { type: "string", default: "models/part1,models/part3,runs/part2/best" },
  faces: { type: "string", default: "16" },
}, USAGE);
ortWeb.env.wasm.numThreads = 1;
const ortNode = await import("onnxruntime-node");
await setupBackend("wasm");
const nFaces = Number(values.faces);

for (const dir of values.models.split(",")) {
  const { model, meta } = await loadModelFolder(dir);
  if (!meta) throw new Error(`${dir}: no metadata`);
  const samples = meta.layout === "ibug68"
    ? (await load300w(["../shared/data/300w/helen_testset"], {
      channels: meta.channels as 1 | 3,
      limit: nFaces,
    }))
    : (await loadImm("../shared/data/imm_face_db", 1)).slice(-nFaces);
  const { inputWidth: w, inputHeight: h, channels: c } = meta;
  const x = new Float32Array(samples.length * w * h * c);
  samples.forEach((s, i) => {
    const box = meta.boxScale
      ? boxFromPoints(s.points)
      : { x: 0, y: 0, w: s.image.width, h: s.image.height };
    normaliseImageInto(faceInput(s.image, box, meta).image, x, i * w * h * c);
  });
  const xt = tf.tensor4d(x, [samples.length, h, w, c]);
  const yt = model.predict(xt) as tf.Tensor;
  const ref = (await yt.data()) as Float32Array;
  const nchw = tf.transpose(xt, [0, 3, 1, 2]);
  const feed = (await nchw.data()) as Float32Array;
  tf.dispose([yt, nchw]);
  const onnxPath = await Deno.makeTempFile({ suffix: ".onnx" });
  await exportOnnxFile(dir, onnxPath);
  const bytes = await Deno.readFile(onnxPath);
  const line: string[] = [
    `${dir} (${meta.task}, ${samples.length} real faces, ${
      (bytes.length / 2 ** 20).toFixed(1)
    } MiB ONNX)`,
  ];
  for (const [name, ort] of [["onnxruntime-node", ortNode], ["onnxruntime-web", ortWeb]] as const) {
    const session = await (ort as typeof ortWeb).InferenceSession.create(bytes);
    const input = new (ort as typeof ortWeb).Tensor("float32", feed, [samples.length, c, h, w]);
    const out = await session.run({ [session.inputNames[0]]: input });
    const got = out[session.outputNames[0]].data as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref[i] - got[i]));
    line.push(`${name}: max |tfjs - onnx| = ${maxDiff.toExponential(2)}`);
    if (name === "onnxruntime-node") {
      const one = new (ort as typeof ortWeb).Tensor("float32", feed.slice(0, c * h * w), [
        1,
        c,
        h,
        w,
      ]);
      for (let i = 0; i < 5; i++) await session.run({ [session.inputNames[0]]: one });
      const t0 = performance.now();
      for (let i = 0; i < 30; i++) await session.run({ [session.inputNames[0]]: one });
      line.push(`ort-node batch 1: ${((performance.now() - t0) / 30).toFixed(2)} ms`);
    }
    await session.release();
  }
  const x1 = xt.slice([0, 0, 0, 0], [1, h, w, c]);
  for (let i = 0; i < 5; i++) (model.predict(x1) as tf.Tensor).dispose();
  const t0 = performance.now();
  for (let i = 0; i < 30; i++) {
    const p = model.predict(x1) as tf.Tensor;
    await p.data();
    p.dispose();
  }
  line.push(`tfjs-wasm batch 1: ${((performance.now() - t0) / 30).toFixed(2)} ms`);
  tf.dispose([xt, x1]);
  model.dispose();
  await Deno.remove(onnxPath);
  console.log(line.join("\n  "));
}
