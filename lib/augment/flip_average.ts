/**
 * Test-time flip averaging: a batch of network inputs gets a mirrored copy,
 * and the points read from the mirrored crops are mirrored back, re-paired
 * with the layout's flip map and averaged with the direct reading. Inference
 * (`--flip`), evaluation and the distillation teacher share these two steps.
 *
 * @module
 */

/**
 * Copies the `h x w x c` image at offset `from` of `x` to offset `to`,
 * mirrored left-right (HWC floats; the two regions must not overlap).
 *
 * @example
 * ```ts
 * import { mirrorImageInto } from "./flip_average.ts";
 * const x = new Float32Array([1, 2, 3, 0, 0, 0]);
 * mirrorImageInto(x, 0, 3, 3, 1, 1);
 * console.log(x); // Float32Array [1, 2, 3, 3, 2, 1]
 * ```
 */
export function mirrorImageInto(
  x: Float32Array,
  from: number,
  to: number,
  w: number,
  h: number,
  c: number,
): void {
  for (let y = 0; y < h; y++) {
    for (let col = 0; col < w; col++) {
      const s = from + (y * w + col) * c, d = to + (y * w + w - 1 - col) * c;
      for (let k = 0; k < c; k++) x[d + k] = x[s + k];
    }
  }
}

/**
 * A batch of `n` HWC images followed by their mirrored copies (`2n` images).
 *
 * @example
 * ```ts
 * import { withMirrored } from "./flip_average.ts";
 * console.log(withMirrored(new Float32Array([1, 2]), 1, 2, 1, 1)); // Float32Array [1, 2, 2, 1]
 * ```
 */
export function withMirrored(
  x: Float32Array,
  n: number,
  w: number,
  h: number,
  c: number,
): Float32Array {
  const size = w * h * c;
  if (x.length !== n * size) {
    throw new Error(`batch has ${x.length} values, expected ${n} x ${w}x${h}x${c}`);
  }
  const out = new Float32Array(2 * n * size);
  out.set(x);
  for (let i = 0; i < n; i++) mirrorImageInto(out, i * size, (n + i) * size, w, h, c);
  return out;
}

/**
 * Averages one face's direct points `direct` (interleaved x, y as fractions
 * of the crop, pixel-centre convention) with the points `mirrored` read from
 * the mirrored crop: those are mirrored back (`x -> 1 - x`) and re-paired
 * with `flip` first.
 *
 * @example
 * ```ts
 * import { flipAveragePoints } from "./flip_average.ts";
 * // Two points that swap under a mirror; the mirrored reading agrees exactly.
 * console.log(flipAveragePoints([0.2, 0.5, 0.8, 0.5], [0.2, 0.5, 0.8, 0.5], [1, 0]));
 * // ~[0.2, 0.5, 0.8, 0.5] (float32)
 * ```
 */
export function flipAveragePoints(
  direct: ArrayLike<number>,
  mirrored: ArrayLike<number>,
  flip: number[],
): Float32Array {
  const k = flip.length;
  if (direct.length !== 2 * k || mirrored.length !== 2 * k) {
    throw new Error(
      `flip map has ${k} points, the readings have ${direct.length / 2} and ${mirrored.length / 2}`,
    );
  }
  const out = new Float32Array(2 * k);
  for (let j = 0; j < k; j++) {
    const m = flip[j];
    out[2 * j] = (direct[2 * j] + 1 - mirrored[2 * m]) / 2;
    out[2 * j + 1] = (direct[2 * j + 1] + mirrored[2 * m + 1]) / 2;
  }
  return out;
}

/**
 * Flip-averages a whole batch of predictions `pred` laid out as `n` direct
 * readings followed by `n` mirrored ones (the output of a model run on
 * `withMirrored`): `n` averaged readings.
 *
 * @example
 * ```ts
 * import { flipAverageBatch } from "./flip_average.ts";
 * const pred = new Float32Array([0.3, 0.5, 0.7, 0.5]); // one 1-point face, then its mirror
 * console.log(flipAverageBatch(pred, 1, [0])); // ~[0.3, 0.5] (float32)
 * ```
 */
export function flipAverageBatch(pred: Float32Array, n: number, flip: number[]): Float32Array {
  const per = 2 * flip.length;
  if (pred.length !== 2 * n * per) {
    throw new Error(
      `${pred.length} values are not ${n} faces and their mirrors of ${per / 2} points`,
    );
  }
  const out = new Float32Array(n * per);
  for (let i = 0; i < n; i++) {
    out.set(
      flipAveragePoints(
        pred.subarray(i * per, (i + 1) * per),
        pred.subarray((n + i) * per, (n + i + 1) * per),
        flip,
      ),
      i * per,
    );
  }
  return out;
}
