/**
 * tfjs layers model -> ONNX graph, written by walking the model's layer
 * graph (Sequential and functional models, skip connections and shared
 * layers included; nested models are not).
 *
 * Layout: tfjs tensors are NHWC, the ONNX graph is NCHW. The invariant kept
 * throughout: every rank-4 tfjs tensor lives in the ONNX graph transposed to
 * NCHW, every other rank is stored exactly as in tfjs. So the ONNX input is
 * `[N, C, H, W]` float32 (dynamic batch `N`), conv kernels are transposed to
 * ONNX's `[cout, cin, kh, kw]`, and layers that care about element order
 * (Flatten, Reshape, Permute, Dense on rank 4) first transpose back to NHWC,
 * so a Flatten followed by Dense sees exactly tfjs's element order. Rank-2
 * outputs (keypoints) are the same values as tfjs; rank-4 outputs are NCHW.
 *
 * "same" padding is always written as explicit `pads` computed the way tfjs
 * does (the odd pixel goes bottom/right), never `auto_pad`. A
 * BatchNormalization that directly follows a linear Conv2D / DepthwiseConv2D
 * whose output has no other consumer is folded into the conv's weights;
 * otherwise it is an ONNX BatchNormalization node.
 *
 * Any layer without a converter (and any unsupported configuration of a
 * known layer) throws `Error("ONNX export: layer NAME (ClassName) is not
 * supported")`: the converter never writes a graph it cannot vouch for.
 * Other modules add layers with {@link registerOnnxConverter}.
 *
 * @module
 */

import { compressWeights, type WeightStorage } from "./compress.ts";
import * as tf from "@tensorflow/tfjs";
import {
  type AttributeValue,
  DataType,
  encodeModel,
  IR_VERSION,
  type NodeSpec,
  OPSET_VERSION,
  type TensorSpec,
  type ValueInfoSpec,
} from "./proto.ts";

/** A tfjs shape: batch first, `null` for unknown dims. */
export type TfShape = (number | null)[];

/** A value in the ONNX graph standing for one tfjs tensor. */
export interface OnnxValue {
  /** ONNX tensor name. */
  name: string;
  /** The tfjs (NHWC) shape; in ONNX, rank 4 is stored NCHW. */
  shape: TfShape;
}

/** Attribute values accepted by {@link OnnxConverterContext.node}. */
export type OnnxAttribute = AttributeValue;

/** What a layer converter can use to add to the graph. */
export interface OnnxConverterContext {
  /**
   * Adds a node; returns its output names (`outputs` fresh names unless
   * `outputNames` are given).
   */
  node(
    opType: string,
    inputs: string[],
    attributes?: Record<string, OnnxAttribute>,
    outputs?: number,
  ): string[];
  /** Adds a node with one output and returns that output's name. */
  op(opType: string, inputs: string[], attributes?: Record<string, OnnxAttribute>): string;
  /** Adds a float32 initializer and returns its name. */
  floatConst(hint: string, dims: number[], data: Float32Array | number[]): string;
  /** Adds an int64 initializer and returns its name. */
  int64Const(hint: string, values: (number | bigint)[]): string;
  /** A fresh tensor name starting with `hint`. */
  uniqueName(hint: string): string;
  /** Returns the name of `v` in tfjs (channels-last) element order. */
  toChannelsLast(v: OnnxValue): string;
  /** Turns a tensor in tfjs element order into the graph's layout for `shape`. */
  fromChannelsLast(name: string, shape: TfShape): string;
  /** The ONNX axis for tfjs axis `axis` of a rank-`rank` tensor. */
  axis(axis: number, rank: number): number;
  /** Applies a tfjs activation (by its serialized name) to `name`. */
  activation(name: string, activation: string, rank: number): string;
  /** The layer's weights by the last part of their name (`kernel`, `bias`, `gamma`...). */
  weights(): Map<string, { data: Float32Array; shape: number[] }>;
  /** The layer being converted. */
  readonly layer: tf.layers.Layer;
  /** Throws the standard "not supported" error, with `why` appended. */
  unsupported(why?: string): never;
}

/**
 * Converts one call of a layer. `inputs` are the ONNX values of the call's
 * inputs; return the ONNX names of its outputs (in the layout the
 * invariant demands: rank 4 NCHW).
 */
export type OnnxLayerConverter = (
  ctx: OnnxConverterContext,
  layer: tf.layers.Layer,
  inputs: OnnxValue[],
  outputShapes: TfShape[],
) => string | string[];

const converters = new Map<string, OnnxLayerConverter>();

/**
 * Registers (or replaces) the converter for a layer class name, as
 * `layer.getClassName()` returns it.
 *
 * @example
 * ```ts
 * import { registerOnnxConverter } from "./convert.ts";
 * // A layer that computes 2x: multiply by a constant.
 * registerOnnxConverter("Double", (ctx, _layer, [x]) => {
 *   return ctx.op("Mul", [x.name, ctx.floatConst("two", [], [2])]);
 * });
 * ```
 */
export function registerOnnxConverter(className: string, fn: OnnxLayerConverter): void {
  converters.set(className, fn);
}

/**
 * The layer class names that currently have a converter.
 *
 * @example
 * ```ts
 * import { supportedOnnxLayers } from "./convert.ts";
 * console.log(supportedOnnxLayers().includes("Conv2D")); // true
 * ```
 */
export function supportedOnnxLayers(): string[] {
  return [...converters.keys()].sort();
}

/** Options of {@link tfjsToOnnx}. */
export interface OnnxExportOptions {
  /** Extra ModelProto.metadata_props entries. */
  metadata?: Record<string, string>;
  /** ModelProto.producer_version. */
  producerVersion?: string;
  /** Name of the graph input (default `"input"`; `input_0`, ... for several). */
  inputName?: string;
  /** Name of the graph output (default `"output"`; `output_0`, ... for several). */
  outputName?: string;
  /** Weight storage: `float32` (default), `float16` or per-channel `int8` (see `compress.ts`). */
  weights?: WeightStorage;
}

function unsupportedError(layer: tf.layers.Layer, why?: string): Error {
  return new Error(
    `ONNX export: layer ${layer.name} (${layer.getClassName()}) is not supported${
      why ? `: ${why}` : ""
    }`,
  );
}

// ---------------------------------------------------------------------------
// The graph builder.

interface FoldedBn {
  scale: Float32Array;
  shift: Float32Array;
}

class GraphBuilder {
  nodes: NodeSpec[] = [];
  initializers: TensorSpec[] = [];
  names = new Set<string>();

  uniqueName(hint: string): string {
    const base = hint.replace(/[^A-Za-z0-9_./:-]/g, "_") || "t";
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  node(
    opType: string,
    inputs: string[],
    attributes: Record<string, OnnxAttribute> = {},
    outputs = 1,
    hint = opType,
  ): string[] {
    const outs = Array.from({ length: outputs }, () => this.uniqueName(hint));
    this.nodes.push({
      opType,
      inputs,
      outputs: outs,
      name: this.uniqueName(`node/${hint}`),
      attributes,
    });
    return outs;
  }

  floatConst(hint: string, dims: number[], data: Float32Array | number[]): string {
    const name = this.uniqueName(hint);
    this.initializers.push({
      name,
      dataType: DataType.FLOAT,
      dims,
      data: data instanceof Float32Array ? data : Float32Array.from(data),
    });
    return name;
  }

  int64Const(hint: string, values: (number | bigint)[]): string {
    const name = this.uniqueName(hint);
    this.initializers.push({
      name,
      dataType: DataType.INT64,
      dims: [values.length],
      data: BigInt64Array.from(values.map((v) => BigInt(v))),
    });
    return name;
  }
}

/** NHWC axis -> NCHW axis. */
const NHWC_TO_NCHW = [0, 2, 3, 1];

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** BatchNorm affine to fold into a conv's output, by converter context. */
const folds = new WeakMap<OnnxConverterContext, FoldedBn>();

class Context implements OnnxConverterContext {
  constructor(
    readonly g: GraphBuilder,
    readonly layer: tf.layers.Layer,
    readonly hint: string,
  ) {}

  node(
    opType: string,
    inputs: string[],
    attributes?: Record<string, OnnxAttribute>,
    outputs = 1,
  ): string[] {
    return this.g.node(opType, inputs, attributes, outputs, `${this.hint}/${opType}`);
  }

  op(opType: string, inputs: string[], attributes?: Record<string, OnnxAttribute>): string {
    return this.node(opType, inputs, attributes, 1)[0];
  }

  floatConst(hint: string, dims: number[], data: Float32Array | number[]): string {
    return this.g.floatConst(`${this.hint}/${hint}`, dims, data);
  }

  int64Const(hint: string, values: (number | bigint)[]): string {
    return this.g.int64Const(`${this.hint}/${hint}`, values);
  }

  uniqueName(hint: string): string {
    return this.g.uniqueName(`${this.hint}/${hint}`);
  }

  toChannelsLast(v: OnnxValue): string {
    if (v.shape.length !== 4) return v.name;
    return this.op("Transpose", [v.name], { perm: [0, 2, 3, 1] });
  }

  fromChannelsLast(name: string, shape: TfShape): string {
    if (shape.length !== 4) return name;
    return this.op("Transpose", [name], { perm: [0, 3, 1, 2] });
  }

  axis(axis: number, rank: number): number {
    const a = normAxis(axis, rank);
    if (a < 0 || a >= rank) this.unsupported(`axis ${axis} of a rank-${rank} tensor`);
    return rank === 4 ? NHWC_TO_NCHW[a] : a;
  }

  activation(name: string, activation: string, rank: number): string {
    const f = (v: number) => ({ type: "float" as const, value: v });
    switch (activation ?? "linear") {
      case "linear":
        return name;
      case "relu":
        return this.op("Relu", [name]);
      case "relu6":
        return this.op("Clip", [
          name,
          this.floatConst("zero", [], [0]),
          this.floatConst("six", [], [6]),
        ]);
      case "sigmoid":
        return this.op("Sigmoid", [name]);
      case "hardSigmoid":
        return this.op("HardSigmoid", [name], { alpha: f(0.2), beta: f(0.5) });
      case "tanh":
        return this.op("Tanh", [name]);
      case "softmax":
        return this.op("Softmax", [name], { axis: this.axis(-1, rank) });
      case "logSoftmax":
        return this.op("LogSoftmax", [name], { axis: this.axis(-1, rank) });
      case "elu":
        return this.op("Elu", [name], { alpha: f(1) });
      case "selu":
        return this.op("Selu", [name]);
      case "softplus":
        return this.op("Softplus", [name]);
      case "softsign":
        return this.op("Softsign", [name]);
      case "swish":
        return this.op("Mul", [name, this.op("Sigmoid", [name])]);
      case "mish":
        return this.op("Mul", [name, this.op("Tanh", [this.op("Softplus", [name])])]);
      case "gelu": {
        // x * 0.5 * (1 + erf(x / sqrt 2)), as tfjs computes it.
        const e = this.op("Erf", [
          this.op("Div", [name, this.floatConst("sqrt2", [], [Math.SQRT2])]),
        ]);
        const half = this.op("Mul", [
          this.op("Add", [e, this.floatConst("one", [], [1])]),
          this.floatConst("half", [], [0.5]),
        ]);
        return this.op("Mul", [name, half]);
      }
      default:
        this.unsupported(`activation "${activation}"`);
    }
  }

  weights(): Map<string, { data: Float32Array; shape: number[] }> {
    const out = new Map<string, { data: Float32Array; shape: number[] }>();
    for (const w of this.layer.weights) {
      const key = w.originalName.split("/").pop() as string;
      const t = w.read();
      out.set(key, { data: Float32Array.from(t.dataSync() as Float32Array), shape: t.shape });
    }
    return out;
  }

  unsupported(why?: string): never {
    throw unsupportedError(this.layer, why);
  }
}

// ---------------------------------------------------------------------------
// Helpers for the built-in converters.

// deno-lint-ignore no-explicit-any
type Config = Record<string, any>;

function cfg(layer: tf.layers.Layer): Config {
  return layer.getConfig() as Config;
}

function pair(v: number | number[] | undefined, dflt: number): [number, number] {
  if (v === undefined || v === null) return [dflt, dflt];
  if (typeof v === "number") return [v, v];
  if (v.length === 1) return [v[0], v[0]];
  return [v[0], v[1]];
}

function channelsLast(ctx: OnnxConverterContext, c: Config): void {
  if (c.dataFormat !== undefined && c.dataFormat !== null && c.dataFormat !== "channelsLast") {
    ctx.unsupported(`dataFormat ${c.dataFormat}`);
  }
}

function rank4(ctx: OnnxConverterContext, v: OnnxValue): void {
  if (v.shape.length !== 4) ctx.unsupported(`input of rank ${v.shape.length} (expected 4)`);
}

/** tfjs "same"/"valid" padding for one spatial dim: [before, after]. */
function padsFor(
  ctx: OnnxConverterContext,
  padding: string,
  size: number | null,
  kernel: number,
  stride: number,
  dilation: number,
): [number, number] {
  if (padding === "valid") return [0, 0];
  if (padding !== "same") ctx.unsupported(`padding "${padding}"`);
  const eff = (kernel - 1) * dilation + 1;
  let total: number;
  if (size === null) {
    if (stride !== 1) {
      ctx.unsupported(`"same" padding with stride ${stride} on an unknown input size`);
    }
    total = eff - 1;
  } else {
    const out = Math.ceil(size / stride);
    total = Math.max((out - 1) * stride + eff - size, 0);
  }
  const before = Math.floor(total / 2);
  return [before, total - before];
}

function convPads(
  ctx: OnnxConverterContext,
  c: Config,
  x: OnnxValue,
  kh: number,
  kw: number,
  strides: [number, number],
  dil: [number, number],
): number[] {
  const [t, b] = padsFor(ctx, c.padding, x.shape[1], kh, strides[0], dil[0]);
  const [l, r] = padsFor(ctx, c.padding, x.shape[2], kw, strides[1], dil[1]);
  return [t, l, b, r];
}

/** [kh, kw, cin, cout] -> [cout, cin, kh, kw]. */
function hwioToOihw(k: Float32Array, shape: number[]): Float32Array {
  const [kh, kw, ci, co] = shape;
  const out = new Float32Array(k.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) {
          out[((o * ci + i) * kh + y) * kw + x] = k[((y * kw + x) * ci + i) * co + o];
        }
      }
    }
  }
  return out;
}

/** Multiplies each output channel's weights (leading dim) by `scale`. */
function scaleRows(w: Float32Array, scale: Float32Array): void {
  const per = w.length / scale.length;
  for (let o = 0; o < scale.length; o++) {
    for (let j = 0; j < per; j++) w[o * per + j] *= scale[o];
  }
}

/** Emits Conv with optional folded BN and the layer's activation. */
function emitConv(
  ctx: OnnxConverterContext,
  x: OnnxValue,
  w: Float32Array,
  wDims: number[],
  bias: Float32Array | null,
  attrs: Record<string, OnnxAttribute>,
  activation: string,
  rank: number,
): string {
  const cout = wDims[0];
  let b = bias ?? new Float32Array(cout);
  const fold = folds.get(ctx);
  if (fold) {
    // y = (conv(x) + b) * scale + shift: scale the kernel, fold into bias.
    scaleRows(w, fold.scale);
    b = b.map((v, o) => v * fold.scale[o] + fold.shift[o]);
  }
  const inputs = [x.name, ctx.floatConst("W", wDims, w)];
  if (bias || fold) inputs.push(ctx.floatConst("B", [cout], b));
  const y = ctx.op("Conv", inputs, attrs);
  return ctx.activation(y, activation, rank);
}

function conv2d(ctx: OnnxConverterContext, layer: tf.layers.Layer, [x]: OnnxValue[]): string {
  const c = cfg(layer);
  channelsLast(ctx, c);
  rank4(ctx, x);
  const w = ctx.weights();
  const k = w.get("kernel");
  if (!k) return ctx.unsupported("no kernel weight");
  const [kh, kw, cin, cout] = k.shape;
  const strides = pair(c.strides, 1);
  const dil = pair(c.dilationRate, 1);
  if ((strides[0] > 1 || strides[1] > 1) && (dil[0] > 1 || dil[1] > 1)) {
    ctx.unsupported("strides and dilation both > 1");
  }
  return emitConv(
    ctx,
    x,
    hwioToOihw(k.data, k.shape),
    [cout, cin, kh, kw],
    w.get("bias")?.data ?? null,
    {
      kernel_shape: [kh, kw],
      strides,
      dilations: dil,
      pads: convPads(ctx, c, x, kh, kw, strides, dil),
      group: 1,
    },
    c.activation,
    4,
  );
}

/** Depthwise [kh, kw, cin, mult] -> grouped-conv weight [cin*mult, 1, kh, kw]. */
function depthwiseWeight(k: Float32Array, shape: number[]): Float32Array {
  const [kh, kw, ci, m] = shape;
  const out = new Float32Array(k.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < ci; i++) {
        for (let j = 0; j < m; j++) {
          out[((i * m + j) * kh + y) * kw + x] = k[((y * kw + x) * ci + i) * m + j];
        }
      }
    }
  }
  return out;
}

function depthwiseConv2d(
  ctx: OnnxConverterContext,
  layer: tf.layers.Layer,
  [x]: OnnxValue[],
): string {
  const c = cfg(layer);
  channelsLast(ctx, c);
  rank4(ctx, x);
  const w = ctx.weights();
  const k = w.get("depthwise_kernel");
  if (!k) return ctx.unsupported("no depthwise_kernel weight");
  const [kh, kw, cin, m] = k.shape;
  const strides = pair(c.strides, 1);
  const dil = pair(c.dilationRate, 1);
  return emitConv(
    ctx,
    x,
    depthwiseWeight(k.data, k.shape),
    [cin * m, 1, kh, kw],
    w.get("bias")?.data ?? null,
    {
      kernel_shape: [kh, kw],
      strides,
      dilations: dil,
      pads: convPads(ctx, c, x, kh, kw, strides, dil),
      group: cin,
    },
    c.activation,
    4,
  );
}

function separableConv2d(
  ctx: OnnxConverterContext,
  layer: tf.layers.Layer,
  [x]: OnnxValue[],
): string {
  const c = cfg(layer);
  channelsLast(ctx, c);
  rank4(ctx, x);
  const w = ctx.weights();
  const dk = w.get("depthwise_kernel");
  const pk = w.get("pointwise_kernel");
  if (!dk || !pk) return ctx.unsupported("missing depthwise/pointwise kernels");
  const [kh, kw, cin, m] = dk.shape;
  const strides = pair(c.strides, 1);
  const dil = pair(c.dilationRate, 1);
  const dw = ctx.op("Conv", [
    x.name,
    ctx.floatConst("W_depthwise", [cin * m, 1, kh, kw], depthwiseWeight(dk.data, dk.shape)),
  ], {
    kernel_shape: [kh, kw],
    strides,
    dilations: dil,
    pads: convPads(ctx, c, x, kh, kw, strides, dil),
    group: cin,
  });
  const cout = pk.shape[3];
  return emitConv(
    ctx,
    { name: dw, shape: [null, null, null, cin * m] },
    hwioToOihw(pk.data, pk.shape),
    [cout, cin * m, 1, 1],
    w.get("bias")?.data ?? null,
    {
      kernel_shape: [1, 1],
      strides: [1, 1],
      pads: [0, 0, 0, 0],
      group: 1,
    },
    c.activation,
    4,
  );
}

function conv2dTranspose(
  ctx: OnnxConverterContext,
  layer: tf.layers.Layer,
  [x]: OnnxValue[],
): string {
  const c = cfg(layer);
  channelsLast(ctx, c);
  rank4(ctx, x);
  const w = ctx.weights();
  const k = w.get("kernel");
  if (!k) return ctx.unsupported("no kernel weight");
  const [kh, kw, cout, cin] = k.shape;
  const strides = pair(c.strides, 1);
  const dil = pair(c.dilationRate, 1);
  if (dil[0] !== 1 || dil[1] !== 1) ctx.unsupported("dilation");
  if (c.padding !== "same" && c.padding !== "valid") ctx.unsupported(`padding "${c.padding}"`);
  // [kh, kw, cout, cin] -> ONNX ConvTranspose [cin, cout, kh, kw].
  const wt = new Float32Array(k.data.length);
  for (let y = 0; y < kh; y++) {
    for (let xx = 0; xx < kw; xx++) {
      for (let o = 0; o < cout; o++) {
        for (let i = 0; i < cin; i++) {
          wt[((i * cout + o) * kh + y) * kw + xx] = k.data[((y * kw + xx) * cout + o) * cin + i];
        }
      }
    }
  }
  // tfjs: output = in*s ("same") or in*s + max(k-s, 0) ("valid"), the
  // adjoint of a forward conv whose "same" pads total max(k-s, 0).
  const pads: number[] = [0, 0, 0, 0];
  const outPad: number[] = [0, 0];
  [kh, kw].forEach((kk, d) => {
    const s = strides[d];
    const total = c.padding === "same" ? Math.max(kk - s, 0) : 0;
    pads[d] = Math.floor(total / 2);
    pads[d + 2] = total - pads[d];
    outPad[d] = Math.max(s - kk, 0);
  });
  const inputs = [x.name, ctx.floatConst("W", [cin, cout, kh, kw], wt)];
  const bias = w.get("bias");
  if (bias) inputs.push(ctx.floatConst("B", [cout], bias.data));
  const y = ctx.op("ConvTranspose", inputs, {
    kernel_shape: [kh, kw],
    strides,
    pads,
    output_padding: outPad,
    group: 1,
  });
  return ctx.activation(y, c.activation, 4);
}

function bnParams(ctx: OnnxConverterContext, layer: tf.layers.Layer): {
  gamma: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  epsilon: number;
} {
  const c = cfg(layer);
  const w = ctx.weights();
  const mean = w.get("moving_mean")?.data;
  const variance = w.get("moving_variance")?.data;
  if (!mean || !variance) return ctx.unsupported("missing moving statistics");
  const n = mean.length;
  return {
    gamma: w.get("gamma")?.data ?? new Float32Array(n).fill(1),
    beta: w.get("beta")?.data ?? new Float32Array(n),
    mean,
    variance,
    epsilon: c.epsilon ?? 1e-3,
  };
}

function batchNorm(ctx: OnnxConverterContext, layer: tf.layers.Layer, [x]: OnnxValue[]): string {
  const c = cfg(layer);
  const rank = x.shape.length;
  const axis = Array.isArray(c.axis) ? c.axis : [c.axis ?? -1];
  if (axis.length !== 1 || normAxis(axis[0], rank) !== rank - 1) {
    ctx.unsupported(`axis ${JSON.stringify(c.axis)} (only the channel axis, -1)`);
  }
  if (rank !== 2 && rank !== 4) ctx.unsupported(`input of rank ${rank}`);
  const p = bnParams(ctx, layer);
  const n = p.mean.length;
  return ctx.op("BatchNormalization", [
    x.name,
    ctx.floatConst("scale", [n], p.gamma),
    ctx.floatConst("B", [n], p.beta),
    ctx.floatConst("mean", [n], p.mean),
    ctx.floatConst("var", [n], p.variance),
  ], { epsilon: { type: "float", value: p.epsilon } });
}

function dense(
  ctx: OnnxConverterContext,
  layer: tf.layers.Layer,
  [x]: OnnxValue[],
  [outShape]: TfShape[],
): string {
  const c = cfg(layer);
  const w = ctx.weights();
  const k = w.get("kernel");
  if (!k) return ctx.unsupported("no kernel weight");
  const [nin, nout] = k.shape;
  const bias = w.get("bias");
  const rank = x.shape.length;
  if (rank === 2) {
    const inputs = [x.name, ctx.floatConst("W", [nin, nout], k.data)];
    if (bias) inputs.push(ctx.floatConst("B", [nout], bias.data));
    const y = ctx.op("Gemm", inputs, { transA: 0, transB: 0 });
    return ctx.activation(y, c.activation, 2);
  }
  // Dense on the last tfjs axis of a higher-rank tensor.
  let y = ctx.op("MatMul", [ctx.toChannelsLast(x), ctx.floatConst("W", [nin, nout], k.data)]);
  if (bias) y = ctx.op("Add", [y, ctx.floatConst("B", [nout], bias.data)]);
  return ctx.activation(ctx.fromChannelsLast(y, outShape), c.activation, outShape.length);
}

function activationLayer(
  ctx: OnnxConverterContext,
  layer: tf.layers.Layer,
  [x]: OnnxValue[],
): string {
  return ctx.activation(x.name, cfg(layer).activation, x.shape.length);
}

function reluLayer(ctx: OnnxConverterContext, layer: tf.layers.Layer, [x]: OnnxValue[]): string {
  const c = cfg(layer);
  if (c.maxValue === null || c.maxValue === undefined) return ctx.op("Relu", [x.name]);
  return ctx.op("Clip", [
    x.name,
    ctx.floatConst("min", [], [0]),
    ctx.floatConst("max", [], [c.maxValue]),
  ]);
}

function leakyRelu(ctx: OnnxConverterContext, layer: tf.layers.Layer, [x]: OnnxValue[]): string {
  return ctx.op("LeakyRelu", [x.name], {
    alpha: { type: "float", value: cfg(layer).alpha ?? 0.3 },
  });
}

function eluLayer(ctx: OnnxConverterContext, layer: tf.layers.Layer, [x]: OnnxValue[]): string {
  return ctx.op("Elu", [x.name], { alpha: { type: "float", value: cfg(layer).alpha ?? 1 } });
}

function thresholdedRelu(
  ctx: OnnxConverterContext,
  layer: tf.layers.Layer,
  [x]: OnnxValue[],
): string {
  return ctx.op("ThresholdedRelu", [x.name], {
    alpha: { type: "float", value: cfg(layer).theta ?? 1 },
  });
}

function softmaxLayer(ctx: OnnxConverterContext, layer: tf.layers.Layer, [x]: OnnxValue[]): string {
  let axis = cfg(layer).axis ?? -1;
  if (Array.isArray(axis)) {
    if (axis.length !== 1) ctx.unsupported(`axis ${JSON.stringify(axis)}`);
    axis = axis[0];
  }
  return ctx.op("Softmax", [x.name], { axis: ctx.axis(axis, x.shape.length) });
}

function preluLayer(ctx: OnnxConverterContext, _layer: tf.layers.Layer, [x]: OnnxValue[]): string {
  const a = ctx.weights().get("alpha");
  if (!a) return ctx.unsupported("no alpha weight");
  let data = a.data;
  let dims = a.shape;
  if (a.shape.length === 3) {
    // [H, W, C] -> [C, H, W] to broadcast against NCHW.
    const [h, w, ch] = a.shape;
    data = new Float32Array(a.data.length);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        for (let k = 0; k < ch; k++) data[(k * h + i) * w + j] = a.data[(i * w + j) * ch + k];
      }
    }
    dims = [ch, h, w];
  }
  return ctx.op("PRelu", [x.name, ctx.floatConst("slope", dims, data)]);
}

function pool2d(kind: "MaxPool" | "AveragePool") {
  return (ctx: OnnxConverterContext, layer: tf.layers.Layer, [x]: OnnxValue[]): string => {
    const c = cfg(layer);
    channelsLast(ctx, c);
    rank4(ctx, x);
    const [kh, kw] = pair(c.poolSize, 2);
    const strides = pair(c.strides ?? c.poolSize, 2);
    const pads = convPads(ctx, c, x, kh, kw, strides, [1, 1]);
    const attrs: Record<string, OnnxAttribute> = { kernel_shape: [kh, kw], strides, pads };
    // tfjs (like TF) averages over the valid pixels only.
    if (kind === "AveragePool") attrs.count_include_pad = 0;
    return ctx.op(kind, [x.name], attrs);
  };
}

function globalPool2d(kind: "GlobalAveragePool" | "GlobalMaxPool") {
  return (
    ctx: OnnxConverterContext,
    layer: tf.layers.Layer,
    [x]: OnnxValue[],
    [outShape]: TfShape[],
  ): string => {
    const c = cfg(layer);
    channelsLast(ctx, c);
    rank4(ctx, x);
    const y = ctx.op(kind, [x.name]);
    // [N, C, 1, 1] is also NHWC [N, 1, 1, C] when tfjs keeps dims.
    if (outShape.length === 4) return y;
    return ctx.op("Flatten", [y], { axis: 1 });
  };
}

function merge(op: "Sum" | "Sub" | "Mul" | "Mean" | "Max" | "Min") {
  return (ctx: OnnxConverterContext, _layer: tf.layers.Layer, inputs: OnnxValue[]): string => {
    const rank = inputs[0].shape.length;
    if (inputs.some((v) => v.shape.length !== rank)) ctx.unsupported("inputs of different ranks");
    if (op === "Sub") {
      if (inputs.length !== 2) ctx.unsupported("Subtract needs exactly 2 inputs");
      return ctx.op("Sub", [inputs[0].name, inputs[1].name]);
    }
    if (op === "Sum" && inputs.length === 2) return ctx.op("Add", inputs.map((v) => v.name));
    if (op === "Mul" && inputs.length === 2) return ctx.op("Mul", inputs.map((v) => v.name));
    if (op === "Mul") {
      return inputs.slice(1).reduce((acc, v) => ctx.op("Mul", [acc, v.name]), inputs[0].name);
    }
    return ctx.op(op, inputs.map((v) => v.name));
  };
}

function concatenate(
  ctx: OnnxConverterContext,
  layer: tf.layers.Layer,
  inputs: OnnxValue[],
): string {
  const rank = inputs[0].shape.length;
  if (inputs.some((v) => v.shape.length !== rank)) ctx.unsupported("inputs of different ranks");
  return ctx.op("Concat", inputs.map((v) => v.name), {
    axis: ctx.axis(cfg(layer).axis ?? -1, rank),
  });
}

function flatten(ctx: OnnxConverterContext, _layer: tf.layers.Layer, [x]: OnnxValue[]): string {
  // tfjs flattens in NHWC order: go back to NHWC first.
  return ctx.op("Flatten", [ctx.toChannelsLast(x)], { axis: 1 });
}

function reshape(
  ctx: OnnxConverterContext,
  layer: tf.layers.Layer,
  [x]: OnnxValue[],
  [outShape]: TfShape[],
): string {
  const target = cfg(layer).targetShape as number[];
  // 0 copies the batch dim; tfjs's -1 (at most one) stays -1.
  const shape = ctx.int64Const("shape", [0, ...target.map((d) => (d === null ? -1 : d))]);
  const y = ctx.op("Reshape", [ctx.toChannelsLast(x), shape]);
  return ctx.fromChannelsLast(y, outShape);
}

function permute(
  ctx: OnnxConverterContext,
  layer: tf.layers.Layer,
  [x]: OnnxValue[],
  [outShape]: TfShape[],
): string {
  const dims = cfg(layer).dims as number[];
  const y = ctx.op("Transpose", [ctx.toChannelsLast(x)], { perm: [0, ...dims] });
  return ctx.fromChannelsLast(y, outShape);
}

function upSampling2d(ctx: OnnxConverterContext, layer: tf.layers.Layer, [x]: OnnxValue[]): string {
  const c = cfg(layer);
  channelsLast(ctx, c);
  rank4(ctx, x);
  const [sh, sw] = pair(c.size, 2);
  const interp = c.interpolation ?? "nearest";
  if (interp !== "nearest" && interp !== "bilinear") ctx.unsupported(`interpolation "${interp}"`);
  // tfjs resizes with alignCorners = false, halfPixelCenters = false:
  // source = dest * in / out ("asymmetric"), nearest = floor(source).
  const attrs: Record<string, OnnxAttribute> = {
    mode: interp === "nearest" ? "nearest" : "linear",
    coordinate_transformation_mode: "asymmetric",
  };
  if (interp === "nearest") attrs.nearest_mode = "floor";
  const scales = ctx.floatConst("scales", [4], [1, 1, sh, sw]);
  return ctx.op("Resize", [x.name, "", scales], attrs);
}

function zeroPadding2d(
  ctx: OnnxConverterContext,
  layer: tf.layers.Layer,
  [x]: OnnxValue[],
): string {
  const c = cfg(layer);
  channelsLast(ctx, c);
  rank4(ctx, x);
  const p = c.padding as [[number, number], [number, number]];
  const [[t, b], [l, r]] = [pair(p[0], 1), pair(p[1], 1)];
  return ctx.op("Pad", [x.name, ctx.int64Const("pads", [0, 0, t, l, 0, 0, b, r])], {
    mode: "constant",
  });
}

function cropping2d(ctx: OnnxConverterContext, layer: tf.layers.Layer, [x]: OnnxValue[]): string {
  const c = cfg(layer);
  channelsLast(ctx, c);
  rank4(ctx, x);
  const p = c.cropping as [[number, number], [number, number]];
  const [[t, b], [l, r]] = [pair(p[0], 0), pair(p[1], 0)];
  const end = (n: number) => (n > 0 ? -n : 9223372036854775807n);
  return ctx.op("Slice", [
    x.name,
    ctx.int64Const("starts", [t, l]),
    ctx.int64Const("ends", [end(b), end(r)]),
    ctx.int64Const("axes", [2, 3]),
  ]);
}

function identity(_ctx: OnnxConverterContext, _layer: tf.layers.Layer, [x]: OnnxValue[]): string {
  return x.name;
}

const builtins: Record<string, OnnxLayerConverter> = {
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  Conv2DTranspose: conv2dTranspose,
  BatchNormalization: batchNorm,
  Dense: dense,
  Activation: activationLayer,
  ReLU: reluLayer,
  LeakyReLU: leakyRelu,
  ELU: eluLayer,
  ThresholdedReLU: thresholdedRelu,
  Softmax: softmaxLayer,
  PReLU: preluLayer,
  MaxPooling2D: pool2d("MaxPool"),
  AveragePooling2D: pool2d("AveragePool"),
  GlobalAveragePooling2D: globalPool2d("GlobalAveragePool"),
  GlobalMaxPooling2D: globalPool2d("GlobalMaxPool"),
  Add: merge("Sum"),
  Subtract: merge("Sub"),
  Multiply: merge("Mul"),
  Average: merge("Mean"),
  Maximum: merge("Max"),
  Minimum: merge("Min"),
  Concatenate: concatenate,
  Flatten: flatten,
  Reshape: reshape,
  Permute: permute,
  UpSampling2D: upSampling2d,
  ZeroPadding2D: zeroPadding2d,
  Cropping2D: cropping2d,
  Dropout: identity,
  SpatialDropout1D: identity,
  SpatialDropout2D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
};
for (const [k, v] of Object.entries(builtins)) converters.set(k, v);

// ---------------------------------------------------------------------------
// The walk.

type SymTensor = tf.SymbolicTensor;
// deno-lint-ignore no-explicit-any
type TfNode = any;

function nodeOf(t: SymTensor): TfNode {
  return t.sourceLayer.inboundNodes[t.nodeIndex];
}

function onnxShape(shape: TfShape, prefix: string): (number | string)[] {
  const perm = shape.length === 4 ? [0, 3, 1, 2] : shape.map((_, i) => i);
  return perm.map((i) => {
    const d = shape[i];
    if (i === 0) return "N";
    return d === null ? `${prefix}_d${i}` : d;
  });
}

/**
 * Converts a tfjs layers model to the bytes of an ONNX model (IR version 8,
 * opset 17). The input is NCHW float32 `[N, C, H, W]` with a dynamic batch;
 * outputs carry the same values as `model.predict` (rank-4 outputs NCHW).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { tfjsToOnnx } from "./convert.ts";
 * const model = tf.sequential({
 *   layers: [tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3 }), tf.layers.flatten()],
 * });
 * const bytes = tfjsToOnnx(model, { metadata: { keypoints: "0" } });
 * console.log(bytes.length > 0); // true
 * ```
 */
export function tfjsToOnnx(model: tf.LayersModel, opts: OnnxExportOptions = {}): Uint8Array {
  const g = new GraphBuilder();
  const values = new Map<number, OnnxValue>(); // SymbolicTensor id -> value
  const done = new Set<TfNode>();
  const modelInputs = model.inputs as SymTensor[];
  const modelOutputs = model.outputs as SymTensor[];

  // Graph inputs.
  const graphInputs: ValueInfoSpec[] = [];
  modelInputs.forEach((t, i) => {
    const base = opts.inputName ?? "input";
    const name = g.uniqueName(modelInputs.length === 1 ? base : `${base}_${i}`);
    values.set(t.id, { name, shape: t.shape });
    graphInputs.push({
      name,
      shape: onnxShape(t.shape, name),
      docString: t.shape.length === 4 ? "NCHW float32 (tfjs NHWC transposed)" : undefined,
    });
    done.add(nodeOf(t));
  });

  // Consumers of each symbolic tensor in the graph reachable from the outputs.
  const consumers = new Map<number, number>();
  const seen = new Set<TfNode>();
  const stack: SymTensor[] = [...modelOutputs];
  for (const t of modelOutputs) consumers.set(t.id, (consumers.get(t.id) ?? 0) + 1);
  while (stack.length > 0) {
    const node = nodeOf(stack.pop()!);
    if (seen.has(node)) continue;
    seen.add(node);
    for (const inp of node.inputTensors as SymTensor[]) {
      consumers.set(inp.id, (consumers.get(inp.id) ?? 0) + 1);
      stack.push(inp);
    }
  }

  // BatchNormalization nodes folded into the conv before them.
  const foldInto = new Map<TfNode, tf.layers.Layer>(); // conv node -> BN layer
  const absorbed = new Set<TfNode>(); // BN nodes
  for (const node of seen) {
    const layer = node.outboundLayer as tf.layers.Layer;
    if (layer.getClassName() !== "BatchNormalization") continue;
    const inputs = node.inputTensors as SymTensor[];
    if (inputs.length !== 1 || inputs[0].shape.length !== 4) continue;
    const c = cfg(layer);
    const axis = Array.isArray(c.axis) ? c.axis : [c.axis ?? -1];
    if (axis.length !== 1 || normAxis(axis[0], 4) !== 3) continue;
    const src = inputs[0];
    const prev = src.sourceLayer;
    const cls = prev.getClassName();
    if (cls !== "Conv2D" && cls !== "DepthwiseConv2D") continue;
    if ((cfg(prev).activation ?? "linear") !== "linear") continue;
    if (consumers.get(src.id) !== 1 || !converters.has(cls)) continue;
    if (converters.get(cls) !== builtins[cls]) continue; // a replaced converter knows nothing of folding
    foldInto.set(nodeOf(src), layer);
    absorbed.add(node);
  }

  const visit = (t: SymTensor): void => {
    const node = nodeOf(t);
    if (done.has(node)) return;
    const inputs = node.inputTensors as SymTensor[];
    for (const inp of inputs) visit(inp);
    const layer = node.outboundLayer as tf.layers.Layer;
    const outs = node.outputTensors as SymTensor[];
    const ins = inputs.map((inp) => values.get(inp.id)!);
    let names: string[];
    if (absorbed.has(node)) {
      names = [ins[0].name];
    } else {
      const fn = converters.get(layer.getClassName());
      if (!fn) throw unsupportedError(layer);
      const idx = layer.inboundNodes.indexOf(node);
      const ctx = new Context(g, layer, idx > 0 ? `${layer.name}_${idx}` : layer.name);
      const bn = foldInto.get(node);
      if (bn) {
        const p = bnParams(new Context(g, bn, bn.name), bn);
        const scale = p.gamma.map((gm, i) => gm / Math.sqrt(p.variance[i] + p.epsilon));
        const shift = p.beta.map((b, i) => b - p.mean[i] * scale[i]);
        folds.set(ctx, { scale, shift });
      }
      const r = fn(ctx, layer, ins, outs.map((o) => o.shape));
      names = Array.isArray(r) ? r : [r];
      if (names.length !== outs.length) {
        throw new Error(
          `ONNX export: converter for ${layer.name} (${layer.getClassName()}) returned ${names.length} outputs, expected ${outs.length}`,
        );
      }
    }
    outs.forEach((o, i) => values.set(o.id, { name: names[i], shape: o.shape }));
    done.add(node);
  };
  for (const t of modelOutputs) visit(t);

  // Graph outputs, each through an Identity so it has its own name.
  const graphOutputs: ValueInfoSpec[] = modelOutputs.map((t, i) => {
    const base = opts.outputName ?? "output";
    const name = g.uniqueName(modelOutputs.length === 1 ? base : `${base}_${i}`);
    g.nodes.push({
      opType: "Identity",
      inputs: [values.get(t.id)!.name],
      outputs: [name],
      name: `node/${name}`,
    });
    return {
      name,
      shape: onnxShape(t.shape, name),
      docString: t.shape.length === 4 ? "NCHW (tfjs NHWC transposed)" : undefined,
    };
  });

  compressWeights(g, opts.weights ?? "float32");
  return encodeModel({
    irVersion: IR_VERSION,
    opsets: [{ domain: "", version: OPSET_VERSION }],
    producerName: "facekit",
    producerVersion: opts.producerVersion,
    docString: `Converted from tfjs layers model "${model.name}" by facekit; input NCHW float32.`,
    graph: {
      name: model.name || "facekit",
      nodes: g.nodes,
      initializers: g.initializers,
      inputs: graphInputs,
      outputs: graphOutputs,
    },
    metadata: {
      producer: "facekit",
      converted_from: `tfjs-layers ${tf.version.tfjs}`,
      input_layout: "NCHW",
      ...opts.metadata,
    },
  });
}
