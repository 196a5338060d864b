/**
 * The images the inference API accepts, turned into one RGBA raster: a
 * path, JPEG/PNG bytes (turned upright by their EXIF orientation, so points
 * are in the image a person sees), `ImageData`-like objects, or a tfjs
 * tensor `[h, w, 1|3|4]` of 0..255 values.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { decodeImage, readImage } from "../image/decode.ts";
import type { RgbaLike } from "../image/raster.ts";

/** A tfjs tensor `[height, width, 1|3|4]` (or with a batch of 1) of 0..255 values. */
export interface ImageTensor {
  /** The tensor's shape. */
  readonly shape: number[];
  /** Reads the values. */
  data(): Promise<ArrayLike<number>>;
}

/** Images `estimate` accepts: a path, JPEG/PNG bytes, RGBA pixels or a tensor. */
export type ImageInput =
  | string
  | Uint8Array
  | ArrayBuffer
  | RgbaLike
  | ImageTensor;

/**
 * Decodes or converts any {@linkcode ImageInput} to RGBA pixels. JPEGs are
 * turned upright by their EXIF orientation; RGBA input is returned as is.
 *
 * @example
 * ```ts
 * import { toRgba } from "./image_input.ts";
 * const img = await toRgba({ width: 1, height: 1, data: new Uint8ClampedArray([9, 9, 9, 255]) });
 * console.log(img.width); // 1
 * ```
 */
export async function toRgba(image: ImageInput): Promise<RgbaLike> {
  if (typeof image === "string") return await readImage(image, { upright: true });
  if (image instanceof ArrayBuffer) {
    return decodeImage(new Uint8Array(image), "image bytes", { upright: true });
  }
  if (image instanceof Uint8Array) return decodeImage(image, "image bytes", { upright: true });
  if (image instanceof tf.Tensor) {
    const shape = image.shape.length === 4 && image.shape[0] === 1
      ? image.shape.slice(1)
      : image.shape;
    if (shape.length !== 3 || ![1, 3, 4].includes(shape[2]!)) {
      throw new Error(`image tensor must be [height, width, 1|3|4], got [${image.shape}]`);
    }
    const [h, w, c] = shape as number[];
    const v = await image.data();
    const rgba = new Uint8ClampedArray(w * h * 4);
    for (let i = 0; i < w * h; i++) {
      for (let k = 0; k < 3; k++) rgba[i * 4 + k] = v[i * c + (c === 1 ? 0 : k)];
      rgba[i * 4 + 3] = 255;
    }
    return { data: rgba, width: w, height: h };
  }
  if (image && typeof image === "object" && "data" in image && "width" in image) {
    return image as RgbaLike;
  }
  throw new Error(
    "estimate: image must be a path, JPEG/PNG bytes, {data, width, height} or a tensor",
  );
}
