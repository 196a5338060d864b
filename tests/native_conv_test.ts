/**
 * The optional native GEMM path (OpenBLAS through Deno FFI) against the cpu
 * backend: conv forward, input and filter gradients for strided, padded,
 * 1x1 and 7x7 geometries, and matrix products. Skips (with a message) when
 * no OpenBLAS is installed.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../lib/backends/backend.ts";
import { nativeBlas } from "../lib/backends/native_blas.ts";
import { nativeCalls, setNativeEnabled } from "../lib/backends/native_conv.ts";
import { base64Bytes } from "../lib/util/base64.ts";

const blas = nativeBlas();
if (!blas) {
  console.warn("native GEMM tests skipped: no OpenBLAS (apt-get install libopenblas0-pthread)");
}
const ROOT = new URL("../", import.meta.url).pathname;

type Pad = "same" | "valid" | [[0, 0], [number, number], [number, number], [0, 0]];
const CASES: { x: number[]; f: number[]; s: number; pad: Pad }[] = [
  { x: [2, 9, 11, 8], f: [3, 3, 8, 12], s: 1, pad: "same" },
  { x: [2, 9, 11, 16], f: [3, 3, 16, 8], s: 1, pad: "valid" },
  { x: [3, 10, 10, 16], f: [1, 1, 16, 32], s: 2, pad: "valid" },
  { x: [2, 12, 12, 32], f: [1, 1, 32, 16], s: 1, pad: "same" },
  { x: [2, 14, 14, 16], f: [5, 5, 16, 16], s: 1, pad: "same" },
  { x: [1, 8, 8, 8], f: [3, 3, 8, 8], s: 1, pad: [[0, 0], [2, 1], [0, 2], [0, 0]] },
  { x: [2, 15, 13, 8], f: [3, 3, 8, 16], s: 2, pad: "same" },
  { x: [2, 21, 20, 3], f: [7, 7, 3, 8], s: 2, pad: "same" },
  { x: [2, 12, 10, 1], f: [3, 3, 1, 8], s: 1, pad: "same" },
];

async function convAndGrads(backend: string, c: typeof CASES[0]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const values = (shape: number[], f: (i: number) => number) =>
    tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => f(i)), shape);
  const x = values(c.x, (i) => Math.sin(i * 0.7)) as tf.Tensor4D;
  const w = values(c.f, (i) => Math.cos(i * 0.3)) as tf.Tensor4D;
  const loss = (a: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s as 1, c.pad as "same")));
  const y = tf.conv2d(x, w, c.s as 1, c.pad as "same");
  const [dx, dw] = tf.grads(loss)([x, w]);
  const out = await Promise.all([y, dx, dw].map((t) => t.data() as Promise<Float32Array>));
  tf.dispose([x, w, y, dx, dw]);
  return out;
}

function relErr(a: Float32Array, b: Float32Array): number {
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / s;
}

Deno.test({
  name: "native GEMM convs and gradients match the cpu backend (relative error <= 1e-4)",
  ignore: !blas,
  fn: async () => {
    await setupBackend("wasm");
    setNativeEnabled(true, 0); // send even these small convs to the native path
    try {
      for (const c of CASES) {
        const before = nativeCalls.conv + nativeCalls.convInput + nativeCalls.convFilter;
        const tensorsBefore = tf.memory().numTensors;
        const got = await convAndGrads("wasm", c);
        assert.equal(tf.memory().numTensors, tensorsBefore, "no tensor left behind");
        const used = nativeCalls.conv + nativeCalls.convInput + nativeCalls.convFilter - before;
        assert.ok(used >= 3, `${JSON.stringify(c)}: the native kernels ran (${used} calls)`);
        const want = await convAndGrads("cpu", c);
        ["y", "dx", "dw"].forEach((name, k) => {
          const e = relErr(got[k], want[k]);
          assert.ok(e <= 1e-4, `${JSON.stringify(c)} ${name}: relative error ${e}`);
        });
      }
      await tf.setBackend("wasm");
      const a = tf.randomNormal([64, 512], 0, 1, "float32", 1);
      const b = tf.randomNormal([512, 300], 0, 1, "float32", 2);
      const calls = nativeCalls.matmul;
      const products = [
        tf.matMul(a, b),
        tf.matMul(tf.transpose(a), b, true),
        tf.matMul(a, tf.transpose(b), false, true),
      ];
      const got = await Promise.all(products.map((t) => t.data() as Promise<Float32Array>));
      assert.equal(nativeCalls.matmul - calls, 3);
      await tf.setBackend("cpu");
      const want = await tf.matMul(
        tf.randomNormal([64, 512], 0, 1, "float32", 1),
        tf.randomNormal([512, 300], 0, 1, "float32", 2),
      ).data() as Float32Array;
      for (const g of got) assert.ok(relErr(g, want) <= 1e-4, `matmul: ${relErr(g, want)}`);
    } finally {
      setNativeEnabled(true);
      await tf.setBackend("wasm");
    }
  },
});

Deno.test("without --allow-ffi the native GEMM is silently absent", async () => {
  const code = `import { nativeBlas } from "${ROOT}lib/backends/native_blas.ts";
console.log(JSON.stringify(nativeBlas()));`;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, code);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-check", "--allow-read", file],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(
    new TextDecoder().decode(out.stdout).trim(),
    "null",
    new TextDecoder().decode(out.stderr),
  );
});

/** The patch kernels on a memory of its own, at a low and a high (> 2 GiB) address. */
Deno.test("im2col and col2imAdd give the same patches above 2 GiB of heap", async () => {
  const { WASM_IM2COL_BASE64 } = await import("../lib/backends/wasm_im2col_binary.ts");
  const bytes = base64Bytes(WASM_IM2COL_BASE64);
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    env: { memory },
  });
  const im2col = exports.im2col as (...a: number[]) => void;
  const col2imAdd = exports.col2imAdd as (...a: number[]) => void;
  // x [2, 5, 6, 3], 3x3 kernel, stride 2, "same": pads 1 top/left, 1 bottom.
  const [n, h, w, c, k, s, oh, ow] = [2, 5, 6, 3, 3, 2, 3, 3];
  const geo = [h, w, c, k, k, s, s, 1, 1, oh, ow];
  const xLen = n * h * w * c, colLen = n * oh * ow * k * k * c;
  const run = (base: number): [Float32Array, Float32Array] => {
    const need = base + 4 * (2 * xLen + colLen) + 64;
    const pages = Math.ceil(need / 65536) - memory.buffer.byteLength / 65536;
    if (pages > 0) memory.grow(pages);
    const f = new Float32Array(memory.buffer);
    const x = base, cols = base + 4 * xLen, dx = cols + 4 * colLen;
    for (let i = 0; i < xLen; i++) f[(x >>> 2) + i] = Math.sin(i + 1);
    f.fill(7, cols >>> 2, (cols >>> 2) + colLen); // stale values must be overwritten
    im2col(x, cols, ...geo, 0, n * oh * ow);
    const patches = f.slice(cols >>> 2, (cols >>> 2) + colLen);
    f.fill(0, dx >>> 2, (dx >>> 2) + xLen);
    col2imAdd(cols, dx, ...geo, 0, n * oh * ow);
    return [patches, f.slice(dx >>> 2, (dx >>> 2) + xLen)];
  };
  const [lowPatches, lowBack] = run(1024);
  // Padding taps are zeros, inside taps copies of x.
  assert.equal(lowPatches[0], 0, "top-left tap of the first patch is padding");
  assert.equal(lowPatches[4 * c], Math.fround(Math.sin(1)), "centre tap = x[0, 0, 0, 0]");
  const [highPatches, highBack] = run(2 ** 31 + 4096);
  assert.deepEqual(highPatches, lowPatches);
  assert.deepEqual(highBack, lowBack);
});

Deno.test({
  name: "2 data-parallel replicas on the native GEMM (one BLAS thread each) train like one process",
  ignore: !blas,
  async fn() {
    const { createDataParallel } = await import("../lib/train/data_parallel.ts");
    const { createOptimizer } = await import("../lib/backends/optimizer.ts");
    const { trainingLossFromSpec } = await import("../lib/head/training_loss.ts");
    await setupBackend("wasm");
    const net = (): tf.LayersModel =>
      tf.sequential({
        layers: [
          tf.layers.conv2d({
            inputShape: [24, 20, 8],
            filters: 16,
            kernelSize: 3,
            padding: "same",
            activation: "relu",
            kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
          }),
          tf.layers.conv2d({
            filters: 16,
            kernelSize: 3,
            strides: 2,
            padding: "same",
            kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }),
          }),
          tf.layers.flatten(),
          tf.layers.dense({
            units: 4,
            kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }),
          }),
        ],
      });
    const spec = { loss: "mse", head: "regression" } as const;
    const size = 6;
    const steps = [1, 2, 3].map((s) => ({
      x: Float32Array.from({ length: size * 24 * 20 * 8 }, (_, i) => Math.sin(i * 0.37 + s) * 0.5),
      y: Float32Array.from({ length: size * 4 }, (_, i) => 0.5 + 0.3 * Math.cos(i + s)),
    }));
    const ref = net();
    const refOpt = createOptimizer(1e-3);
    const lossFn = trainingLossFromSpec(spec);
    const vars = ref.trainableWeights.map((v) => v.read() as tf.Variable);
    const refLosses: number[] = [];
    for (const b of steps) {
      const x = tf.tensor4d(b.x, [size, 24, 20, 8]), y = tf.tensor2d(b.y, [size, 4]);
      const cost = refOpt.minimize(() => lossFn(ref, x, y), true, vars)!;
      refLosses.push((await cost.data())[0]);
      tf.dispose([x, y, cost]);
    }
    const threads = blas!.threads;
    const model = net();
    const opt = createOptimizer(1e-3);
    const before = nativeCalls.conv;
    const dp = await createDataParallel(model, opt, {
      workers: 2,
      backend: "wasm",
      loss: spec,
      lr: 1e-3,
    });
    try {
      assert.equal(blas!.threads, 1, "one BLAS thread per replica while the replicas run");
      for (let i = 0; i < steps.length; i++) {
        const l = await dp.step(steps[i].x, steps[i].y, size, 1e-3);
        assert.ok(
          Math.abs(l - refLosses[i]) <= 1e-4 * refLosses[i],
          `step ${i + 1}: ${l} vs ${refLosses[i]}`,
        );
      }
      assert.ok(nativeCalls.conv > before, "the main replica's convs ran natively");
      const mine = await Promise.all(model.weights.map(async (w) => await w.read().data()));
      const theirs = await dp.workerWeights(1);
      mine.forEach((w, i) =>
        assert.deepEqual(theirs[i], w, `weight ${i} differs between replicas`)
      );
    } finally {
      dp.close();
      ref.dispose();
      model.dispose();
      refOpt.dispose();
      opt.dispose();
    }
    assert.equal(blas!.threads, threads, "the BLAS threads are restored on close");
  },
});
