/**
 * WebGPU setup and correctness guards for tfjs-backend-webgpu 4.22.
 *
 * Two measured defects of the stock WebGPU kernels are worked around here:
 *
 * 1. A storage-buffer binding larger than the device's
 *    `maxStorageBufferBindingSize` (128 MiB on Mesa lavapipe, and the WebGPU
 *    default on most real GPUs) is rejected by the device; tfjs does not check
 *    the error, so the kernel silently returns garbage. The guards below split
 *    `BatchMatMul`, `_FusedMatMul`, common element-wise kernels and `Fill`
 *    into pieces below the limit. Contiguous pieces are cut and glued with
 *    `copyBufferToBuffer`, which is not subject to the binding limit.
 * 2. `Conv2DBackpropFilter` returns wrong values (relative error ~0.1-0.5)
 *    once batch * outHeight * outWidth reaches roughly 64-65 thousand on
 *    lavapipe. The guard sums the filter gradient over chunks of the batch
 *    (or, for a single huge image, over bands of output rows).
 *
 * `Conv2D`, `Conv2DBackpropInput`, `MaxPool` and `MaxPoolGrad` were measured
 * correct (relative error < 1e-6) at [8,120,160,32], so they are not wrapped.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { requestGpuAdapter } from "./gpu_adapter.ts";

/** Information about the WebGPU device that {@linkcode initWebGpu} set up. */
export interface WebGpuInfo {
  /** Adapter description, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** The device limits that matter for tfjs. */
  limits: {
    /** Largest storage buffer binding, in bytes. */
    maxStorageBufferBindingSize: number;
    /** Largest buffer, in bytes. */
    maxBufferSize: number;
    /** Largest dispatch size per dimension. */
    maxComputeWorkgroupsPerDimension: number;
  };
  /** True for software adapters such as lavapipe. */
  isFallbackAdapter: boolean;
}

/** Tunable thresholds of the kernel guards (mainly for tests). */
export interface GuardLimits {
  /**
   * Largest tensor, in bytes, that a stock kernel may bind. `undefined` uses
   * the device's `maxStorageBufferBindingSize`.
   */
  bindingBytes?: number;
  /**
   * Largest batch * outHeight * outWidth that one stock
   * `Conv2DBackpropFilter` call may see. `undefined` uses
   * `floor(maxComputeWorkgroupsPerDimension / 2)` (32767 on lavapipe; the
   * kernel was measured wrong at 65,535 and right at 64,000).
   */
  convFilterPixels?: number;
}

const BYTES_PER_ELEMENT = 4;
const GUARDED = Symbol.for("facekit.webgpuGuard");

const guardLimits: GuardLimits = {};

/**
 * Overrides the thresholds used by the kernel guards. Pass `{}` to return to
 * the limits derived from the device.
 *
 * @param limits The new thresholds.
 */
export function setGuardLimits(limits: GuardLimits): void {
  guardLimits.bindingBytes = limits.bindingBytes;
  guardLimits.convFilterPixels = limits.convFilterPixels;
}

/**
 * Requests a WebGPU adapter and a device with the adapter's maximum limits,
 * registers it as the tfjs backend "webgpu" (replacing any earlier
 * registration), installs the kernel guards and makes "webgpu" the active
 * backend.
 *
 * @returns A description of the adapter and its relevant limits.
 * @throws {Error} If WebGPU is unavailable or no adapter is found.
 */
export async function initWebGpu(): Promise<WebGpuInfo> {
  const adapter = await requestGpuAdapter();
  if (!adapter) {
    throw new Error(
      "no WebGPU adapter: install mesa-vulkan-drivers or use --backend wasm",
    );
  }
  const limitNames = [
    "maxStorageBufferBindingSize",
    "maxBufferSize",
    "maxComputeWorkgroupStorageSize",
    "maxComputeInvocationsPerWorkgroup",
    "maxComputeWorkgroupSizeX",
    "maxComputeWorkgroupSizeY",
    "maxComputeWorkgroupSizeZ",
    "maxComputeWorkgroupsPerDimension",
    "maxStorageBuffersPerShaderStage",
  ];
  const adapterLimits = adapter.limits as unknown as Record<string, number>;
  const requiredLimits: Record<string, number> = {};
  for (const name of limitNames) {
    const value = adapterLimits[name];
    if (typeof value === "number") requiredLimits[name] = value;
  }
  const requiredFeatures: GPUFeatureName[] = [];
  for (const f of ["timestamp-query", "bgra8unorm-storage"] as const) {
    if (adapter.features.has(f)) requiredFeatures.push(f);
  }
  const device = await adapter.requestDevice({
    requiredLimits,
    requiredFeatures,
  });
  let reported = 0;
  device.addEventListener("uncapturederror", (e: Event) => {
    if (reported++ < 5) {
      console.error(
        `WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`,
      );
    }
  });
  device.lost.then((lost) => {
    if (lost.reason !== "destroyed") {
      console.error(`WebGPU device lost: ${lost.message}`);
    }
  });
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const webgpuBackend = new WebGPUBackend(device, info);

  // Importing tfjs-backend-webgpu registers a stock factory; replace it.
  const registry = (tf.engine() as unknown as {
    registryFactory: Record<string, unknown>;
  }).registryFactory;
  if ("webgpu" in registry) tf.removeBackend("webgpu");
  tf.registerBackend("webgpu", () => webgpuBackend, 3);
  installKernelGuards();
  if (!(await tf.setBackend("webgpu"))) {
    throw new Error("tfjs failed to initialise the webgpu backend");
  }
  const legacyFallback = (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    description: info.description || `${info.vendor} ${info.architecture}`,
    limits: {
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxBufferSize: device.limits.maxBufferSize,
      maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
    },
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? legacyFallback),
  };
}

/**
 * Checks that every weight of `model` can be handled on a device whose
 * storage bindings are limited to `limitBytes`.
 *
 * The 2-D kernel of a `Dense` layer is allowed to exceed the limit: the
 * `BatchMatMul`/`_FusedMatMul` guards split it (forward and gradients) and
 * the element-wise guards cover optimizer updates (SGD, Adam, ...), provided
 * one row (`units` floats) fits. Any other weight over the limit (conv
 * kernels, embeddings, ...) would be bound whole by some stock kernel and
 * give silent garbage, so this throws naming the layer and weight.
 *
 * @param model The model to check (nested models are walked).
 * @param limitBytes The binding limit, e.g. `info.limits.maxStorageBufferBindingSize`.
 * @throws {Error} If a weight exceeds the limit and cannot be split.
 */
export function assertBindingSizes(
  model: tf.LayersModel,
  limitBytes: number,
): void {
  const visit = (layers: tf.layers.Layer[]): void => {
    for (const layer of layers) {
      const nested = (layer as unknown as { layers?: tf.layers.Layer[] })
        .layers;
      if (Array.isArray(nested)) visit(nested);
      const isDense = layer.getClassName() === "Dense";
      for (const w of layer.weights) {
        const shape = w.shape.map((d) => d ?? 1);
        const bytes = tf.util.sizeFromShape(shape) * BYTES_PER_ELEMENT;
        if (bytes <= limitBytes) continue;
        const rowBytes = (shape[shape.length - 1] ?? 1) *
          BYTES_PER_ELEMENT;
        if (isDense && shape.length === 2 && rowBytes <= limitBytes) {
          continue;
        }
        throw new Error(
          `layer "${layer.name}" weight "${w.name}" [${shape}] is ${
            mib(bytes)
          } MiB, over the WebGPU storage binding limit of ${
            mib(limitBytes)
          } MiB, and only 2-D Dense kernels are split automatically; ` +
            "shrink the layer or use --backend wasm/cpu",
        );
      }
    }
  };
  visit(model.layers);
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

// ---------------------------------------------------------------------------
// Internals of the tfjs WebGPU backend used by the guards.

interface TensorData {
  resource?: unknown;
  values?: unknown;
}

interface BackendInternals {
  device: GPUDevice;
  tensorMap: { get(dataId: unknown): TensorData };
  commandEncoder: GPUCommandEncoder | null;
  commandQueueOwnedIds: WeakSet<object>;
  uploadToGPU(dataId: unknown): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: unknown, force?: boolean): boolean;
}

type Inputs = Record<string, tf.TensorInfo | undefined> | tf.TensorInfo[];

/** Stock kernel functions, captured before the guards replaced them. */
const stock = new Map<string, tf.KernelFunc>();

function runStock(
  be: BackendInternals,
  name: string,
  inputs: Inputs,
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const fn = stock.get(name) ?? tf.getKernel(name, "webgpu")?.kernelFunc;
  if (!fn) throw new Error(`webgpu kernel ${name} is not registered`);
  const out = fn({
    inputs: inputs as tf.NamedTensorInfoMap,
    backend: be as unknown as tf.KernelBackend,
    attrs,
  });
  return Array.isArray(out) ? out[0] : out;
}

function bindingLimit(be: BackendInternals): number {
  return guardLimits.bindingBytes ??
    be.device.limits.maxStorageBufferBindingSize;
}

function convPixelLimit(be: BackendInternals): number {
  return guardLimits.convFilterPixels ??
    Math.floor(be.device.limits.maxComputeWorkgroupsPerDimension / 2);
}

function size(shape: number[]): number {
  return tf.util.sizeFromShape(shape);
}

function bytesOf(shape: number[]): number {
  return size(shape) * BYTES_PER_ELEMENT;
}

function view(t: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

function dispose(be: BackendInternals, ...ts: tf.TensorInfo[]): void {
  for (const t of ts) be.disposeData(t.dataId);
}

function bufferOf(be: BackendInternals, t: tf.TensorInfo): GPUBuffer {
  be.uploadToGPU(t.dataId);
  const resource = be.tensorMap.get(t.dataId).resource;
  if (!(resource instanceof GPUBuffer)) {
    throw new Error("webgpu guard: tensor is not backed by a GPUBuffer");
  }
  return resource;
}

function encoder(be: BackendInternals): GPUCommandEncoder {
  be.ensureCommandEncoderReady();
  be.endComputePassEncoder();
  return be.commandEncoder as GPUCommandEncoder;
}

/** Copies `count` elements of `x` from element `start` into a new tensor. */
function copyRange(
  be: BackendInternals,
  x: tf.TensorInfo,
  start: number,
  shape: number[],
): tf.TensorInfo {
  const out = be.makeTensorInfo(shape, x.dtype);
  const n = size(shape);
  if (n === 0) return out;
  const src = bufferOf(be, x);
  const dst = bufferOf(be, out);
  encoder(be).copyBufferToBuffer(
    src,
    start * BYTES_PER_ELEMENT,
    dst,
    0,
    n * BYTES_PER_ELEMENT,
  );
  be.commandQueueOwnedIds.add(x.dataId);
  be.commandQueueOwnedIds.add(out.dataId);
  return out;
}

/** Concatenates whole buffers end to end (outer-axis concat). */
function copyConcat(
  be: BackendInternals,
  pieces: tf.TensorInfo[],
  shape: number[],
  dtype: tf.DataType,
): tf.TensorInfo {
  const out = be.makeTensorInfo(shape, dtype);
  const dst = bufferOf(be, out);
  let offset = 0;
  for (const p of pieces) {
    const n = size(p.shape);
    if (n === 0) continue;
    const src = bufferOf(be, p);
    encoder(be).copyBufferToBuffer(
      src,
      0,
      dst,
      offset * BYTES_PER_ELEMENT,
      n * BYTES_PER_ELEMENT,
    );
    be.commandQueueOwnedIds.add(p.dataId);
    offset += n;
  }
  be.commandQueueOwnedIds.add(out.dataId);
  if (offset !== size(shape)) {
    throw new Error("webgpu guard: concat pieces do not fill the output");
  }
  return out;
}

/** Slices `x` along `axis`; contiguous slices are buffer copies. */
function sliceAxis(
  be: BackendInternals,
  x: tf.TensorInfo,
  axis: number,
  start: number,
  len: number,
): tf.TensorInfo {
  const shape = x.shape.slice();
  shape[axis] = len;
  if (x.shape.slice(0, axis).every((d) => d === 1)) {
    const inner = size(x.shape.slice(axis + 1));
    return copyRange(be, x, start * inner, shape);
  }
  if (bytesOf(x.shape) > bindingLimit(be)) {
    throw new Error(
      `webgpu guard: cannot slice [${x.shape}] along axis ${axis}: ` +
        "the tensor exceeds the storage binding limit and the slice is not " +
        "contiguous",
    );
  }
  const begin = x.shape.map(() => 0);
  begin[axis] = start;
  return runStock(be, "Slice", { x }, { begin, size: shape });
}

/** Concatenates along `axis`; outer-axis concats are buffer copies. */
function concatAxis(
  be: BackendInternals,
  pieces: tf.TensorInfo[],
  axis: number,
): tf.TensorInfo {
  const shape = pieces[0].shape.slice();
  shape[axis] = pieces.reduce((s, p) => s + p.shape[axis], 0);
  if (shape.slice(0, axis).every((d) => d === 1)) {
    return copyConcat(be, pieces, shape, pieces[0].dtype);
  }
  if (bytesOf(shape) > bindingLimit(be)) {
    throw new Error(
      `webgpu guard: cannot concat into [${shape}] along axis ${axis}: ` +
        "the result exceeds the storage binding limit",
    );
  }
  return runStock(be, "Concat", pieces, { axis });
}

function addAll(be: BackendInternals, parts: tf.TensorInfo[]): tf.TensorInfo {
  let acc = parts[0];
  for (let i = 1; i < parts.length; i++) {
    const next = runStock(be, "Add", { a: acc, b: parts[i] });
    dispose(be, acc, parts[i]);
    acc = next;
  }
  return acc;
}

/** Splits [0, n) into `pieces` near-equal ranges. */
function ranges(n: number, pieces: number): Array<[number, number]> {
  const p = Math.max(1, Math.min(n, pieces));
  const step = Math.ceil(n / p);
  const out: Array<[number, number]> = [];
  for (let s = 0; s < n; s += step) out.push([s, Math.min(step, n - s)]);
  return out;
}

// ---------------------------------------------------------------------------
// Matmul guard.

interface Fused {
  bias?: tf.TensorInfo;
  prelu?: tf.TensorInfo;
  activation: string;
  leakyreluAlpha?: number;
}

function applyEpilogue(
  be: BackendInternals,
  x: tf.TensorInfo,
  fused: Fused,
): tf.TensorInfo {
  let y = x;
  if (fused.bias) {
    const next = guardedElementwise(be, "Add", { a: y, b: fused.bias }, {});
    dispose(be, y);
    y = next;
  }
  const act = fused.activation ?? "linear";
  let next: tf.TensorInfo | null = null;
  switch (act) {
    case "linear":
      break;
    case "relu":
      next = guardedElementwise(be, "Relu", { x: y }, {});
      break;
    case "relu6":
      next = guardedElementwise(be, "Relu6", { x: y }, {});
      break;
    case "elu":
      next = guardedElementwise(be, "Elu", { x: y }, {});
      break;
    case "sigmoid":
      next = guardedElementwise(be, "Sigmoid", { x: y }, {});
      break;
    case "leakyrelu":
      next = guardedElementwise(be, "LeakyRelu", { x: y }, {
        alpha: fused.leakyreluAlpha ?? 0.2,
      });
      break;
    case "prelu":
      if (!fused.prelu) throw new Error("prelu activation without weights");
      next = guardedElementwise(be, "Prelu", { x: y, alpha: fused.prelu }, {});
      break;
    default:
      throw new Error(`webgpu guard: unsupported fused activation ${act}`);
  }
  if (next) {
    dispose(be, y);
    y = next;
  }
  return y;
}

/** Slices a broadcastable epilogue operand (bias/prelu) of a 2-D output. */
function sliceEpilogue(
  be: BackendInternals,
  t: tf.TensorInfo | undefined,
  outAxis: 0 | 1,
  start: number,
  len: number,
  outDim: number,
): tf.TensorInfo | undefined {
  if (!t) return undefined;
  const aligned = [
    ...Array(Math.max(0, 2 - t.shape.length)).fill(1),
    ...t.shape,
  ]
    .slice(-2);
  if (t.shape.length > 2 || aligned[outAxis] !== outDim || outDim === 1) {
    return t;
  }
  const v = view(t, aligned);
  const piece = sliceAxis(be, v, outAxis, start, len);
  return piece;
}

function guardedMatMul(
  be: BackendInternals,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  fused: Fused | null,
): tf.TensorInfo {
  const limit = bindingLimit(be);
  const ra = a.shape.length, rb = b.shape.length;
  const batchA = size(a.shape.slice(0, -2));
  const batchB = size(b.shape.slice(0, -2));
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const batchShape = tf.backend_util.assertAndGetBroadcastShape(
    a.shape.slice(0, -2),
    b.shape.slice(0, -2),
  );
  const outShape = [...batchShape, M, N];
  const fusedBytes = fused
    ? Math.max(
      fused.bias ? bytesOf(fused.bias.shape) : 0,
      fused.prelu ? bytesOf(fused.prelu.shape) : 0,
    )
    : 0;
  const bytesA = bytesOf(a.shape), bytesB = bytesOf(b.shape);
  const bytesO = bytesOf(outShape);
  if (Math.max(bytesA, bytesB, bytesO, fusedBytes) <= limit) {
    if (fused) {
      return runStock(be, "_FusedMatMul", {
        a,
        b,
        bias: fused.bias,
        preluActivationWeights: fused.prelu,
      }, {
        transposeA,
        transposeB,
        activation: fused.activation,
        leakyreluAlpha: fused.leakyreluAlpha ?? 0.2,
      });
    }
    return runStock(be, "BatchMatMul", { a, b }, { transposeA, transposeB });
  }
  if (fusedBytes > limit) {
    throw new Error("webgpu guard: fused matmul bias exceeds binding limit");
  }

  if (batchA > 1 || batchB > 1) {
    if (batchA !== batchB || a.shape.length !== b.shape.length) {
      throw new Error(
        `webgpu guard: cannot split broadcast batch matmul [${a.shape}] x ` +
          `[${b.shape}] over the storage binding limit`,
      );
    }
    const a3 = view(a, [batchA, a.shape[ra - 2], a.shape[ra - 1]]);
    const b3 = view(b, [batchB, b.shape[rb - 2], b.shape[rb - 1]]);
    const pieces = Math.ceil(Math.max(bytesA, bytesB, bytesO) / limit);
    const outs: tf.TensorInfo[] = [];
    for (const [s, n] of ranges(batchA, pieces)) {
      const pa = sliceAxis(be, a3, 0, s, n);
      const pb = sliceAxis(be, b3, 0, s, n);
      outs.push(guardedMatMul(be, pa, pb, transposeA, transposeB, null));
      dispose(be, pa, pb);
    }
    const joined = concatAxis(be, outs, 0);
    dispose(be, ...outs);
    const res = view(joined, outShape);
    if (!fused) return res;
    return applyEpilogue(be, res, fused);
  }

  // 2-D problem: A [M,K] (or [K,M]), B [K,N] (or [N,K]).
  const a2 = view(a, a.shape.slice(-2));
  const b2 = view(b, b.shape.slice(-2));
  let dim: "M" | "N" | "K";
  if (bytesO > limit) {
    dim = "M";
  } else if (bytesA > limit) {
    dim = transposeA ? "K" : "M";
  } else {
    dim = transposeB ? "N" : "K";
  }
  const big = dim === "M"
    ? Math.max(bytesA, bytesO)
    : dim === "N"
    ? Math.max(bytesB, bytesO)
    : Math.max(bytesA, bytesB);
  const pieces = Math.ceil(big / limit);
  let result: tf.TensorInfo;
  if (dim === "K") {
    const parts: tf.TensorInfo[] = [];
    for (const [s, n] of ranges(K, pieces)) {
      const pa = sliceAxis(be, a2, transposeA ? 0 : 1, s, n);
      const pb = sliceAxis(be, b2, transposeB ? 1 : 0, s, n);
      parts.push(guardedMatMul(be, pa, pb, transposeA, transposeB, null));
      dispose(be, pa, pb);
    }
    const sum = addAll(be, parts);
    result = fused ? applyEpilogue(be, sum, fused) : sum;
  } else {
    const outAxis = dim === "M" ? 0 : 1;
    const total = dim === "M" ? M : N;
    const outs: tf.TensorInfo[] = [];
    for (const [s, n] of ranges(total, pieces)) {
      let pa = a2, pb = b2;
      if (dim === "M") pa = sliceAxis(be, a2, transposeA ? 1 : 0, s, n);
      else pb = sliceAxis(be, b2, transposeB ? 0 : 1, s, n);
      let pf: Fused | null = null;
      if (fused) {
        pf = {
          ...fused,
          bias: sliceEpilogue(be, fused.bias, outAxis, s, n, total),
          prelu: sliceEpilogue(be, fused.prelu, outAxis, s, n, total),
        };
      }
      outs.push(guardedMatMul(be, pa, pb, transposeA, transposeB, pf));
      if (pa !== a2) dispose(be, pa);
      if (pb !== b2) dispose(be, pb);
      if (pf?.bias && pf.bias !== fused?.bias) dispose(be, pf.bias);
      if (pf?.prelu && pf.prelu !== fused?.prelu) dispose(be, pf.prelu);
    }
    result = concatAxis(be, outs, outAxis);
    dispose(be, ...outs);
  }
  return view(result, outShape);
}

// ---------------------------------------------------------------------------
// Element-wise guard.

const ELEMENTWISE = [
  "Abs",
  "Neg",
  "Sqrt",
  "Square",
  "Exp",
  "Log",
  "Relu",
  "Relu6",
  "Elu",
  "Sigmoid",
  "Tanh",
  "Rsqrt",
  "Reciprocal",
  "Sign",
  "Step",
  "LeakyRelu",
  "ClipByValue",
  "Cast",
  "ZerosLike",
  "OnesLike",
  "Add",
  "Sub",
  "Multiply",
  "RealDiv",
  "Maximum",
  "Minimum",
  "Pow",
  "SquaredDifference",
  "Prelu",
  "AddN",
  "Select",
  "Greater",
  "GreaterEqual",
  "Less",
  "LessEqual",
  "Equal",
  "NotEqual",
];

function guardedElementwise(
  be: BackendInternals,
  name: string,
  inputs: Inputs,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo {
  const limit = bindingLimit(be);
  const keys = Object.keys(inputs) as Array<keyof typeof inputs>;
  const list = keys.map((k) => (inputs as Record<string, tf.TensorInfo>)[k])
    .filter((t): t is tf.TensorInfo => t != null);
  const outShape = list.reduce<number[]>(
    (s, t) => tf.backend_util.assertAndGetBroadcastShape(s, t.shape),
    [],
  );
  const maxBytes = Math.max(
    bytesOf(outShape),
    ...list.map((t) => bytesOf(t.shape)),
  );
  if (maxBytes <= limit || size(outShape) === 0) {
    return runStock(be, name, inputs, attrs);
  }
  const n = size(outShape);
  const flat = list.every((t) => size(t.shape) === n || size(t.shape) === 1);
  // Work shape: flat [n], or the output shape split along axis 0.
  const work = flat ? [n] : outShape;
  const aligned = (t: tf.TensorInfo): number[] =>
    flat
      ? (size(t.shape) === 1 ? [] : [n])
      : [...Array(work.length - t.shape.length).fill(1), ...t.shape];
  const rowElems = size(work.slice(1));
  const rows = Math.floor(limit / (rowElems * BYTES_PER_ELEMENT));
  if (rows < 1) {
    throw new Error(
      `webgpu guard: ${name} on [${outShape}] cannot be split under the ` +
        "storage binding limit",
    );
  }
  const outs: tf.TensorInfo[] = [];
  for (let s = 0; s < work[0]; s += rows) {
    const len = Math.min(rows, work[0] - s);
    const owned: tf.TensorInfo[] = [];
    const pieceInputs: Record<string, tf.TensorInfo> = {};
    for (const k of keys) {
      const t = (inputs as Record<string, tf.TensorInfo>)[k];
      if (t == null) continue;
      const shape = aligned(t);
      if (shape.length > 0 && shape[0] === work[0] && work[0] > 1) {
        const piece = sliceAxis(be, view(t, shape), 0, s, len);
        owned.push(piece);
        pieceInputs[k as string] = piece;
      } else if (bytesOf(t.shape) > limit) {
        throw new Error(
          `webgpu guard: ${name} input [${t.shape}] broadcasts and exceeds ` +
            "the storage binding limit",
        );
      } else {
        pieceInputs[k as string] = view(t, shape);
      }
    }
    const pieceArgs: Inputs = Array.isArray(inputs)
      ? keys.map((k) => pieceInputs[k as string])
      : pieceInputs;
    outs.push(runStock(be, name, pieceArgs, attrs));
    dispose(be, ...owned);
  }
  const joined = copyConcat(
    be,
    outs,
    [n],
    outs[0].dtype,
  );
  dispose(be, ...outs);
  return view(joined, outShape);
}

function guardedFill(
  be: BackendInternals,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo {
  const shape = attrs.shape as number[];
  const limit = bindingLimit(be);
  if (bytesOf(shape) <= limit) return runStock(be, "Fill", {}, attrs);
  const n = size(shape);
  const chunk = Math.floor(limit / BYTES_PER_ELEMENT);
  const outs: tf.TensorInfo[] = [];
  for (let s = 0; s < n; s += chunk) {
    outs.push(
      runStock(be, "Fill", {}, { ...attrs, shape: [Math.min(chunk, n - s)] }),
    );
  }
  const joined = copyConcat(be, outs, [n], outs[0].dtype);
  dispose(be, ...outs);
  return view(joined, shape);
}

function guardedSlice(
  be: BackendInternals,
  x: tf.TensorInfo,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo {
  const limit = bindingLimit(be);
  const [begin, len] = tf.slice_util.parseSliceParams(
    x as unknown as tf.Tensor,
    attrs.begin as number[],
    attrs.size as number[],
  );
  if (
    (bytesOf(x.shape) <= limit && bytesOf(len) <= limit) || size(len) === 0
  ) {
    return runStock(be, "Slice", { x }, attrs);
  }
  const rowElems = size(x.shape.slice(1));
  const rows = Math.floor(limit / (rowElems * BYTES_PER_ELEMENT));
  if (x.shape.length === 0 || rows < 1) {
    throw new Error(
      `webgpu guard: cannot slice [${x.shape}] under the binding limit`,
    );
  }
  // Cut blocks of whole rows with buffer copies, slice each block, glue.
  const outs: tf.TensorInfo[] = [];
  for (let r = 0; r < len[0]; r += rows) {
    const n = Math.min(rows, len[0] - r);
    const block = copyRange(be, x, (begin[0] + r) * rowElems, [
      n,
      ...x.shape.slice(1),
    ]);
    outs.push(
      runStock(be, "Slice", { x: block }, {
        begin: [0, ...begin.slice(1)],
        size: [n, ...len.slice(1)],
      }),
    );
    dispose(be, block);
  }
  const joined = copyConcat(be, outs, len, x.dtype);
  dispose(be, ...outs);
  return joined;
}

// ---------------------------------------------------------------------------
// Conv2DBackpropFilter guard.

function guardedConvFilter(
  be: BackendInternals,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  attrs: tf.NamedAttrMap,
): tf.TensorInfo {
  const maxPixels = convPixelLimit(be);
  const nhwc = (attrs.dataFormat ?? "NHWC") === "NHWC";
  const [batch, outH, outW] = nhwc
    ? [dy.shape[0], dy.shape[1], dy.shape[2]]
    : [dy.shape[0], dy.shape[2], dy.shape[3]];
  const limit = bindingLimit(be);
  if (bytesOf(x.shape) > limit || bytesOf(dy.shape) > limit) {
    throw new Error(
      "webgpu guard: Conv2DBackpropFilter input exceeds the binding limit",
    );
  }
  if (batch * outH * outW <= maxPixels) {
    return runStock(be, "Conv2DBackpropFilter", { x, dy }, attrs);
  }
  const parts: tf.TensorInfo[] = [];
  const perImage = outH * outW;
  if (perImage <= maxPixels) {
    const per = Math.floor(maxPixels / perImage);
    for (let s = 0; s < batch; s += per) {
      const n = Math.min(per, batch - s);
      const px = sliceAxis(be, x, 0, s, n);
      const pdy = sliceAxis(be, dy, 0, s, n);
      parts.push(
        runStock(be, "Conv2DBackpropFilter", { x: px, dy: pdy }, attrs),
      );
      dispose(be, px, pdy);
    }
    return addAll(be, parts);
  }
  if (!nhwc) {
    throw new Error(
      "webgpu guard: Conv2DBackpropFilter on one huge NCHW image is " +
        "not supported",
    );
  }
  // One image is too big: pad explicitly, then sum over bands of output rows.
  const filterShape = attrs.filterShape as [number, number, number, number];
  const strides = attrs.strides as [number, number] | number;
  const [sh, sw] = typeof strides === "number" ? [strides, strides] : strides;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    [sh, sw],
    1,
    attrs.pad as "same" | "valid" | number,
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
  );
  const { top, bottom, left, right } = info.padInfo;
  const padded = runStock(be, "PadV2", { x }, {
    paddings: [[0, 0], [top, bottom], [left, right], [0, 0]],
    constantValue: 0,
  });
  const fh = filterShape[0];
  const validAttrs: tf.NamedAttrMap = { ...attrs, pad: "valid" };
  delete validAttrs.dimRoundingMode;
  const bandRows = Math.max(1, Math.floor(maxPixels / outW));
  for (let b = 0; b < batch; b++) {
    const xb = sliceAxis(be, padded, 0, b, 1);
    const dyb = sliceAxis(be, dy, 0, b, 1);
    for (let r = 0; r < outH; r += bandRows) {
      const n = Math.min(bandRows, outH - r);
      const rowsNeeded = Math.min((n - 1) * sh + fh, xb.shape[1] - r * sh);
      const px = sliceAxis(
        be,
        view(xb, xb.shape.slice(1)),
        0,
        r * sh,
        rowsNeeded,
      );
      const pdy = sliceAxis(be, view(dyb, dyb.shape.slice(1)), 0, r, n);
      parts.push(
        runStock(be, "Conv2DBackpropFilter", {
          x: view(px, [1, ...px.shape]),
          dy: view(pdy, [1, ...pdy.shape]),
        }, validAttrs),
      );
      dispose(be, px, pdy);
    }
    dispose(be, xb, dyb);
  }
  dispose(be, padded);
  return addAll(be, parts);
}

// ---------------------------------------------------------------------------
// Registration.

function override(
  name: string,
  make: (
    be: BackendInternals,
    inputs: Inputs,
    attrs: tf.NamedAttrMap,
  ) => tf.TensorInfo,
): void {
  const config = tf.getKernel(name, "webgpu");
  if (!config) return;
  const fn = config.kernelFunc as tf.KernelFunc & { [GUARDED]?: boolean };
  if (fn[GUARDED]) return;
  stock.set(name, config.kernelFunc);
  const kernelFunc = ((args: {
    inputs: tf.NamedTensorInfoMap;
    backend: unknown;
    attrs?: tf.NamedAttrMap;
  }) =>
    make(
      args.backend as BackendInternals,
      args.inputs as Inputs,
      args.attrs ?? {},
    )) as tf.KernelFunc & { [GUARDED]?: boolean };
  kernelFunc[GUARDED] = true;
  tf.unregisterKernel(name, "webgpu");
  tf.registerKernel({ ...config, kernelFunc });
}

/**
 * Installs the WebGPU kernel guards (idempotent). {@linkcode initWebGpu}
 * calls this; call it yourself only if the "webgpu" backend was set up some
 * other way.
 */
export function installKernelGuards(): void {
  override("Conv2DBackpropFilter", (be, inputs, attrs) => {
    const { x, dy } = inputs as Record<string, tf.TensorInfo>;
    return guardedConvFilter(be, x, dy, attrs);
  });
  override("BatchMatMul", (be, inputs, attrs) => {
    const { a, b } = inputs as Record<string, tf.TensorInfo>;
    return guardedMatMul(
      be,
      a,
      b,
      Boolean(attrs.transposeA),
      Boolean(attrs.transposeB),
      null,
    );
  });
  override("_FusedMatMul", (be, inputs, attrs) => {
    const { a, b, bias, preluActivationWeights } = inputs as Record<
      string,
      tf.TensorInfo | undefined
    >;
    return guardedMatMul(
      be,
      a as tf.TensorInfo,
      b as tf.TensorInfo,
      Boolean(attrs.transposeA),
      Boolean(attrs.transposeB),
      {
        bias: bias ?? undefined,
        prelu: preluActivationWeights ?? undefined,
        activation: (attrs.activation as string) ?? "linear",
        leakyreluAlpha: attrs.leakyreluAlpha as number | undefined,
      },
    );
  });
  override("Fill", (be, _inputs, attrs) => guardedFill(be, attrs));
  override("Slice", (be, inputs, attrs) => {
    const { x } = inputs as Record<string, tf.TensorInfo>;
    return guardedSlice(be, x, attrs);
  });
  for (const name of ELEMENTWISE) {
    override(
      name,
      (be, inputs, attrs) => guardedElementwise(be, name, inputs, attrs),
    );
  }
}
