/**
 * Keypoint layouts: names and the left/right pairing a horizontal flip must
 * swap, for the IMM 58-point and iBUG 68-point markups.
 *
 * "left" and "right" in names are the subject's, as in the iBUG markup: the
 * subject's right eye is on the image's left.
 *
 * @module
 */

/** A keypoint layout: names and, for each index, the index it becomes under a mirror. */
export interface Layout {
  /** Layout id, e.g. `"imm58"`. */
  id: string;
  /** Keypoint names, one per point. */
  names: string[];
  /** `flip[i]` is the index of the point that `i` turns into when mirrored. */
  flip: number[];
}

function pairs(n: number, list: [number, number][]): number[] {
  const flip = Array.from({ length: n }, (_, i) => i);
  for (const [a, b] of list) {
    flip[a] = b;
    flip[b] = a;
  }
  return flip;
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

/**
 * Builds a flip map from mirrored groups.
 *
 * @param n number of points
 * @param reversed groups that mirror onto themselves in reverse order
 *   (a jaw line ordered across the face)
 * @param shifted groups `[first, count, otherFirst]` that map point by point
 *   onto another group in the same order
 * @param explicit extra pairs
 */
function buildFlip(
  n: number,
  reversed: [number, number][],
  shifted: [number, number, number][],
  explicit: [number, number][],
): number[] {
  const list: [number, number][] = [...explicit];
  for (const [first, count] of reversed) {
    for (let i = 0; i < Math.floor(count / 2); i++) {
      list.push([first + i, first + count - 1 - i]);
    }
  }
  for (const [first, count, other] of shifted) {
    for (let i = 0; i < count; i++) list.push([first + i, other + i]);
  }
  return pairs(n, list);
}

/**
 * IMM face database, 58 points (0-based indices; 1-based numbers in the
 * IMM documentation are these plus one): 0-12 jaw, 13-20 the eye on the
 * image's right (subject's left), 21-28 the other eye, 29-33 / 34-38 the
 * brows (image right / image left), 39-46 mouth, 47-57 nose; nose tip = 52.
 *
 * The pairing was derived from the mean shape of the 240 labelled faces:
 * each eye starts at its outer corner and runs over the top, each brow
 * starts at its inner end, so the eye and brow groups map index for index.
 *
 * @example
 * ```ts
 * import { IMM58 } from "./layouts.ts";
 * console.log(IMM58.names[52], IMM58.flip[52]); // nose_tip 52
 * ```
 */
export const IMM58: Layout = {
  id: "imm58",
  names: [
    ...range(0, 13).map((i) => `jaw_${i}`),
    ...range(0, 8).map((i) => `left_eye_${i}`),
    ...range(0, 8).map((i) => `right_eye_${i}`),
    ...range(0, 5).map((i) => `left_brow_${i}`),
    ...range(0, 5).map((i) => `right_brow_${i}`),
    ...range(0, 8).map((i) => `mouth_${i}`),
    ...range(0, 5).map((i) => `nose_${i}`),
    "nose_tip",
    ...range(6, 5).map((i) => `nose_${i}`),
  ],
  flip: buildFlip(
    58,
    [[0, 13], [39, 5], [47, 11]],
    [[13, 8, 21], [29, 5, 34]],
    [[44, 46]],
  ),
};

/** 0-based index of the nose tip in {@link IMM58}. */
export const IMM_NOSE_TIP = 52;

/**
 * iBUG 300-W 68-point markup (0-based): 0-16 jaw, 17-21 / 22-26 brows,
 * 27-30 nose bridge, 31-35 nose base, 36-41 / 42-47 eyes, 48-59 outer lips,
 * 60-67 inner lips.
 *
 * @example
 * ```ts
 * import { IBUG68 } from "./layouts.ts";
 * console.log(IBUG68.flip[36], IBUG68.flip[30]); // 45 30
 * ```
 */
export const IBUG68: Layout = {
  id: "ibug68",
  names: [
    ...range(0, 17).map((i) => `jaw_${i}`),
    ...range(0, 5).map((i) => `right_brow_${i}`),
    ...range(0, 5).map((i) => `left_brow_${i}`),
    ...range(0, 4).map((i) => `nose_bridge_${i}`),
    ...range(0, 5).map((i) => `nose_base_${i}`),
    ...range(0, 6).map((i) => `right_eye_${i}`),
    ...range(0, 6).map((i) => `left_eye_${i}`),
    ...range(0, 12).map((i) => `outer_lip_${i}`),
    ...range(0, 8).map((i) => `inner_lip_${i}`),
  ],
  flip: buildFlip(
    68,
    // jaw, brows (17..26 read across the face), nose base, outer lip top
    // row 48..54, inner lip top row 60..64.
    [[0, 17], [17, 10], [31, 5], [48, 7], [60, 5]],
    [],
    [
      // eyes: 36..41 and 42..47 are both ordered clockwise from the outer
      // (resp. inner) corner, so the mirror reverses the order.
      [36, 45],
      [37, 44],
      [38, 43],
      [39, 42],
      [40, 47],
      [41, 46],
      // outer lip bottom row 55..59 and inner lip bottom row 65..67.
      [55, 59],
      [56, 58],
      [65, 67],
    ],
  ),
};

/**
 * Returns the layout for a point count (58 -> IMM, 68 -> iBUG); throws otherwise.
 *
 * @example
 * ```ts
 * import { layoutFor } from "./layouts.ts";
 * console.log(layoutFor(68).id); // ibug68
 * ```
 */
export function layoutFor(points: number): Layout {
  if (points === 58) return IMM58;
  if (points === 68) return IBUG68;
  throw new Error(`no keypoint layout with ${points} points (known: 58, 68)`);
}
