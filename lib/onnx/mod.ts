/**
 * ONNX export with no Python: our own protobuf encoder and the tfjs layers to ONNX
 * converter.
 *
 * @module
 */

export * from "./compress.ts";
export * from "./convert.ts";
export * from "./export.ts";
export * from "./heatmap_onnx.ts";
export * from "./proto.ts";
