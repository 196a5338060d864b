/**
 * Data augmentation shared by every part: a random affine map (rotation,
 * scale, translation, optional mirror) applied to the image and, by the same
 * matrix, to the keypoints; colour jitter; and a correct horizontal flip
 * that swaps left/right points using the layout's flip map.
 *
 * @module
 */

import {
  aboutCentre,
  type Affine,
  chain,
  rotation,
  scaling,
  transformPoints,
  translation,
} from "../image/affine.ts";
import type { Rng } from "../util/random.ts";
import { type FloatImage, warpAffine } from "../image/raster.ts";
import { DEFAULT_DEGRADE, type DegradeOptions } from "./degrade.ts";
import { DEFAULT_HAND, type HandOptions } from "./hand_occlusion.ts";

/** Ranges of the random transformations. */
export interface AugmentOptions {
  /** Maximum rotation in degrees (uniform in ±). Default 15. */
  rotationDeg: number;
  /** Maximum translation as a fraction of width/height. Default 0.1. */
  translate: number;
  /** Scale range. Default [0.9, 1.1]. */
  scale: [number, number];
  /** Probability of a horizontal flip. Default 0.5. */
  flipProb: number;
  /** Maximum brightness shift as a fraction of 255. Default 0.2. */
  brightness: number;
  /** Maximum relative contrast change. Default 0.3. */
  contrast: number;
  /** Maximum relative saturation change (colour images only). Default 0.3. */
  saturation: number;
  /**
   * When set, the rotation is normal with this standard deviation (degrees),
   * clipped to ±`rotationDeg`, instead of uniform: mostly upright faces with
   * a tail of strongly tilted ones, as in photos.
   */
  rotationSd?: number;
  /** Occlusion, blur and noise after the colour jitter (none when absent). */
  degrade?: DegradeOptions;
  /** Synthetic hands over the face, drawn from its keypoints (none when absent). */
  hand?: HandOptions;
}

/** The defaults: ±15°, ±10 %, scale 0.9-1.1, flip 50 %, mild jitter. */
export const DEFAULT_AUGMENT: AugmentOptions = {
  rotationDeg: 15,
  translate: 0.1,
  scale: [0.9, 1.1],
  flipProb: 0.5,
  brightness: 0.2,
  contrast: 0.3,
  saturation: 0.3,
};

/**
 * The heavy preset for faces in the wild: rotation N(0, 12°) clipped to
 * ±30°, scale 0.8-1.2, flip 50 %, stronger colour jitter, and occluding
 * patches, blur and noise ({@link DEFAULT_DEGRADE}).
 *
 * @example
 * ```ts
 * import { HEAVY_AUGMENT } from "./augment.ts";
 * console.log(HEAVY_AUGMENT.rotationDeg); // 30
 * ```
 */
export const HEAVY_AUGMENT: AugmentOptions = {
  rotationDeg: 30,
  rotationSd: 12,
  translate: 0.1,
  scale: [0.8, 1.2],
  flipProb: 0.5,
  brightness: 0.25,
  contrast: 0.4,
  saturation: 0.3,
  degrade: DEFAULT_DEGRADE,
};

/**
 * The default geometry and colour jitter plus occluding patches, blur and
 * noise ({@link DEFAULT_DEGRADE}): robustness to hands, hair and poor
 * photos without the heavy preset's stronger rotations and scales (a
 * fine-tuning stage keeps the geometry the model was trained on).
 *
 * @example
 * ```ts
 * import { DEGRADE_AUGMENT } from "./augment.ts";
 * console.log(DEGRADE_AUGMENT.rotationDeg, DEGRADE_AUGMENT.degrade !== undefined); // 15 true
 * ```
 */
export const DEGRADE_AUGMENT: AugmentOptions = {
  ...DEFAULT_AUGMENT,
  degrade: DEFAULT_DEGRADE,
};

/**
 * The default geometry and colour jitter plus a synthetic hand over a
 * quarter of the faces ({@link DEFAULT_HAND}): fingers textured with the
 * face's own skin, mostly over the mouth, chin and jaw.
 *
 * @example
 * ```ts
 * import { HANDS_AUGMENT } from "./augment.ts";
 * console.log(HANDS_AUGMENT.hand?.prob); // 0.25
 * ```
 */
export const HANDS_AUGMENT: AugmentOptions = {
  ...DEFAULT_AUGMENT,
  hand: DEFAULT_HAND,
};

/**
 * Names of the augmentation presets (`--aug`).
 *
 * @example
 * ```ts
 * import { AUGMENT_PRESETS } from "./augment.ts";
 * console.log(AUGMENT_PRESETS.join("|")); // default|heavy|degrade|hands
 * ```
 */
export const AUGMENT_PRESETS = ["default", "heavy", "degrade", "hands"] as const;

/** A preset name, one of {@link AUGMENT_PRESETS}. */
export type AugmentPreset = typeof AUGMENT_PRESETS[number];

/**
 * The options of a preset by name.
 *
 * @example
 * ```ts
 * import { augmentPreset } from "./augment.ts";
 * console.log(augmentPreset("heavy").rotationDeg); // 30
 * ```
 */
export function augmentPreset(name: AugmentPreset): AugmentOptions {
  const presets = {
    default: DEFAULT_AUGMENT,
    heavy: HEAVY_AUGMENT,
    degrade: DEGRADE_AUGMENT,
    hands: HANDS_AUGMENT,
  };
  if (!Object.hasOwn(presets, name)) {
    throw new Error(
      `unknown augmentation preset "${name}" (use ${AUGMENT_PRESETS.join(", ")})`,
    );
  }
  return presets[name];
}

/**
 * Mirror about the vertical centre line of a `width`-wide image, in
 * continuous coordinates.
 *
 * @example
 * ```ts
 * import { mirrorX } from "./augment.ts";
 * console.log(mirrorX(10)); // [-1, 0, 10, 0, 1, 0]
 * ```
 */
export function mirrorX(width: number): Affine {
  return [-1, 0, width, 0, 1, 0];
}

/**
 * Reorders interleaved points so that point `i` takes the coordinates of
 * point `flip[i]` (the left/right swap after a mirror).
 *
 * @example
 * ```ts
 * import { permutePoints } from "./augment.ts";
 * console.log(permutePoints([1, 1, 2, 2], [1, 0])); // Float32Array [2, 2, 1, 1]
 * ```
 */
export function permutePoints(
  points: ArrayLike<number>,
  flip: number[],
): Float32Array {
  if (points.length !== flip.length * 2) {
    throw new Error(
      `flip map has ${flip.length} points, keypoints have ${points.length / 2}`,
    );
  }
  const out = new Float32Array(points.length);
  for (let i = 0; i < flip.length; i++) {
    out[2 * i] = points[2 * flip[i]];
    out[2 * i + 1] = points[2 * flip[i] + 1];
  }
  return out;
}

/**
 * Horizontally flips an image and its keypoints (pixel-centre coordinates),
 * swapping left/right points with the flip map.
 *
 * @example
 * ```ts
 * import { flipHorizontal } from "./augment.ts";
 * const img = { data: new Float32Array([1, 2]), width: 2, height: 1, channels: 1 };
 * const out = flipHorizontal(img, [0, 0], [0]);
 * console.log(out.image.data, out.points); // Float32Array [2, 1] Float32Array [1, 0]
 * ```
 */
export function flipHorizontal(
  image: FloatImage,
  points: ArrayLike<number>,
  flip: number[],
): { image: FloatImage; points: Float32Array } {
  const m = mirrorX(image.width);
  return {
    image: warpAffine(image, m, image.width, image.height),
    points: permutePoints(transformPoints(m, points), flip),
  };
}

/** A drawn random transformation. */
export interface AffineDraw {
  /** The map from input to output continuous coordinates. */
  matrix: Affine;
  /** Whether it includes a mirror (points must then be re-paired). */
  flipped: boolean;
}

/**
 * Draws a random affine map about the image centre.
 *
 * @example
 * ```ts
 * import { randomAffine, DEFAULT_AUGMENT } from "./augment.ts";
 * import { createRng } from "../util/random.ts";
 * const d = randomAffine(createRng(1), 160, 120, DEFAULT_AUGMENT);
 * console.log(d.matrix.length); // 6
 * ```
 */
export function randomAffine(
  rng: Rng,
  width: number,
  height: number,
  opts: AugmentOptions,
): AffineDraw {
  const deg = opts.rotationSd === undefined
    ? rng.uniform(-opts.rotationDeg, opts.rotationDeg)
    : Math.max(-opts.rotationDeg, Math.min(opts.rotationDeg, rng.normal() * opts.rotationSd));
  const angle = deg * Math.PI / 180;
  const s = rng.uniform(opts.scale[0], opts.scale[1]);
  const tx = rng.uniform(-opts.translate, opts.translate) * width;
  const ty = rng.uniform(-opts.translate, opts.translate) * height;
  const flipped = rng.next() < opts.flipProb;
  const centred = aboutCentre(
    chain(scaling(s, s), rotation(angle)),
    width / 2,
    height / 2,
  );
  const parts: Affine[] = [];
  if (flipped) parts.push(mirrorX(width));
  parts.push(centred, translation(tx, ty));
  return { matrix: chain(...parts), flipped };
}

/**
 * Applies a drawn map to an image and its points, keeping the size; when it
 * mirrors, points are re-paired with `flip`.
 *
 * @example
 * ```ts
 * import { applyAffineDraw } from "./augment.ts";
 * const img = { data: new Float32Array(4), width: 2, height: 2, channels: 1 };
 * const out = applyAffineDraw(img, [0, 0], { matrix: [1, 0, 0, 0, 1, 0], flipped: false }, [0]);
 * console.log(out.points); // Float32Array [0, 0]
 * ```
 */
export function applyAffineDraw(
  image: FloatImage,
  points: ArrayLike<number>,
  draw: AffineDraw,
  flip: number[],
): { image: FloatImage; points: Float32Array } {
  const warped = warpAffine(image, draw.matrix, image.width, image.height);
  let pts = transformPoints(draw.matrix, points);
  if (draw.flipped) pts = permutePoints(pts, flip);
  return { image: warped, points: pts };
}

/**
 * Random brightness, contrast and (for RGB) saturation, in place on a copy;
 * values are clamped to 0..255.
 *
 * @example
 * ```ts
 * import { colourJitter, DEFAULT_AUGMENT } from "./augment.ts";
 * import { createRng } from "../util/random.ts";
 * const img = { data: new Float32Array([10, 200]), width: 2, height: 1, channels: 1 };
 * console.log(colourJitter(img, createRng(3), DEFAULT_AUGMENT).data.length); // 2
 * ```
 */
export function colourJitter(
  image: FloatImage,
  rng: Rng,
  opts: AugmentOptions,
): FloatImage {
  const data = new Float32Array(image.data);
  const ch = image.channels;
  const n = image.width * image.height;
  const shift = rng.uniform(-opts.brightness, opts.brightness) * 255;
  const contrast = 1 + rng.uniform(-opts.contrast, opts.contrast);
  const saturation = 1 + rng.uniform(-opts.saturation, opts.saturation);
  let mean = 0;
  for (let i = 0; i < data.length; i++) mean += data[i];
  mean /= Math.max(1, data.length);
  for (let p = 0; p < n; p++) {
    if (ch === 3) {
      const o = p * 3;
      const gray = 0.299 * data[o] + 0.587 * data[o + 1] + 0.114 * data[o + 2];
      for (let c = 0; c < 3; c++) {
        data[o + c] = gray + (data[o + c] - gray) * saturation;
      }
    }
    for (let c = 0; c < ch; c++) {
      const o = p * ch + c;
      const v = (data[o] - mean) * contrast + mean + shift;
      data[o] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { ...image, data };
}

/**
 * The full training augmentation: random affine (with flip) then colour
 * jitter.
 *
 * @example
 * ```ts
 * import { augment, DEFAULT_AUGMENT } from "./augment.ts";
 * import { createRng } from "../util/random.ts";
 * const img = { data: new Float32Array(16 * 12), width: 16, height: 12, channels: 1 };
 * const out = augment(img, [8, 6], [0], createRng(1), DEFAULT_AUGMENT);
 * console.log(out.points.length); // 2
 * ```
 */
export function augment(
  image: FloatImage,
  points: ArrayLike<number>,
  flip: number[],
  rng: Rng,
  opts: AugmentOptions,
): { image: FloatImage; points: Float32Array } {
  const draw = randomAffine(rng, image.width, image.height, opts);
  const out = applyAffineDraw(image, points, draw, flip);
  return { image: colourJitter(out.image, rng, opts), points: out.points };
}
