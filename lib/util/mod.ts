/**
 * Small helpers every stage uses: seeded random numbers, base64 chunks to bytes, atomic file writes with
 * clear messages, and the progress bar.
 *
 * @module
 */

export * from "./base64.ts";
export * from "./fs_util.ts";
export * from "./progress.ts";
export * from "./random.ts";
