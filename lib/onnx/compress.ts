/**
 * Smaller ONNX files: weights stored as float16 (restored by a `Cast`) or as
 * symmetric per-channel int8 (restored by a `DequantizeLinear`), while the
 * graph still computes in float32, so any ONNX runtime runs it unchanged
 * (onnxruntime folds the `Cast` away at load). int8 keeps one scale per
 * output channel of each Conv/ConvTranspose/MatMul/Gemm weight; other
 * constants stay float32.
 *
 * @module
 */

import { DataType, type NodeSpec, type TensorSpec } from "./proto.ts";

/** How weights are stored in an exported file. */
export type WeightStorage = "float32" | "float16" | "int8";

/** Initializers smaller than this stay float32 (biases, shapes, grids). */
const MIN_ELEMENTS = 64;

/**
 * IEEE 754 binary16 bits of a number, round to nearest even (overflow to
 * infinity, subnormals kept).
 *
 * @example
 * ```ts
 * import { toHalfBits } from "./compress.ts";
 * console.log(toHalfBits(1).toString(16)); // "3c00"
 * ```
 */
export function toHalfBits(value: number): number {
  const f = new Float32Array([value]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // underflows to zero
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half++; // may carry into the exponent
  if ((half >>> 10) >= 0x1f) half = 0x7c00;
  return sign | half;
}

/**
 * The number a binary16 bit pattern stands for.
 *
 * @example
 * ```ts
 * import { fromHalfBits } from "./compress.ts";
 * console.log(fromHalfBits(0x3c00)); // 1
 * ```
 */
export function fromHalfBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/**
 * Symmetric int8 quantisation along `axis`: one scale per slice,
 * `q = round(w / scale)` in -127..127, `scale = max |w| / 127`.
 *
 * @example
 * ```ts
 * import { quantizeInt8 } from "./compress.ts";
 * const q = quantizeInt8(new Float32Array([1, -0.5, 2, 4]), [2, 2], 0);
 * console.log(Array.from(q.values), Array.from(q.scales)); // [127, -64, 64, 127] [0.007874015718698502, 0.031496062874794006]
 * ```
 */
export function quantizeInt8(
  data: Float32Array,
  dims: number[],
  axis: number,
): { values: Int8Array; scales: Float32Array } {
  const channels = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const max = new Float32Array(channels);
  for (let i = 0; i < data.length; i++) {
    const c = Math.floor(i / inner) % channels;
    max[c] = Math.max(max[c], Math.abs(data[i]));
  }
  const scales = max.map((m) => (m > 0 ? m / 127 : 1));
  const values = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const c = Math.floor(i / inner) % channels;
    values[i] = Math.max(-127, Math.min(127, Math.round(data[i] / scales[c])));
  }
  return { values, scales };
}

/** The per-channel axis of a weight used as input 1 of `node`, or -1. */
function weightAxis(node: NodeSpec, rank: number): number {
  if (node.opType === "Conv") return 0;
  if (node.opType === "ConvTranspose") return 1;
  if (node.opType === "MatMul" && rank === 2) return 1;
  if (node.opType === "Gemm") return node.attributes?.transB === 1 ? 0 : 1;
  return -1;
}

/**
 * Rewrites a graph's large float32 initializers to `storage` in place:
 * each becomes a smaller initializer plus the node that restores the
 * float32 tensor under the original name, put first in `nodes`. `float32`
 * leaves the graph as it is.
 *
 * @example
 * ```ts
 * import { compressWeights } from "./compress.ts";
 * import { DataType } from "./proto.ts";
 * const g = {
 *   nodes: [{ opType: "Conv", inputs: ["x", "w"], outputs: ["y"] }],
 *   initializers: [{ name: "w", dataType: DataType.FLOAT, dims: [2, 1, 8, 8], data: new Float32Array(128).fill(0.5) }],
 * };
 * compressWeights(g, "int8");
 * console.log(g.nodes[0].opType); // "DequantizeLinear"
 * ```
 */
export function compressWeights(
  graph: { nodes: NodeSpec[]; initializers: TensorSpec[] },
  storage: WeightStorage,
): void {
  if (storage === "float32") return;
  const uses = new Map<string, { node: NodeSpec; index: number }[]>();
  for (const node of graph.nodes) {
    node.inputs.forEach((name, index) => {
      uses.set(name, [...(uses.get(name) ?? []), { node, index }]);
    });
  }
  const restore: NodeSpec[] = [];
  const out: TensorSpec[] = [];
  for (const t of graph.initializers) {
    if (t.dataType !== DataType.FLOAT || t.data.length < MIN_ELEMENTS) {
      out.push(t);
      continue;
    }
    const data = t.data as Float32Array;
    if (storage === "float16") {
      const half = new Uint16Array(data.length);
      for (let i = 0; i < data.length; i++) half[i] = toHalfBits(data[i]);
      out.push({ name: `${t.name}_fp16`, dataType: DataType.FLOAT16, dims: t.dims, data: half });
      restore.push({
        opType: "Cast",
        inputs: [`${t.name}_fp16`],
        outputs: [t.name],
        name: `restore/${t.name}`,
        attributes: { to: DataType.FLOAT },
      });
      continue;
    }
    const axes = (uses.get(t.name) ?? []).map((u) =>
      u.index === 1 ? weightAxis(u.node, t.dims.length) : -1
    );
    const axis = axes.length > 0 && axes.every((a) => a === axes[0]) ? axes[0] : -1;
    if (axis < 0) {
      out.push(t);
      continue;
    }
    const q = quantizeInt8(data, t.dims, axis);
    const c = t.dims[axis];
    out.push(
      { name: `${t.name}_int8`, dataType: DataType.INT8, dims: t.dims, data: q.values },
      { name: `${t.name}_scale`, dataType: DataType.FLOAT, dims: [c], data: q.scales },
      { name: `${t.name}_zero`, dataType: DataType.INT8, dims: [c], data: new Int8Array(c) },
    );
    restore.push({
      opType: "DequantizeLinear",
      inputs: [`${t.name}_int8`, `${t.name}_scale`, `${t.name}_zero`],
      outputs: [t.name],
      name: `restore/${t.name}`,
      attributes: { axis },
    });
  }
  graph.initializers = out;
  graph.nodes.unshift(...restore);
}
