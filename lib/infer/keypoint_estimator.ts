/**
 * The inference API: load a keypoint model and estimate keypoints on a
 * face, in the image's pixel coordinates. Preprocessing is
 * `face_input.ts`, the same code Part 3 validation uses.
 *
 * Permissions: estimating on bytes, `ImageData`-like objects or tensors
 * needs none (the wasm backend starts from an embedded binary); loading a
 * model needs read access to its folder (`--allow-read=DIR`) or net access
 * to its host (`--allow-net=HOST`); a path image needs read access to that
 * file.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { type BackendName, setupBackend } from "../backends/backend.ts";
import { type ModelMeta, parseModelFolder } from "../models/checkpoint.ts";
import type { Box } from "../data/face_box.ts";
import { faceInput, toImagePoints } from "./face_input.ts";
import { decodeImage, readImage } from "../image/decode.ts";
import { IBUG68, IMM58 } from "../data/layouts.ts";
import { denormalisePoints, normaliseImageInto } from "../augment/preprocess.ts";
import { type FloatImage, fromRgba, type RgbaLike } from "../image/raster.ts";

/** A face box in image pixels (continuous coordinates: `x` is the left edge). */
export interface FaceBox {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/** One keypoint in image pixel coordinates (top-left pixel centre = 0, 0). */
export interface Keypoint {
  /** x in pixels. */
  x: number;
  /** y in pixels. */
  y: number;
  /** Point name from the model's layout, e.g. `"nose_tip"`. */
  name: string;
}

/** The result for one face. */
export interface FaceEstimate {
  /** The face box used. */
  box: FaceBox;
  /** The keypoints. */
  keypoints: Keypoint[];
}

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

/** Options of {@link createKeypointEstimator}. */
export interface KeypointEstimatorOptions {
  /**
   * `"part3"` (68 points, heatmap U-Net, most accurate), `"part3-fast"` (68
   * points, ResNet-18 x0.5, faster), `"part2"` (58), `"part1"` (nose tip), a
   * folder path or a URL.
   */
  model?: string | URL;
  /** tfjs backend (default `"wasm"`). */
  backend?: BackendName;
}

/** Options of `estimate`. */
export interface EstimateOptions {
  /** Face box; default: the whole image (the image is taken as a face crop). */
  box?: FaceBox;
}

/** A loaded keypoint model. */
export interface KeypointEstimator {
  /** The model's metadata (task, layout, input size). */
  readonly meta: ModelMeta;
  /** Estimates the keypoints of one face. */
  estimate(image: ImageInput, opts?: EstimateOptions): Promise<FaceEstimate>;
  /** Frees the model's memory. */
  dispose(): void;
}

const BUILT_IN = ["part1", "part2", "part3", "part3-fast"];

/**
 * Where a model name points: built-in names resolve next to this module
 * (`models/NAME/`), other strings are folder paths, URLs stay URLs.
 *
 * @example
 * ```ts
 * import { resolveModelLocation } from "./keypoint_estimator.ts";
 * console.log(resolveModelLocation("part3").href.endsWith("/models/part3/")); // true
 * ```
 */
export function resolveModelLocation(model: string | URL): URL {
  if (model instanceof URL) return model.href.endsWith("/") ? model : new URL(`${model.href}/`);
  if (BUILT_IN.includes(model)) return new URL(`../../models/${model}/`, import.meta.url);
  if (/^(https?|file):\/\//.test(model)) {
    return new URL(model.endsWith("/") ? model : `${model}/`);
  }
  const abs = model.startsWith("/") ? model : `${Deno.cwd()}/${model}`;
  return new URL(`file://${abs.endsWith("/") ? abs : `${abs}/`}`);
}

async function fetchBytes(url: URL): Promise<Uint8Array> {
  if (url.protocol === "file:") {
    const path = decodeURIComponent(url.pathname);
    try {
      return await Deno.readFile(path);
    } catch (e) {
      const dir = path.replace(/\/[^/]*$/, "");
      if (e instanceof Deno.errors.NotFound) throw new Error(`${path}: file not found`);
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
        throw new Error(`${path}: no read permission: run deno with --allow-read=${dir}`);
      }
      throw e;
    }
  }
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new Error(`${url.href}: no net permission: run deno with --allow-net=${url.host}`);
    }
    throw new Error(`${url.href}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new Error(`${url.href}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Loads a model (validating the manifest: no path escapes the folder, sizes
 * match the shapes) and returns it with its metadata.
 *
 * @example
 * ```ts ignore
 * import { loadModel } from "./keypoint_estimator.ts";
 * const { model, meta } = await loadModel(new URL("file:///models/part3/"));
 * ```
 */
export async function loadModel(
  location: URL,
): Promise<{ model: tf.LayersModel; meta: ModelMeta }> {
  const jsonUrl = new URL("model.json", location);
  const text = new TextDecoder().decode(await fetchBytes(jsonUrl));
  const source = jsonUrl.protocol === "file:" ? decodeURIComponent(jsonUrl.pathname) : jsonUrl.href;
  const { artifacts, meta } = await parseModelFolder(
    text,
    source,
    (p) => fetchBytes(new URL(p, location)),
  );
  if (!meta) throw new Error(`${source}: no facekit metadata (not a model trained by facekit)`);
  const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  return { model, meta };
}

async function toFloatImage(image: ImageInput, channels: 1 | 3): Promise<FloatImage> {
  if (typeof image === "string") {
    return fromRgba(await readImage(image, { upright: true }), channels);
  }
  if (image instanceof ArrayBuffer) {
    return fromRgba(decodeImage(new Uint8Array(image), "image bytes", { upright: true }), channels);
  }
  if (image instanceof Uint8Array) {
    return fromRgba(decodeImage(image, "image bytes", { upright: true }), channels);
  }
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
    return fromRgba({ data: rgba, width: w, height: h }, channels);
  }
  if (image && typeof image === "object" && "data" in image && "width" in image) {
    return fromRgba(image as RgbaLike, channels);
  }
  throw new Error(
    "estimate: image must be a path, JPEG/PNG bytes, {data, width, height} or a tensor",
  );
}

function layoutNames(meta: ModelMeta): string[] {
  const layout = meta.layout === IBUG68.id ? IBUG68 : meta.layout === IMM58.id ? IMM58 : null;
  return meta.points.map((p) => layout?.names[p] ?? `point_${p}`);
}

/**
 * Loads a keypoint model and returns a keypoint estimator.
 *
 * @example
 * ```ts ignore
 * import { createKeypointEstimator } from "./keypoint_estimator.ts";
 * const estimator = await createKeypointEstimator({ model: "part3" });
 * const face = await estimator.estimate(await Deno.readFile("fixtures/einstein.jpg"), {
 *   box: { x: 300, y: 180, width: 260, height: 300 },
 * });
 * console.log(face.keypoints.length); // 68
 * estimator.dispose();
 * ```
 */
export async function createKeypointEstimator(
  opts: KeypointEstimatorOptions = {},
): Promise<KeypointEstimator> {
  await setupBackend(opts.backend ?? "wasm");
  const { model, meta } = await loadModel(resolveModelLocation(opts.model ?? "part3"));
  const names = layoutNames(meta);
  const channels = meta.channels as 1 | 3;
  return {
    meta,
    async estimate(image, eo = {}) {
      const img = await toFloatImage(image, channels);
      const box: Box = eo.box
        ? { x: eo.box.x, y: eo.box.y, w: eo.box.width, h: eo.box.height }
        : { x: 0, y: 0, w: img.width, h: img.height };
      const input = faceInput(img, box, meta);
      const x = new Float32Array(meta.inputWidth * meta.inputHeight * meta.channels);
      normaliseImageInto(input.image, x, 0);
      const out = tf.tidy(() =>
        model.predict(
          tf.tensor4d(x, [1, meta.inputHeight, meta.inputWidth, meta.channels]),
        ) as tf.Tensor
      );
      const pred = await out.data();
      out.dispose();
      const pts = toImagePoints(
        denormalisePoints(pred, meta.inputWidth, meta.inputHeight),
        input.matrix,
      );
      return {
        box: { x: box.x, y: box.y, width: box.w, height: box.h },
        keypoints: names.map((name, i) => ({ x: pts[2 * i], y: pts[2 * i + 1], name })),
      };
    },
    dispose() {
      model.dispose();
    },
  };
}

/**
 * Former name of {@linkcode createKeypointEstimator}, kept for one release.
 *
 * @deprecated Use {@linkcode createKeypointEstimator}: "detector" now names the face finder.
 *
 * @example
 * ```ts ignore
 * import { createDetector } from "./keypoint_estimator.ts";
 * const estimator = await createDetector({ model: "part3" });
 * ```
 */
export const createDetector: (opts?: KeypointEstimatorOptions) => Promise<KeypointEstimator> =
  createKeypointEstimator;

/**
 * Former name of {@linkcode KeypointEstimator}.
 *
 * @deprecated Use {@linkcode KeypointEstimator}.
 */
export type Detector = KeypointEstimator;

/**
 * Former name of {@linkcode KeypointEstimatorOptions}.
 *
 * @deprecated Use {@linkcode KeypointEstimatorOptions}.
 */
export type DetectorOptions = KeypointEstimatorOptions;
