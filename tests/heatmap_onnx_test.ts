/**
 * ONNX export of heatmap models: the SoftArgmax2D converter
 * (`lib/onnx/heatmap_onnx.ts`) on small U-Nets, run in onnxruntime-node
 * against tfjs's cpu backend (max |diff| <= 1e-4).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { tfjsToOnnx } from "../lib/onnx/convert.ts";
import { convertSoftArgmax2D } from "../lib/onnx/heatmap_onnx.ts";
import { findSoftArgmax, SoftArgmax2D } from "../lib/head/heatmap.ts";
import { buildHeatmapUNet, type HeatmapUNetOptions } from "../lib/models/unet.ts";
import { buildLiteHeatmapNet } from "../lib/models/lite_heatmap_net.ts";

tf.env().set("PROD", true);
await tf.setBackend("cpu");
const ort = await import("onnxruntime-node").catch((e) => {
  console.warn(`onnxruntime-node unavailable (${(e as Error).message}); skipping parity`);
  return null;
});

const TOL = 1e-4;

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d;
  }
  return m;
}

function randomize(model: tf.LayersModel, seed: number): void {
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    layer.setWeights(
      layer.getWeights().map((w, i) => {
        const name = layer.weights[i].originalName;
        if (name.endsWith("moving_variance") || name.endsWith("gamma")) {
          return tf.randomUniform(w.shape, 0.5, 1.5, "float32", seed++);
        }
        if (name.endsWith("log_temperature")) return tf.scalar(Math.log(0.6));
        const scale = layer.name === "heatmap_logits" ? 1 : 0.3;
        return tf.randomUniform(w.shape, -scale, scale, "float32", seed++);
      }),
    );
  }
}

/** Runs `model` in tfjs and onnxruntime-node; returns the max |diff| over all outputs. */
async function parity(model: tf.LayersModel, seed: number): Promise<number> {
  const [, h, w, c] = model.inputs[0].shape as number[];
  const x = tf.randomUniform([2, h, w, c], -0.5, 0.5, "float32", seed);
  const ref = model.predict(x) as tf.Tensor | tf.Tensor[];
  const refs = (Array.isArray(ref) ? ref : [ref]).map((t) =>
    t.rank === 4 ? tf.transpose(t, [0, 3, 1, 2]) : t
  );
  const session = await ort!.InferenceSession.create(tfjsToOnnx(model));
  try {
    const xt = tf.transpose(x, [0, 3, 1, 2]);
    const out = await session.run({
      input: new ort!.Tensor("float32", xt.dataSync() as Float32Array, xt.shape),
    });
    xt.dispose();
    let m = 0;
    refs.forEach((r, i) => {
      const got = out[refs.length === 1 ? "output" : `output_${i}`];
      assert.deepEqual([...got.dims], r.shape, `${model.name} output ${i} shape`);
      m = Math.max(m, maxDiff(got.data as Float32Array, r.dataSync()));
    });
    return m;
  } finally {
    await session.release();
    tf.dispose([x, ...refs]);
    if (Array.isArray(ref)) tf.dispose(ref);
    else ref.dispose();
  }
}

const SMALL: HeatmapUNetOptions = {
  inputWidth: 32,
  inputHeight: 24,
  channels: 1,
  keypoints: 3,
  base: 8,
  depth: 2,
  seed: 3,
};

Deno.test("SoftArgmax2D has an ONNX converter", () => {
  const input = tf.input({ shape: [4, 4, 2] });
  const model = tf.model({
    inputs: input,
    outputs: new SoftArgmax2D().apply(input) as tf.SymbolicTensor,
  });
  assert.equal(typeof convertSoftArgmax2D, "function");
  assert.ok(tfjsToOnnx(model).length > 0);
});

Deno.test({
  name: "heatmap U-Nets: onnxruntime-node matches tfjs",
  ignore: ort === null,
  fn: async () => {
    const variants: HeatmapUNetOptions[] = [
      { ...SMALL },
      { ...SMALL, upsampling: "transpose", outputStride: 2, learnableTemperature: true },
      { ...SMALL, upsampling: "bilinear", outputStride: 4, temperature: 0.25, channels: 3 },
    ];
    let seed = 1;
    for (const opts of variants) {
      const m = buildHeatmapUNet(opts);
      randomize(m, seed * 100);
      const d = await parity(m, seed++);
      if (Deno.env.get("FACEKIT_ONNX_VERBOSE") === "1") console.log(JSON.stringify(opts), d);
      assert.ok(d <= TOL, `${JSON.stringify(opts)}: max |diff| ${d}`);
      m.dispose();
    }
  },
});

Deno.test({
  name: "lite heatmap net: onnxruntime-node matches tfjs",
  ignore: ort === null,
  fn: async () => {
    for (const fineSkip of [false, true]) {
      const m = buildLiteHeatmapNet({
        inputSize: 32,
        channels: 1,
        keypoints: 3,
        seed: 4,
        fineSkip,
      });
      randomize(m, 400);
      const d = await parity(m, 4);
      assert.ok(d <= TOL, `fineSkip ${fineSkip}: max |diff| ${d}`);
      m.dispose();
    }
  },
});

Deno.test({
  name: "SoftArgmax2D with outputHeatmaps: both outputs match (maps NCHW)",
  ignore: ort === null,
  fn: async () => {
    const base = buildHeatmapUNet({ ...SMALL, outputStride: 2 });
    randomize(base, 7);
    const logits = findSoftArgmax(base)!.inboundNodes[0].inputTensors[0];
    const outs = new SoftArgmax2D({ temperature: 0.8, outputHeatmaps: true })
      .apply(logits) as tf.SymbolicTensor[];
    const model = tf.model({ inputs: base.inputs, outputs: outs, name: "with_maps" });
    const d = await parity(model, 5);
    assert.ok(d <= TOL, `max |diff| ${d}`);
    base.dispose();
  },
});
