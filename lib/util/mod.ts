/**
 * Small helpers every stage uses: seeded random numbers, atomic file writes with
 * clear messages, and the progress bar.
 *
 * @module
 */

export * from "./fs_util.ts";
export * from "./progress.ts";
export * from "./random.ts";
