/**
 * From a photo and a face box to the network's input and back: the single
 * crop path shared by Part 3 validation, `main.ts eval`, and the inference
 * API, so that training and serving cannot drift apart.
 *
 * Crop models (`meta.boxScale > 0`) enlarge the box by `boxScale` per side,
 * make it square about its centre and resample it to the input size;
 * whole-image models (IMM Parts 1-2, `boxScale` 0) resize the box (by
 * default the whole image) to the input size.
 *
 * @module
 */

import { type Affine, invert, scaling, transformPoints } from "../image/affine.ts";
import type { ModelMeta } from "../models/checkpoint.ts";
import { type Box, cropFace, enlargeBox, squareBox } from "../data/face_box.ts";
import { type FloatImage, resize } from "../image/raster.ts";

/** A network input cut from an image, and the map that made it. */
export interface FaceInput {
  /** The input image (`inputWidth` x `inputHeight`). */
  image: FloatImage;
  /** Image -> input continuous coordinates. */
  matrix: Affine;
  /** The box actually cropped (after enlarging and squaring). */
  cropBox: Box;
}

/**
 * The box a model crops for a face box: enlarged by `boxScale` per side and
 * squared for crop models, unchanged for whole-image models.
 *
 * @example
 * ```ts
 * import { modelBox } from "./face_input.ts";
 * const meta = { task: "part3", layout: "ibug68", points: [], inputWidth: 112, inputHeight: 112, channels: 1, boxScale: 0.25 };
 * console.log(modelBox({ x: 0, y: 0, w: 100, h: 80 }, meta)); // { x: -25, y: -35, w: 150, h: 150 }
 * ```
 */
export function modelBox(box: Box, meta: ModelMeta): Box {
  return (meta.boxScale ?? 0) > 0 ? squareBox(enlargeBox(box, meta.boxScale!)) : box;
}

/**
 * Cuts the network input for one face.
 *
 * @example
 * ```ts
 * import { faceInput } from "./face_input.ts";
 * const img = { data: new Float32Array(64 * 48), width: 64, height: 48, channels: 1 };
 * const meta = { task: "part1", layout: "imm58", points: [52], inputWidth: 32, inputHeight: 24, channels: 1, boxScale: 0 };
 * console.log(faceInput(img, { x: 0, y: 0, w: 64, h: 48 }, meta).image.width); // 32
 * ```
 */
export function faceInput(
  image: FloatImage,
  box: Box,
  meta: ModelMeta,
  name = "image",
): FaceInput {
  if (image.channels !== meta.channels) {
    throw new Error(
      `${name}: image has ${image.channels} channels, the model expects ${meta.channels}`,
    );
  }
  const cropBox = modelBox(box, meta);
  const whole = cropBox.x === 0 && cropBox.y === 0 && cropBox.w === image.width &&
    cropBox.h === image.height;
  if (whole && (meta.boxScale ?? 0) === 0) {
    // Exactly the training path of the whole-image models.
    return {
      image: resize(image, meta.inputWidth, meta.inputHeight),
      matrix: scaling(meta.inputWidth / image.width, meta.inputHeight / image.height),
      cropBox,
    };
  }
  if (meta.inputWidth !== meta.inputHeight) {
    // Whole-image model with a user box: stretch the box region to the input.
    const crop = cropFace(image, [], cropBox, meta.inputWidth, { name });
    const img = resize(crop.image, meta.inputWidth, meta.inputHeight);
    return {
      image: img,
      matrix: [
        crop.matrix[0],
        0,
        crop.matrix[2],
        0,
        crop.matrix[4] * meta.inputHeight / meta.inputWidth,
        crop.matrix[5] * meta.inputHeight / meta.inputWidth,
      ],
      cropBox,
    };
  }
  const crop = cropFace(image, [], cropBox, meta.inputWidth, { name });
  return { image: crop.image, matrix: crop.matrix, cropBox };
}

/**
 * Maps pixel-centre points from input coordinates back to the image.
 *
 * @example
 * ```ts
 * import { toImagePoints } from "./face_input.ts";
 * console.log(toImagePoints([0.5, 0.5], [2, 0, 0, 0, 2, 0])); // Float32Array [0, 0]
 * ```
 */
export function toImagePoints(points: ArrayLike<number>, matrix: Affine): Float32Array {
  return transformPoints(invert(matrix), points);
}
