/**
 * A {@link BatchSource} over labelled samples already at the network's
 * input size: optional augmentation for training, a subset of points
 * (e.g. only the nose tip), normalisation through `preprocess.ts`.
 *
 * @module
 */

import { augment, type AugmentOptions } from "../augment/augment.ts";
import { normaliseImageInto, normalisePoints } from "../augment/preprocess.ts";
import type { Rng } from "../util/random.ts";
import type { Sample } from "../data/sample.ts";
import type { Batch, BatchSource } from "./loop.ts";

/** Options of {@link keypointSource}. */
export interface KeypointSourceOptions {
  /** Indices of the points to predict (default all). */
  points?: number[];
  /** The full layout's flip map (required when augmenting with flips). */
  flip: number[];
  /** Augmentation for training batches, or null for none. */
  augment: AugmentOptions | null;
}

/**
 * Picks some points out of an interleaved array.
 *
 * @example
 * ```ts
 * import { selectPoints } from "./keypoint_source.ts";
 * console.log(selectPoints([0, 1, 2, 3], [1])); // Float32Array [2, 3]
 * ```
 */
export function selectPoints(
  points: ArrayLike<number>,
  indices: number[],
): Float32Array {
  const out = new Float32Array(indices.length * 2);
  indices.forEach((p, i) => {
    out[2 * i] = points[2 * p];
    out[2 * i + 1] = points[2 * p + 1];
  });
  return out;
}

/**
 * Builds a batch source; every sample must already have the same size and
 * channel count.
 *
 * @example
 * ```ts
 * import { keypointSource } from "./keypoint_source.ts";
 * const img = { data: new Float32Array(4), width: 2, height: 2, channels: 1 };
 * const s = { name: "a", group: "1", image: img, points: new Float32Array([0, 0]) };
 * const src = keypointSource([s], [s], { flip: [0], augment: null });
 * console.log(src.valBatch([0]).y); // Float32Array [0.25, 0.25]
 * ```
 */
export function keypointSource(
  train: Sample[],
  val: Sample[],
  opts: KeypointSourceOptions,
): BatchSource {
  const first = train[0] ?? val[0];
  if (!first) throw new Error("no samples to train or validate on");
  const { width, height, channels } = first.image;
  for (const s of [...train, ...val]) {
    if (
      s.image.width !== width || s.image.height !== height ||
      s.image.channels !== channels
    ) {
      throw new Error(
        `${s.name}: image is ${s.image.width}x${s.image.height}x${s.image.channels}, ` +
          `expected ${width}x${height}x${channels}`,
      );
    }
  }
  const nAll = first.points.length / 2;
  const points = opts.points ?? Array.from({ length: nAll }, (_, i) => i);
  const pixels = width * height * channels;
  const outputs = points.length * 2;

  const build = (
    items: Sample[],
    indices: number[],
    rng: Rng | null,
  ): Batch => {
    const x = new Float32Array(indices.length * pixels);
    const y = new Float32Array(indices.length * outputs);
    indices.forEach((idx, k) => {
      const s = items[idx];
      let image = s.image, pts: ArrayLike<number> = s.points;
      if (rng && opts.augment) {
        const out = augment(image, pts, opts.flip, rng, opts.augment);
        image = out.image;
        pts = out.points;
      }
      normaliseImageInto(image, x, k * pixels);
      y.set(
        normalisePoints(selectPoints(pts, points), width, height),
        k * outputs,
      );
    });
    return { x, y, size: indices.length };
  };
  return {
    inputShape: [height, width, channels],
    outputs,
    trainSize: train.length,
    valSize: val.length,
    trainBatch: (indices, rng) => build(train, indices, rng),
    valBatch: (indices) => build(val, indices, null),
  };
}
