/**
 * Detections in corner form and their non-max suppression: plain greedy and
 * MediaPipe's weighted blending.
 *
 * @module
 */

/** A decoded detection before NMS; coordinates in any one frame. */
export interface Detection {
  /** Left edge. */
  x1: number;
  /** Top edge. */
  y1: number;
  /** Right edge. */
  x2: number;
  /** Bottom edge. */
  y2: number;
  /** Confidence in `(0, 1)`. */
  score: number;
  /** Keypoints, flat `x0, y0, x1, y1, ...`. */
  keypoints: number[];
}

/**
 * Intersection over union of two corner boxes (0 when either is empty).
 *
 * @example
 * ```ts
 * import { cornerIou } from "./nms.ts";
 * console.log(cornerIou({ x1: 0, y1: 0, x2: 2, y2: 2 }, { x1: 1, y1: 0, x2: 3, y2: 2 })); // 0.333...
 * ```
 */
export function cornerIou(
  a: { x1: number; y1: number; x2: number; y2: number },
  b: { x1: number; y1: number; x2: number; y2: number },
): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Plain greedy non-max suppression: best first, a detection is dropped when
 * its IoU with a kept one exceeds `iouThreshold`.
 *
 * @example
 * ```ts
 * import { greedyNms } from "./nms.ts";
 * const a = { x1: 0, y1: 0, x2: 10, y2: 10, score: 0.9, keypoints: [] };
 * const b = { x1: 1, y1: 1, x2: 11, y2: 11, score: 0.8, keypoints: [] };
 * console.log(greedyNms([b, a], 0.3).length); // 1
 * ```
 */
export function greedyNms(
  dets: Detection[],
  iouThreshold: number,
  maxOut: number = Infinity,
): Detection[] {
  const sorted = [...dets].sort((p, q) => q.score - p.score);
  const kept: Detection[] = [];
  for (const d of sorted) {
    if (kept.length >= maxOut) break;
    if (kept.every((k) => cornerIou(k, d) <= iouThreshold)) kept.push(d);
  }
  return kept;
}

/**
 * MediaPipe-style weighted NMS: best first, every remaining detection whose
 * IoU with the best exceeds `iouThreshold` joins its cluster; the cluster
 * is replaced by the score-weighted mean of its boxes and keypoints, with
 * the best one's score.
 *
 * @example
 * ```ts
 * import { weightedNms } from "./nms.ts";
 * const a = { x1: 0, y1: 0, x2: 10, y2: 10, score: 0.5, keypoints: [] };
 * const b = { x1: 2, y1: 0, x2: 12, y2: 10, score: 0.5, keypoints: [] };
 * console.log(weightedNms([a, b], 0.3)[0].x1); // 1
 * ```
 */
export function weightedNms(
  dets: Detection[],
  iouThreshold: number,
  maxOut: number = Infinity,
): Detection[] {
  let rest = [...dets].sort((p, q) => q.score - p.score);
  const out: Detection[] = [];
  while (rest.length > 0 && out.length < maxOut) {
    const best = rest[0];
    const cluster: Detection[] = [];
    const left: Detection[] = [];
    for (const d of rest) {
      (d === best || cornerIou(best, d) > iouThreshold ? cluster : left).push(d);
    }
    let wsum = 0;
    const acc = { x1: 0, y1: 0, x2: 0, y2: 0 };
    const kp = new Array<number>(best.keypoints.length).fill(0);
    for (const d of cluster) {
      wsum += d.score;
      acc.x1 += d.x1 * d.score;
      acc.y1 += d.y1 * d.score;
      acc.x2 += d.x2 * d.score;
      acc.y2 += d.y2 * d.score;
      for (let k = 0; k < kp.length; k++) kp[k] += (d.keypoints[k] ?? 0) * d.score;
    }
    out.push({
      x1: acc.x1 / wsum,
      y1: acc.y1 / wsum,
      x2: acc.x2 / wsum,
      y2: acc.y2 / wsum,
      score: best.score,
      keypoints: kp.map((v) => v / wsum),
    });
    rest = left;
  }
  return out;
}
