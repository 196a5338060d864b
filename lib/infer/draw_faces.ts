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
import { headPose, poseRotation } from "../analyze/head_pose.ts";

const BOX: Rgb = [40, 220, 90];
const AXES: readonly Rgb[] = [[255, 60, 60], [60, 220, 60], [70, 130, 255]];

/** Options of {@linkcode drawFaces}. */
export interface DrawFacesOptions {
  /**
   * Also draw each 68-point face's head axes from the nose tip (see
   * `headPose`): red the head's right-to-left axis, green its down axis,
   * blue where the face points.
   */
  pose?: boolean;
}

/** The head's axes (length half the box width) from the nose tip. */
function drawPoseAxes(out: RgbaImage, f: Face, thickness: number): void {
  const R = poseRotation(headPose(f.keypoints));
  const nose = f.keypoints[30], len = f.box.width / 2;
  // Columns of R: the model's x (image right), y (down) and z (away from the camera) axes.
  const axes = [[R[0], R[3]], [R[1], R[4]], [-R[2], -R[5]]];
  axes.forEach(([dx, dy], i) =>
    drawLine(out, nose.x, nose.y, nose.x + dx * len, nose.y + dy * len, AXES[i], thickness)
  );
}
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
export function drawFaces(
  image: RgbaLike,
  faces: Face[],
  options: DrawFacesOptions = {},
): RgbaImage {
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
    if (options.pose && f.keypoints.length === 68) drawPoseAxes(out, f, line + 1);
  }
  return out;
}
