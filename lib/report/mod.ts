/**
 * Pictures of runs: charts, loss curves, keypoint overlays and grids.
 *
 * @module
 */

export * from "./pictures.ts";
export * from "./plot.ts";
