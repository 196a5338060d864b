/**
 * tfjs backends: choice (`auto` by measurement), WebGPU guards, cpu fixes, our wasm
 * training kernels and fused Adam, and the gradient self-check.
 *
 * @module
 */

export * from "./backend.ts";
export * from "./cpu_kernels.ts";
export * from "./optimizer.ts";
export * from "./self_check.ts";
export * from "./synthetic_step.ts";
export * from "./wasm_adam.ts";
export * from "./wasm_kernels.ts";
export * from "./wasm_simd_kernels.ts";
export * from "./wasm_source.ts";
export * from "./webgpu.ts";
export * from "./gpu_adapter.ts";
