/**
 * Ensembles as one flat model: the mean of the members' points, through
 * save / load, the lean path, onnxruntime-node (when installed) and the
 * estimator, whose point scores average the members' heatmaps.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../lib/backends/backend.ts";
import { buildEnsemble, memberLayerName } from "../lib/models/ensemble.ts";
import { buildLiteHeatmapNet } from "../lib/models/lite_heatmap_net.ts";
import { folderSaver, loadModelFolder, type ModelMeta } from "../lib/models/checkpoint.ts";
import { compileLean } from "../lib/infer/lean_graph.ts";
import { createKeypointNet } from "../lib/infer/keypoint_net.ts";
import { tfjsToOnnx } from "../lib/onnx/convert.ts";
import { randomizeWeights } from "./model_test_util.ts";
import "../lib/onnx/heatmap_onnx.ts"; // registers the SoftArgmax2D converter

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** A small lite net with random weights (logits too, so points move off the centre). */
function member(seed: number): tf.LayersModel {
  const m = buildLiteHeatmapNet({ inputSize: 32, channels: 1, keypoints: 3, base: 4, seed });
  randomizeWeights(m, seed * 100, 0.5);
  return m;
}

Deno.test("ensemble: mean of the members, survives save/load and the lean path", async () => {
  await setupBackend("wasm");
  const [a, b] = [member(1), member(2)];
  const e = await buildEnsemble([a, b]);
  assert.ok(e.getLayer(memberLayerName(1, "heatmap_logits")));
  const x = tf.randomUniform([2, 32, 32, 1], -0.5, 0.5, "float32", 9) as tf.Tensor4D;
  const ya = await (a.predict(x) as tf.Tensor).data();
  const yb = await (b.predict(x) as tf.Tensor).data();
  const want = ya.map((v, i) => (v + yb[i]) / 2);
  assert.ok(maxDiff(ya, yb) > 1e-3, "members must differ for the test to mean anything");
  assert.ok(maxDiff(await (e.predict(x) as tf.Tensor).data(), want) <= 1e-6);
  const dir = await Deno.makeTempDir({ prefix: "facekit_ensemble_" });
  try {
    await e.save(folderSaver(dir));
    const { model } = await loadModelFolder(dir);
    const lean = compileLean(model)!;
    const [y] = lean.run(x);
    assert.ok(maxDiff(await y.data(), want) <= 1e-4);
    y.dispose();
    lean.dispose();
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await assert.rejects(() => buildEnsemble([a]), /at least 2/);
  await assert.rejects(
    () => buildEnsemble([a, buildLiteHeatmapNet({ inputSize: 48, channels: 1, keypoints: 3 })]),
    /members differ/,
  );
  x.dispose();
  for (const m of [a, b, e]) m.dispose();
});

Deno.test("ensemble: point scores average the members' heatmaps", async () => {
  await setupBackend("wasm");
  const [a, b] = [member(3), member(4)];
  const meta: ModelMeta = {
    task: "t",
    layout: "none",
    points: [0, 1, 2],
    inputWidth: 32,
    inputHeight: 32,
    channels: 1,
    boxScale: 0,
  };
  const image = {
    width: 32,
    height: 32,
    data: new Uint8ClampedArray(32 * 32 * 4).map((_, i) => (i * 37) % 251),
  };
  const box = [{ x: 0, y: 0, w: 32, h: 32 }];
  const scores = async (m: tf.LayersModel) => (await createKeypointNet(m, meta).run(image, box))[0];
  const ra = await scores(a), rb = await scores(b);
  const re = await scores(await buildEnsemble([member(3), member(4)]));
  const want = ra.scores!.map((v, i) => (v + rb.scores![i]) / 2);
  assert.ok(maxDiff(re.scores!, want) <= 1e-5, `${re.scores} vs ${want}`);
  const points = ra.points.map((v, i) => (v + rb.points[i]) / 2);
  assert.ok(maxDiff(re.points, points) <= 1e-3);
});

const ort = await import("onnxruntime-node").catch(() => null);
Deno.test({
  name: "ensemble: onnxruntime-node matches tfjs",
  ignore: ort === null,
  fn: async () => {
    await setupBackend("cpu");
    const e = await buildEnsemble([member(5), member(6)]);
    const x = tf.randomUniform([1, 32, 32, 1], -0.5, 0.5, "float32", 3);
    const want = await (e.predict(x) as tf.Tensor).data();
    const session = await ort!.InferenceSession.create(tfjsToOnnx(e));
    try {
      const out = await session.run({
        input: new ort!.Tensor("float32", await x.data() as Float32Array, [1, 1, 32, 32]),
      });
      assert.ok(maxDiff(out.output.data as Float32Array, want) <= 1e-4);
    } finally {
      await session.release();
    }
  },
});
