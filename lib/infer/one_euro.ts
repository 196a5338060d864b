/**
 * The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012): a low-pass
 * filter whose cut-off rises with speed, so still points stop jittering
 * while fast motion keeps little lag.
 *
 * Parameters: `minCutoff` (Hz; lower = smoother when still), `beta`
 * (speed coefficient; higher = less lag when moving), `dCutoff` (Hz; the
 * cut-off of the speed estimate). Values are in pixels, time in seconds.
 *
 * @module
 */

/** Parameters of {@linkcode createOneEuro}. */
export interface OneEuroOptions {
  /** Minimum cut-off frequency in Hz (default 1). */
  minCutoff?: number;
  /** Speed coefficient (default 0.05 per px/s). */
  beta?: number;
  /** Cut-off of the derivative in Hz (default 1). */
  dCutoff?: number;
}

/** A One-Euro filter over a vector of values. */
export interface OneEuroFilter {
  /** Filters one sample taken at time `t` (seconds); returns the smoothed values. */
  filter(values: ArrayLike<number>, t: number): Float64Array;
}

const alpha = (cutoff: number, dt: number): number => {
  const tau = 1 / (2 * Math.PI * cutoff);
  return 1 / (1 + tau / dt);
};

/**
 * Creates a One-Euro filter for vectors of a fixed length.
 *
 * @example A constant signal passes unchanged; noise is damped
 * ```ts
 * import { createOneEuro } from "./one_euro.ts";
 * const f = createOneEuro({ minCutoff: 1, beta: 0 });
 * f.filter([10], 0);
 * console.log(f.filter([10], 1 / 30)[0]); // 10
 * ```
 */
export function createOneEuro(options: OneEuroOptions = {}): OneEuroFilter {
  const minCutoff = options.minCutoff ?? 1, beta = options.beta ?? 0.05;
  const dCutoff = options.dCutoff ?? 1;
  let prev: Float64Array | undefined, dprev: Float64Array | undefined, tprev = 0;
  return {
    filter(values, t) {
      if (!prev || values.length !== prev.length || !(t > tprev)) {
        prev = Float64Array.from(values);
        dprev = new Float64Array(values.length);
        tprev = t;
        return Float64Array.from(prev);
      }
      const dt = t - tprev;
      const ad = alpha(dCutoff, dt);
      const out = new Float64Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const d = (values[i] - prev[i]) / dt;
        const ds = ad * d + (1 - ad) * dprev![i];
        dprev![i] = ds;
        const a = alpha(minCutoff + beta * Math.abs(ds), dt);
        out[i] = a * values[i] + (1 - a) * prev[i];
      }
      prev = out;
      tprev = t;
      return Float64Array.from(out);
    },
  };
}
