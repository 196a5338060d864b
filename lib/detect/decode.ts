/**
 * BlazeFace's raw outputs to detections: anchor-relative boxes and
 * keypoints decoded to input coordinates, and the average of a plain and a
 * mirrored pass (flip test-time augmentation).
 *
 * @module
 */

import type { Anchor } from "./anchors.ts";
import type { Detection } from "./nms.ts";

/** `log(p / (1 - p))`, the logit threshold for a probability. */
function logit(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  return Math.log(p / (1 - p));
}

/**
 * Decodes raw network outputs into detections in input coordinates
 * normalised to `[0, 1]`, keeping those with `sigmoid(logit) >= minScore`.
 *
 * @param logits One logit per anchor.
 * @param regressors 16 values per anchor (see the module doc).
 * @param anchors The anchors.
 * @param scale Divisor of the regressor values (the input size, 256).
 * @param minScore Lowest score kept.
 * @example
 * ```ts
 * import { decodeDetections } from "./decode.ts";
 * const regs = new Float32Array(16);
 * regs[2] = 64; regs[3] = 64; // a 64x64 box on the anchor centre
 * const d = decodeDetections(new Float32Array([3]), regs, [{ cx: 0.5, cy: 0.5, w: 1, h: 1 }], 256, 0.5);
 * console.log(d[0].x1, d[0].x2); // 0.375 0.625
 * ```
 */
export function decodeDetections(
  logits: Float32Array,
  regressors: Float32Array,
  anchors: Anchor[],
  scale: number,
  minScore: number,
): Detection[] {
  const thr = logit(minScore);
  const out: Detection[] = [];
  for (let i = 0; i < anchors.length; i++) {
    const l = Math.max(-100, Math.min(100, logits[i]));
    if (!(l >= thr)) continue;
    const a = anchors[i];
    const r = i * 16;
    const cx = regressors[r] / scale * a.w + a.cx;
    const cy = regressors[r + 1] / scale * a.h + a.cy;
    const w = regressors[r + 2] / scale * a.w;
    const h = regressors[r + 3] / scale * a.h;
    const keypoints: number[] = [];
    for (let k = 0; k < 6; k++) {
      keypoints.push(
        regressors[r + 4 + 2 * k] / scale * a.w + a.cx,
        regressors[r + 5 + 2 * k] / scale * a.h + a.cy,
      );
    }
    out.push({
      x1: cx - w / 2,
      y1: cy - h / 2,
      x2: cx + w / 2,
      y2: cy + h / 2,
      score: 1 / (1 + Math.exp(-l)),
      keypoints,
    });
  }
  return out;
}

/**
 * Averages the outputs of a pass on a mirrored input into those of the
 * plain pass, anchor by anchor: scores as probabilities, regressors after
 * mirroring them back (x offsets negated, left/right keypoints swapped).
 * Returns the logits of the averaged probabilities and the averaged
 * regressors.
 *
 * @param logits Plain-pass logits.
 * @param regs Plain-pass regressors (16 per anchor).
 * @param flogits Mirrored-pass logits.
 * @param fregs Mirrored-pass regressors.
 * @param mirror Anchor index of each anchor's mirror image ({@link BlazeFaceModel.mirror}).
 */
export function mergeFlipped(
  logits: Float32Array,
  regs: Float32Array,
  flogits: Float32Array,
  fregs: Float32Array,
  mirror: Int32Array,
): { logits: Float32Array; regs: Float32Array } {
  const n = logits.length;
  const outL = new Float32Array(n);
  const outR = new Float32Array(n * 16);
  const sig = (v: number): number => 1 / (1 + Math.exp(-Math.max(-100, Math.min(100, v))));
  for (let i = 0; i < n; i++) {
    const j = mirror[i];
    const p = (sig(logits[i]) + sig(flogits[j])) / 2;
    outL[i] = Math.log(p / (1 - p));
    const a = i * 16;
    const b = j * 16;
    for (let v = 0; v < 4; v++) {
      outR[a + v] = (regs[a + v] + (v === 0 ? -fregs[b] : fregs[b + v])) / 2;
    }
    for (let k = 0; k < 6; k++) {
      const fk = MIRROR_KEYPOINT[k];
      outR[a + 4 + 2 * k] = (regs[a + 4 + 2 * k] - fregs[b + 4 + 2 * fk]) / 2;
      outR[a + 5 + 2 * k] = (regs[a + 5 + 2 * k] + fregs[b + 5 + 2 * fk]) / 2;
    }
  }
  return { logits: outL, regs: outR };
}

/** Keypoint index of each keypoint's mirror image (eyes and ears swap). */
const MIRROR_KEYPOINT: readonly number[] = [1, 0, 2, 3, 5, 4];
