/**
 * A synthetic hand over the face: two to four parallel fingers and a palm,
 * textured with the face's own skin and darkened towards their rims so that
 * each finger has the edges a real one has. The net's worst failures on
 * 300-W are faces with a hand over the mouth, whose finger edges it reads as
 * lips and jaw; grey or noise rectangles (`degrade.ts`) do not look like
 * that. Keypoints are unchanged: a covered point keeps its true position.
 *
 * @module
 */

import type { FloatImage } from "../image/raster.ts";
import type { Rng } from "../util/random.ts";

/** How often and how large the synthetic hands are. */
export interface HandOptions {
  /** Probability that a face gets a hand. */
  prob: number;
  /** Fewest and most fingers. */
  fingers: [number, number];
  /** Finger width range as a fraction of the face width (the points' extent). */
  fingerWidth: [number, number];
  /** Finger length range as a fraction of the face width. */
  fingerLength: [number, number];
}

/** The hands of the `hands` augmentation preset. */
export const DEFAULT_HAND: HandOptions = {
  prob: 0.25,
  fingers: [2, 4],
  fingerWidth: [0.11, 0.18],
  fingerLength: [0.3, 0.55],
};

/** One finger: a capsule around the segment from `tip` to `base`. */
export interface Finger {
  /** The fingertip end of the centre line (pixels). */
  tip: [number, number];
  /** The other end of the centre line (pixels). */
  base: [number, number];
  /** Capsule radius in pixels. */
  radius: number;
}

/** A drawn hand: its fingers, its palm and where its texture comes from. */
export interface HandShape {
  /** The fingers. */
  fingers: Finger[];
  /** The palm: a disc behind the fingers' bases. */
  palm: { centre: [number, number]; radius: number };
  /** Texture offset: a hand pixel (x, y) shows the image at (x + dx, y + dy). */
  offset: [number, number];
  /** Brightness gain of the texture. */
  gain: number;
}

function extent(points: ArrayLike<number>): { cx: number; cy: number; width: number } {
  let x0 = Infinity, x1 = -Infinity, cx = 0, cy = 0;
  const n = points.length / 2;
  for (let i = 0; i < n; i++) {
    const x = points[2 * i], y = points[2 * i + 1];
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    cx += x;
    cy += y;
  }
  return { cx: cx / n, cy: cy / n, width: x1 - x0 };
}

/**
 * Draws a hand for a face with keypoints `points` (interleaved x, y): the
 * fingertips lie on one of the points (seven times in ten one below the
 * points' centroid, that is the mouth, chin or jaw of an upright face),
 * the fingers point outwards from the centroid within ±90°, and the
 * texture comes from the face between its centroid and another point.
 *
 * @example
 * ```ts
 * import { drawHand, DEFAULT_HAND } from "./hand_occlusion.ts";
 * import { createRng } from "../util/random.ts";
 * const pts = [30, 40, 70, 40, 50, 60, 35, 80, 65, 80];
 * const hand = drawHand(pts, createRng(1), DEFAULT_HAND);
 * console.log(hand.fingers.length >= 2 && hand.fingers.length <= 4); // true
 * ```
 */
export function drawHand(points: ArrayLike<number>, rng: Rng, opts: HandOptions): HandShape {
  const n = points.length / 2;
  if (n < 2 || points.length % 2 !== 0) {
    throw new Error(`a hand needs at least 2 keypoints (x, y pairs), got ${points.length} values`);
  }
  const { cx, cy, width } = extent(points);
  const lower: number[] = [];
  for (let i = 0; i < n; i++) if (points[2 * i + 1] > cy) lower.push(i);
  const pick = lower.length > 0 && rng.next() < 0.7 ? lower[rng.int(lower.length)] : rng.int(n);
  const tx = points[2 * pick], ty = points[2 * pick + 1];
  const outward = Math.hypot(tx - cx, ty - cy) > 1e-6
    ? Math.atan2(ty - cy, tx - cx)
    : rng.uniform(-Math.PI, Math.PI);
  const angle = outward + rng.uniform(-Math.PI / 2, Math.PI / 2);
  const ux = Math.cos(angle), uy = Math.sin(angle);
  const count = opts.fingers[0] + rng.int(opts.fingers[1] - opts.fingers[0] + 1);
  const fw = rng.uniform(opts.fingerWidth[0], opts.fingerWidth[1]) * width;
  const length = rng.uniform(opts.fingerLength[0], opts.fingerLength[1]) * width;
  const fingers: Finger[] = [];
  for (let k = 0; k < count; k++) {
    const across = (k - (count - 1) / 2) * fw;
    const back = rng.uniform(0, 0.4) * fw;
    const sx = tx - uy * across + ux * back, sy = ty + ux * across + uy * back;
    const len = length * rng.uniform(0.8, 1.1);
    fingers.push({
      tip: [sx, sy],
      base: [sx + ux * len, sy + uy * len],
      radius: fw * 0.47,
    });
  }
  const palmR = 0.55 * count * fw;
  const palm = {
    centre: [tx + ux * (length + 0.8 * palmR), ty + uy * (length + 0.8 * palmR)] as [
      number,
      number,
    ],
    radius: palmR,
  };
  const q = rng.int(n);
  const srcX = cx + 0.5 * (points[2 * q] - cx), srcY = cy + 0.5 * (points[2 * q + 1] - cy);
  return {
    fingers,
    palm,
    offset: [srcX - tx, srcY - ty],
    gain: rng.uniform(0.75, 1.25),
  };
}

function segmentDistance(px: number, py: number, f: Finger): number {
  const [ax, ay] = f.tip, [bx, by] = f.base;
  const vx = bx - ax, vy = by - ay;
  const l2 = vx * vx + vy * vy;
  const t = l2 > 0 ? Math.max(0, Math.min(1, ((px - ax) * vx + (py - ay) * vy) / l2)) : 0;
  return Math.hypot(px - ax - t * vx, py - ay - t * vy);
}

/**
 * Paints a drawn hand into a copy of the image. Inside a finger or the palm
 * a pixel shows the image's own texture at the shape's offset times its
 * gain, darkened towards the rim (by up to half at the edge), with a
 * one-pixel soft edge; values stay in 0..255. Pixels outside the hand keep
 * their values.
 *
 * @example
 * ```ts
 * import { paintHand } from "./hand_occlusion.ts";
 * const img = { data: new Float32Array(100).fill(200), width: 10, height: 10, channels: 1 };
 * const out = paintHand(img, {
 *   fingers: [{ tip: [5, 2], base: [5, 8], radius: 2 }],
 *   palm: { centre: [-50, -50], radius: 1 },
 *   offset: [0, 0],
 *   gain: 1,
 * });
 * console.log(out.data[0], out.data[5 * 10 + 5]); // 200 200
 * ```
 */
export function paintHand(image: FloatImage, hand: HandShape): FloatImage {
  const { width: w, height: h, channels: ch } = image;
  const data = new Float32Array(image.data);
  const discs = [
    ...hand.fingers,
    { tip: hand.palm.centre, base: hand.palm.centre, radius: hand.palm.radius },
  ];
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const f of discs) {
    x0 = Math.min(x0, f.tip[0] - f.radius, f.base[0] - f.radius);
    x1 = Math.max(x1, f.tip[0] + f.radius, f.base[0] + f.radius);
    y0 = Math.min(y0, f.tip[1] - f.radius, f.base[1] - f.radius);
    y1 = Math.max(y1, f.tip[1] + f.radius, f.base[1] + f.radius);
  }
  const [dx, dy] = hand.offset;
  for (let y = Math.max(0, Math.floor(y0)); y < Math.min(h, Math.ceil(y1) + 1); y++) {
    for (let x = Math.max(0, Math.floor(x0)); x < Math.min(w, Math.ceil(x1) + 1); x++) {
      // the deepest inside any part: depth 0 at the rim, 1 on the centre line
      let depth = 0, alpha = 0;
      for (const f of discs) {
        const d = segmentDistance(x + 0.5, y + 0.5, f);
        if (d >= f.radius + 0.5) continue;
        const dep = Math.max(0, 1 - d / f.radius);
        if (dep >= depth) {
          depth = dep;
          alpha = Math.max(alpha, Math.min(1, f.radius + 0.5 - d));
        }
      }
      if (alpha <= 0) continue;
      const sx = Math.min(w - 1, Math.max(0, Math.round(x + dx)));
      const sy = Math.min(h - 1, Math.max(0, Math.round(y + dy)));
      const t = Math.min(1, depth * 2.5);
      const shade = hand.gain * (1 - 0.5 * (1 - t) * (1 - t));
      for (let c = 0; c < ch; c++) {
        const o = (y * w + x) * ch + c;
        const v = Math.min(255, image.data[(sy * w + sx) * ch + c] * shade);
        data[o] = alpha * v + (1 - alpha) * data[o];
      }
    }
  }
  return { ...image, data };
}

/**
 * With probability `opts.prob`, draws a hand for the face's points and
 * paints it; otherwise returns the image unchanged.
 *
 * @example
 * ```ts
 * import { occludeHand, DEFAULT_HAND } from "./hand_occlusion.ts";
 * import { createRng } from "../util/random.ts";
 * const img = { data: new Float32Array(64 * 64).fill(120), width: 64, height: 64, channels: 1 };
 * const pts = [20, 25, 44, 25, 32, 36, 24, 48, 40, 48];
 * const out = occludeHand(img, pts, createRng(3), { ...DEFAULT_HAND, prob: 1 });
 * console.log(out.width); // 64
 * ```
 */
export function occludeHand(
  image: FloatImage,
  points: ArrayLike<number>,
  rng: Rng,
  opts: HandOptions,
): FloatImage {
  if (rng.next() >= opts.prob) return image;
  return paintHand(image, drawHand(points, rng, opts));
}
