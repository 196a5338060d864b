/**
 * Convolutions and matrix products of the tfjs wasm backend through the
 * native GEMM of `native_blas.ts`, on the backend's heap.
 *
 * A convolution becomes matrix products over chunks of output pixels: our
 * wasm kernel `im2col` (`lib/backends/wasm/im2col.wat`) writes a chunk's
 * patch rows (each pixel's kh x kw window, in the filter's [kh, kw, ci]
 * order), then one GEMM per chunk gives
 * - the output: patches · W (W as a [kh*kw*ci, co] matrix),
 * - the filter gradient: the sum over chunks of patchesᵀ · dy,
 * - the input gradient: `col2imAdd` of dy · Wᵀ (each tap added back to the
 *   pixel it came from).
 * Chunks of about 1 MiB keep the patches in cache for their GEMM. 1x1
 * convolutions with stride 1 and no padding need no patches. Dilated convs
 * and tiny products return null (the caller's wasm kernels run).
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";
import { type NativeBlas, nativeBlas } from "./native_blas.ts";
import { WASM_IM2COL_BASE64 } from "./wasm_im2col_binary.ts";
import { base64Bytes } from "../util/base64.ts";

type Info = tf.TensorInfo;

/** The tfjs-backend-wasm 4.x internals used (as in `wasm_simd_kernels.ts`). */
interface WasmInternals {
  wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown; HEAPU8?: Uint8Array };
  dataIdMap?: { get(id: object): { memoryOffset: number | null; dtype: string } | undefined };
  makeOutput?: (shape: number[], dtype: tf.DataType) => Info;
  disposeData?: (id: object) => void;
}

interface Heap {
  blas: NativeBlas;
  memory: WebAssembly.Memory;
  offset(t: Info): number;
  alloc(shape: number[]): Info;
  free(...t: Info[]): void;
  f32(): Float32Array;
}

/** Calls per kernel (tests and `doctor` read them). */
export const nativeCalls = { conv: 0, convInput: 0, convFilter: 0, matmul: 0 };

let enabled = true;
/** Smallest multiply-adds worth a native call (below it the FFI overhead dominates). */
const MIN_MACS = 1 << 18;
let minMacs = MIN_MACS;

/**
 * Testing hook: `false` makes every kernel here return null; `smallest`
 * sets the least multiply-adds sent to the native GEMM (default 2^18).
 *
 * @example
 * ```ts ignore
 * import { setNativeEnabled } from "./native_conv.ts";
 * setNativeEnabled(true, 0); // even tiny convs go native
 * ```
 */
export function setNativeEnabled(on: boolean, smallest = MIN_MACS): void {
  enabled = on;
  minMacs = smallest;
}

function heap(backend: tf.KernelBackend): Heap | null {
  if (!enabled) return null;
  const blas = nativeBlas();
  if (!blas) return null;
  const b = backend as unknown as WasmInternals;
  const memory = b.wasm?.asm?.memory ?? b.wasm?.wasmMemory;
  if (
    !(memory instanceof WebAssembly.Memory) || !b.dataIdMap || !b.makeOutput || !b.disposeData
  ) {
    return null;
  }
  const map = b.dataIdMap, make = b.makeOutput.bind(backend), dispose = b.disposeData.bind(backend);
  return {
    blas,
    memory,
    offset(t) {
      const d = map.get(t.dataId);
      if (!d || d.dtype !== "float32" || d.memoryOffset === null || d.memoryOffset % 4 !== 0) {
        throw new Error("native kernel: a tensor is not float32 in the wasm heap");
      }
      return d.memoryOffset;
    },
    alloc: (shape) => make(shape, "float32"),
    free: (...ts) => ts.forEach((t) => dispose(t.dataId)),
    f32: () => new Float32Array(memory.buffer),
  };
}

/** The parts of tfjs's `Conv2DInfo` used here. */
export interface ConvGeometry {
  batchSize: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padInfo: { top: number; left: number; bottom: number; right: number };
}

/** Which convs run natively: 1x1 stride 1 unpadded ones directly, others through patches. */
function supported(c: ConvGeometry): "pointwise" | "patches" | null {
  const macs = c.batchSize * c.outHeight * c.outWidth * c.outChannels * c.inChannels *
    c.filterHeight * c.filterWidth;
  const pad = c.padInfo;
  if (macs < minMacs || c.dilationHeight !== 1 || c.dilationWidth !== 1) return null;
  if (Math.min(pad.top, pad.left, pad.bottom, pad.right) < 0) return null;
  const k = c.filterHeight * c.filterWidth * c.inChannels;
  const big = Math.max(c.batchSize * c.inHeight * c.inWidth * c.inChannels, k * c.outChannels);
  if (4 * big >= 2 ** 31) return null;
  const unit = c.filterHeight === 1 && c.filterWidth === 1 && c.strideHeight === 1 &&
    c.strideWidth === 1 && pad.top + pad.left + pad.bottom + pad.right === 0;
  return unit ? "pointwise" : "patches";
}

type PatchKernel = (
  src: number,
  dst: number,
  h: number,
  w: number,
  c: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  top: number,
  left: number,
  oh: number,
  ow: number,
  row0: number,
  rows: number,
) => void;

let im2colModule: WebAssembly.Module | null = null;
const patchKernels = new WeakMap<
  WebAssembly.Memory,
  { im2col: PatchKernel; col2imAdd: PatchKernel }
>();

function patches(memory: WebAssembly.Memory): { im2col: PatchKernel; col2imAdd: PatchKernel } {
  let k = patchKernels.get(memory);
  if (!k) {
    if (!im2colModule) {
      im2colModule = new WebAssembly.Module(base64Bytes(WASM_IM2COL_BASE64));
    }
    const { exports } = new WebAssembly.Instance(im2colModule, { env: { memory } });
    k = { im2col: exports.im2col as PatchKernel, col2imAdd: exports.col2imAdd as PatchKernel };
    patchKernels.set(memory, k);
  }
  return k;
}

/** Patch rows per chunk: about 1 MiB of patches, so a chunk stays in cache for its GEMM. */
const CHUNK_FLOATS = 1 << 18;

/**
 * Runs `body(row0, rows, colsOffset)` over chunks of output pixels with a
 * patch buffer of the chunk size (freed afterwards).
 */
function chunks(
  hp: Heap,
  c: ConvGeometry,
  body: (row0: number, rows: number, cols: number) => void,
): void {
  const total = c.batchSize * c.outHeight * c.outWidth;
  const k = c.filterHeight * c.filterWidth * c.inChannels;
  const per = Math.min(total, Math.max(32, Math.floor(CHUNK_FLOATS / k)));
  const buf = hp.alloc([per * k]);
  try {
    for (let r = 0; r < total; r += per) body(r, Math.min(per, total - r), hp.offset(buf));
  } finally {
    hp.free(buf);
  }
}

function patchArgs(
  c: ConvGeometry,
): [number, number, number, number, number, number, number, number, number, number, number] {
  return [
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.filterHeight,
    c.filterWidth,
    c.strideHeight,
    c.strideWidth,
    c.padInfo.top,
    c.padInfo.left,
    c.outHeight,
    c.outWidth,
  ];
}

/**
 * Forward convolution `[n, h, w, ci] * [kh, kw, ci, co]`, or null.
 *
 * @example
 * ```ts ignore
 * const y = nativeConv2D(backend, x, filter, info) ?? wasmConv2D(...);
 * ```
 */
export function nativeConv2D(
  backend: tf.KernelBackend,
  x: Info,
  filter: Info,
  c: ConvGeometry,
): Info | null {
  const kind = supported(c);
  const hp = kind && heap(backend);
  if (!kind || !hp) return null;
  const { inChannels: ci, outChannels: co } = c;
  const out = hp.alloc([c.batchSize, c.outHeight, c.outWidth, co]);
  const m = c.batchSize * c.outHeight * c.outWidth;
  if (kind === "pointwise") {
    hp.blas.sgemm(
      hp.memory,
      false,
      false,
      m,
      co,
      ci,
      1,
      hp.offset(x),
      ci,
      hp.offset(filter),
      co,
      0,
      hp.offset(out),
      co,
    );
  } else {
    const k = c.filterHeight * c.filterWidth * ci;
    const { im2col } = patches(hp.memory);
    const geo = patchArgs(c);
    chunks(hp, c, (row0, rows, cols) => {
      im2col(hp.offset(x), cols, ...geo, row0, rows);
      hp.blas.sgemm(
        hp.memory,
        false,
        false,
        rows,
        co,
        k,
        1,
        cols,
        k,
        hp.offset(filter),
        co,
        0,
        hp.offset(out) + 4 * row0 * co,
        co,
      );
    });
  }
  nativeCalls.conv++;
  return out;
}

/**
 * Input gradient of a convolution (dy `[n, oh, ow, co]`, filter
 * `[kh, kw, ci, co]`) -> `[n, h, w, ci]`, or null.
 *
 * @example
 * ```ts ignore
 * const dx = nativeConvBackpropInput(backend, dy, filter, info);
 * ```
 */
export function nativeConvBackpropInput(
  backend: tf.KernelBackend,
  dy: Info,
  filter: Info,
  c: ConvGeometry,
): Info | null {
  const kind = supported(c);
  const hp = kind && heap(backend);
  if (!kind || !hp) return null;
  const { inChannels: ci, outChannels: co } = c;
  const dx = hp.alloc([c.batchSize, c.inHeight, c.inWidth, ci]);
  if (kind === "pointwise") {
    const m = c.batchSize * c.inHeight * c.inWidth;
    hp.blas.sgemm(
      hp.memory,
      false,
      true,
      m,
      ci,
      co,
      1,
      hp.offset(dy),
      co,
      hp.offset(filter),
      co,
      0,
      hp.offset(dx),
      ci,
    );
  } else {
    const k = c.filterHeight * c.filterWidth * ci;
    const { col2imAdd } = patches(hp.memory);
    const geo = patchArgs(c);
    const d0 = hp.offset(dx) >>> 2;
    hp.f32().fill(0, d0, d0 + c.batchSize * c.inHeight * c.inWidth * ci);
    chunks(hp, c, (row0, rows, cols) => {
      hp.blas.sgemm(
        hp.memory,
        false,
        true,
        rows,
        k,
        co,
        1,
        hp.offset(dy) + 4 * row0 * co,
        co,
        hp.offset(filter),
        co,
        0,
        cols,
        k,
      );
      col2imAdd(cols, hp.offset(dx), ...geo, row0, rows);
    });
  }
  nativeCalls.convInput++;
  return dx;
}

/**
 * Filter gradient of a convolution (x `[n, h, w, ci]`, dy `[n, oh, ow, co]`)
 * -> `[kh, kw, ci, co]`, or null.
 *
 * @example
 * ```ts ignore
 * const dw = nativeConvBackpropFilter(backend, x, dy, info);
 * ```
 */
export function nativeConvBackpropFilter(
  backend: tf.KernelBackend,
  x: Info,
  dy: Info,
  c: ConvGeometry,
): Info | null {
  const kind = supported(c);
  const hp = kind && heap(backend);
  if (!kind || !hp) return null;
  const { inChannels: ci, outChannels: co } = c;
  const dw = hp.alloc([c.filterHeight, c.filterWidth, ci, co]);
  const m = c.batchSize * c.outHeight * c.outWidth;
  if (kind === "pointwise") {
    hp.blas.sgemm(
      hp.memory,
      true,
      false,
      ci,
      co,
      m,
      1,
      hp.offset(x),
      ci,
      hp.offset(dy),
      co,
      0,
      hp.offset(dw),
      co,
    );
  } else {
    const k = c.filterHeight * c.filterWidth * ci;
    const { im2col } = patches(hp.memory);
    const geo = patchArgs(c);
    chunks(hp, c, (row0, rows, cols) => {
      im2col(hp.offset(x), cols, ...geo, row0, rows);
      hp.blas.sgemm(
        hp.memory,
        true,
        false,
        k,
        co,
        rows,
        1,
        cols,
        k,
        hp.offset(dy) + 4 * row0 * co,
        co,
        row0 === 0 ? 0 : 1,
        hp.offset(dw),
        co,
      );
    });
  }
  nativeCalls.convFilter++;
  return dw;
}

/**
 * `a · b` (with optional transposes) of operands whose leading (batch)
 * dimensions are all 1, or null when small or batched.
 *
 * @example
 * ```ts ignore
 * const y = nativeMatMul(backend, a, b, false, true);
 * ```
 */
export function nativeMatMul(
  backend: tf.KernelBackend,
  a: Info,
  b: Info,
  transA: boolean,
  transB: boolean,
): Info | null {
  const ra = a.shape.length, rb = b.shape.length;
  const lead = (t: Info): number => t.shape.slice(0, -2).reduce((p, q) => p * q, 1);
  if (ra < 2 || rb < 2 || lead(a) !== 1 || lead(b) !== 1) return null;
  const m = transA ? a.shape[ra - 1] : a.shape[ra - 2],
    k = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  if ((transB ? b.shape[rb - 1] : b.shape[rb - 2]) !== k || m * n * k < minMacs) return null;
  const hp = heap(backend);
  if (!hp) return null;
  const out = hp.alloc([...(ra >= rb ? a.shape : b.shape).slice(0, -2), m, n]);
  hp.blas.sgemm(
    hp.memory,
    transA,
    transB,
    m,
    n,
    k,
    1,
    hp.offset(a),
    a.shape[ra - 1],
    hp.offset(b),
    b.shape[rb - 1],
    0,
    hp.offset(out),
    n,
  );
  nativeCalls.matmul++;
  return out;
}
