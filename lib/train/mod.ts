/**
 * The training loop, batch sources of keypoint samples, and data-parallel training in
 * Deno Workers.
 *
 * @module
 */

export * from "./data_parallel.ts";
export * from "./keypoint_source.ts";
export * from "./bn_recalibrate.ts";
export * from "./loop.ts";
export * from "./weight_ema.ts";
