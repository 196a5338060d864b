/**
 * Our own WebAssembly SIMD training kernels (`lib/backends/wasm/simd_kernels.wat`,
 * embedded by `tasks/build_wasm.ts` as `lib/backends/wasm_simd_kernels_binary.ts`),
 * run directly on the tfjs wasm backend's heap, as `lib/backends/wasm_adam.ts` does:
 * the module imports the backend's `WebAssembly.Memory`, tensors are found
 * by their byte offsets in the backend's `dataIdMap`, and every output is a
 * fresh buffer from `backend.makeOutput` (tfjs data is immutable, and the
 * runtime caches XNNPACK operators per tensor id), so inputs are only read.
 *
 * - {@link simdMaxPoolGrad}: the max-pool gradient in one pass (the first
 *   tap equal to the pooled maximum gets dy, as on the cpu backend).
 * - {@link simdMatMul}: y = a·b for a few rows of a and a large b, streaming
 *   b once and without XNNPACK's repacking of a new right operand.
 * - {@link simdConvFilterGrad}: the filter gradient of a convolution with
 *   few input channels (the first layer of a net), in one pass over dy.
 *
 * Each returns null when it cannot run (the backend is not tfjs-wasm 4.x as
 * expected, a tensor is not float32 or not in the heap); callers then use
 * other kernels.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";
import { WASM_SIMD_KERNELS_BASE64 } from "./wasm_simd_kernels_binary.ts";

type Info = tf.TensorInfo;

/** A wasm backend tensor record (`BackendWasm.dataIdMap` values). */
interface WasmTensorData {
  id: number;
  memoryOffset: number | null;
  shape: number[];
  dtype: string;
}

/** The parts of `BackendWasm` (tfjs-backend-wasm 4.x) used here. */
interface WasmBackendInternals {
  wasm?: {
    asm?: { memory?: unknown };
    wasmMemory?: unknown;
    HEAPU8?: Uint8Array;
  };
  dataIdMap?: {
    has(dataId: object): boolean;
    get(dataId: object): WasmTensorData | undefined;
  };
  makeOutput?: (shape: number[], dtype: tf.DataType) => Info;
  disposeData?: (dataId: object) => void;
}

type MaxPoolGradKernel = (
  x: number,
  y: number,
  dy: number,
  dx: number,
  ring: number,
  n: number,
  h: number,
  w: number,
  c: number,
  oh: number,
  ow: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  top: number,
  left: number,
  acc: number,
  zero: number,
) => void;

type MatMulKernel = (
  a: number,
  b: number,
  y: number,
  m: number,
  k: number,
  n: number,
  nc: number,
) => void;

type ConvFilterGradKernel = (
  x: number,
  dy: number,
  dw: number,
  tot: number,
  n: number,
  h: number,
  w: number,
  ci: number,
  oh: number,
  ow: number,
  co: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  top: number,
  left: number,
) => void;

interface Kernels {
  maxPoolGrad: MaxPoolGradKernel;
  matmul: MatMulKernel;
  convFilterGrad: ConvFilterGradKernel;
}

/** What the kernels need from a wasm backend. */
interface Runtime {
  kernels: Kernels;
  memory: WebAssembly.Memory;
  data: NonNullable<WasmBackendInternals["dataIdMap"]>;
  makeOutput: (shape: number[], dtype: tf.DataType) => Info;
  disposeData: (dataId: object) => void;
}

let compiled: WebAssembly.Module | null = null;
/** One instance per heap; `null` when instantiation failed. */
const instances = new WeakMap<WebAssembly.Memory, Kernels | null>();
let enabled = true;

/**
 * How many times each kernel has run in this process (for tests and
 * profiling; reset freely).
 *
 * @example
 * ```ts ignore
 * import { simdKernelCalls } from "./wasm_simd_kernels.ts";
 * simdKernelCalls.matmul = 0;
 * ```
 */
export const simdKernelCalls = { maxPoolGrad: 0, matmul: 0, convFilterGrad: 0 };

/**
 * Testing hook: with `false`, every kernel here returns null (callers take
 * their fallback paths).
 *
 * @example
 * ```ts ignore
 * import { setSimdKernelsEnabled } from "./wasm_simd_kernels.ts";
 * setSimdKernelsEnabled(false);
 * ```
 */
export function setSimdKernelsEnabled(on: boolean): void {
  enabled = on;
}

function simdModule(): WebAssembly.Module {
  if (compiled === null) {
    const bin = atob(WASM_SIMD_KERNELS_BASE64.join(""));
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    compiled = new WebAssembly.Module(bytes);
  }
  return compiled;
}

/** The kernels bound to `backend`'s heap, or null if its internals are not as expected. */
function runtime(backend: tf.KernelBackend): Runtime | null {
  if (!enabled) return null;
  const b = backend as unknown as WasmBackendInternals;
  const wasm = b.wasm;
  const data = b.dataIdMap;
  const memory = wasm?.asm?.memory ?? wasm?.wasmMemory;
  if (
    !(memory instanceof WebAssembly.Memory) || data === undefined ||
    typeof b.makeOutput !== "function" || typeof b.disposeData !== "function" ||
    // The memory found must be the heap the backend's tensors live in.
    wasm?.HEAPU8?.buffer !== memory.buffer
  ) {
    return null;
  }
  let kernels = instances.get(memory);
  if (kernels === undefined) {
    try {
      const { exports } = new WebAssembly.Instance(simdModule(), { env: { memory } });
      kernels = {
        maxPoolGrad: exports.maxPoolGrad as MaxPoolGradKernel,
        matmul: exports.matmul as MatMulKernel,
        convFilterGrad: exports.convFilterGrad as ConvFilterGradKernel,
      };
    } catch {
      kernels = null;
    }
    instances.set(memory, kernels);
  }
  if (kernels === null) return null;
  return {
    kernels,
    memory,
    data,
    makeOutput: b.makeOutput.bind(backend),
    disposeData: b.disposeData.bind(backend),
  };
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Byte offset of a float32 tensor of `size` values in the heap, or null. */
function heapOffset(rt: Runtime, t: Info, size: number): number | null {
  if (t.dtype !== "float32" || !rt.data.has(t.dataId)) return null;
  const d = rt.data.get(t.dataId);
  if (
    d === undefined || d.dtype !== "float32" || d.memoryOffset === null ||
    d.memoryOffset % 4 !== 0 || sizeOf(d.shape) !== size ||
    d.memoryOffset + 4 * size > rt.memory.buffer.byteLength
  ) {
    return null;
  }
  return d.memoryOffset;
}

/**
 * Allocates a float32 output (and a float32 scratch buffer of
 * `scratchSize` values if that is positive) and returns them with the byte
 * offsets of the inputs, of the output and of the scratch buffer, or null
 * (nothing allocated) if an input is unusable. The offsets are read after
 * the allocations, which may grow the heap.
 */
function prepare(
  rt: Runtime,
  inputs: [Info, number][],
  outShape: number[],
  scratchSize = 0,
): { out: Info; scratch: Info | null; offsets: number[] } | null {
  for (const [t, size] of inputs) {
    if (heapOffset(rt, t, size) === null) return null;
  }
  const out = rt.makeOutput(outShape, "float32");
  const scratch = scratchSize > 0 ? rt.makeOutput([scratchSize], "float32") : null;
  const all: [Info, number][] = [...inputs, [out, sizeOf(outShape)]];
  if (scratch !== null) all.push([scratch, scratchSize]);
  const offsets = all.map(([t, size]) => heapOffset(rt, t, size));
  if (offsets.some((o) => o === null)) {
    rt.disposeData(out.dataId);
    if (scratch !== null) rt.disposeData(scratch.dataId);
    return null;
  }
  return { out, scratch, offsets: offsets as number[] };
}

/**
 * The geometry of a 2D max pool (as in tfjs's `Conv2DInfo`; no dilation).
 *
 * @example
 * ```ts ignore
 * const info = tf.backend_util.computePool2DInfo([1, 4, 4, 1], 2, 2, 1, "valid");
 * const pool: PoolGeometry = { ...info, top: info.padInfo.top, left: info.padInfo.left };
 * ```
 */
export interface PoolGeometry {
  batchSize: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  /** Rows of padding above the input (the first window starts at row -top). */
  top: number;
  /** Columns of padding left of the input. */
  left: number;
}

/**
 * dx of `y = maxPool(x)` (NHWC) on the wasm backend: for every window and
 * channel, dy goes to the first tap in row-major window order whose value
 * equals y (none if y is -Infinity or NaN), which is what the cpu backend
 * does when y is the window maximum; shares of overlapping windows are
 * added in the cpu backend's order, so the result is exact. Returns a
 * fresh tensor, or null if the kernel cannot run here.
 *
 * @example
 * ```ts ignore
 * const dx = simdMaxPoolGrad(backend, x, y, dy, pool) ?? fallback();
 * ```
 */
export function simdMaxPoolGrad(
  backend: tf.KernelBackend,
  x: Info,
  y: Info,
  dy: Info,
  pool: PoolGeometry,
): Info | null {
  const rt = runtime(backend);
  if (rt === null) return null;
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c } = pool;
  const { outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = pool;
  const { strideHeight: sh, strideWidth: sw, top, left } = pool;
  const inSize = n * h * w * c;
  const outSize = n * oh * ow * c;
  if (
    sizeOf(x.shape) !== inSize || sizeOf(y.shape) !== outSize || sizeOf(dy.shape) !== outSize ||
    // Byte offsets must fit in i32 arithmetic.
    4 * inSize >= 2 ** 31 || 8 * kh * w * c >= 2 ** 31
  ) {
    return null;
  }
  // Overlapping windows add their shares in float64 (as the cpu backend
  // does) in a scratch ring of kh rows of partial sums; otherwise each share
  // is stored, and dx is zeroed first only if some input is in no window.
  const overlap = kh > sh || kw > sw;
  const covered = kh === sh && kw === sw && oh * sh - top >= h && ow * sw - left >= w;
  const ringSize = overlap ? 2 * kh * w * c : 0;
  const p = prepare(rt, [[x, inSize], [y, outSize], [dy, outSize]], x.shape, ringSize);
  if (p === null) return null;
  const [xo, yo, dyo, dxo, ringo] = p.offsets;
  rt.kernels.maxPoolGrad(
    xo,
    yo,
    dyo,
    dxo,
    ringo ?? 0,
    n,
    h,
    w,
    c,
    oh,
    ow,
    kh,
    kw,
    sh,
    sw,
    top,
    left,
    overlap ? 1 : 0,
    overlap || !covered ? 1 : 0,
  );
  if (p.scratch !== null) rt.disposeData(p.scratch.dataId);
  simdKernelCalls.maxPoolGrad++;
  return p.out;
}

/**
 * Column chunk of {@link simdMatMul}: the whole row of y while `m` rows of
 * it fit in about 256 KB (L2), else a multiple of 4 that does. Measured on
 * x[8|32, 19200] · W[19200, 2000]: whole rows are fastest (chunks of 512
 * columns cost 30% more at m = 8).
 */
function columnChunk(m: number, n: number): number {
  const maxFloats = 65536;
  if (m * n <= maxFloats) return n;
  return Math.max(256, Math.floor(maxFloats / m / 4) * 4);
}

/**
 * y[m, n] = a[m, k] · b[k, n] (row-major, no transposes) on the wasm
 * backend, streaming b once: for small m (a batch of activations times a
 * weight matrix). `outShape` is the shape of the result (m * n values).
 * Returns a fresh tensor, or null if the kernel cannot run here.
 *
 * @example
 * ```ts ignore
 * const y = simdMatMul(backend, x, w, 8, 19200, 2000, [8, 2000]);
 * ```
 */
export function simdMatMul(
  backend: tf.KernelBackend,
  a: Info,
  b: Info,
  m: number,
  k: number,
  n: number,
  outShape: number[],
): Info | null {
  const rt = runtime(backend);
  if (rt === null) return null;
  if (
    sizeOf(outShape) !== m * n || 4 * Math.max(m * k, k * n, m * n) >= 2 ** 31 || m * n === 0
  ) {
    return null;
  }
  const p = prepare(rt, [[a, m * k], [b, k * n]], outShape);
  if (p === null) return null;
  const [ao, bo, yo] = p.offsets;
  rt.kernels.matmul(ao, bo, yo, m, k, n, columnChunk(m, n));
  simdKernelCalls.matmul++;
  return p.out;
}

/**
 * The geometry of a 2D convolution's filter gradient (as in tfjs's
 * `Conv2DInfo`; dilation 1), NHWC.
 *
 * @example
 * ```ts ignore
 * const info = tf.backend_util.computeConv2DInfo([1, 8, 8, 1], [3, 3, 1, 16], 1, 1, "same");
 * const conv: ConvFilterGeometry = { ...info, top: info.padInfo.top, left: info.padInfo.left };
 * ```
 */
export interface ConvFilterGeometry extends PoolGeometry {
  /** Output channels (filters). */
  outChannels: number;
}

/**
 * dW [kh, kw, ci, co] of a convolution (NHWC, dilation 1) from its input
 * x [n, h, w, ci] and output gradient dy [n, oh, ow, co], on the wasm
 * backend, in one pass over dy: vectorised over co, with the sums over
 * each dy row in registers. Meant for few input channels (the first layer
 * of a net), where a convolution with dy as the filter is slow. Row sums
 * are added per image in float32 and the image sums in float64, so the
 * error stays near float32 rounding of the row sums. Returns a fresh
 * tensor, or null if the kernel cannot run here.
 *
 * @example
 * ```ts ignore
 * const dw = simdConvFilterGrad(backend, x, dy, conv) ?? fallback();
 * ```
 */
export function simdConvFilterGrad(
  backend: tf.KernelBackend,
  x: Info,
  dy: Info,
  conv: ConvFilterGeometry,
): Info | null {
  const rt = runtime(backend);
  if (rt === null) return null;
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci } = conv;
  const { outHeight: oh, outWidth: ow, outChannels: co } = conv;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = conv;
  const { top, left } = conv;
  const inSize = n * h * w * ci;
  const outSize = n * oh * ow * co;
  const taps = kh * kw * ci * co;
  const dims = [n, h, w, ci, oh, ow, co, kh, kw, sh, sw];
  if (
    sizeOf(x.shape) !== inSize || sizeOf(dy.shape) !== outSize ||
    !dims.every((v) => Number.isInteger(v) && v > 0) ||
    !Number.isInteger(top) || !Number.isInteger(left) || top < 0 || left < 0 ||
    // Byte offsets and indices must fit in i32 arithmetic.
    4 * Math.max(inSize, outSize) >= 2 ** 31 || 8 * taps >= 2 ** 31 ||
    Math.max(h, w) + Math.max(top, left) + Math.max(kh, kw) >= 2 ** 30
  ) {
    return null;
  }
  const p = prepare(rt, [[x, inSize], [dy, outSize]], [kh, kw, ci, co], 2 * taps);
  if (p === null) return null;
  const [xo, dyo, dwo, toto] = p.offsets;
  rt.kernels.convFilterGrad(xo, dyo, dwo, toto, n, h, w, ci, oh, ow, co, kh, kw, sh, sw, top, left);
  rt.disposeData(p.scratch!.dataId);
  simdKernelCalls.convFilterGrad++;
  return p.out;
}
