/**
 * Named regions of the 68-point (iBUG 300-W) layout and the measures people
 * compute from them: eye aspect ratio (blinks), mouth aspect ratio (yawns),
 * inter-ocular distance. "Left" and "right" are the subject's: the
 * subject's right eye (points 36-41) is on the image's left in a frontal
 * photo.
 *
 * | region | points |
 * | --- | --- |
 * | `jaw` | 0-16 |
 * | `rightBrow` | 17-21 |
 * | `leftBrow` | 22-26 |
 * | `nose` | 27-35 (bridge 27-30, nostrils 31-35) |
 * | `rightEye` | 36-41 |
 * | `leftEye` | 42-47 |
 * | `outerLips` | 48-59 |
 * | `innerLips` | 60-67 |
 *
 * @module
 */

/** A point with x and y in pixels. */
export interface XY {
  /** x in pixels. */
  x: number;
  /** y in pixels. */
  y: number;
}

/** The region names of the 68-point layout. */
export type RegionName =
  | "jaw"
  | "rightBrow"
  | "leftBrow"
  | "nose"
  | "rightEye"
  | "leftEye"
  | "outerLips"
  | "innerLips";

/** Index ranges `[first, last]` (inclusive) of each region in the 68-point layout. */
export const REGIONS_68: Readonly<Record<RegionName, readonly [number, number]>> = {
  jaw: [0, 16],
  rightBrow: [17, 21],
  leftBrow: [22, 26],
  nose: [27, 35],
  rightEye: [36, 41],
  leftEye: [42, 47],
  outerLips: [48, 59],
  innerLips: [60, 67],
};

function check68<T>(points: readonly T[], what: string): void {
  if (points.length !== 68) {
    throw new Error(`${what}: needs the 68 points of the iBUG layout, got ${points.length}`);
  }
}

/**
 * The keypoints of a 68-point face grouped by region.
 *
 * @example
 * ```ts
 * import { regions } from "./regions.ts";
 * const pts = Array.from({ length: 68 }, (_, i) => ({ x: i, y: 0 }));
 * console.log(regions(pts).leftEye.map((p) => p.x)); // [42, 43, 44, 45, 46, 47]
 * ```
 */
export function regions<T extends XY>(points: readonly T[]): Record<RegionName, T[]> {
  check68(points, "regions");
  const out = {} as Record<RegionName, T[]>;
  for (const [name, [a, b]] of Object.entries(REGIONS_68) as [RegionName, [number, number]][]) {
    out[name] = points.slice(a, b + 1);
  }
  return out;
}

const dist = (a: XY, b: XY): number => Math.hypot(a.x - b.x, a.y - b.y);

/**
 * Eye aspect ratio (Soukupová and Čech, 2016) of the eye whose six points
 * start at `first` (36 for the subject's right eye, 42 for the left):
 * `(|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|)`. About 0.25-0.35 open, below
 * about 0.2 closed.
 *
 * @example
 * ```ts
 * import { eyeAspectRatio } from "./regions.ts";
 * const pts = Array.from({ length: 68 }, () => ({ x: 0, y: 0 }));
 * [[0, 0], [1, -0.3], [2, -0.3], [3, 0], [2, 0.3], [1, 0.3]].forEach(([x, y], i) => (pts[36 + i] = { x, y }));
 * console.log(eyeAspectRatio(pts, "right").toFixed(2)); // 0.20
 * ```
 */
export function eyeAspectRatio(points: readonly XY[], eye: "right" | "left"): number {
  check68(points, "eyeAspectRatio");
  const o = eye === "right" ? 36 : 42;
  const p = (i: number): XY => points[o + i - 1];
  return (dist(p(2), p(6)) + dist(p(3), p(5))) / (2 * dist(p(1), p(4)));
}

/**
 * Mouth aspect ratio from the inner lips: the mean of the three vertical
 * gaps (61-67, 62-66, 63-65) over the width between the inner corners
 * (60-64). About 0 closed; above about 0.5 wide open (a yawn).
 *
 * @example
 * ```ts
 * import { mouthAspectRatio } from "./regions.ts";
 * const pts = Array.from({ length: 68 }, () => ({ x: 0, y: 0 }));
 * pts[60] = { x: 0, y: 0 }; pts[64] = { x: 4, y: 0 };
 * for (const [t, b] of [[61, 67], [62, 66], [63, 65]]) { pts[t] = { x: t - 60, y: -1 }; pts[b] = { x: t - 60, y: 1 }; }
 * console.log(mouthAspectRatio(pts)); // 0.5
 * ```
 */
export function mouthAspectRatio(points: readonly XY[]): number {
  check68(points, "mouthAspectRatio");
  const gaps = dist(points[61], points[67]) + dist(points[62], points[66]) +
    dist(points[63], points[65]);
  return gaps / 3 / dist(points[60], points[64]);
}

/**
 * Inter-ocular distance: between the outer eye corners (points 36 and 45),
 * the normaliser of the 300-W NME.
 *
 * @example
 * ```ts
 * import { interOcularDistance } from "./regions.ts";
 * const pts = Array.from({ length: 68 }, () => ({ x: 0, y: 0 }));
 * pts[45] = { x: 3, y: 4 };
 * console.log(interOcularDistance(pts)); // 5
 * ```
 */
export function interOcularDistance(points: readonly XY[]): number {
  check68(points, "interOcularDistance");
  return dist(points[36], points[45]);
}

/**
 * The centre of each eye (mean of its six points): `[right, left]`.
 *
 * @example
 * ```ts
 * import { eyeCentres } from "./regions.ts";
 * const pts = Array.from({ length: 68 }, (_, i) => ({ x: i, y: 0 }));
 * console.log(eyeCentres(pts).map((p) => p.x)); // [38.5, 44.5]
 * ```
 */
export function eyeCentres(points: readonly XY[]): [XY, XY] {
  check68(points, "eyeCentres");
  const centre = (a: number): XY => {
    let x = 0, y = 0;
    for (let i = a; i < a + 6; i++) [x, y] = [x + points[i].x, y + points[i].y];
    return { x: x / 6, y: y / 6 };
  };
  return [centre(36), centre(42)];
}
