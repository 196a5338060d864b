/**
 * Training kernels for the tfjs WebAssembly backend.
 *
 * The stock `@tensorflow/tfjs-backend-wasm` package cannot train conv nets
 * (`Conv2DBackpropFilter` is not registered) and its `Conv2DBackpropInput`,
 * transposed `BatchMatMul`, `MaxPoolGrad`, `Reverse`, `Tile`, comparison
 * kernels and outer-axis `Sum`/`Mean` are scalar loops. This module
 * registers replacements that are compositions of the fast (XNNPACK-backed
 * or memcpy-like) wasm kernels `Conv2D`, `BatchMatMul` (non-transposed),
 * `AvgPool`, rank-4 `Transpose`/`Slice`/`PadV2`, `Concat`, `AddN`, `Sub`,
 * `Multiply`, `Step` and `Reshape`, or our own WebAssembly SIMD kernels
 * (`lib/backends/wasm_simd_kernels.ts`: the max-pool gradient, products of a few
 * rows with a large new weight matrix, and the filter gradient of first
 * layers with few input channels), and a batch-norm gradient without
 * `Tile`. Every intermediate tensor is released with `backend.disposeData`,
 * so the number of live tensors does not grow.
 *
 * Rules of thumb measured here: wasm `Transpose` and `Slice` are fast up to
 * rank 4 (after unit axes are dropped) and scalar loops above; fresh output
 * buffers of tens of MB cost more than the arithmetic that fills them; and
 * XNNPACK repacks a convolution filter or right matmul operand whenever it
 * is a new tensor (every training step for weights).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { simdConvFilterGrad, simdMatMul, simdMaxPoolGrad } from "./wasm_simd_kernels.ts";
import {
  nativeConv2D,
  nativeConvBackpropFilter,
  nativeConvBackpropInput,
  nativeMatMul,
} from "./native_conv.ts";

type Backend = tf.KernelBackend;
type Info = tf.TensorInfo;
type Pads = [number, number, number, number];
type KernelArgs = {
  inputs: tf.NamedTensorInfoMap;
  backend: Backend;
  attrs?: tf.NamedAttrMap;
};

const BACKEND = "wasm";

/** Stock kernels captured before any replacement is registered. */
const stock = new Map<string, tf.KernelConfig>();
let registered = false;

function stockKernel(name: string): tf.KernelConfig {
  let config = stock.get(name);
  if (config === undefined) {
    config = tf.getKernel(name, BACKEND);
    if (config === undefined) {
      throw new Error(`wasm kernel '${name}' is not registered`);
    }
    stock.set(name, config);
  }
  return config;
}

function run(
  name: string,
  backend: Backend,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap = {},
): Info {
  const out = stockKernel(name).kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(out)) {
    throw new Error(`wasm kernel '${name}' returned several outputs`);
  }
  return out;
}

function release(backend: Backend, ...infos: Info[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

function concat(backend: Backend, parts: Info[], axis: number): Info {
  if (parts.length === 1) return reshape(backend, parts[0], parts[0].shape);
  return stockKernel("Concat").kernelFunc({
    inputs: parts as unknown as tf.NamedTensorInfoMap,
    backend,
    attrs: { axis },
  }) as Info;
}

function reshape(backend: Backend, x: Info, shape: number[]): Info {
  return run("Reshape", backend, { x }, { shape });
}

function transpose(backend: Backend, x: Info, perm: number[]): Info {
  return run("Transpose", backend, { x }, { perm });
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** tfjs's conv geometry of an NHWC conv (no depthwise). */
function convInfo(
  xShape: number[],
  filterShape: number[],
  a: {
    strides: number | [number, number];
    dilations?: number | [number, number];
    pad: tf.Conv2DAttrs["pad"];
    dimRoundingMode?: tf.Conv2DAttrs["dimRoundingMode"];
  },
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    false,
    "channelsLast",
  );
}

/**
 * Conv2D (NHWC, stride and dilation given per axis) with explicit padding
 * that may be negative; negative padding crops the input first.
 * Takes ownership of nothing; returns a new tensor.
 */
function convExplicit(
  backend: Backend,
  x: Info,
  filter: Info,
  pads: Pads,
  strides: [number, number],
  dilations: [number, number],
): Info {
  const [top, bottom, left, right] = pads;
  let input = x;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [n, h, w, c] = x.shape;
    const y0 = Math.max(0, -top);
    const x0 = Math.max(0, -left);
    const hh = h - y0 - Math.max(0, -bottom);
    const ww = w - x0 - Math.max(0, -right);
    input = run("Slice", backend, { x }, {
      begin: [0, y0, x0, 0],
      size: [n, hh, ww, c],
    });
  }
  const pad: tf.backend_util.ExplicitPadding = [
    [0, 0],
    [Math.max(0, top), Math.max(0, bottom)],
    [Math.max(0, left), Math.max(0, right)],
    [0, 0],
  ];
  const out = run("Conv2D", backend, { x: input, filter }, {
    strides,
    pad,
    dataFormat: "NHWC",
    dilations,
    dimRoundingMode: "floor",
  });
  if (input !== x) release(backend, input);
  return out;
}

function checkNHWC(dataFormat: unknown, kernel: string): void {
  if (dataFormat !== undefined && dataFormat !== "NHWC") {
    throw new Error(`${kernel}: only dataFormat NHWC is supported on wasm`);
  }
}

/**
 * Largest patch (kh*kw*ci) for which the filter gradient is computed as
 * im2col + matmul instead of the channels-as-batch convolution. With few
 * input channels (e.g. a grey-scale first layer) the convolution has only
 * kh*kw output pixels per image and runs at under 2 GFLOP/s.
 */
const IM2COL_MAX_PATCH = 16;

/**
 * Filter gradient for small patches: patches = Conv2D(x, one-hot filter)
 * ([n, oh, ow, kh*kw*ci], exact since each output is a single input value),
 * then dW = patchesᵀ·dy as a [kh*kw*ci, co] matrix product.
 */
function filterGradIm2Col(
  backend: Backend,
  x: Info,
  dy: Info,
  info: tf.backend_util.Conv2DInfo,
  attrs: tf.Conv2DBackpropFilterAttrs & {
    dilations?: number | [number, number];
  },
): Info {
  const { filterHeight: kh, filterWidth: kw, inChannels: ci } = info;
  const p = kh * kw * ci;
  const eye = new Float32Array(p * p);
  for (let i = 0; i < p; i++) eye[i * p + i] = 1;
  const eyeShape = [kh, kw, ci, p];
  const eyeInfo: Info = {
    dataId: backend.write(eye, eyeShape, "float32"),
    shape: eyeShape,
    dtype: "float32",
  };
  const patches = run("Conv2D", backend, { x, filter: eyeInfo }, {
    strides: attrs.strides,
    pad: attrs.pad,
    dataFormat: "NHWC",
    dilations: attrs.dilations ?? 1,
    dimRoundingMode: attrs.dimRoundingMode,
  } as unknown as tf.NamedAttrMap);
  release(backend, eyeInfo);
  const rows = size(patches.shape.slice(0, 3));
  const co = dy.shape[3];
  const a = reshape(backend, patches, [1, rows, p]);
  release(backend, patches);
  const b = reshape(backend, dy, [1, rows, co]);
  const prod = batchMatMul({
    inputs: { a, b },
    backend,
    attrs: { transposeA: true, transposeB: false },
  });
  release(backend, a, b);
  const out = reshape(backend, prod, [kh, kw, ci, co]);
  release(backend, prod);
  return out;
}

/**
 * Largest number of input channels for which the filter gradient runs in
 * our SIMD kernel ({@link simdConvFilterGrad}): the first layer of every
 * net here (1 or 3 channels). Measured on first-layer shapes at ci 1-4 it
 * is 2-7x faster than the paths below (Part 2's [32,120,160,1] -> 32:
 * 12 vs 120 ms in a training step; the ResNet stem 7x7/2 on
 * [8,224,224,3] -> 64: 54 vs 125 ms) and 30x more accurate. It was also
 * faster for every larger ci tried (2.4x at [32,60,80,32] 3x3 -> 32, 1.1x at
 * [8,14,14,256] -> 256), and in whole training steps it is never slower:
 * Part 2 batch 32 1596 -> 1132 ms, batch 8 347 -> 325 ms, U-Net 112 batch
 * 16 3363 -> 2812 ms, ResNet-18 224 batch 8 2933 -> 2774 ms, ResNet-18 x0.5
 * 112 batch 16 unchanged (482 ms). So it serves every input-channel count.
 */
const SIMD_FILTER_GRAD_MAX_CHANNELS = Infinity;

/**
 * dW[kh,kw,ci,co] = sum over n,oh,ow of
 * x[n, oh*s + kh*d - top, ow*s + kw*d - left, ci] * dy[n, oh, ow, co].
 *
 * With at most {@link SIMD_FILTER_GRAD_MAX_CHANNELS} input channels and no
 * dilation, our SIMD kernel computes it directly. Otherwise (and where that
 * kernel cannot run) small patches use {@link filterGradIm2Col}, and the
 * rest is a convolution of x' = x transposed to [ci, h, w, n] (channels as
 * batch) with dy' = dy transposed to [oh, ow, n, co] as the filter, using
 * stride d and dilation s; its output [ci, kh, kw, co] is transposed back.
 */
function conv2DBackpropFilter(args: KernelArgs): Info {
  const { inputs, backend } = args;
  const attrs = (args.attrs ?? {}) as unknown as
    & tf.Conv2DBackpropFilterAttrs
    & { dilations?: number | [number, number] };
  const x = inputs.x as Info;
  const dy = inputs.dy as Info;
  checkNHWC(attrs.dataFormat, "Conv2DBackpropFilter");
  const info = convInfo(x.shape, attrs.filterShape, attrs);
  const [, inH, inW] = x.shape;
  const { strideHeight: sh, strideWidth: sw } = info;
  const { dilationHeight: dh, dilationWidth: dw } = info;
  const { filterHeight: kh, filterWidth: kw } = info;
  const { outHeight: oh, outWidth: ow } = info;
  if (dy.shape[1] !== oh || dy.shape[2] !== ow) {
    throw new Error(
      `Conv2DBackpropFilter: dy shape ${dy.shape} does not match ` +
        `expected output ${info.outShape}`,
    );
  }
  const native = nativeConvBackpropFilter(backend, x, dy, info);
  if (native !== null) return native;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  if (info.inChannels <= SIMD_FILTER_GRAD_MAX_CHANNELS && dh === 1 && dw === 1) {
    const out = simdConvFilterGrad(backend, x, dy, { ...info, top, left });
    if (out !== null) return out;
  }
  if (kh * kw * info.inChannels <= IM2COL_MAX_PATCH) {
    return filterGradIm2Col(backend, x, dy, info, attrs);
  }
  // Chosen so that the output has exactly kh x kw rows/columns.
  const bottom = (kh - 1) * dh + (oh - 1) * sh + 1 - inH - top;
  const right = (kw - 1) * dw + (ow - 1) * sw + 1 - inW - left;

  const xT = transpose(backend, x, [3, 1, 2, 0]);
  const dyT = transpose(backend, dy, [1, 2, 0, 3]);
  const res = convExplicit(
    backend,
    xT,
    dyT,
    [top, bottom, left, right],
    [dh, dw],
    [sh, sw],
  );
  release(backend, xT, dyT);
  const out = transpose(backend, res, [1, 2, 0, 3]);
  release(backend, res);
  return out;
}

/**
 * Reverses the leading axis of `x` (any rank, at most 4 after the first
 * axis is split off) as slices plus one concatenation; the stock wasm
 * `Reverse` is a scalar loop (about 60 ms for a 3x3x512x512 filter).
 */
function reverseLeading(backend: Backend, x: Info): Info {
  const [t] = x.shape;
  if (t === 1) return reshape(backend, x, x.shape);
  const rest = size(x.shape.slice(1));
  const flat = reshape(backend, x, [t, rest]);
  const rows: Info[] = [];
  for (let i = t - 1; i >= 0; i--) {
    rows.push(run("Slice", backend, { x: flat }, { begin: [i, 0], size: [1, rest] }));
  }
  release(backend, flat);
  const cat = concat(backend, rows, 0);
  release(backend, ...rows);
  const out = reshape(backend, cat, x.shape);
  release(backend, cat);
  return out;
}

/**
 * Sub-pixel filter for the transposed convolution: from W [kh, kw, ci, co]
 * builds F [th, tw, co, sh*sw*ci] (th = ceil(kh/sh)) with
 * F[u, v, o, (p, q, c)] = W[p + sh*(th-1-u), q + sw*(tw-1-v), c, o]
 * (zero where the tap index is past the filter).
 */
function subPixelFilter(
  backend: Backend,
  filter: Info,
  sh: number,
  sw: number,
): Info {
  const [kh, kw, ci, co] = filter.shape;
  const th = Math.ceil(kh / sh);
  const tw = Math.ceil(kw / sw);
  const padded = th * sh === kh && tw * sw === kw ? filter : run("PadV2", backend, { x: filter }, {
    paddings: [[0, th * sh - kh], [0, tw * sw - kw], [0, 0], [0, 0]],
    constantValue: 0,
  });
  // Stock wasm transposes are fast up to rank 4 (after dropping unit axes)
  // and a scalar loop above, so [t, p, t', q, c, o] -> [t, t', o, p, q, c]
  // is done as two transposes of rank <= 4.
  let taps = padded;
  if (sh > 1) {
    const four = reshape(backend, padded, [th, sh, tw, sw * ci * co]);
    taps = transpose(backend, four, [0, 2, 1, 3]);
    release(backend, four);
  }
  const three = reshape(backend, taps, [th * tw, sh * sw * ci, co]);
  if (taps !== filter) release(backend, taps);
  if (padded !== filter && padded !== taps) release(backend, padded);
  const rows = transpose(backend, three, [0, 2, 1]);
  release(backend, three);
  // Reversing the flattened (t, t') axis reverses both t and t'.
  const rev = reverseLeading(backend, rows);
  release(backend, rows);
  const out = reshape(backend, rev, [th, tw, co, sh * sw * ci]);
  release(backend, rev);
  return out;
}

/**
 * Interleaves sh*sw phase grids [b, rows, cols] (index a*sw + b) into
 * [b, rows*sh, cols*sw]: concatenations along a last axis of size 1, then
 * along the row-phase axis.
 */
function interleave3(backend: Backend, grids: Info[], sh: number, sw: number): Info {
  const [b, rows, cols] = grids[0].shape;
  if (sh === 1 && sw === 1) return reshape(backend, grids[0], grids[0].shape);
  const rowsOfA: Info[] = [];
  for (let a = 0; a < sh; a++) {
    const parts = grids.slice(a * sw, (a + 1) * sw).map((t) =>
      reshape(backend, t, [b * rows, cols, 1])
    );
    const cat = concat(backend, parts, 2);
    release(backend, ...parts);
    rowsOfA.push(reshape(backend, cat, [b * rows, 1, cols * sw]));
    release(backend, cat);
  }
  const all = concat(backend, rowsOfA, 1);
  release(backend, ...rowsOfA);
  const out = reshape(backend, all, [b, rows * sh, cols * sw]);
  release(backend, all);
  return out;
}

/**
 * dx by col2im for small feature maps: one matrix product
 * cols = W[kh*kw*ci, co] · dyᵀ[co, n*oh*ow] (W is used as stored; only the
 * small dyᵀ is packed), then every tap's [ci, n, oh, ow] block is shifted
 * into its stride phase of the padded input and the phases interleaved,
 * all channel-major; a final transpose gives NHWC. For deep layers (7x7
 * maps, 3x3x512x512 filters) this avoids rearranging and repacking the
 * large filter, which costs more than the product itself.
 */
function backpropInputCol2Im(
  backend: Backend,
  dy: Info,
  filter: Info,
  info: tf.backend_util.Conv2DInfo,
): Info {
  const { strideHeight: sh, strideWidth: sw } = info;
  const { filterHeight: kh, filterWidth: kw } = info;
  const { inHeight: inH, inWidth: inW, inChannels: ci } = info;
  const [n, oh, ow, co] = dy.shape;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const m = n * oh * ow;
  const rows = Math.max(oh - 1 + Math.ceil(kh / sh), Math.ceil((top + inH) / sh));
  const cols = Math.max(ow - 1 + Math.ceil(kw / sw), Math.ceil((left + inW) / sw));
  const w2 = reshape(backend, filter, [kh * kw * ci, co]);
  const dy2 = reshape(backend, dy, [m, co]);
  const dyT = transpose2D(backend, dy2);
  release(backend, dy2);
  const a3 = reshape(backend, w2, [1, kh * kw * ci, co]);
  const b3 = reshape(backend, dyT, [1, co, m]);
  release(backend, w2, dyT);
  const prod = run("BatchMatMul", backend, { a: a3, b: b3 }, {
    transposeA: false,
    transposeB: false,
  });
  release(backend, a3, b3);
  const taps = reshape(backend, prod, [kh * kw, ci * n, oh, ow]);
  release(backend, prod);
  const shares: Info[][] = Array.from({ length: sh * sw }, () => []);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const di = Math.floor(i / sh);
      const dj = Math.floor(j / sw);
      const block = run("Slice", backend, { x: taps }, {
        begin: [i * kw + j, 0, 0, 0],
        size: [1, ci * n, oh, ow],
      });
      const three = reshape(backend, block, [ci * n, oh, ow]);
      release(backend, block);
      shares[(i % sh) * sw + (j % sw)].push(run("PadV2", backend, { x: three }, {
        paddings: [[0, 0], [di, rows - oh - di], [dj, cols - ow - dj]],
        constantValue: 0,
      }));
      release(backend, three);
    }
  }
  release(backend, taps);
  const grids = shares.map((list) => {
    if (list.length === 0) {
      return run("Fill", backend, {}, { shape: [ci * n, rows, cols], value: 0, dtype: "float32" });
    }
    if (list.length === 1) return list[0];
    const sum = run("AddN", backend, list as unknown as tf.NamedTensorInfoMap);
    release(backend, ...list);
    return sum;
  });
  const full = interleave3(backend, grids, sh, sw);
  release(backend, ...grids);
  const cropped = run("Slice", backend, { x: full }, {
    begin: [0, top, left],
    size: [ci * n, inH, inW],
  });
  release(backend, full);
  const four = reshape(backend, cropped, [ci, n, inH, inW]);
  release(backend, cropped);
  const out = transpose(backend, four, [1, 2, 3, 0]);
  release(backend, four);
  return out;
}

/**
 * dx uses {@link backpropInputCol2Im} when the number of dy pixels
 * (n*oh*ow) is at most this many times its channel count.
 */
const COL2IM_MAX_RATIO = 4;
/** Testing hook: forces (true) or forbids (false) the col2im path. */
let COL2IM_FORCE: boolean | undefined;

/**
 * Forces or forbids the col2im `Conv2DBackpropInput` path (undefined: by
 * size), so that tests can check both paths on small shapes.
 */
export function setCol2ImMode(mode: boolean | undefined): void {
  COL2IM_FORCE = mode;
}

/**
 * dx as a sub-pixel transposed convolution: one stride-1 Conv2D of dy with
 * the filter of {@link subPixelFilter} computes all sh*sw output phases
 * (as channels) without the zero-inserted dy (which wasted 3/4 of the
 * multiply-adds for stride 2), then a depth-to-space transpose interleaves
 * them and a slice removes the forward padding.
 *
 * In padded input coordinates h' = h + top = sh*r + p, the contribution
 * of dy row r - t is W[p + sh*t], t = 0..th-1.
 */
function conv2DBackpropInput(args: KernelArgs): Info {
  const { inputs, backend } = args;
  const attrs = (args.attrs ?? {}) as unknown as tf.Conv2DBackpropInputAttrs;
  const dy = inputs.dy as Info;
  const filter = inputs.filter as Info;
  checkNHWC(attrs.dataFormat, "Conv2DBackpropInput");
  const info = convInfo(attrs.inputShape, filter.shape, attrs);
  const native = nativeConvBackpropInput(backend, dy, filter, info);
  if (native !== null) return native;
  const { strideHeight: sh, strideWidth: sw } = info;
  const { filterHeight: kh, filterWidth: kw } = info;
  const { inHeight: inH, inWidth: inW, inChannels: ci } = info;
  const [n, oh, ow] = dy.shape;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  if (COL2IM_FORCE ?? n * oh * ow <= COL2IM_MAX_RATIO * dy.shape[3]) {
    return backpropInputCol2Im(backend, dy, filter, info);
  }
  const th = Math.ceil(kh / sh);
  const tw = Math.ceil(kw / sw);
  // Output rows/columns in phase units, covering top + inH padded rows.
  const rows = Math.ceil((top + inH) / sh);
  const cols = Math.ceil((left + inW) / sw);

  const f = subPixelFilter(backend, filter, sh, sw);
  const phases = convExplicit(
    backend,
    dy,
    f,
    [th - 1, rows - oh, tw - 1, cols - ow],
    [1, 1],
    [1, 1],
  );
  release(backend, f);
  let full = phases;
  if (sh > 1 || sw > 1) {
    // [n, rows, cols, p, q, c] -> [n, rows, p, cols, q, c] as a rank-4
    // transpose (depth to space).
    const four = reshape(backend, phases, [n * rows, cols, sh, sw * ci]);
    release(backend, phases);
    const inter = transpose(backend, four, [0, 2, 1, 3]);
    release(backend, four);
    full = reshape(backend, inter, [n, rows * sh, cols * sw, ci]);
    release(backend, inter);
  }
  if (top === 0 && left === 0 && rows * sh === inH && cols * sw === inW) {
    return full;
  }
  const out = run("Slice", backend, { x: full }, {
    begin: [0, top, left, 0],
    size: [n, inH, inW, ci],
  });
  release(backend, full);
  return out;
}

/**
 * 2D transpose [r, c] -> [c, r] as two cache-friendly 4D transposes
 * ([r/kb, kb, c/nb, nb] -> [r/kb, c/nb, kb, nb] -> [c/nb, nb, r/kb, kb]).
 * The stock 2D transpose writes with a stride of r floats and thrashes the
 * TLB on large matrices; this is about twice as fast for 19200x2000.
 */
function transpose2D(backend: Backend, x: Info): Info {
  const [r, c] = x.shape;
  const kb = [16, 32, 8].find((v) => r % v === 0 && r > v);
  const nb = [8, 16, 4].find((v) => c % v === 0 && c > v);
  if (r * c < 1 << 16 || kb === undefined || nb === undefined) {
    return transpose(backend, x, [1, 0]);
  }
  const v = reshape(backend, x, [r / kb, kb, c / nb, nb]);
  const p1 = transpose(backend, v, [0, 2, 1, 3]);
  release(backend, v);
  const p2 = transpose(backend, p1, [1, 3, 0, 2]);
  release(backend, p1);
  const out = reshape(backend, p2, [c, r]);
  release(backend, p2);
  return out;
}

/** Swaps the last two axes (rank >= 2). */
function swapLast(backend: Backend, x: Info): Info {
  const r = x.shape.length;
  if (size(x.shape.slice(0, -2)) === 1) {
    const m = reshape(backend, x, x.shape.slice(-2));
    const t = transpose2D(backend, m);
    release(backend, m);
    const out = reshape(backend, t, [
      ...x.shape.slice(0, -2),
      x.shape[r - 1],
      x.shape[r - 2],
    ]);
    release(backend, t);
    return out;
  }
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return transpose(backend, x, perm);
}

/**
 * Right-hand operands already used by a plain product. XNNPACK caches its
 * packed copy of the right operand per tensor, so for a reused operand
 * (inference weights) the direct product is cheapest; a fresh operand (the
 * weights after every optimizer step) has to be repacked every call.
 */
const seenRight = new WeakSet<object>();

// Rough per-element costs (ns) used to pick a strategy.
const PACK_NS = 4; // XNNPACK weight packing of the right operand
const TRANSPOSE_NS = 2; // transpose2D
const GEMM_NS = 0.04; // per multiply-add, per 8-wide output column block
const CALL_NS = 20000; // fixed cost of one extra kernel call

function gemmCost(rows: number, k: number, cols: number): number {
  return GEMM_NS * rows * k * Math.ceil(cols / 8) * 8;
}

/**
 * When a plain single-batch product goes to {@link simdMatMul}: at most
 * this many rows of a (M), at least this many values in b (K*N) and at
 * least this many columns (N). Measured against the XNNPACK path with a new
 * b (which repacks it) and with a reused b (packed once): the SIMD kernel
 * is 2-10x faster than the former from K*N = 64K up (x[8,19200]·W[19200,2000]:
 * 20 vs 85 ms; at M = 32: 57 vs 130 ms) and on a par with the latter from
 * about 256K, except for narrow b (N = 5 or 16: up to 3x slower), hence
 * the N bound.
 */
const SIMD_MATMUL_MAX_ROWS = 32;
const SIMD_MATMUL_MIN_RIGHT = 1 << 18;
const SIMD_MATMUL_MIN_COLS = 64;

/**
 * BatchMatMul with transposeA/transposeB computed as explicit transposes
 * followed by the fast non-transposed XNNPACK kernel. For single-batch
 * products the cheaper of `A·B` and `(Bᵀ·Aᵀ)ᵀ` is used: XNNPACK repacks the
 * right operand whenever it is a new tensor, which for a large weight matrix
 * (19200x2000) costs several times more than the product itself.
 *
 * A plain single-batch product with at most {@link SIMD_MATMUL_MAX_ROWS}
 * rows and a large right operand that XNNPACK has not packed (a dense
 * layer's forward pass in training: the weights are a new tensor every
 * step) goes to our SIMD kernel ({@link simdMatMul}), which streams b once
 * with no packing or transposing; such a b is not added to `seenRight`.
 */
function batchMatMul(args: KernelArgs): Info {
  const { inputs, backend } = args;
  const attrs = (args.attrs ?? {}) as unknown as tf.BatchMatMulAttrs;
  const a = inputs.a as Info;
  const b = inputs.b as Info;
  const tA = attrs.transposeA === true;
  const tB = attrs.transposeB === true;
  const plain = { transposeA: false, transposeB: false };
  const single = size(a.shape.slice(0, -2)) === 1 &&
    size(b.shape.slice(0, -2)) === 1;
  if (!single) {
    // Batched products never reach XNNPACK in tfjs-backend-wasm; the
    // explicit transposes still make the scalar loop cache-friendly.
    if (!tA && !tB) return run("BatchMatMul", backend, { a, b }, plain);
    const aa = tA ? swapLast(backend, a) : a;
    const bb = tB ? swapLast(backend, b) : b;
    const out = run("BatchMatMul", backend, { a: aa, b: bb }, plain);
    if (aa !== a) release(backend, aa);
    if (bb !== b) release(backend, bb);
    return out;
  }
  const native = nativeMatMul(backend, a, b, tA, tB);
  if (native !== null) return native;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = tA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = tA ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = tB ? b.shape[rb - 2] : b.shape[rb - 1];

  const reused = !tB && seenRight.has(b.dataId);
  if (
    !tA && !tB && !reused && m <= SIMD_MATMUL_MAX_ROWS && k * n >= SIMD_MATMUL_MIN_RIGHT &&
    n >= SIMD_MATMUL_MIN_COLS
  ) {
    const outShape = [
      ...tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)),
      m,
      n,
    ];
    // Not added to seenRight: XNNPACK has not packed b.
    const out = simdMatMul(backend, a, b, m, k, n, outShape);
    if (out !== null) return out;
  }
  const direct = (tA ? TRANSPOSE_NS * m * k + CALL_NS : 0) +
    (tB ? TRANSPOSE_NS * k * n + CALL_NS : 0) +
    (reused ? 0 : PACK_NS * k * n) + gemmCost(m, k, n);
  const swapped = (tB ? 0 : TRANSPOSE_NS * k * n + CALL_NS) +
    (tA ? 0 : TRANSPOSE_NS * m * k + CALL_NS) + PACK_NS * k * m +
    TRANSPOSE_NS * m * n + CALL_NS + gemmCost(n, k, m);
  if (direct <= swapped) {
    if (!tB) seenRight.add(b.dataId);
    if (!tA && !tB) return run("BatchMatMul", backend, { a, b }, plain);
    const aa = tA ? swapLast(backend, a) : a;
    const bb = tB ? swapLast(backend, b) : b;
    const out = run("BatchMatMul", backend, { a: aa, b: bb }, plain);
    if (aa !== a) release(backend, aa);
    if (bb !== b) release(backend, bb);
    return out;
  }
  if (!tB) seenRight.add(b.dataId);
  // out = (Bᵀ·Aᵀ)ᵀ with Bᵀ = b if tB, Aᵀ = a if tA.
  const left = tB ? b : swapLast(backend, b);
  const right = tA ? a : swapLast(backend, a);
  const outT = run("BatchMatMul", backend, { a: left, b: right }, plain);
  if (left !== b) release(backend, left);
  if (right !== a) release(backend, right);
  const out = swapLast(backend, outT);
  release(backend, outT);
  return out;
}

/**
 * Splits x [n, h, w, c] (h, w multiples of sh, sw) into its sh*sw phase
 * grids x[:, a::sh, b::sw, :], indexed a*sw + b, using rank-4 slices only.
 */
function phaseGrids(backend: Backend, x: Info, sh: number, sw: number): Info[] {
  const [n, h, w, c] = x.shape;
  if (sh === 1 && sw === 1) return [reshape(backend, x, x.shape)];
  const four = reshape(backend, x, [n * h / sh, sh, w / sw, sw * c]);
  const out: Info[] = [];
  for (let a = 0; a < sh; a++) {
    for (let b = 0; b < sw; b++) {
      const s = run("Slice", backend, { x: four }, {
        begin: [0, a, 0, b * c],
        size: [n * h / sh, 1, w / sw, c],
      });
      out.push(reshape(backend, s, [n, h / sh, w / sw, c]));
      release(backend, s);
    }
  }
  release(backend, four);
  return out;
}

/**
 * `MaxPoolGrad` (NHWC, no dilation) composed of rank-4 slices, comparisons,
 * selects, pads and sums: the fallback of {@link maxPoolGrad} when our SIMD
 * kernel cannot run (the stock wasm kernel is a scalar loop, about 0.35 s
 * for the ResNet stem pool at 224x224, batch 8, and gives ties to the last
 * maximum). About 10 whole-tensor kernels per window tap.
 *
 * For every window tap (i, j) in row-major order, the tap values
 * x[s*o + i - top] are compared with the pooled output; the first tap that
 * equals the maximum receives dy (ties go to the first maximum, as on the
 * cpu backend). Each tap's share is padded into its phase grid of the
 * padded input and the phases are interleaved by padding and adding.
 */
function maxPoolGradComposed(
  backend: Backend,
  x: Info,
  y: Info,
  dy: Info,
  info: tf.backend_util.Conv2DInfo,
): Info {
  const { strideHeight: sh, strideWidth: sw } = info;
  const { filterHeight: kh, filterWidth: kw } = info;
  const { outHeight: oh, outWidth: ow, inHeight: inH, inWidth: inW } = info;
  const [n, , , c] = x.shape;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // Padded extent: a multiple of the stride that holds every window and
  // the whole input.
  const rows = Math.max(oh + Math.ceil(kh / sh), Math.ceil((top + inH) / sh));
  const cols = Math.max(ow + Math.ceil(kw / sw), Math.ceil((left + inW) / sw));
  const hp = rows * sh;
  const wp = cols * sw;
  const xp = run("PadV2", backend, { x }, {
    paddings: [[0, 0], [top, hp - top - inH], [left, wp - left - inW], [0, 0]],
    constantValue: -Infinity,
  });
  const phases = phaseGrids(backend, xp, sh, sw);
  release(backend, xp);
  // remaining = dy where no earlier tap of the window was the maximum.
  // notMax = Step(y - tap) is 1 where the tap is below the maximum (exact:
  // y - tap is 0 only where they are equal), so a tap's share is
  // remaining * (1 - notMax) = remaining - remaining * notMax. Only fast
  // (XNNPACK) float kernels: comparisons and selects on bool tensors are
  // scalar loops on wasm.
  const shares: Info[][] = phases.map(() => []);
  let remaining = dy;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const phase = (i % sh) * sw + (j % sw);
      const di = Math.floor(i / sh);
      const dj = Math.floor(j / sw);
      const tap = run("Slice", backend, { x: phases[phase] }, {
        begin: [0, di, dj, 0],
        size: [n, oh, ow, c],
      });
      const diff = run("Sub", backend, { a: y, b: tap });
      release(backend, tap);
      const notMax = run("Step", backend, { x: diff }, { alpha: 0 });
      release(backend, diff);
      const rest = run("Multiply", backend, { a: remaining, b: notMax });
      release(backend, notMax);
      const share = run("Sub", backend, { a: remaining, b: rest });
      if (remaining !== dy) release(backend, remaining);
      remaining = rest;
      shares[phase].push(run("PadV2", backend, { x: share }, {
        paddings: [[0, 0], [di, rows - oh - di], [dj, cols - ow - dj], [0, 0]],
        constantValue: 0,
      }));
      release(backend, share);
    }
  }
  if (remaining !== dy) release(backend, remaining);
  release(backend, ...phases);
  // Interleave: phase (a, b) goes to [n*rows, a, cols, b*c..(b+1)*c],
  // built by concatenating along the last axis (b), then along a.
  const sums = shares.map((list) => {
    if (list.length === 0) {
      return run("Fill", backend, {}, {
        shape: [n, rows, cols, c],
        value: 0,
        dtype: "float32",
      });
    }
    if (list.length === 1) return list[0];
    const sum = run("AddN", backend, list as unknown as tf.NamedTensorInfoMap);
    release(backend, ...list);
    return sum;
  });
  let total: Info;
  if (sh === 1 && sw === 1) {
    total = sums[0];
  } else {
    const rowsOfA: Info[] = [];
    for (let a = 0; a < sh; a++) {
      const parts = sums.slice(a * sw, (a + 1) * sw).map((t) => {
        const r = reshape(backend, t, [n * rows, cols, c]);
        release(backend, t);
        return r;
      });
      const cat = concat(backend, parts, 2);
      release(backend, ...parts);
      rowsOfA.push(reshape(backend, cat, [n * rows, 1, cols * sw * c]));
      release(backend, cat);
    }
    total = concat(backend, rowsOfA, 1);
    release(backend, ...rowsOfA);
  }
  const grid = reshape(backend, total, [n, hp, wp, c]);
  release(backend, total);
  const out = run("Slice", backend, { x: grid }, {
    begin: [0, top, left, 0],
    size: [n, inH, inW, c],
  });
  release(backend, grid);
  return out;
}

/**
 * `MaxPoolGrad` (NHWC, no dilation) in one pass of our WebAssembly SIMD
 * kernel ({@link simdMaxPoolGrad}): for every window, the first tap (in
 * row-major order) equal to the pooled output receives dy, as on the cpu
 * backend, and overlapping windows add up in the cpu backend's order, so
 * the result is exact. {@link maxPoolGradComposed} is the fallback when
 * the backend's internals are not as expected.
 */
function maxPoolGrad(args: KernelArgs): Info {
  const { inputs, backend } = args;
  const attrs = (args.attrs ?? {}) as unknown as tf.MaxPoolGradAttrs;
  const dy = inputs.dy as Info;
  const x = inputs.input as Info;
  const y = inputs.output as Info;
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const out = simdMaxPoolGrad(backend, x, y, dy, {
    ...info,
    top: info.padInfo.top,
    left: info.padInfo.left,
  });
  return out ?? maxPoolGradComposed(backend, x, y, dy, info);
}

/** Smallest number of reduced rows for which {@link reduceLeading} is used. */
const POOL_REDUCE_MIN_ROWS = 1024;

/**
 * `Sum` and `Mean` over leading axes (the per-channel reductions of NHWC
 * batch norm and bias gradients). The stock kernels first transpose the
 * reduced axes to the end, a scalar loop that costs about 60 ms for
 * 8x112x112x64; here an XNNPACK `AvgPool` with a 1 x w window first
 * averages groups of w rows of the [rows, channels] matrix (2 ms), and the
 * stock kernel reduces the w-times smaller rest. Other reductions (and
 * non-float inputs) go to the stock kernel.
 */
function reduceLeading(kind: "Sum" | "Mean"): (args: KernelArgs) => Info {
  return (args: KernelArgs): Info => {
    const { inputs, backend } = args;
    const attrs = (args.attrs ?? {}) as unknown as tf.SumAttrs;
    const x = inputs.x as Info;
    const axes = tf.util.parseAxisParam(attrs.axis, x.shape).sort((a, b) => a - b);
    const k = axes.length;
    const leading = k > 0 && k < x.shape.length && axes.every((a, i) => a === i);
    const rows = size(x.shape.slice(0, k));
    const w = [64, 49, 56, 48, 32, 28, 16, 14, 8, 7, 4, 2].find((v) => rows % v === 0);
    if (
      x.dtype !== "float32" || !leading || rows < POOL_REDUCE_MIN_ROWS ||
      w === undefined
    ) {
      return run(kind, backend, inputs, args.attrs);
    }
    const inner = x.shape.slice(k);
    const c = size(inner);
    const four = reshape(backend, x, [1, rows / w, w, c]);
    const pooled = run("AvgPool", backend, { x: four }, {
      filterSize: [1, w],
      strides: [1, w],
      pad: "valid",
    });
    release(backend, four);
    const two = reshape(backend, pooled, [rows / w, c]);
    release(backend, pooled);
    // Recursion reduces the rest the same way while it is large.
    let reduced = reduceLeading("Mean")({
      inputs: { x: two },
      backend,
      attrs: { axis: [0], keepDims: false },
    });
    release(backend, two);
    if (kind === "Sum") {
      const scaleInfo: Info = {
        dataId: backend.write(new Float32Array([rows]), [], "float32"),
        shape: [],
        dtype: "float32",
      };
      const scaled = run("Multiply", backend, { a: reduced, b: scaleInfo });
      release(backend, reduced, scaleInfo);
      reduced = scaled;
    }
    const outShape = attrs.keepDims ? [...axes.map(() => 1), ...inner] : inner;
    const out = reshape(backend, reduced, outShape);
    release(backend, reduced);
    return out;
  };
}

/**
 * Gradient of `FusedBatchNorm` without the stock `Tile` of 1/sqrt(var) to
 * the full input shape (a scalar loop on wasm: about 1 s of a ResNet-18
 * 224x224 batch-8 step) and with the two full-size reductions shared by the
 * mean, variance and scale gradients:
 *
 * - dx = dy * scale * r, r = 1/sqrt(var + eps) (broadcast multiply),
 * - dmean = -scale * r * Σdy, dvar = -scale * r³/2 * Σ dy (x - mean),
 * - dscale = r * Σ dy (x - mean), doffset = Σdy.
 *
 * Other backends keep the stock gradient.
 */
function batchNormGrad(
  stockGrad: tf.GradConfig,
): tf.GradConfig {
  return {
    kernelName: "FusedBatchNorm",
    inputsToSave: ["x", "mean", "variance", "scale"],
    gradFunc: (dy, saved, attrs) => {
      if (tf.getBackend() !== BACKEND) return stockGrad.gradFunc(dy, saved, attrs);
      const g = Array.isArray(dy) ? dy[0] : dy;
      const [x, mean, variance, scale] = saved;
      const eps = (attrs as unknown as tf.FusedBatchNormAttrs).varianceEpsilon;
      const axes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
      const reduce = (t: tf.Tensor): tf.Tensor =>
        tf.reshape(axes.length > 0 ? tf.sum(t, axes) : t, mean.shape);
      const r = tf.rsqrt(tf.add(variance, eps));
      const sr = scale == null ? r : tf.mul(scale, r);
      // Both sums are needed by at least two of the gradients below; they
      // live in the enclosing 'gradients' scope like the stock temporaries.
      const sumDy = reduce(g);
      const sumDyXc = reduce(tf.mul(g, tf.sub(x, mean)));
      const grads: Record<string, () => tf.Tensor> = {
        x: () => tf.mul(g, tf.reshape(sr, mean.shape)),
        mean: () => tf.mul(tf.neg(sr), sumDy),
        variance: () => tf.mul(tf.mul(tf.mul(sr, tf.square(r)), -0.5), sumDyXc),
        scale: () => tf.mul(r, sumDyXc),
        offset: () => tf.reshape(sumDy, mean.shape),
      };
      return grads;
    },
  };
}

/**
 * Conv2D, and FusedConv2D without bias or activation (a conv before a
 * BatchNorm), through the native GEMM when one is loaded; otherwise the
 * stock XNNPACK kernels.
 */
function convForward(name: "Conv2D" | "FusedConv2D"): (args: KernelArgs) => Info {
  return (args) => {
    const { inputs, backend } = args;
    const attrs = (args.attrs ?? {}) as unknown as tf.FusedConv2DAttrs;
    const x = inputs.x as Info;
    const filter = inputs.filter as Info;
    const plain = name === "Conv2D" ||
      (inputs.bias == null && inputs.preluActivationWeights == null &&
        (attrs.activation ?? "linear") === "linear");
    if (plain && (attrs.dataFormat ?? "NHWC") === "NHWC" && x.shape.length === 4) {
      const info = convInfo(x.shape, filter.shape, attrs);
      const native = nativeConv2D(backend, x, filter, info);
      if (native !== null) return native;
    }
    return run(name, backend, inputs, attrs as unknown as tf.NamedAttrMap);
  };
}

function replace(
  name: string,
  kernelFunc: (args: KernelArgs) => Info,
): void {
  const previous = tf.getKernel(name, BACKEND);
  if (previous !== undefined) {
    if (!stock.has(name)) stock.set(name, previous);
    tf.unregisterKernel(name, BACKEND);
  }
  const original = stock.get(name);
  tf.registerKernel({
    kernelName: name,
    backendName: BACKEND,
    // Keep the stock setup (cwrap of the C++ entry point) so the stock
    // kernel remains callable if the backend initialises after this call.
    setupFunc: original?.setupFunc,
    kernelFunc: kernelFunc as unknown as tf.KernelFunc,
  });
}

/**
 * Registers training kernels for the `wasm` backend:
 *
 * - `Conv2DBackpropFilter` (missing in tfjs-backend-wasm 4.22): our SIMD
 *   kernel for up to 4 input channels (first layers), otherwise a Conv2D of
 *   the channel-major input with dy as the filter.
 * - `Conv2DBackpropInput`: a sub-pixel transposed convolution (one
 *   stride-1 Conv2D computing every stride phase, then depth-to-space), or
 *   for small feature maps col2im of one matrix product.
 * - `BatchMatMul`, whose transposeA/transposeB cases become explicit
 *   transposes plus the fast non-transposed XNNPACK path, and whose plain
 *   products of a few rows with a large new right operand run in our SIMD
 *   kernel (`lib/backends/wasm/simd_kernels.wat`).
 * - `MaxPoolGrad`: one pass of our SIMD kernel, exactly the cpu backend's
 *   result (ties go to the first maximum); per-tap slices, `Step`/`Multiply`
 *   masks and phase interleaving where that kernel cannot run.
 * - `Sum` and `Mean` over leading axes via `AvgPool`.
 * - the `FusedBatchNorm` gradient (while the wasm backend is active; other
 *   backends keep the stock gradient).
 *
 * Only NHWC data is supported. Safe to call more than once; works whether it
 * is called before or after `tf.setBackend("wasm")`.
 */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  for (
    const name of [
      "Conv2D",
      "FusedConv2D",
      "Transpose",
      "Reshape",
      "PadV2",
      "Slice",
      "BatchMatMul",
      "Conv2DBackpropInput",
      "Concat",
      "Sub",
      "Step",
      "Fill",
      "AddN",
      "AvgPool",
      "Multiply",
      "Sum",
      "Mean",
    ]
  ) {
    stockKernel(name);
  }
  replace("Conv2D", convForward("Conv2D"));
  replace("FusedConv2D", convForward("FusedConv2D"));
  replace("Conv2DBackpropFilter", conv2DBackpropFilter);
  replace("Conv2DBackpropInput", conv2DBackpropInput);
  replace("BatchMatMul", batchMatMul);
  replace("MaxPoolGrad", maxPoolGrad);
  replace("Sum", reduceLeading("Sum"));
  replace("Mean", reduceLeading("Mean"));
  const bnGrad = tf.getGradient("FusedBatchNorm");
  if (bnGrad !== undefined) tf.registerGradient(batchNormGrad(bnGrad));
  registered = true;
}
