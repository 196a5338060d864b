/**
 * ONNX export: our own encoder and converter, proven by running the
 * exported graphs in onnxruntime (node binding and wasm) against tfjs's cpu
 * backend on the same inputs, and (when Debian's python3-onnx is present)
 * by `onnx.checker.check_model(full_check=True)`.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import * as ortWeb from "onnxruntime-web";
import { buildPart1, buildPart2 } from "../lib/models/course_cnn.ts";
import { folderSaver, type ModelMeta } from "../lib/models/checkpoint.ts";
import { registerOnnxConverter, tfjsToOnnx } from "../lib/onnx/convert.ts";
import { exportOnnxFile } from "../lib/onnx/export.ts";
import { encodeAttribute, ProtoWriter } from "../lib/onnx/proto.ts";
import { main as exportMain } from "../tasks/export_onnx.ts";

tf.env().set("PROD", true);
await tf.setBackend("cpu");
ortWeb.env.wasm.numThreads = 1;
// The native binding ships inside the npm package (no install script
// needed) but needs FFI and a matching glibc; without it, everything still
// runs on the wasm build.
const ortNode = await import("onnxruntime-node").catch((e) => {
  console.warn(
    `onnxruntime-node unavailable (${(e as Error).message}); using onnxruntime-web only`,
  );
  return null;
});

const TOL = 1e-4;
const VERBOSE = Deno.env.get("FACEKIT_ONNX_VERBOSE") === "1";

type Runtime = "node" | "web";

async function runOnnx(
  runtime: Runtime,
  bytes: Uint8Array,
  feeds: Record<string, { data: Float32Array; dims: number[] }>,
): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
  const ort = (runtime === "node" && ortNode ? ortNode : ortWeb) as typeof ortWeb;
  const session = await ort.InferenceSession.create(bytes);
  try {
    const inputs: Record<string, ortWeb.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) {
      inputs[k] = new ort.Tensor("float32", v.data, v.dims);
    }
    const out = await session.run(inputs);
    const res: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
    for (const [k, v] of Object.entries(out)) {
      res[k] = { data: v.data as Float32Array, dims: v.dims };
    }
    return res;
  } finally {
    await session.release();
  }
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates
  }
  return m;
}

/** NHWC <-> NCHW for the feeds and the rank-4 outputs. */
function toOnnxLayout(t: tf.Tensor): { data: Float32Array; dims: number[] } {
  const u = t.rank === 4 ? tf.transpose(t, [0, 3, 1, 2]) : t;
  const r = { data: u.dataSync() as Float32Array, dims: u.shape };
  if (u !== t) u.dispose();
  return r;
}

let seed = 1;

/**
 * Runs `model` in tfjs and the exported graph in onnxruntime on the same
 * random batch; returns the largest |difference| per runtime.
 */
async function parity(
  model: tf.LayersModel,
  runtimes: Runtime[] = ["node", "web"],
  batch = 2,
): Promise<Record<Runtime, number>> {
  const xs = model.inputs.map((inp) =>
    tf.randomUniform(inp.shape.map((d) => d ?? batch), -0.5, 0.5, "float32", seed++)
  );
  const ref = model.predict(xs) as tf.Tensor | tf.Tensor[];
  const refs = Array.isArray(ref) ? ref : [ref];
  const bytes = tfjsToOnnx(model, {});
  const feeds: Record<string, { data: Float32Array; dims: number[] }> = {};
  xs.forEach((x, i) => feeds[xs.length === 1 ? "input" : `input_${i}`] = toOnnxLayout(x));
  const want = refs.map(toOnnxLayout);
  const diffs = { node: NaN, web: NaN };
  for (const rt of runtimes) {
    const out = await runOnnx(rt, bytes, feeds);
    let m = 0;
    want.forEach((w, i) => {
      const got = out[refs.length === 1 ? "output" : `output_${i}`];
      assert.deepEqual([...got.dims], w.dims, `${model.name}: output ${i} shape`);
      m = Math.max(m, maxDiff(got.data, w.data));
    });
    diffs[rt] = m;
    assert.ok(m <= TOL, `${model.name} on onnxruntime-${rt}: max |diff| ${m} > ${TOL}`);
  }
  if (VERBOSE) console.log(`${model.name}: max |diff| node ${diffs.node}, web ${diffs.web}`);
  tf.dispose([...xs, ...refs]);
  return diffs;
}

function hasOp(bytes: Uint8Array, op: string): boolean {
  // op_type strings are stored verbatim in the protobuf.
  return new TextDecoder("latin1").decode(bytes).includes(op);
}

type Sym = tf.SymbolicTensor;
const L = tf.layers;
const ap = (layer: tf.layers.Layer, x: Sym | Sym[]): Sym => layer.apply(x) as Sym;

function randomize(layer: tf.layers.Layer, seedBase: number): void {
  // Non-trivial values for every weight (BN: gamma, beta, mean, var > 0).
  layer.setWeights(
    layer.getWeights().map((w, i) => {
      const name = layer.weights[i].originalName;
      if (name.endsWith("moving_variance") || name.endsWith("gamma")) {
        return tf.randomUniform(w.shape, 0.5, 2, "float32", seedBase + i);
      }
      return tf.randomUniform(w.shape, -0.5, 0.5, "float32", seedBase + i);
    }),
  );
}

Deno.test("proto: varints, negative int64, fixed32 float, attributes", () => {
  assert.deepEqual([...new ProtoWriter().uint(1, 300).finish()], [8, 172, 2]);
  // -1 as int64: ten bytes of two's complement.
  assert.deepEqual([...new ProtoWriter().uint(3, -1).finish()], [
    24,
    255,
    255,
    255,
    255,
    255,
    255,
    255,
    255,
    255,
    1,
  ]);
  assert.deepEqual([...new ProtoWriter().float(2, 1).finish()], [21, 0, 0, 128, 63]);
  const a = encodeAttribute("axis", 1).finish();
  // name "axis", i = 1, type = INT (20 -> tag 160 1).
  assert.deepEqual([...a], [10, 4, 97, 120, 105, 115, 24, 1, 160, 1, 2]);
});

Deno.test("Part 1 and Part 2 nets: onnxruntime matches tfjs", async () => {
  const p1 = buildPart1({ seed: 3 });
  await parity(p1);
  p1.dispose();
  const p2 = buildPart2({ seed: 3 });
  await parity(p2, ["node", "web"], 1);
  p2.dispose();
});

Deno.test("stride-2 'same' conv on odd sizes, BatchNorm folded into the conv", async () => {
  const inp = tf.input({ shape: [11, 9, 3] });
  const conv = L.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: "same", name: "c1" });
  const bn = L.batchNormalization({ name: "bn1", epsilon: 1e-3 });
  let x = ap(bn, ap(conv, inp));
  x = ap(L.activation({ activation: "relu" }), x);
  // A 4x4 stride-2 'same' conv (even kernel) and a dilated conv.
  x = ap(
    L.conv2d({ filters: 4, kernelSize: 4, strides: 2, padding: "same", activation: "tanh" }),
    x,
  );
  x = ap(
    L.conv2d({ filters: 3, kernelSize: 3, dilationRate: 2, padding: "same", useBias: false }),
    x,
  );
  const model = tf.model({ inputs: inp, outputs: x, name: "stride2_bn" });
  model.layers.forEach((l, i) => randomize(l, 100 * i));
  const bytes = tfjsToOnnx(model, {});
  assert.ok(!hasOp(bytes, "BatchNormalization"), "the BatchNorm after a linear conv is folded");
  await parity(model);
  model.dispose();
});

Deno.test("BatchNorm that cannot be folded (conv with ReLU; conv output used twice) stays a node", async () => {
  const inp = tf.input({ shape: [6, 7, 2] });
  const a = ap(L.conv2d({ filters: 4, kernelSize: 3, padding: "same", activation: "relu" }), inp);
  const b = ap(L.batchNormalization({}), a);
  const c = ap(L.conv2d({ filters: 4, kernelSize: 1 }), b);
  const d = ap(L.batchNormalization({}), c);
  const out = ap(L.add(), [c, d]);
  const dense = ap(L.batchNormalization({}), ap(L.dense({ units: 3 }), ap(L.flatten(), out)));
  const model = tf.model({ inputs: inp, outputs: dense, name: "bn_unfolded" });
  model.layers.forEach((l, i) => randomize(l, 100 * i));
  assert.ok(hasOp(tfjsToOnnx(model, {}), "BatchNormalization"));
  await parity(model);
  model.dispose();
});

Deno.test("residual Add, Concatenate, GlobalAveragePooling, depthwise, pooling, activations", async () => {
  const inp = tf.input({ shape: [13, 10, 4] });
  const c1 = ap(L.conv2d({ filters: 8, kernelSize: 3, padding: "same", activation: "relu" }), inp);
  const dw = ap(L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: "same" }), c1);
  const dwBn = ap(L.batchNormalization({}), dw); // folded into the depthwise conv
  const pw = ap(L.conv2d({ filters: 8, kernelSize: 1, activation: "linear" }), dwBn);
  const shared = L.conv2d({ filters: 8, kernelSize: 3, padding: "same" }); // called twice
  const res = ap(L.add(), [c1, pw, ap(shared, c1)]);
  const r6 = ap(L.reLU({ maxValue: 0.6 }), res);
  const leaky = ap(L.leakyReLU({ alpha: 0.2 }), res);
  const cat = ap(L.concatenate(), [r6, leaky, ap(shared, leaky)]); // channel axis -1 -> 1
  const mp = ap(L.maxPooling2d({ poolSize: 3, strides: 2, padding: "same" }), cat);
  const avg = ap(L.averagePooling2d({ poolSize: 2, strides: 2, padding: "same" }), cat);
  const dws = ap(
    L.depthwiseConv2d({ kernelSize: 5, strides: 2, padding: "valid" }),
    ap(L.zeroPadding2d({ padding: [[2, 2], [2, 1]] }), cat),
  );
  const merged = ap(L.concatenate(), [mp, avg, dws]);
  const gap = ap(L.globalAveragePooling2d({}), merged);
  const head = ap(L.dense({ units: 6, activation: "sigmoid" }), ap(L.dropout({ rate: 0.5 }), gap));
  const model = tf.model({ inputs: inp, outputs: head, name: "functional_mix" });
  model.layers.forEach((l, i) => randomize(l, 100 * i));
  await parity(model);
  model.dispose();
});

Deno.test("UpSampling2D (nearest, bilinear; scales 2 and 3) and Conv2DTranspose", async () => {
  for (const interpolation of ["nearest", "bilinear"] as const) {
    const inp = tf.input({ shape: [5, 7, 3] });
    let x = ap(L.upSampling2d({ size: [2, 3], interpolation }), inp);
    x = ap(L.conv2d({ filters: 2, kernelSize: 3, padding: "same" }), x);
    x = ap(L.cropping2D({ cropping: [[1, 2], [0, 3]] }), x);
    const model = tf.model({ inputs: inp, outputs: x, name: `upsample_${interpolation}` });
    model.layers.forEach((l, i) => randomize(l, 100 * i));
    await parity(model);
    model.dispose();
  }
  for (
    const [kernelSize, strides, padding] of [[3, 2, "same"], [4, 2, "same"], [3, 2, "valid"], [
      1,
      2,
      "same",
    ], [2, 3, "valid"]] as const
  ) {
    const inp = tf.input({ shape: [5, 6, 3] });
    const x = ap(
      L.conv2dTranspose({ filters: 2, kernelSize, strides, padding, activation: "relu" }),
      inp,
    );
    const model = tf.model({
      inputs: inp,
      outputs: x,
      name: `deconv_k${kernelSize}s${strides}${padding}`,
    });
    model.layers.forEach((l, i) => randomize(l, 100 * i));
    await parity(model);
    model.dispose();
  }
});

Deno.test("Flatten keeps tfjs's NHWC element order (H, W, C > 1)", async () => {
  const inp = tf.input({ shape: [3, 4, 5] });
  const flat = ap(L.flatten(), inp);
  const model = tf.model({ inputs: inp, outputs: flat, name: "flatten_order" });
  await parity(model);
  // The order matters: an NCHW flatten of the same data differs.
  const x = tf.randomUniform([1, 3, 4, 5], -1, 1, "float32", 7);
  const nhwc = (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
  const nchw = tf.transpose(x, [0, 3, 1, 2]).dataSync() as Float32Array;
  assert.ok(maxDiff(nhwc, nchw) > 0.1, "NHWC and NCHW flatten orders differ for this shape");
  const [onnx] = Object.values(
    await runOnnx("node", tfjsToOnnx(model, {}), { input: { data: nchw, dims: [1, 5, 3, 4] } }),
  );
  assert.deepEqual(onnx.data, nhwc);
  // Flatten -> Dense, then Reshape back to an image and a softmax over channels.
  const d = ap(L.dense({ units: 24 }), flat);
  const img = ap(L.reshape({ targetShape: [2, 3, 4] }), d);
  const sm = ap(L.softmax({ axis: -1 }), img);
  const kp = ap(L.reshape({ targetShape: [-1, 2] }), ap(L.flatten(), sm));
  const m2 = tf.model({ inputs: inp, outputs: [kp, sm], name: "flatten_dense_reshape" });
  m2.layers.forEach((l, i) => randomize(l, 100 * i));
  await parity(m2);
  tf.dispose(x);
  m2.dispose();
});

Deno.test("unsupported layer: a clear error, never a wrong graph", () => {
  const inp = tf.input({ shape: [4, 4, 2] });
  const x = ap(L.layerNormalization({ name: "ln" }), inp);
  const model = tf.model({ inputs: inp, outputs: x });
  assert.throws(
    () => tfjsToOnnx(model, {}),
    (e: Error) =>
      e.message.startsWith("ONNX export: layer ln (LayerNormalization) is not supported"),
  );
  const c = tf.model({
    inputs: inp,
    outputs: ap(
      L.conv2d({ filters: 1, kernelSize: 3, dataFormat: "channelsFirst", name: "cf" }),
      inp,
    ),
  });
  assert.throws(
    () => tfjsToOnnx(c, {}),
    /ONNX export: layer cf \(Conv2D\) is not supported: dataFormat channelsFirst/,
  );
  model.dispose();
  c.dispose();
});

class TimesTwo extends tf.layers.Layer {
  static className = "TimesTwo";
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, 2);
  }
}
tf.serialization.registerClass(TimesTwo);

Deno.test("registerOnnxConverter adds a custom layer", async () => {
  const inp = tf.input({ shape: [3, 3, 2] });
  const x = ap(new TimesTwo({ name: "twice" }), ap(L.conv2d({ filters: 2, kernelSize: 1 }), inp));
  const model = tf.model({ inputs: inp, outputs: x, name: "custom" });
  assert.throws(() => tfjsToOnnx(model, {}), /layer twice \(TimesTwo\) is not supported/);
  registerOnnxConverter(
    "TimesTwo",
    (ctx, _layer, [v]) => ctx.op("Mul", [v.name, ctx.floatConst("two", [], [2])]),
  );
  await parity(model);
  model.dispose();
});

const PYTHON = "/usr/bin/python3";
const hasPythonOnnx = (() => {
  try {
    return new Deno.Command(PYTHON, { args: ["-c", "import onnx"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();
if (!hasPythonOnnx) {
  console.warn(
    "skipping onnx.checker test: /usr/bin/python3 has no onnx module (apt-get install -y python3-onnx)",
  );
}

Deno.test("export a model folder: task, metadata, onnxruntime parity", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facekit_onnx_" });
  try {
    const model = buildPart1({ seed: 5 });
    const meta: ModelMeta = {
      task: "part1",
      layout: "imm58",
      points: [52],
      inputWidth: 80,
      inputHeight: 64,
      channels: 1,
      boxScale: 0,
    };
    await model.save(folderSaver(`${dir}/best`, meta));
    const out = `${dir}/part1.onnx`;
    const { bytes } = await exportOnnxFile(`${dir}/best`, out);
    const file = await Deno.readFile(out);
    assert.equal(file.byteLength, bytes);
    for (
      const s of [
        "keypoint_count",
        "keypoint_names",
        "input_width",
        "input_normalisation",
        "facekit",
      ]
    ) {
      assert.ok(hasOp(file, s), `metadata has ${s}`);
    }
    const x = tf.randomUniform([3, 64, 80, 1], -0.5, 0.5, "float32", 11);
    const want = (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
    const { output } = await runOnnx("node", file, { input: toOnnxLayout(x) });
    assert.ok(maxDiff(output.data, want) <= TOL);
    tf.dispose(x);
    model.dispose();

    // The command line writes the same file.
    const log = console.log;
    console.log = () => {};
    try {
      assert.equal(await exportMain(["--model", `${dir}/best`, "--out", `${dir}/cli.onnx`]), 0);
    } finally {
      console.log = log;
    }
    assert.deepEqual(await Deno.readFile(`${dir}/cli.onnx`), file);

    if (hasPythonOnnx) {
      const script = [
        "import onnx, sys",
        "m = onnx.load(sys.argv[1])",
        "onnx.checker.check_model(m, full_check=True)",
        "md = {p.key: p.value for p in m.metadata_props}",
        "print(m.ir_version, m.opset_import[0].version, m.producer_name, md['keypoint_count'], md['keypoint_names'])",
      ].join("\n");
      const r = await new Deno.Command(PYTHON, {
        args: ["-c", script, out],
        stdout: "piped",
        stderr: "piped",
      })
        .output();
      const text = new TextDecoder().decode(r.stdout).trim();
      assert.ok(r.success, new TextDecoder().decode(r.stderr));
      assert.match(text, /^8 17 facekit 1 \["/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "onnx.checker.check_model(full_check) accepts the exported graphs",
  ignore: !hasPythonOnnx,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "facekit_onnx_check_" });
    try {
      const inp = tf.input({ shape: [9, 11, 3] });
      let x = ap(L.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: "same" }), inp);
      x = ap(L.batchNormalization({}), x);
      const y = ap(L.upSampling2d({ size: [2, 2], interpolation: "bilinear" }), x);
      const z = ap(
        L.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: "same" }),
        x,
      );
      const cat = ap(L.concatenate(), [
        ap(L.cropping2D({ cropping: [[1, 0], [0, 1]] }), y),
        ap(L.cropping2D({ cropping: [[0, 1], [0, 1]] }), z),
      ]);
      const p = ap(L.zeroPadding2d({ padding: 1 }), ap(L.depthwiseConv2d({ kernelSize: 3 }), cat));
      const g = ap(
        L.dense({ units: 4, activation: "softmax" }),
        ap(L.globalAveragePooling2d({}), p),
      );
      const files = {
        mix: tf.model({ inputs: inp, outputs: g, name: "mix" }),
        part2: buildPart2({ seed: 2 }),
      };
      const paths = [];
      for (const [name, m] of Object.entries(files)) {
        const path = `${dir}/${name}.onnx`;
        await Deno.writeFile(path, tfjsToOnnx(m, { producerVersion: "test" }));
        paths.push(path);
        m.dispose();
      }
      const script =
        "import onnx, sys\nfor p in sys.argv[1:]: onnx.checker.check_model(onnx.load(p), full_check=True)";
      const r = await new Deno.Command(PYTHON, { args: ["-c", script, ...paths], stderr: "piped" })
        .output();
      assert.ok(r.success, new TextDecoder().decode(r.stderr));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
