/**
 * Seeded pseudo-random numbers, so that shuffling, augmentation and weight
 * initialisation are reproducible for a given `--seed`.
 *
 * @module
 */

/** A seeded random source: `next()` gives a uniform number in [0, 1). */
export interface Rng {
  /** Uniform number in [0, 1). */
  next(): number;
  /** Uniform number in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Standard normal number (Box-Muller). */
  normal(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** The generator's state, to save with a checkpoint. */
  state(): number;
}

/**
 * Creates a small, fast seeded generator (mulberry32).
 *
 * @example
 * ```ts
 * import { createRng } from "./random.ts";
 * const rng = createRng(42);
 * const a = rng.next();
 * console.log(a >= 0 && a < 1); // true
 * ```
 */
export function createRng(seed: number): Rng {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    normal: () => {
      const u = Math.max(next(), 1e-12);
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    int: (n) => Math.floor(next() * n),
    state: () => s,
  };
}

/**
 * Shuffles an array in place (Fisher-Yates) with a seeded generator.
 *
 * @example
 * ```ts
 * import { createRng, shuffle } from "./random.ts";
 * const order = shuffle([0, 1, 2, 3], createRng(1));
 * console.log(order.length); // 4
 * ```
 */
export function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
