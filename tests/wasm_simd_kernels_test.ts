import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { requireSelfCheck, setupBackend } from "../lib/backends/backend.ts";
import { buildPart1, buildPart2 } from "../lib/models/course_cnn.ts";
import { buildResNet } from "../lib/models/resnet.ts";
import { buildHeatmapUNet } from "../lib/models/unet.ts";
import { createAdam } from "../lib/backends/wasm_adam.ts";
import {
  setRelaxedSimdEnabled,
  setSimdKernelsEnabled,
  simdKernelCalls,
  type SimdKernelVariant,
  simdKernelVariant,
} from "../lib/backends/wasm_simd_kernels.ts";
import {
  WASM_SIMD_KERNELS_BASE64,
  WASM_SIMD_KERNELS_RELAXED_BASE64,
} from "../lib/backends/wasm_simd_kernels_binary.ts";
import { expectedBinarySource, listWasmModules } from "../tasks/build_wasm.ts";
import { numel, randomData, relError } from "./kernel_test_util.ts";

// These tests are about our WebAssembly kernels: the optional native GEMM
// (lib/backends/native_blas.ts), which takes matmuls and filter gradients
// where OpenBLAS is installed and --allow-ffi given, is turned off here.
Deno.env.set("FACEKIT_NATIVE", "0");

const info = await setupBackend("wasm");

type Shape4 = [number, number, number, number];

/** Asserts equal values (+0 and -0 count as equal, NaN equals NaN). */
function assertExact(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!(a === e || (Number.isNaN(a) && Number.isNaN(e)))) {
      assert.fail(`${label}: value ${i}: ${a} instead of ${e}`);
    }
  }
}

const variants: SimdKernelVariant[] = ["relaxed", "plain"];

/**
 * Runs `body` once with each variant of the kernels (fused multiply-adds,
 * then plain SIMD), checking that it is the one in use; restores the
 * engine's choice afterwards.
 */
async function forEachVariant(body: (variant: SimdKernelVariant) => Promise<void>): Promise<void> {
  try {
    for (const variant of variants) {
      setRelaxedSimdEnabled(variant === "relaxed");
      assert.equal(simdKernelVariant(), variant);
      await body(variant);
    }
  } finally {
    setRelaxedSimdEnabled(true);
  }
}

/** Runs `fn` on `backend` and returns its output values and shape. */
async function on(
  backend: string,
  fn: () => tf.Tensor,
): Promise<{ values: Float32Array; shape: number[] }> {
  await tf.setBackend(backend);
  const t = tf.tidy(fn);
  const values = await t.data() as Float32Array;
  const shape = t.shape;
  t.dispose();
  return { values, shape };
}

// ---------------------------------------------------------------------------
// Inputs for the max-pool gradient.

/** Values on a coarse grid, about half of them 0, so windows tie. */
function tiedData(n: number, seed: number): Float32Array {
  return randomData(n, seed).map((v) => Math.max(0, Math.round(v * 3) / 3));
}

/** Every value the same. */
function equalData(n: number, _seed: number): Float32Array {
  return new Float32Array(n).fill(0.25);
}

/**
 * -Infinity (a third of the values, and whole bands of pixels, so some
 * windows are all -Infinity), huge and tiny magnitudes, and ties between
 * them.
 */
function extremeData(n: number, seed: number, shape: Shape4): Float32Array {
  const [, h, w, c] = shape;
  const r = randomData(n, seed);
  return r.map((v, i) => {
    const row = Math.floor(i / (w * c)) % h;
    if (row % 4 === 1) return -Infinity;
    if (v < -0.4) return -Infinity;
    if (v < -0.2) return -3e38;
    if (v < 0) return 3e38;
    if (v < 0.2) return 1e-30;
    return Math.round(v * 4) * 1e30;
  });
}

const dataKinds: [string, (n: number, seed: number, shape: Shape4) => Float32Array][] = [
  ["random", randomData],
  ["tied", tiedData],
  ["equal", equalData],
  ["extreme", extremeData],
];

interface PoolCase {
  x: Shape4;
  k: number | [number, number];
  s: number | [number, number];
  pad: "same" | "valid" | number;
}

const poolCases: PoolCase[] = [
  { x: [1, 8, 10, 4], k: 2, s: 2, pad: "valid" },
  { x: [3, 9, 11, 5], k: 2, s: 2, pad: "valid" }, // odd sizes: last row/column in no window
  { x: [3, 9, 11, 5], k: 2, s: 2, pad: "same" },
  { x: [1, 7, 7, 1], k: 2, s: 2, pad: "same" },
  { x: [3, 12, 16, 32], k: 2, s: 2, pad: "valid" },
  { x: [1, 9, 9, 3], k: 3, s: 2, pad: "same" }, // ResNet stem pool
  { x: [3, 10, 8, 32], k: 3, s: 2, pad: "same" },
  { x: [1, 11, 9, 5], k: 3, s: 2, pad: "valid" },
  { x: [3, 8, 8, 4], k: 3, s: 2, pad: "valid" },
  { x: [1, 7, 6, 3], k: 3, s: 1, pad: "same" },
  { x: [3, 6, 7, 1], k: 3, s: 1, pad: "valid" },
  { x: [1, 9, 8, 4], k: [3, 2], s: [2, 1], pad: "same" },
  { x: [1, 10, 10, 3], k: 2, s: 3, pad: "valid" }, // stride > window
  { x: [3, 7, 9, 5], k: 3, s: 3, pad: "same" },
  { x: [1, 8, 8, 5], k: 3, s: 2, pad: 1 },
];

function poolLabel(c: PoolCase, kind: string): string {
  return `x=${c.x} k=${c.k} s=${c.s} pad=${c.pad} ${kind}`;
}

function poolOutShape(c: PoolCase): Shape4 {
  return tf.backend_util.computePool2DInfo(c.x, c.k, c.s, 1, c.pad).outShape as Shape4;
}

// ---------------------------------------------------------------------------

Deno.test("every lib/backends/wasm/*.wat has an up-to-date generated module", async () => {
  const modules = await listWasmModules();
  assert.deepEqual(modules.map((m) => m.name), ["adam", "im2col", "simd_kernels"]);
  for (const m of modules) {
    const actual = await Deno.readTextFile(new URL(`../${m.binaryPath}`, import.meta.url));
    assert.equal(
      actual,
      await expectedBinarySource(m),
      `stale ${m.binaryPath}: deno task build:wasm`,
    );
  }
});

/** The bytes of one variant of the kernels' module. */
function moduleBytes(variant: SimdKernelVariant): Uint8Array<ArrayBuffer> {
  const chunks = variant === "relaxed"
    ? WASM_SIMD_KERNELS_RELAXED_BASE64
    : WASM_SIMD_KERNELS_BASE64;
  return Uint8Array.from(atob(chunks.join("")), (c) => c.charCodeAt(0));
}

/** Where `needle` occurs in `bytes`. */
function occurrences(bytes: Uint8Array, needle: number[]): number {
  let count = 0;
  for (let i = 0; i + needle.length <= bytes.length; i++) {
    if (needle.every((b, j) => bytes[i + j] === b)) count++;
  }
  return count;
}

/** f32x4.relaxed_madd: prefix 0xfd, then 0x105 as LEB128 (relaxed SIMD proposal). */
const RELAXED_MADD = [0xfd, 0x85, 0x02];

Deno.test("Deno runs the relaxed-SIMD kernels; their binary has fused multiply-adds", async () => {
  const relaxed = moduleBytes("relaxed");
  const plain = moduleBytes("plain");
  assert.ok(WebAssembly.validate(relaxed), "V8 validates relaxed SIMD");
  assert.equal(simdKernelVariant(), "relaxed");
  // The 32 fused multiply-adds of simd_kernels.wat (tests/build_wasm_test.ts).
  assert.equal(occurrences(relaxed, RELAXED_MADD), 32);
  assert.equal(occurrences(plain, RELAXED_MADD), 0);
  // The same interface.
  const exportsOf = (bytes: Uint8Array<ArrayBuffer>) =>
    WebAssembly.Module.exports(new WebAssembly.Module(bytes));
  const importsOf = (bytes: Uint8Array<ArrayBuffer>) =>
    WebAssembly.Module.imports(new WebAssembly.Module(bytes));
  assert.deepEqual(exportsOf(relaxed), exportsOf(plain));
  assert.deepEqual(importsOf(relaxed), importsOf(plain));
  // The hook switches the kernels that run, and back.
  setRelaxedSimdEnabled(false);
  try {
    assert.equal(simdKernelVariant(), "plain");
    await checkMatMul([3, 515], [515, 517], true, 90);
  } finally {
    setRelaxedSimdEnabled(true);
  }
  assert.equal(simdKernelVariant(), "relaxed");
  await checkMatMul([3, 515], [515, 517], true, 91);
});

/** The raw kernels (of `variant`) on a fresh memory of `pages` 64 KiB pages. */
function instantiate(pages: number, variant: SimdKernelVariant): {
  memory: WebAssembly.Memory;
  maxPoolGrad: (...args: number[]) => void;
  matmul: (...args: number[]) => void;
  convFilterGrad: (...args: number[]) => void;
} {
  const bytes = moduleBytes(variant);
  const memory = new WebAssembly.Memory({ initial: pages });
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    env: { memory },
  });
  return {
    memory,
    maxPoolGrad: exports.maxPoolGrad as (...args: number[]) => void,
    matmul: exports.matmul as (...args: number[]) => void,
    convFilterGrad: exports.convFilterGrad as (...args: number[]) => void,
  };
}

/**
 * The cpu backend's max-pool gradient: the first strictly greater value
 * from -Infinity wins; shares are summed in float64 in output order, then
 * rounded to float32.
 */
function referenceMaxPoolGrad(
  x: Float32Array,
  dy: Float32Array,
  shape: Shape4,
  c: PoolCase,
): { dx: Float32Array; y: Float32Array } {
  const info = tf.backend_util.computePool2DInfo(shape, c.k, c.s, 1, c.pad);
  const [n, h, w, ch] = shape;
  const { outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const sums = new Float64Array(x.length);
  const y = new Float32Array(dy.length);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let d = 0; d < ch; d++) {
          let best = -Infinity;
          let at = -1;
          for (let i = 0; i < kh; i++) {
            for (let j = 0; j < kw; j++) {
              const iy = oy * sh - top + i;
              const ix = ox * sw - left + j;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              const p = ((b * h + iy) * w + ix) * ch + d;
              if (x[p] > best) {
                best = x[p];
                at = p;
              }
            }
          }
          const q = ((b * oh + oy) * ow + ox) * ch + d;
          y[q] = best;
          if (at >= 0) sums[at] += dy[q];
        }
      }
    }
  }
  return { dx: Float32Array.from(sums), y };
}

Deno.test("raw maxPoolGrad kernel: exact, every mode, unaligned offsets, writes only dx", async () => {
  await forEachVariant((variant) => Promise.resolve(rawMaxPoolGrad(variant)));
});

function rawMaxPoolGrad(variant: SimdKernelVariant): void {
  const { memory, maxPoolGrad } = instantiate(64, variant);
  for (const [ci, c] of poolCases.entries()) {
    const info = tf.backend_util.computePool2DInfo(c.x, c.k, c.s, 1, c.pad);
    const { outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = info;
    const { strideHeight: sh, strideWidth: sw } = info;
    const { top, left } = info.padInfo;
    const [n, h, w, ch] = c.x;
    const nx = numel(c.x);
    const ny = n * oh * ow * ch;
    const overlap = kh > sh || kw > sw;
    const covered = kh === sh && kw === sw && oh * sh - top >= h && ow * sw - left >= w;
    const modes: [number, number][] = [[1, 1]];
    if (!overlap) modes.push([0, 1]);
    if (covered) modes.push([0, 0]);
    for (const [kind, make] of dataKinds) {
      const x = make(nx, 10 + ci, c.x);
      const dy = randomData(ny, 20 + ci);
      const ref = referenceMaxPoolGrad(x, dy, c.x, c);
      for (const [acc, zero] of modes) {
        // x, y, dy, dx at 4, 8, 12 and 0 bytes past a multiple of 16, the
        // float64 ring (acc only) at 8, with guard values in between.
        const xo = 4 + 16;
        const yo = xo + 4 * nx + 20;
        const dyo = yo + 4 * ny + 20;
        const dxo = dyo + 4 * ny + 20;
        const ringFloats = acc ? 2 * kh * w * ch : 0;
        const ro = dxo + 4 * nx + 8;
        const end = ro + 4 * ringFloats + 16;
        const f = new Float32Array(memory.buffer);
        f.fill(777, 0, end / 4);
        f.set(x, xo / 4);
        f.set(ref.y, yo / 4);
        f.set(dy, dyo / 4);
        f.fill(NaN, dxo / 4, dxo / 4 + nx); // every value must be written
        f.fill(NaN, ro / 4, ro / 4 + ringFloats); // the kernel clears the ring
        const args = [n, h, w, ch, oh, ow, kh, kw, sh, sw, top, left, acc, zero];
        maxPoolGrad(xo, yo, dyo, dxo, acc ? ro : 0, ...args);
        const label = `${variant}: ${poolLabel(c, kind)} acc=${acc} zero=${zero}`;
        assertExact(f.subarray(dxo / 4, dxo / 4 + nx), ref.dx, label);
        assertExact(f.subarray(xo / 4, xo / 4 + nx), x, `${label}: x changed`);
        assertExact(f.subarray(yo / 4, yo / 4 + ny), ref.y, `${label}: y changed`);
        assertExact(f.subarray(dyo / 4, dyo / 4 + ny), dy, `${label}: dy changed`);
        for (
          const [from, to] of [[0, xo], [xo + 4 * nx, yo], [yo + 4 * ny, dyo], [dyo + 4 * ny, dxo]]
        ) {
          assert.ok(f.subarray(from / 4, to / 4).every((v) => v === 777), `${label}: guard`);
        }
        assert.ok(f.subarray(dxo / 4 + nx, ro / 4).every((v) => v === 777), `${label}: guard`);
        const ring = f.subarray(ro / 4, ro / 4 + ringFloats);
        assert.ok(ring.every((v) => v === 0), `${label}: ring left zeroed`);
        assert.ok(
          f.subarray(ro / 4 + ringFloats, end / 4).every((v) => v === 777),
          `${label}: guard`,
        );
      }
    }
  }
}

Deno.test("raw matmul kernel matches a float64 product (tails, chunks, offsets, no stray writes)", async () => {
  await forEachVariant((variant) => Promise.resolve(rawMatMul(variant)));
});

function rawMatMul(variant: SimdKernelVariant): void {
  const { memory, matmul } = instantiate(64, variant);
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 3, 5],
    [2, 4, 4],
    [3, 7, 9],
    [5, 13, 6],
    [8, 33, 70],
    [17, 101, 67],
    [32, 9, 131],
  ];
  for (const [m, k, n] of shapes) {
    for (const nc of [4, 12, n]) {
      const a = randomData(m * k, m + 3 * k);
      const b = randomData(k * n, n + 7 * k);
      const ao = 4;
      const bo = ao + 4 * m * k + 8;
      const yo = bo + 4 * k * n + 4;
      const end = yo + 4 * m * n + 16;
      const f = new Float32Array(memory.buffer);
      f.fill(555, 0, end / 4);
      f.set(a, ao / 4);
      f.set(b, bo / 4);
      f.fill(NaN, yo / 4, yo / 4 + m * n); // y need not be zeroed
      matmul(ao, bo, yo, m, k, n, nc);
      const expected = new Float64Array(m * n);
      for (let r = 0; r < m; r++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let i = 0; i < k; i++) s += a[r * k + i] * b[i * n + j];
          expected[r * n + j] = s;
        }
      }
      const label = `${variant}: m=${m} k=${k} n=${n} nc=${nc}`;
      const err = relError(f.subarray(yo / 4, yo / 4 + m * n), expected);
      assert.ok(err <= 1e-6, `${label}: relative error ${err}`);
      assertExact(f.subarray(ao / 4, ao / 4 + m * k), a, `${label}: a changed`);
      assertExact(f.subarray(bo / 4, bo / 4 + k * n), b, `${label}: b changed`);
      assert.ok(f.subarray(0, ao / 4).every((v) => v === 555), `${label}: guard`);
      assert.ok(f.subarray(ao / 4 + m * k, bo / 4).every((v) => v === 555), `${label}: guard`);
      assert.ok(f.subarray(bo / 4 + k * n, yo / 4).every((v) => v === 555), `${label}: guard`);
      assert.ok(f.subarray(yo / 4 + m * n, end / 4).every((v) => v === 555), `${label}: guard`);
    }
  }
}

Deno.test("MaxPoolGrad on wasm equals cpu exactly (same x, y, dy; ties, -Infinity, huge values)", async () => {
  await forEachVariant(async (variant) => {
    for (const [ci, c] of poolCases.entries()) {
      const out = poolOutShape(c);
      for (const [kind, make] of dataKinds) {
        const xd = make(numel(c.x), 30 + ci, c.x);
        const dyd = randomData(numel(out), 40 + ci);
        const yd = (await on("cpu", () =>
          tf.maxPool(tf.tensor4d(xd, c.x), c.k, c.s, c.pad))).values;
        const grad = () =>
          tf.engine().runKernel("MaxPoolGrad", {
            dy: tf.tensor4d(dyd, out),
            input: tf.tensor4d(xd, c.x),
            output: tf.tensor4d(yd, out),
          }, { filterSize: c.k, strides: c.s, pad: c.pad }) as tf.Tensor;
        const expected = await on("cpu", grad);
        const before = simdKernelCalls.maxPoolGrad;
        const actual = await on("wasm", grad);
        assert.equal(simdKernelCalls.maxPoolGrad, before + 1, "the SIMD kernel ran");
        assert.deepEqual(actual.shape, expected.shape);
        assertExact(actual.values, expected.values, `${variant}: ${poolLabel(c, kind)}`);
      }
    }
  });
});

Deno.test("maxPool gradients through tf.grad on wasm equal cpu exactly", async () => {
  await forEachVariant(async (variant) => {
    for (const [ci, c] of poolCases.entries()) {
      const out = poolOutShape(c);
      for (const [kind, make] of dataKinds) {
        const xd = make(numel(c.x), 50 + ci, c.x);
        const wd = randomData(numel(out), 60 + ci);
        const fn = () =>
          tf.grad((x: tf.Tensor) =>
            tf.maxPool(x as tf.Tensor4D, c.k, c.s, c.pad).mul(tf.tensor(wd, out)).sum()
          )(tf.tensor4d(xd, c.x));
        const expected = await on("cpu", fn);
        const actual = await on("wasm", fn);
        assertExact(actual.values, expected.values, `${variant}: grad ${poolLabel(c, kind)}`);
      }
    }
  });
});

Deno.test("MaxPoolGrad falls back to the composed kernels without the SIMD runtime", async () => {
  setSimdKernelsEnabled(false);
  try {
    for (const [ci, c] of poolCases.slice(0, 8).entries()) {
      const xd = randomData(numel(c.x), 70 + ci);
      const wd = randomData(numel(poolOutShape(c)), 80 + ci);
      const fn = () =>
        tf.grad((x: tf.Tensor) =>
          tf.maxPool(x as tf.Tensor4D, c.k, c.s, c.pad).mul(tf.tensor(wd, poolOutShape(c))).sum()
        )(tf.tensor4d(xd, c.x));
      const expected = await on("cpu", fn);
      const before = simdKernelCalls.maxPoolGrad;
      const actual = await on("wasm", fn);
      assert.equal(simdKernelCalls.maxPoolGrad, before);
      assert.ok(relError(actual.values, expected.values) <= 1e-6, poolLabel(c, "fallback"));
    }
  } finally {
    setSimdKernelsEnabled(true);
  }
});

/** Computes `a·b` on cpu and wasm; checks values, shape and which wasm path ran. */
async function checkMatMul(
  aShape: number[],
  bShape: number[],
  simd: boolean,
  seed: number,
): Promise<void> {
  const ad = randomData(numel(aShape), seed);
  const bd = randomData(numel(bShape), seed + 1);
  const fn = () => tf.matMul(tf.tensor(ad, aShape), tf.tensor(bd, bShape));
  const expected = await on("cpu", fn);
  const before = simdKernelCalls.matmul;
  const actual = await on("wasm", fn);
  const label = `${simdKernelVariant()}: matMul ${aShape} x ${bShape}`;
  assert.equal(simdKernelCalls.matmul - before, simd ? 1 : 0, `${label}: SIMD path ${simd}`);
  assert.deepEqual(actual.shape, expected.shape, label);
  const err = relError(actual.values, expected.values);
  assert.ok(err <= 1e-5, `${label}: relative error ${err}`);
}

Deno.test("BatchMatMul with few rows and a large right operand: SIMD kernel matches cpu", async () => {
  await forEachVariant(matMulCases);
});

async function matMulCases(): Promise<void> {
  // K, N odd and not multiples of 4; K*N = 266255 >= 2^18.
  for (const [i, m] of [1, 3, 8, 17, 32].entries()) {
    await checkMatMul([m, 515], [515, 517], true, 100 + i);
  }
  // At the threshold (K*N = 2^18) and just below it.
  await checkMatMul([8, 512], [512, 512], true, 110);
  await checkMatMul([8, 511], [511, 513], false, 111);
  // Too many rows, too few columns: the XNNPACK paths.
  await checkMatMul([33, 515], [515, 517], false, 112);
  await checkMatMul([8, 8191], [8191, 63], false, 113);
  // Unit batch axes on either side (the output keeps them, as on cpu).
  await checkMatMul([1, 5, 515], [1, 515, 517], true, 114);
  await checkMatMul([5, 515], [1, 515, 517], true, 115);
  await checkMatMul([1, 1, 5, 515], [515, 517], true, 116);
  // Batched and transposed products keep the old paths.
  await checkMatMul([2, 5, 515], [2, 515, 517], false, 117);
}

Deno.test("a right operand XNNPACK has packed keeps the XNNPACK path; no tensors leak", async () => {
  await tf.setBackend("wasm");
  const b = tf.tensor(randomData(515 * 517, 120), [515, 517]);
  const small = tf.tensor(randomData(8 * 515, 121), [8, 515]);
  const large = tf.tensor(randomData(64 * 515, 122), [64, 515]);
  const before = tf.memory().numTensors;
  const calls = simdKernelCalls.matmul;
  const first = tf.matMul(small, b); // SIMD: b is new
  assert.equal(simdKernelCalls.matmul, calls + 1);
  const again = tf.matMul(small, b); // still SIMD: XNNPACK never packed b
  assert.equal(simdKernelCalls.matmul, calls + 2);
  tf.matMul(large, b).dispose(); // XNNPACK (M > 32); b is now known to it
  const third = tf.matMul(small, b);
  assert.equal(simdKernelCalls.matmul, calls + 2, "the known b goes to XNNPACK");
  const [v1, v2, v3] = await Promise.all([first.data(), again.data(), third.data()]);
  assertExact(v2, v1, "same product twice");
  assert.ok(relError(v3, v1) <= 1e-5);
  assert.notEqual(first.dataId, again.dataId);
  tf.dispose([first, again, third]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([b, small, large]);
});

Deno.test("Part 2 on wasm: self-check against cpu passes and training does not leak", async () => {
  await forEachVariant(async (variant) => {
    await setupBackend("wasm");
    const calls = { ...simdKernelCalls };
    const r = await requireSelfCheck(() => buildPart2({ seed: 1 }), info, () => {});
    assert.ok(r !== null && r.ok, `${variant}: self-check: ${JSON.stringify(r)}`);
    assert.ok(simdKernelCalls.matmul > calls.matmul, "fc1 forward used the SIMD matmul");
    assert.ok(simdKernelCalls.maxPoolGrad >= calls.maxPoolGrad + 3, "3 pools used the SIMD kernel");
    assert.equal(tf.getBackend(), "wasm");
  });

  const model = buildPart2({ seed: 2 });
  const optimizer = createAdam(1e-4);
  const x = tf.tensor4d(randomData(2 * 120 * 160, 130).map((v) => v / 2), [2, 120, 160, 1]);
  const y = tf.tensor2d(randomData(2 * 116, 131).map((v) => (v + 1) / 2), [2, 116]);
  const step = (): number => {
    const loss = optimizer.minimize(
      () => tf.losses.meanSquaredError(y, model.apply(x, { training: true }) as tf.Tensor),
      true,
    ) as tf.Scalar;
    const value = loss.dataSync()[0];
    loss.dispose();
    return value;
  };
  const first = step();
  const tensors = tf.memory().numTensors;
  let last = first;
  for (let i = 0; i < 3; i++) {
    last = step();
    assert.equal(tf.memory().numTensors, tensors, `tensors at step ${i}`);
  }
  assert.ok(Number.isFinite(last) && last < first, `loss ${first} -> ${last}`);
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
});

// ---------------------------------------------------------------------------
// Filter gradient of convolutions with few input channels.

interface FilterCase {
  x: Shape4;
  /** [kh, kw, ci, co] */
  f: Shape4;
  s: number | [number, number];
  pad: "same" | "valid" | number | tf.backend_util.ExplicitPadding;
}

const filterCases: FilterCase[] = [
  // 3x3 stride 1 'same' (Part 1/2, U-Net first layers), co 16, 32 and a tail.
  { x: [1, 9, 11, 1], f: [3, 3, 1, 16], s: 1, pad: "same" },
  { x: [3, 9, 11, 1], f: [3, 3, 1, 32], s: 1, pad: "same" },
  { x: [3, 8, 10, 3], f: [3, 3, 3, 16], s: 1, pad: "same" },
  { x: [1, 7, 13, 3], f: [3, 3, 3, 32], s: 1, pad: "same" },
  { x: [3, 9, 7, 1], f: [3, 3, 1, 5], s: 1, pad: "same" },
  { x: [1, 9, 7, 3], f: [3, 3, 3, 5], s: 1, pad: "same" },
  // Every co block size: 32 + 16 + 4 + 3 and 8 + 1.
  { x: [3, 11, 9, 2], f: [3, 3, 2, 55], s: 1, pad: "same" },
  { x: [1, 11, 9, 4], f: [3, 3, 4, 9], s: 1, pad: "same" },
  // 7x7 stride 2 'same' (ResNet stem) at odd and even sizes.
  { x: [1, 15, 13, 1], f: [7, 7, 1, 32], s: 2, pad: "same" },
  { x: [3, 17, 19, 3], f: [7, 7, 3, 64], s: 2, pad: "same" },
  { x: [3, 16, 16, 1], f: [7, 7, 1, 8], s: 2, pad: "same" },
  // 'valid', other strides and windows, explicit padding.
  { x: [1, 9, 11, 1], f: [3, 3, 1, 16], s: 1, pad: "valid" },
  { x: [3, 10, 9, 3], f: [3, 3, 3, 32], s: 2, pad: "valid" },
  { x: [1, 11, 10, 4], f: [5, 4, 4, 12], s: [3, 2], pad: "valid" },
  { x: [3, 7, 9, 2], f: [2, 3, 2, 7], s: [1, 2], pad: "same" },
  { x: [1, 8, 8, 1], f: [3, 3, 1, 16], s: 2, pad: 1 },
  { x: [1, 5, 6, 2], f: [3, 3, 2, 4], s: 1, pad: [[0, 0], [2, 0], [0, 1], [0, 0]] },
  { x: [3, 6, 5, 1], f: [1, 1, 1, 3], s: 1, pad: "valid" },
  // Windows larger than the input; taps that see no input.
  { x: [1, 3, 4, 1], f: [7, 7, 1, 4], s: 2, pad: "same" },
];

function filterLabel(c: FilterCase): string {
  return `x=${c.x} f=${c.f} s=${c.s} pad=${JSON.stringify(c.pad)}`;
}

function filterGeometry(c: FilterCase): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(c.x, c.f, c.s, 1, c.pad);
}

/** dW in float64 (taps outside the input count as 0). */
function referenceFilterGrad(x: Float32Array, dy: Float32Array, c: FilterCase): Float64Array {
  const info = filterGeometry(c);
  const [n, h, w, ci] = c.x;
  const [kh, kw, , co] = c.f;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const dw = new Float64Array(kh * kw * ci * co);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const iy = oy * sh + i - top;
            const ix = ox * sw + j - left;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            for (let d = 0; d < ci; d++) {
              const v = x[((b * h + iy) * w + ix) * ci + d];
              const q = ((b * oh + oy) * ow + ox) * co;
              const p = ((i * kw + j) * ci + d) * co;
              for (let o = 0; o < co; o++) dw[p + o] += v * dy[q + o];
            }
          }
        }
      }
    }
  }
  return dw;
}

Deno.test("raw convFilterGrad kernel matches a float64 sum (tails, offsets, no stray writes)", async () => {
  await forEachVariant((variant) => Promise.resolve(rawConvFilterGrad(variant)));
});

function rawConvFilterGrad(variant: SimdKernelVariant): void {
  const { memory, convFilterGrad } = instantiate(64, variant);
  for (const [i, c] of filterCases.entries()) {
    const info = filterGeometry(c);
    const [n, h, w, ci] = c.x;
    const [kh, kw, , co] = c.f;
    const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
    const { top, left } = info.padInfo;
    const nx = numel(c.x);
    const ny = n * oh * ow * co;
    const nw = numel(c.f);
    const x = randomData(nx, 200 + i);
    const dy = randomData(ny, 300 + i);
    // x, dy, dw and the float64 scratch at 4, 8, 12 and 0 bytes past a
    // multiple of 16, with guard values in between.
    const xo = 4 + 16;
    const dyo = xo + 4 * nx + 20;
    const dwo = dyo + 4 * ny + 20;
    const to = dwo + 4 * nw + 20;
    const end = to + 8 * nw + 16;
    const f = new Float32Array(memory.buffer);
    f.fill(333, 0, end / 4);
    f.set(x, xo / 4);
    f.set(dy, dyo / 4);
    f.fill(NaN, dwo / 4, dwo / 4 + nw); // every value must be written
    f.fill(NaN, to / 4, to / 4 + 2 * nw); // the scratch may hold anything
    convFilterGrad(xo, dyo, dwo, to, n, h, w, ci, oh, ow, co, kh, kw, sh, sw, top, left);
    const label = `${variant}: ${filterLabel(c)}`;
    const err = relError(f.subarray(dwo / 4, dwo / 4 + nw), referenceFilterGrad(x, dy, c));
    assert.ok(err <= 1e-6, `${label}: relative error ${err}`);
    assertExact(f.subarray(xo / 4, xo / 4 + nx), x, `${label}: x changed`);
    assertExact(f.subarray(dyo / 4, dyo / 4 + ny), dy, `${label}: dy changed`);
    for (
      const [from, until] of [[0, xo], [xo + 4 * nx, dyo], [dyo + 4 * ny, dwo], [dwo + 4 * nw, to]]
    ) {
      assert.ok(f.subarray(from / 4, until / 4).every((v) => v === 333), `${label}: guard`);
    }
    assert.ok(f.subarray(to / 4 + 2 * nw, end / 4).every((v) => v === 333), `${label}: guard`);
  }
}

/** Conv2DBackpropFilter of `c` on cpu and on wasm; checks values, shape and the path taken. */
async function checkFilterGrad(c: FilterCase, seed: number, simd: boolean): Promise<void> {
  const out = filterGeometry(c).outShape as Shape4;
  const xd = randomData(numel(c.x), seed);
  const dyd = randomData(numel(out), seed + 1);
  const fn = () =>
    tf.engine().runKernel("Conv2DBackpropFilter", {
      x: tf.tensor4d(xd, c.x),
      dy: tf.tensor4d(dyd, out),
    }, { strides: c.s, pad: c.pad, dataFormat: "NHWC", filterShape: c.f }) as tf.Tensor;
  const expected = await on("cpu", fn);
  const before = simdKernelCalls.convFilterGrad;
  const actual = await on("wasm", fn);
  const label = `${simdKernelVariant()}: ${filterLabel(c)}`;
  assert.equal(simdKernelCalls.convFilterGrad - before, simd ? 1 : 0, `${label}: SIMD path`);
  assert.deepEqual(actual.shape, c.f, label);
  const err = relError(actual.values, expected.values);
  assert.ok(err <= 1e-4, `${label}: relative error ${err} vs cpu`);
}

Deno.test("Conv2DBackpropFilter: the SIMD kernel matches cpu (first layers and deeper ones)", async () => {
  await forEachVariant(filterGradCases);
});

async function filterGradCases(): Promise<void> {
  for (const [i, c] of filterCases.entries()) await checkFilterGrad(c, 400 + 2 * i, true);
  // A larger case: Part 2's first layer at batch 2 (38400 positions per tap).
  await checkFilterGrad({ x: [2, 120, 160, 1], f: [3, 3, 1, 32], s: 1, pad: "same" }, 480, true);
  // More input channels take the same kernel (deeper layers of every net).
  await checkFilterGrad({ x: [3, 9, 11, 5], f: [3, 3, 5, 16], s: 1, pad: "same" }, 490, true);
  await checkFilterGrad({ x: [1, 9, 11, 8], f: [7, 7, 8, 8], s: 2, pad: "same" }, 492, true);
  await checkFilterGrad({ x: [2, 30, 40, 32], f: [3, 3, 32, 64], s: 1, pad: "same" }, 494, true);
  await checkFilterGrad({ x: [2, 14, 14, 64], f: [3, 3, 64, 128], s: 2, pad: "same" }, 496, true);
  await checkFilterGrad({ x: [2, 7, 7, 256], f: [3, 3, 256, 256], s: 1, pad: "same" }, 498, true);
  await checkFilterGrad({ x: [2, 8, 8, 64], f: [1, 1, 64, 128], s: 2, pad: "valid" }, 499, true);
}

Deno.test("Conv2DBackpropFilter falls back to the composed kernels without the SIMD runtime", async () => {
  setSimdKernelsEnabled(false);
  try {
    for (const [i, c] of filterCases.slice(0, 10).entries()) {
      await checkFilterGrad(c, 500 + 2 * i, false);
    }
  } finally {
    setSimdKernelsEnabled(true);
  }
});

Deno.test("conv2d gradients through tf.grad on wasm match cpu (first layers)", async () => {
  await forEachVariant(async (variant) => {
    for (const [i, c] of filterCases.slice(0, 12).entries()) {
      const fd = randomData(numel(c.f), 600 + i);
      const xd = randomData(numel(c.x), 620 + i);
      const out = filterGeometry(c).outShape;
      const wd = randomData(numel(out), 640 + i);
      const fn = () =>
        tf.grad((f: tf.Tensor) =>
          tf.conv2d(tf.tensor4d(xd, c.x), f as tf.Tensor4D, c.s, c.pad as "same")
            .mul(tf.tensor(wd, out)).sum()
        )(tf.tensor4d(fd, c.f));
      const expected = await on("cpu", fn);
      const before = simdKernelCalls.convFilterGrad;
      const actual = await on("wasm", fn);
      assert.equal(simdKernelCalls.convFilterGrad, before + 1, filterLabel(c));
      const err = relError(actual.values, expected.values);
      assert.ok(err <= 1e-4, `${variant}: grad ${filterLabel(c)}: relative error ${err}`);
    }
  });
});

Deno.test("self-check passes on wasm for Part 1, Part 2 and ResNet-18 through the SIMD filter gradient", async () => {
  const nets: [string, () => tf.LayersModel][] = [
    ["part1", () => buildPart1({ seed: 3 })],
    ["part2", () => buildPart2({ seed: 3 })],
    [
      "resnet18 112x112x1 x0.5",
      () => buildResNet({ depth: 18, inputSize: 112, channels: 1, widthMultiplier: 0.5, seed: 3 }),
    ],
  ];
  await forEachVariant(async (variant) => {
    for (const [name, build] of nets) {
      await setupBackend("wasm");
      const before = simdKernelCalls.convFilterGrad;
      const r = await requireSelfCheck(build, info, () => {});
      assert.ok(r !== null && r.ok, `${variant}: ${name}: self-check ${JSON.stringify(r)}`);
      assert.ok(simdKernelCalls.convFilterGrad > before, `${name}: the SIMD filter gradient ran`);
      assert.equal(tf.getBackend(), "wasm");
    }
  });
});

/**
 * The W300 heatmap U-Net (112x112x1, output stride 4) with a small random
 * `heatmap_logits` kernel instead of zeros: with the zero kernel every
 * gradient but the logits' is exactly 0, so the first layer would not be
 * checked.
 */
function buildUNetForCheck(): tf.LayersModel {
  const model = buildHeatmapUNet({
    inputWidth: 112,
    inputHeight: 112,
    channels: 1,
    keypoints: 68,
    outputStride: 4,
    seed: 3,
  });
  const logits = model.getLayer("heatmap_logits");
  const [kernel, bias] = logits.getWeights();
  const small = tf.tensor(randomData(kernel.size, 700).map((v) => v / 10), kernel.shape);
  logits.setWeights([small, bias]);
  small.dispose();
  return model;
}

/** Gradients of the MSE of `build()` on `backend` (weights given, or the built ones). */
async function gradientsOn(
  backend: string,
  build: () => tf.LayersModel,
  weights: tf.Tensor[] | null,
  x: tf.Tensor4D,
  y: tf.Tensor2D,
): Promise<{ grads: Map<string, Float32Array>; weights: tf.Tensor[] }> {
  await tf.setBackend(backend);
  const model = build();
  if (weights !== null) model.setWeights(weights);
  const saved = weights ?? model.getWeights().map((t) => t.clone());
  const xb = tf.tensor(await x.data(), x.shape);
  const yb = tf.tensor(await y.data(), y.shape);
  const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(
    () => tf.losses.meanSquaredError(yb, model.apply(xb, { training: true }) as tf.Tensor),
    vars,
  );
  const out = new Map<string, Float32Array>();
  for (const [i, v] of model.trainableWeights.entries()) {
    out.set(v.originalName, (await grads[vars[i].name].data()) as Float32Array);
  }
  tf.dispose([xb, yb, value, ...Object.values(grads)]);
  model.dispose();
  return { grads: out, weights: saved };
}

Deno.test("U-Net 112x112x1 on wasm: the SIMD filter gradient agrees with the composed path", async () => {
  // Every conv layer's filter gradient, SIMD kernel against the composed
  // kernels (whose agreement with cpu is tested above), from the same
  // upstream gradients at the real input size (the self-check covers the
  // U-Net against cpu in tests/cpu_kernels_test.ts).
  await tf.setBackend("wasm");
  const x = tf.tensor4d(randomData(2 * 112 * 112, 710).map((v) => v / 2), [2, 112, 112, 1]);
  const y = tf.tensor2d(randomData(2 * 136, 711).map((v) => 0.5 + v / 4), [2, 136]);
  const calls = simdKernelCalls.convFilterGrad;
  setSimdKernelsEnabled(false);
  let composed: Awaited<ReturnType<typeof gradientsOn>>;
  try {
    composed = await gradientsOn("wasm", buildUNetForCheck, null, x, y);
  } finally {
    setSimdKernelsEnabled(true);
  }
  assert.equal(simdKernelCalls.convFilterGrad, calls, "disabled: the composed kernels ran");
  const first = composed.grads.get("enc0_conv1/kernel")!;
  assert.ok(first.some((v) => v !== 0), "the first layer's gradient is not trivially 0");
  await forEachVariant(async (variant) => {
    const before = simdKernelCalls.convFilterGrad;
    const simd = await gradientsOn("wasm", buildUNetForCheck, composed.weights, x, y);
    assert.ok(simdKernelCalls.convFilterGrad > before + 1, "the conv layers used the SIMD kernel");
    for (const [name, expected] of composed.grads) {
      const err = relError(simd.grads.get(name)!, expected);
      assert.ok(err <= 1e-4, `${variant}: ${name}: relative error ${err}`);
    }
  });
  tf.dispose([x, y, ...composed.weights]);
});
