/**
 * Training pictures: loss curves, keypoint overlays (prediction red, truth
 * green) and conv-filter grids, written as PNG.
 *
 * @module
 */

import {
  blank,
  blit,
  drawDot,
  drawText,
  grayToRgba,
  type Rgb,
  scaleNearest,
  tile,
} from "../image/draw.ts";
import { writeFileAtomic } from "../util/fs_util.ts";
import type { RgbaImage } from "../image/rgba.ts";
import { lineChart } from "./plot.ts";
import { encodePng } from "../image/png.ts";
import { type FloatImage, toRgba } from "../image/raster.ts";
import type { EpochRecord } from "../train/loop.ts";

/** Prediction colour. */
export const RED: Rgb = [230, 30, 30];
/** Ground-truth colour. */
export const GREEN: Rgb = [30, 200, 60];

/**
 * Writes an RGBA image as PNG, atomically.
 *
 * @example
 * ```ts ignore
 * import { savePng } from "./pictures.ts";
 * await savePng("out.png", image);
 * ```
 */
export async function savePng(path: string, img: RgbaImage): Promise<void> {
  await writeFileAtomic(path, encodePng(img));
}

/**
 * Loss curves (log scale) of a training history.
 *
 * @example
 * ```ts
 * import { lossCurves } from "./pictures.ts";
 * const h = [{ epoch: 1, trainLoss: 1, valLoss: 2 }, { epoch: 2, trainLoss: 0.5, valLoss: 1 }];
 * console.log(lossCurves(h as never, "x").width); // 640
 * ```
 */
export function lossCurves(history: EpochRecord[], title: string): RgbaImage {
  return lineChart([
    { name: "train", values: history.map((r) => r.trainLoss), color: [31, 119, 180] },
    { name: "validation", values: history.map((r) => r.valLoss), color: [255, 127, 14] },
  ], { title, logY: true, xLabel: "epoch", yLabel: "loss", xStart: 1 });
}

/** Points to draw on an overlay. */
export interface PointSet {
  /** Pixel-centre coordinates in the image. */
  points: ArrayLike<number>;
  /** Dot colour. */
  color: Rgb;
}

/**
 * Draws point sets on an image, enlarged `zoom` times so small inputs are
 * readable; an optional caption goes in the top-left corner.
 *
 * @example
 * ```ts
 * import { overlay, GREEN } from "./pictures.ts";
 * const img = { data: new Float32Array(16), width: 4, height: 4, channels: 1 };
 * console.log(overlay(img, [{ points: [1, 1], color: GREEN }], 2).width); // 8
 * ```
 */
export function overlay(
  image: FloatImage,
  sets: PointSet[],
  zoom = 1,
  caption?: string,
): RgbaImage {
  const out = scaleNearest(toRgba(image), zoom);
  const r = Math.max(1, Math.round(zoom * Math.max(image.width, image.height) / 160));
  for (const s of sets) {
    for (let i = 0; i < s.points.length; i += 2) {
      drawDot(
        out,
        (s.points[i] + 0.5) * zoom - 0.5,
        (s.points[i + 1] + 0.5) * zoom - 0.5,
        r,
        s.color,
      );
    }
  }
  if (caption) drawText(out, 3, 3, caption, [255, 255, 0]);
  return out;
}

/**
 * Tiles a conv kernel `[kh, kw, cin, cout]` (first input channel) as a grid
 * of `cout` small images, each normalised to its own range.
 *
 * @example
 * ```ts
 * import { filterGrid } from "./pictures.ts";
 * const g = filterGrid(new Float32Array(9 * 2), [3, 3, 1, 2], 4);
 * console.log(g.width > 0); // true
 * ```
 */
export function filterGrid(
  kernel: Float32Array,
  shape: number[],
  zoom = 12,
): RgbaImage {
  const [kh, kw, cin, cout] = shape;
  const tiles: RgbaImage[] = [];
  for (let o = 0; o < cout; o++) {
    const f = new Float32Array(kh * kw);
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        f[y * kw + x] = kernel[((y * kw + x) * cin) * cout + o];
      }
    }
    let lo = Infinity, hi = -Infinity;
    for (const v of f) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    tiles.push(scaleNearest(grayToRgba(f, kw, kh, lo, hi > lo ? hi : lo + 1), zoom));
  }
  return tile(tiles, Math.min(8, cout), 2);
}

/**
 * A titled grid of images.
 *
 * @example
 * ```ts
 * import { titledGrid } from "./pictures.ts";
 * import { blank } from "../image/draw.ts";
 * console.log(titledGrid([blank(10, 10)], 1, "t").height > 10); // true
 * ```
 */
export function titledGrid(
  images: RgbaImage[],
  cols: number,
  title: string,
): RgbaImage {
  const grid = tile(images, cols, 4);
  const out = blank(grid.width, grid.height + 16, [255, 255, 255]);
  drawText(out, 4, 4, title, [0, 0, 0]);
  blit(out, grid, 0, 16);
  return out;
}
