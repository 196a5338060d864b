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
import type { Box } from "../data/face_box.ts";
import { createFaceDetector } from "../detect/face_detector.ts";
import type { FaceBox, FaceFinder, FindFacesOptions } from "../detect/face_finder.ts";
import { type ModelMeta, parseModelFolder } from "../models/checkpoint.ts";
import { fetchBytes, resolveModelLocation } from "../models/location.ts";
import { type ImageInput, toRgba } from "./image_input.ts";
import { loadOnnxRunner } from "./onnx_engine.ts";
import type { WeightStorage } from "../onnx/compress.ts";
import {
  createKeypointNet,
  fromFaceBox,
  type NetResult,
  refinedBox,
  toFaceBox,
} from "./keypoint_net.ts";

export type { FaceBox } from "../detect/face_finder.ts";
export type { ImageInput, ImageTensor } from "./image_input.ts";

/** One keypoint in image pixel coordinates (top-left pixel centre = 0, 0). */
export interface Keypoint {
  /** x in pixels. */
  x: number;
  /** y in pixels. */
  y: number;
  /** Point name from the model's layout, e.g. `"nose_tip"`. */
  name: string;
  /**
   * Confidence in [0, 1] (heatmap models: the share of the point's heatmap
   * mass within one heatmap cell of its peak; sharp peaks score near 1).
   * Absent for regression models.
   */
  score?: number;
}

/** The result for one face. */
export interface Face {
  /**
   * The face box: the one given, or the found face's box calibrated to the
   * landmarks' bounding box (brows to chin).
   */
  box: FaceBox;
  /**
   * Face confidence in [0, 1]: the face finder's score for found faces; for
   * a given box, the mean keypoint score (1 for regression models).
   */
  score: number;
  /** The keypoints, in the model's layout order. */
  keypoints: Keypoint[];
}

/** Former name of {@linkcode Face}. */
export type FaceEstimate = Face;

/** Options of {@link createKeypointEstimator}. */
export interface KeypointEstimatorOptions {
  /**
   * `"part3"` (68 points, lite heatmap net at base 28, most accurate), `"part3-fast"` (68
   * points, the lite net at base 16: about 3x faster, a little less accurate),
   * `"part2"` (58), `"part1"` (nose tip), a folder path or a URL.
   */
  model?: string | URL;
  /** tfjs backend (default `"wasm"`). */
  backend?: BackendName;
  /**
   * The face finder used when `estimate` gets no box: default the shipped
   * BlazeFace finder (`models/blazeface`, loaded on first use; needs read
   * access to it), or any {@linkcode FaceFinder}.
   */
  faceFinder?: FaceFinder;
  /**
   * `"tfjs"` (default: no extra permission) or `"onnxruntime"`: the model's
   * `model.onnx` in onnxruntime-node, much faster, needs `--allow-ffi`
   * (keypoint scores are then absent: the export has no heatmap output).
   */
  engine?: "tfjs" | "onnxruntime";
  /**
   * With `engine: "onnxruntime"`: which export to run, `float32` (default,
   * `model.onnx`), `float16` (`model.fp16.onnx`) or `int8` (`model.int8.onnx`,
   * 4x smaller; see the model card for its accuracy).
   */
  onnxWeights?: WeightStorage;
}

/** Options of `estimate`. */
export interface EstimateOptions extends FindFacesOptions {
  /** One face box: skip finding. */
  box?: FaceBox;
  /** Several face boxes: skip finding. */
  boxes?: FaceBox[];
  /**
   * Second pass: re-crop each face from the first pass's keypoints and
   * estimate again (default false: it doubles the keypoint time for a small
   * gain, measured in the README).
   */
  refine?: boolean;
  /**
   * Test-time flip averaging: also estimate on the mirrored crop and average
   * (default false; about twice the keypoint time).
   */
  flip?: boolean;
}

/** A loaded keypoint model. */
export interface KeypointEstimator {
  /** The model's metadata (task, layout, input size). */
  readonly meta: ModelMeta;
  /**
   * Every face of a photo: found faces best first, given boxes in their
   * order (`box` first, then `boxes`). Without `box`/`boxes` the faces are
   * found first (crop models); whole-image models (IMM Parts 1-2) take the
   * whole image as the face. A photo with no face gives `[]`.
   */
  estimate(image: ImageInput, opts?: EstimateOptions): Promise<Face[]>;
  /** The keypoints of the face in one box (default: the whole image). */
  estimateFace(image: ImageInput, box?: FaceBox): Promise<Face>;
  /** Frees the model's memory (and the default face finder's). */
  dispose(): void;
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

function toFace(box: Box, found: number | undefined, r: NetResult, names: string[]): Face {
  const scores = r.scores;
  const keypoints = names.map((name, i): Keypoint =>
    scores
      ? { x: r.points[2 * i], y: r.points[2 * i + 1], name, score: scores[i] }
      : { x: r.points[2 * i], y: r.points[2 * i + 1], name }
  );
  const mean = scores ? scores.reduce((s, v) => s + v, 0) / scores.length : 1;
  return { box: toFaceBox(box), score: found ?? mean, keypoints };
}

/** Throws when a box lies wholly outside the image. */
function checkInside(box: Box, img: { width: number; height: number }): Box {
  if (box.x >= img.width || box.y >= img.height || box.x + box.w <= 0 || box.y + box.h <= 0) {
    throw new Error(
      `face box ${
        JSON.stringify(toFaceBox(box))
      } lies outside the ${img.width}x${img.height} image`,
    );
  }
  return box;
}

/**
 * Loads a keypoint model and returns a keypoint estimator.
 *
 * @example
 * ```ts ignore
 * import { createKeypointEstimator } from "./keypoint_estimator.ts";
 * const estimator = await createKeypointEstimator({ model: "part3" });
 * const faces = await estimator.estimate(await Deno.readFile("fixtures/einstein.jpg"));
 * console.log(faces.length, faces[0].keypoints.length); // 2 68
 * estimator.dispose();
 * ```
 */
export async function createKeypointEstimator(
  opts: KeypointEstimatorOptions = {},
): Promise<KeypointEstimator> {
  await setupBackend(opts.backend ?? "wasm");
  const { model, meta } = await loadModel(resolveModelLocation(opts.model ?? "part3"));
  if (opts.engine && opts.engine !== "tfjs" && opts.engine !== "onnxruntime") {
    throw new Error(`engine: use "tfjs" or "onnxruntime" (got "${opts.engine}")`);
  }
  const location = resolveModelLocation(opts.model ?? "part3");
  const onnx = opts.engine === "onnxruntime"
    ? await loadOnnxRunner(location, opts.onnxWeights)
    : undefined;
  const net = createKeypointNet(model, meta, onnx);
  const cropModel = (meta.boxScale ?? 0) > 0;
  let finder = opts.faceFinder;
  let ownFinder: FaceFinder | undefined;
  const getFinder = async (): Promise<FaceFinder> => {
    if (!finder) finder = ownFinder = await createFaceDetector({ backend: opts.backend });
    return finder;
  };
  const wholeBox = (img: { width: number; height: number }): Box => ({
    x: 0,
    y: 0,
    w: img.width,
    h: img.height,
  });
  return {
    meta,
    async estimate(image, eo = {}) {
      const rgba = await toRgba(image);
      const img = rgba;
      let found: { box: Box; score?: number }[];
      if (eo.box || eo.boxes) {
        found = [...(eo.box ? [eo.box] : []), ...(eo.boxes ?? [])].map((b) => ({
          box: checkInside(fromFaceBox(b), img),
        }));
      } else if (!cropModel) {
        found = [{ box: wholeBox(img) }];
      } else {
        const faces = await (await getFinder()).findFaces(rgba, eo);
        found = faces.map((f) => ({ box: fromFaceBox(f.box), score: f.score }));
      }
      if (found.length === 0) return [];
      const flip = eo.flip ?? false;
      let results = await net.run(img, found.map((f) => f.box), flip);
      if (eo.refine ?? false) {
        results = await net.run(img, results.map((r) => refinedBox(r.points)), flip);
      }
      const faces = found.map((f, i) => toFace(f.box, f.score, results[i], net.names));
      // Found faces best first; given boxes keep their order.
      return eo.box || eo.boxes ? faces : faces.sort((a, b) => b.score - a.score);
    },
    async estimateFace(image, box) {
      const img = await toRgba(image);
      const b = box ? checkInside(fromFaceBox(box), img) : wholeBox(img);
      const [r] = await net.run(img, [b]);
      return toFace(b, undefined, r, net.names);
    },
    dispose() {
      net.dispose();
      ownFinder?.dispose?.();
    },
  };
}

/** The API of the former `createDetector`: one face per call. */
export interface Detector {
  /** The model's metadata. */
  readonly meta: ModelMeta;
  /** The keypoints of the face in `opts.box` (default: the whole image). */
  estimate(image: ImageInput, opts?: { box?: FaceBox }): Promise<Face>;
  /** Frees the model's memory. */
  dispose(): void;
}

/**
 * Former entry point, kept for one release: one face per call, in the given
 * box or the whole image.
 *
 * @deprecated Use {@linkcode createKeypointEstimator} (`estimate` finds every
 * face; `estimateFace` takes one box). "Detector" now names the face finder.
 *
 * @example
 * ```ts ignore
 * import { createDetector } from "./keypoint_estimator.ts";
 * const d = await createDetector({ model: "part3" });
 * const face = await d.estimate("face.jpg", { box: { x: 10, y: 10, width: 80, height: 90 } });
 * ```
 */
export async function createDetector(opts: KeypointEstimatorOptions = {}): Promise<Detector> {
  const e = await createKeypointEstimator(opts);
  return {
    meta: e.meta,
    estimate: (image, o = {}) => e.estimateFace(image, o.box),
    dispose: () => e.dispose(),
  };
}

/**
 * Former name of {@linkcode KeypointEstimatorOptions}.
 *
 * @deprecated Use {@linkcode KeypointEstimatorOptions}.
 */
export type DetectorOptions = KeypointEstimatorOptions;
