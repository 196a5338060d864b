/**
 * Annotated pictures of estimated faces: each face's box, its score and its
 * keypoints drawn onto a copy of the photo.
 *
 * @module
 */

import {
  drawDot,
  drawLine,
  drawText,
  fillRect,
  type Rgb,
  textHeight,
  textWidth,
} from "../image/draw.ts";
import type { RgbaImage } from "../image/rgba.ts";
import type { RgbaLike } from "../image/raster.ts";
import type { Face } from "./keypoint_estimator.ts";

const BOX: Rgb = [40, 220, 90];
const POINT: Rgb = [255, 40, 40];

/**
 * Draws faces onto a copy of `image`: a green box with the score above it
 * and a red dot per keypoint, sized to the photo.
 *
 * @example
 * ```ts
 * import { drawFaces } from "./draw_faces.ts";
 * const img = { width: 40, height: 40, data: new Uint8ClampedArray(40 * 40 * 4) };
 * const face = { box: { x: 5, y: 5, width: 20, height: 20 }, score: 0.9, keypoints: [{ x: 15, y: 15, name: "nose_tip" }] };
 * const out = drawFaces(img, [face]);
 * console.log(out.data[(15 * 40 + 15) * 4]); // 255
 * ```
 */
export function drawFaces(image: RgbaLike, faces: Face[]): RgbaImage {
  const out: RgbaImage = {
    width: image.width,
    height: image.height,
    data: new Uint8ClampedArray(image.data),
  };
  const side = Math.max(image.width, image.height);
  const line = Math.max(1, Math.round(side / 500));
  const textScale = Math.max(1, Math.round(side / 600));
  for (const f of faces) {
    const { x, y, width: w, height: h } = f.box;
    drawLine(out, x, y, x + w, y, BOX, line);
    drawLine(out, x + w, y, x + w, y + h, BOX, line);
    drawLine(out, x + w, y + h, x, y + h, BOX, line);
    drawLine(out, x, y + h, x, y, BOX, line);
    const label = f.score.toFixed(2);
    const th = textHeight(label, textScale) + 2;
    const ty = Math.max(0, y - th);
    fillRect(out, x, ty, textWidth(label, textScale) + 2, th, [0, 0, 0]);
    drawText(out, x + 1, ty + 1, label, BOX, textScale);
    const r = Math.max(1, Math.min(side / 300, w / 45));
    for (const k of f.keypoints) drawDot(out, k.x, k.y, r, POINT);
  }
  return out;
}
