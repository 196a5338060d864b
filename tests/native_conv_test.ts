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
