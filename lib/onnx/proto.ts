/**
 * A small protobuf encoder for the parts of `onnx.proto` that an exported
 * inference model needs: ModelProto, GraphProto, NodeProto, TensorProto,
 * ValueInfoProto (with TypeProto / TensorShapeProto), AttributeProto,
 * OperatorSetIdProto and StringStringEntryProto.
 *
 * Why our own encoder instead of an npm package: the messages we write are
 * a fixed, small subset, and the protobuf wire format for them is only
 * varints, length-delimited fields and little-endian fixed32 floats, about
 * 200 lines. An npm route (protobufjs plus a generated or hand-written
 * `onnx.proto` schema, or onnx-proto) would add a dependency with its own
 * code generation and `Long` handling for int64, and would copy every weight
 * buffer into intermediate objects; here a weight tensor's bytes are
 * referenced as-is and copied exactly once, into the final buffer (Part 2's
 * dense layer alone is 150 MB). Encoding is write-only: nothing here parses.
 *
 * Field numbers follow `onnx.proto` (proto2 syntax; repeated scalars are
 * written unpacked, the proto2 default, which every parser accepts).
 *
 * @module
 */

/** ONNX IR version written by {@link encodeModel} (IR 8 = ONNX 1.12/1.13). */
export const IR_VERSION = 8;
/** Default-domain opset version the converter targets. */
export const OPSET_VERSION = 17;

/** `TensorProto.DataType` values used here. */
export const DataType = {
  FLOAT: 1,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  FLOAT16: 10,
} as const;

/** `AttributeProto.AttributeType` values used here. */
export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
} as const;

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const textEncoder = new TextEncoder();

/**
 * Accumulates the bytes of one protobuf message as a list of chunks; nested
 * messages and large byte fields are referenced, not copied, until
 * {@link ProtoWriter.finish}.
 *
 * @example
 * ```ts
 * import { ProtoWriter } from "./proto.ts";
 * const w = new ProtoWriter();
 * w.uint(1, 150);
 * console.log(w.finish()); // Uint8Array(3) [8, 150, 1]
 * ```
 */
export class ProtoWriter {
  #chunks: Uint8Array[] = [];
  #scratch: number[] = [];
  /** Bytes written so far. */
  length = 0;

  #flush(): void {
    if (this.#scratch.length > 0) {
      this.#chunks.push(Uint8Array.from(this.#scratch));
      this.length += this.#scratch.length;
      this.#scratch = [];
    }
  }

  #varint(n: number | bigint): void {
    if (typeof n === "number" && Number.isInteger(n) && n >= 0 && n < 2 ** 31) {
      while (n > 127) {
        this.#scratch.push((n & 127) | 128);
        n >>>= 7;
      }
      this.#scratch.push(n);
      return;
    }
    // Negative int64 values are 10-byte two's complement varints.
    let b = BigInt.asUintN(64, BigInt(n));
    while (b > 127n) {
      this.#scratch.push(Number(b & 127n) | 128);
      b >>= 7n;
    }
    this.#scratch.push(Number(b));
  }

  #tag(field: number, wire: number): void {
    this.#varint(field * 8 + wire);
  }

  /** Writes an integer field (int32, int64, uint, enum) as a varint. */
  uint(field: number, value: number | bigint): this {
    if (typeof value === "number" && !Number.isSafeInteger(value)) {
      throw new Error(`protobuf: field ${field}: ${value} is not a safe integer`);
    }
    this.#tag(field, WIRE_VARINT);
    this.#varint(value);
    return this;
  }

  /** Writes a float field as fixed32 (little-endian IEEE 754). */
  float(field: number, value: number): this {
    this.#tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.#scratch.push(b[0], b[1], b[2], b[3]);
    return this;
  }

  /** Writes a length-delimited bytes field; `value` is referenced, not copied. */
  bytes(field: number, value: Uint8Array): this {
    this.#tag(field, WIRE_LEN);
    this.#varint(value.byteLength);
    this.#flush();
    if (value.byteLength > 0) {
      this.#chunks.push(value);
      this.length += value.byteLength;
    }
    return this;
  }

  /** Writes a UTF-8 string field. */
  string(field: number, value: string): this {
    return this.bytes(field, textEncoder.encode(value));
  }

  /** Writes an embedded message field. */
  message(field: number, value: ProtoWriter): this {
    value.#flush();
    this.#tag(field, WIRE_LEN);
    this.#varint(value.length);
    this.#flush();
    for (const c of value.#chunks) this.#chunks.push(c);
    this.length += value.length;
    return this;
  }

  /** Concatenates everything into one buffer. */
  finish(): Uint8Array {
    this.#flush();
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.#chunks) {
      out.set(c, o);
      o += c.byteLength;
    }
    return out;
  }
}

/** An initializer or constant tensor. */
export interface TensorSpec {
  /** Tensor name (empty for attribute values). */
  name: string;
  /**
   * `DataType.FLOAT`, `INT64` or `INT32`; `INT8` with an Int8Array;
   * `FLOAT16` with the half-precision bit patterns in a Uint16Array.
   */
  dataType: number;
  /** Dimensions. */
  dims: number[];
  /** Values; written little-endian into `raw_data`. */
  data: Float32Array | BigInt64Array | Int32Array | Int8Array | Uint16Array;
}

/** An attribute value; the type is inferred unless given. */
export type AttributeValue =
  | number
  | string
  | number[]
  | string[]
  | TensorSpec
  | { type: "float" | "floats" | "int" | "ints"; value: number | number[] };

/** A graph node. */
export interface NodeSpec {
  /** Operator name, e.g. `"Conv"`. */
  opType: string;
  /** Input tensor names (`""` for an omitted optional input). */
  inputs: string[];
  /** Output tensor names. */
  outputs: string[];
  /** Node name (unique in the graph). */
  name?: string;
  /** Operator domain; empty for the default ONNX domain. */
  domain?: string;
  /** Attributes by name. */
  attributes?: Record<string, AttributeValue>;
}

/** A graph input or output: float32 tensor with fixed or named dims. */
export interface ValueInfoSpec {
  /** Tensor name. */
  name: string;
  /** Element type (`DataType.FLOAT` by default). */
  elemType?: number;
  /** Dimensions: a number, or a string for a symbolic (dynamic) dim. */
  shape: (number | string)[];
  /** Free text. */
  docString?: string;
}

/** A whole graph. */
export interface GraphSpec {
  /** Graph name. */
  name: string;
  /** Nodes in topological order. */
  nodes: NodeSpec[];
  /** Constant tensors (weights). */
  initializers: TensorSpec[];
  /** Graph inputs (not including initializers). */
  inputs: ValueInfoSpec[];
  /** Graph outputs. */
  outputs: ValueInfoSpec[];
  /** Free text. */
  docString?: string;
}

/** A whole model. */
export interface ModelSpec {
  /** The graph. */
  graph: GraphSpec;
  /** ModelProto.producer_name. */
  producerName: string;
  /** ModelProto.producer_version. */
  producerVersion?: string;
  /** ModelProto.domain. */
  domain?: string;
  /** ModelProto.model_version. */
  modelVersion?: number;
  /** ModelProto.doc_string. */
  docString?: string;
  /** IR version (default {@link IR_VERSION}). */
  irVersion?: number;
  /** Opsets (default: the ONNX domain at {@link OPSET_VERSION}). */
  opsets?: { domain: string; version: number }[];
  /** ModelProto.metadata_props. */
  metadata?: Record<string, string>;
}

function bytesOf(data: TensorSpec["data"]): Uint8Array {
  // raw_data is little-endian; so are the typed arrays on every platform
  // Deno runs on, but check once rather than assume.
  if (!LITTLE_ENDIAN) {
    const out = new Uint8Array(data.byteLength);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < data.length; i++) {
      if (data instanceof BigInt64Array) dv.setBigInt64(i * 8, data[i], true);
      else if (data instanceof Int32Array) dv.setInt32(i * 4, data[i], true);
      else if (data instanceof Int8Array) dv.setInt8(i, data[i]);
      else if (data instanceof Uint16Array) dv.setUint16(i * 2, data[i], true);
      else dv.setFloat32(i * 4, data[i], true);
    }
    return out;
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Encodes a TensorProto (dims = 1, data_type = 2, name = 8, raw_data = 9).
 *
 * @example
 * ```ts
 * import { DataType, encodeTensor } from "./proto.ts";
 * const t = encodeTensor({ name: "w", dataType: DataType.FLOAT, dims: [1], data: new Float32Array([1]) });
 * console.log(t.finish().length); // 13
 * ```
 */
export function encodeTensor(t: TensorSpec): ProtoWriter {
  const size = t.dims.reduce((a, b) => a * b, 1);
  if (size !== t.data.length) {
    throw new Error(`tensor ${t.name}: dims [${t.dims}] need ${size} values, got ${t.data.length}`);
  }
  const w = new ProtoWriter();
  for (const d of t.dims) w.uint(1, d);
  w.uint(2, t.dataType);
  if (t.name) w.string(8, t.name);
  w.bytes(9, bytesOf(t.data));
  return w;
}

/**
 * Encodes an AttributeProto (name = 1, f = 2, i = 3, s = 4, t = 5,
 * floats = 7, ints = 8, strings = 9, type = 20).
 *
 * @example
 * ```ts
 * import { encodeAttribute } from "./proto.ts";
 * console.log(encodeAttribute("axis", 1).finish()); // Uint8Array(11) [10, 4, 97, 120, 105, 115, 24, 1, 160, 1, 2]
 * ```
 */
export function encodeAttribute(name: string, value: AttributeValue): ProtoWriter {
  const w = new ProtoWriter();
  w.string(1, name);
  if (typeof value === "number") {
    if (!Number.isInteger(value)) {
      throw new Error(`attribute ${name}: ${value} is not an integer (use {type: "float"})`);
    }
    w.uint(3, value).uint(20, AttributeType.INT);
  } else if (typeof value === "string") {
    w.string(4, value).uint(20, AttributeType.STRING);
  } else if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === "string") {
      for (const s of value as string[]) w.string(9, s);
      w.uint(20, AttributeType.STRINGS);
    } else {
      for (const i of value as number[]) w.uint(8, i);
      w.uint(20, AttributeType.INTS);
    }
  } else if ("dataType" in value) {
    w.message(5, encodeTensor(value)).uint(20, AttributeType.TENSOR);
  } else if (value.type === "float") {
    w.float(2, value.value as number).uint(20, AttributeType.FLOAT);
  } else if (value.type === "floats") {
    for (const f of value.value as number[]) w.float(7, f);
    w.uint(20, AttributeType.FLOATS);
  } else if (value.type === "int") {
    w.uint(3, value.value as number).uint(20, AttributeType.INT);
  } else {
    for (const i of value.value as number[]) w.uint(8, i);
    w.uint(20, AttributeType.INTS);
  }
  return w;
}

/**
 * Encodes a NodeProto (input = 1, output = 2, name = 3, op_type = 4,
 * attribute = 5, domain = 7).
 *
 * @example
 * ```ts
 * import { encodeNode } from "./proto.ts";
 * const n = encodeNode({ opType: "Relu", inputs: ["x"], outputs: ["y"] });
 * console.log(n.finish().length); // 12
 * ```
 */
export function encodeNode(n: NodeSpec): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const [k, v] of Object.entries(n.attributes ?? {})) {
    w.message(5, encodeAttribute(k, v));
  }
  if (n.domain) w.string(7, n.domain);
  return w;
}

/**
 * Encodes a ValueInfoProto (name = 1, type = 2, doc_string = 3) with a
 * TypeProto.tensor_type (1) of elem_type (1) and shape (2); each
 * TensorShapeProto.dim (1) has dim_value (1) or dim_param (2).
 *
 * @example
 * ```ts
 * import { encodeValueInfo } from "./proto.ts";
 * const v = encodeValueInfo({ name: "x", shape: ["N", 3] });
 * console.log(v.finish().length > 0); // true
 * ```
 */
export function encodeValueInfo(v: ValueInfoSpec): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) {
    const dim = new ProtoWriter();
    if (typeof d === "number") dim.uint(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  const tensor = new ProtoWriter().uint(1, v.elemType ?? DataType.FLOAT).message(2, shape);
  const type = new ProtoWriter().message(1, tensor);
  const w = new ProtoWriter().string(1, v.name).message(2, type);
  if (v.docString) w.string(3, v.docString);
  return w;
}

/**
 * Encodes a GraphProto (node = 1, name = 2, initializer = 5,
 * doc_string = 10, input = 11, output = 12).
 *
 * @example
 * ```ts
 * import { encodeGraph } from "./proto.ts";
 * const g = encodeGraph({
 *   name: "g",
 *   nodes: [{ opType: "Relu", inputs: ["x"], outputs: ["y"] }],
 *   initializers: [],
 *   inputs: [{ name: "x", shape: [1] }],
 *   outputs: [{ name: "y", shape: [1] }],
 * });
 * console.log(g.length > 0); // true
 * ```
 */
export function encodeGraph(g: GraphSpec): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, encodeTensor(t));
  if (g.docString) w.string(10, g.docString);
  for (const i of g.inputs) w.message(11, encodeValueInfo(i));
  for (const o of g.outputs) w.message(12, encodeValueInfo(o));
  return w;
}

/**
 * Encodes a ModelProto (ir_version = 1, producer_name = 2,
 * producer_version = 3, domain = 4, model_version = 5, doc_string = 6,
 * graph = 7, opset_import = 8 as OperatorSetIdProto {domain = 1,
 * version = 2}, metadata_props = 14 as StringStringEntryProto {key = 1,
 * value = 2}) into the bytes of an `.onnx` file.
 *
 * @example
 * ```ts
 * import { encodeModel } from "./proto.ts";
 * const bytes = encodeModel({
 *   producerName: "facekit",
 *   graph: {
 *     name: "g",
 *     nodes: [{ opType: "Relu", inputs: ["x"], outputs: ["y"] }],
 *     initializers: [],
 *     inputs: [{ name: "x", shape: ["N", 4] }],
 *     outputs: [{ name: "y", shape: ["N", 4] }],
 *   },
 * });
 * console.log(bytes[0]); // 8 (field 1, varint: ir_version)
 * ```
 */
export function encodeModel(m: ModelSpec): Uint8Array {
  const w = new ProtoWriter();
  w.uint(1, m.irVersion ?? IR_VERSION);
  w.string(2, m.producerName);
  if (m.producerVersion) w.string(3, m.producerVersion);
  if (m.domain) w.string(4, m.domain);
  if (m.modelVersion !== undefined) w.uint(5, m.modelVersion);
  if (m.docString) w.string(6, m.docString);
  w.message(7, encodeGraph(m.graph));
  for (const o of m.opsets ?? [{ domain: "", version: OPSET_VERSION }]) {
    const op = new ProtoWriter();
    if (o.domain) op.string(1, o.domain);
    op.uint(2, o.version);
    w.message(8, op);
  }
  for (const [k, v] of Object.entries(m.metadata ?? {})) {
    w.message(14, new ProtoWriter().string(1, k).string(2, v));
  }
  return w.finish();
}
