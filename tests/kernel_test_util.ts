/**
 * Helpers shared by the kernel tests: deterministic data and error measures.
 *
 * @module
 */
import assert from "node:assert/strict";

/** Deterministic uniform values in [-1, 1). */
export function randomData(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Number of elements of a shape. */
export function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** max |actual - expected| / max |expected| (scale floored at 1e-6). */
export function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}
