/**
 * SSD anchors as MediaPipe's `SsdAnchorsCalculator` lays them out, and the
 * left-right mirror of each anchor (for flip test-time averaging).
 *
 * @module
 */

/** MediaPipe `SsdAnchorsCalculatorOptions` fields that this model uses. */
export interface AnchorOptions {
  /** Square model input side, pixels. */
  inputSize: number;
  /** Stride of each SSD layer; consecutive equal strides share one grid. */
  strides: number[];
  /** Anchor scale of the first layer. */
  minScale: number;
  /** Anchor scale of the last layer. */
  maxScale: number;
  /** Anchor centre offset inside a cell, in cells. */
  anchorOffset: number;
  /** Aspect ratios of the anchors of each layer. */
  aspectRatios: number[];
  /** When > 0, one more anchor per layer at the interpolated scale. */
  interpolatedScaleAspectRatio: number;
  /** Whether every anchor is 1x1 (MediaPipe `fixed_anchor_size`). */
  fixedAnchorSize: boolean;
}

/** The anchor options of MediaPipe's `face_detection_back` graph (256x256). */
export const BLAZEFACE_BACK_ANCHORS: AnchorOptions = {
  inputSize: 256,
  strides: [16, 32, 32, 32],
  minScale: 0.15625,
  maxScale: 0.75,
  anchorOffset: 0.5,
  aspectRatios: [1.0],
  interpolatedScaleAspectRatio: 1.0,
  fixedAnchorSize: true,
};

/** One SSD anchor, in input coordinates normalised to `[0, 1]`. */
export interface Anchor {
  /** Centre x. */
  cx: number;
  /** Centre y. */
  cy: number;
  /** Width (1 for fixed-size anchors). */
  w: number;
  /** Height (1 for fixed-size anchors). */
  h: number;
}

function anchorScale(min: number, max: number, i: number, n: number): number {
  return n === 1 ? (min + max) / 2 : min + (max - min) * i / (n - 1);
}

/**
 * Generates SSD anchors the way MediaPipe's `SsdAnchorsCalculator` does:
 * layers with the same stride share one feature grid, and each cell holds
 * the anchors of all those layers (one per aspect ratio, plus one at the
 * interpolated scale). Order: grid by grid, row, column, anchor.
 *
 * @example
 * ```ts
 * import { BLAZEFACE_BACK_ANCHORS, generateAnchors } from "./anchors.ts";
 * console.log(generateAnchors(BLAZEFACE_BACK_ANCHORS).length); // 896
 * ```
 */
export function generateAnchors(opts: AnchorOptions): Anchor[] {
  const out: Anchor[] = [];
  const n = opts.strides.length;
  let layer = 0;
  while (layer < n) {
    const sizes: { w: number; h: number }[] = [];
    let last = layer;
    while (last < n && opts.strides[last] === opts.strides[layer]) {
      const scale = anchorScale(opts.minScale, opts.maxScale, last, n);
      for (const ratio of opts.aspectRatios) {
        const r = Math.sqrt(ratio);
        sizes.push({ w: scale * r, h: scale / r });
      }
      if (opts.interpolatedScaleAspectRatio > 0) {
        const next = last === n - 1 ? 1 : anchorScale(opts.minScale, opts.maxScale, last + 1, n);
        const s = Math.sqrt(scale * next);
        const r = Math.sqrt(opts.interpolatedScaleAspectRatio);
        sizes.push({ w: s * r, h: s / r });
      }
      last++;
    }
    const stride = opts.strides[layer];
    const rows = Math.ceil(opts.inputSize / stride);
    const cols = Math.ceil(opts.inputSize / stride);
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < cols; x++) {
        const cx = (x + opts.anchorOffset) / cols;
        const cy = (y + opts.anchorOffset) / rows;
        for (const s of sizes) {
          out.push(opts.fixedAnchorSize ? { cx, cy, w: 1, h: 1 } : { cx, cy, w: s.w, h: s.h });
        }
      }
    }
    layer = last;
  }
  return out;
}

/**
 * For each anchor, the index of the anchor mirrored left-right
 * (`cx -> 1 - cx`, same row, same slot within the cell).
 *
 * @example
 * ```ts
 * import { BLAZEFACE_BACK_ANCHORS, generateAnchors, mirrorAnchors } from "./anchors.ts";
 * const m = mirrorAnchors(generateAnchors(BLAZEFACE_BACK_ANCHORS));
 * console.log(m[0], m[m[0]]); // 30 0
 * ```
 */
export function mirrorAnchors(anchors: Anchor[]): Int32Array {
  const key = (cx: number, cy: number, slot: number): string =>
    `${cx.toFixed(6)},${cy.toFixed(6)},${slot}`;
  const slots = new Map<string, number>();
  const index = new Map<string, number>();
  const slotOf: number[] = [];
  anchors.forEach((a, i) => {
    const cell = key(a.cx, a.cy, 0);
    const slot = slots.get(cell) ?? 0;
    slots.set(cell, slot + 1);
    slotOf.push(slot);
    index.set(key(a.cx, a.cy, slot), i);
  });
  return Int32Array.from(anchors, (a, i) => {
    const j = index.get(key(1 - a.cx, a.cy, slotOf[i]));
    if (j === undefined) throw new Error(`anchor ${i} has no mirror image`);
    return j;
  });
}
