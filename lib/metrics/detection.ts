/**
 * Face-detection measures: IoU, the match rule between found faces and
 * labelled faces, recall and precision.
 *
 * Match rule: a labelled face (its box: the bounding box of its landmarks)
 * is found by a detection whose box has IoU >= 0.3 with it, or that
 * contains its centre. Detections are taken best score first; each matches
 * at most one labelled face (the unmatched one with the highest IoU, then
 * the nearest centre) and each labelled face at most one detection.
 *
 * @module
 */

/** An axis-aligned box. */
export interface XYWH {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/**
 * Intersection over union of two boxes (0 when either is empty).
 *
 * @example
 * ```ts
 * import { iou } from "./detection.ts";
 * console.log(iou({ x: 0, y: 0, width: 2, height: 2 }, { x: 1, y: 0, width: 2, height: 2 })); // 0.3333333333333333
 * ```
 */
export function iou(a: XYWH, b: XYWH): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/** Whether `box` contains the centre of `other`. */
function containsCentre(box: XYWH, other: XYWH): boolean {
  const cx = other.x + other.width / 2, cy = other.y + other.height / 2;
  return cx >= box.x && cx <= box.x + box.width && cy >= box.y && cy <= box.y + box.height;
}

/** A detection to match: its box and score. */
export interface ScoredBox {
  /** The box. */
  box: XYWH;
  /** The score (higher first). */
  score: number;
}

/**
 * Matches detections to labelled boxes by the rule above. Returns, for each
 * labelled box, the index of its detection or -1.
 *
 * @example
 * ```ts
 * import { matchFaces } from "./detection.ts";
 * const truth = [{ x: 0, y: 0, width: 10, height: 10 }, { x: 50, y: 0, width: 10, height: 10 }];
 * const found = [{ box: { x: 1, y: -2, width: 10, height: 14 }, score: 0.9 }];
 * console.log(matchFaces(truth, found)); // [0, -1]
 * ```
 */
export function matchFaces(truth: XYWH[], found: ScoredBox[], minIou = 0.3): number[] {
  const match = new Array<number>(truth.length).fill(-1);
  const order = found.map((_, i) => i).sort((a, b) => found[b].score - found[a].score);
  for (const d of order) {
    const box = found[d].box;
    let best = -1, bestIou = 0;
    for (let t = 0; t < truth.length; t++) {
      const o = match[t] < 0 ? iou(box, truth[t]) : 0;
      if (o >= minIou && o > bestIou) [best, bestIou] = [t, o];
    }
    if (best < 0) {
      let bestDist = Infinity;
      for (let t = 0; t < truth.length; t++) {
        if (match[t] >= 0 || !containsCentre(box, truth[t])) continue;
        const dist = Math.hypot(
          box.x + box.width / 2 - truth[t].x - truth[t].width / 2,
          box.y + box.height / 2 - truth[t].y - truth[t].height / 2,
        );
        if (dist < bestDist) [best, bestDist] = [t, dist];
      }
    }
    if (best >= 0) match[best] = d;
  }
  return match;
}

/** Detection counts and rates. */
export interface DetectionCounts {
  /** Labelled faces. */
  faces: number;
  /** Detections. */
  detections: number;
  /** Labelled faces found. */
  matched: number;
  /** matched / faces (1 when there are no faces). */
  recall: number;
  /** matched / detections (1 when there are no detections). */
  precision: number;
}

/**
 * Recall and precision from per-image counts.
 *
 * @example
 * ```ts
 * import { detectionCounts } from "./detection.ts";
 * console.log(detectionCounts(4, 5, 3).recall); // 0.75
 * ```
 */
export function detectionCounts(
  faces: number,
  detections: number,
  matched: number,
): DetectionCounts {
  return {
    faces,
    detections,
    matched,
    recall: faces ? matched / faces : 1,
    precision: detections ? matched / detections : 1,
  };
}
