/**
 * Face finder on MediaPipe's BlazeFace "back camera" model (256x256 input,
 * 896 SSD anchors), as shipped in `@vladmandic/human/models/blazeface.*`
 * (tfjs graph-model format).
 *
 * Model facts (read from `blazeface.json` and checked by decoding):
 * - input `input:0`, float32 `[1, 256, 256, 3]`, RGB scaled to `[-1, 1]`
 *   (`v / 127.5 - 1`); the batch size is fixed at 1 by the graph's reshapes.
 * - outputs: `Identity:0` `[1, 512, 1]` and `Identity_2:0` `[1, 512, 16]`
 *   (the 16x16 grid, stride 16, 2 anchors per cell), `Identity_1:0`
 *   `[1, 384, 1]` and `Identity_3:0` `[1, 384, 16]` (the 8x8 grid, stride
 *   32, 6 anchors per cell). Anchor order is row, column, anchor.
 * - anchors: MediaPipe SSD options `num_layers 4, strides [16, 32, 32, 32],
 *   min_scale 0.15625, max_scale 0.75, anchor_offset 0.5, aspect_ratios [1],
 *   interpolated_scale_aspect_ratio 1, fixed_anchor_size true` (so every
 *   anchor is 1x1 and only its centre matters): 16*16*2 + 8*8*6 = 896.
 * - regressor (16 values, in input pixels, divided by the scale 256):
 *   `dx, dy, w, h` (box centre offset from the anchor centre, box size),
 *   then 6 keypoints `(x, y)` as offsets from the anchor centre: the
 *   subject's right eye (on the image's left for a frontal face), left eye,
 *   nose tip, mouth centre, right ear tragion, left ear tragion.
 * - score: `sigmoid(logit)`, logits clipped to +-100 as MediaPipe does.
 *
 * Everything after the network (anchors, decoding, NMS, tiling) is plain
 * TypeScript in this file.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import type { RgbaLike } from "../image/raster.ts";
import { parseModelFolder } from "../models/checkpoint.ts";
import { fetchBytes, resolveModelLocation } from "../models/location.ts";
import { type Anchor, BLAZEFACE_BACK_ANCHORS, generateAnchors, mirrorAnchors } from "./anchors.ts";
import { decodeDetections, mergeFlipped } from "./decode.ts";
import type { FaceBox, FindFacesOptions } from "./face_finder.ts";
import { type Detection, greedyNms, weightedNms } from "./nms.ts";
import { DEFAULT_TILING, keepFromTile, planTiles, type Tile } from "./tiles.ts";
import { type PooledImage, poolImage, sampleTile } from "./tile_input.ts";

/** A point in image pixels. */
export interface Point {
  /** Horizontal position, pixels from the left edge. */
  x: number;
  /** Vertical position, pixels from the top edge. */
  y: number;
}

/** One found face. */
export interface RawFace {
  /** Detector box (covers the forehead; larger than a 68-point box). */
  box: FaceBox;
  /** Confidence in `(0, 1)`. */
  score: number;
  /**
   * The 6 BlazeFace keypoints in this order: subject's right eye, left eye,
   * nose tip, mouth centre, right ear tragion, left ear tragion
   * (see {@link KEYPOINT_NAMES}).
   */
  landmarks: Point[];
}

/** Names of {@link RawFace.landmarks}, in order. */
export const KEYPOINT_NAMES: readonly string[] = [
  "rightEye",
  "leftEye",
  "noseTip",
  "mouthCenter",
  "rightEarTragion",
  "leftEarTragion",
];

/** A loaded BlazeFace graph with its anchors and output names. */
export interface BlazeFaceModel {
  /** The tfjs graph model. */
  graph: tf.GraphModel;
  /** Square input side (256). */
  inputSize: number;
  /** The anchors, in the order of the concatenated outputs. */
  anchors: Anchor[];
  /** Score output names, one per grid, in anchor order. */
  scoreOutputs: string[];
  /** Regressor output names, one per grid, in anchor order. */
  boxOutputs: string[];
  /** For each anchor, the index of the anchor at its left-right mirror position. */
  mirror: Int32Array;
}

/**
 * Loads `blazeface.json` + its weight files from a model folder or URL
 * (default: the shipped `models/blazeface/`) with {@linkcode fetchBytes}
 * (read access to the folder, never a download from a hub) and
 * `tf.io.fromMemory`. Checks that the outputs match the anchors of
 * {@link BLAZEFACE_BACK_ANCHORS} and warms the model up.
 *
 * @param model Folder path, URL or built-in name (default `"blazeface"`).
 * @example
 * ```ts ignore
 * import { loadBlazeFace } from "./blazeface.ts";
 * const model = await loadBlazeFace();
 * console.log(model.inputSize); // 256
 * ```
 */
export async function loadBlazeFace(model: string | URL = "blazeface"): Promise<BlazeFaceModel> {
  const base = resolveModelLocation(model);
  const jsonUrl = new URL("blazeface.json", base);
  const source = jsonUrl.protocol === "file:" ? decodeURIComponent(jsonUrl.pathname) : jsonUrl.href;
  const text = new TextDecoder().decode(await fetchBytes(jsonUrl));
  const { artifacts } = await parseModelFolder(text, source, (p) => fetchBytes(new URL(p, base)));
  const graph = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
  const inShape = graph.inputs[0].shape ?? [];
  const inputSize = inShape[1] ?? 0;
  if (inShape.length !== 4 || inShape[1] !== inShape[2] || inShape[3] !== 3) {
    throw new Error(`blazeface: unexpected input shape [${inShape}]`);
  }
  // Outputs: [1, n, 1] scores and [1, n, 16] regressors per grid; the grid
  // with more anchors (finer stride) comes first in the anchor order. The
  // graph does not record output shapes, so one run on zeros tells them
  // (and warms the backend up).
  const names = graph.outputs.map((o) => o.name);
  const zeros = tf.zeros([1, inputSize, inputSize, 3]);
  const res = graph.execute(zeros, names) as tf.Tensor[];
  const outs: { name: string; shape: number[] }[] = res.map((t, i) => ({
    name: names[i],
    shape: t.shape,
  }));
  tf.dispose([zeros, ...res]);
  const byCount = (a: { shape: number[] }, b: { shape: number[] }): number =>
    b.shape[1] - a.shape[1];
  const scores = outs.filter((o) => o.shape[2] === 1).sort(byCount);
  const boxes = outs.filter((o) => o.shape[2] === 16).sort(byCount);
  const anchors = generateAnchors({ ...BLAZEFACE_BACK_ANCHORS, inputSize });
  const count = scores.reduce((n, o) => n + o.shape[1], 0);
  if (
    count !== anchors.length || scores.length !== boxes.length ||
    scores.some((s, i) => s.shape[1] !== boxes[i].shape[1])
  ) {
    throw new Error(
      `blazeface: outputs ${JSON.stringify(outs)} do not match ${anchors.length} anchors`,
    );
  }
  return {
    graph,
    inputSize,
    anchors,
    scoreOutputs: scores.map((o) => o.name),
    boxOutputs: boxes.map((o) => o.name),
    mirror: mirrorAnchors(anchors),
  };
}

/** Options of {@link findFaces}: the finder options plus BlazeFace's own. */
export interface BlazeFaceOptions extends FindFacesOptions {
  /**
   * Lowest score reported. Default 0.7 (AFW recall 0.97 with the default
   * tiling; non-face clutter scored at most 0.65 in our checks).
   */
  minScore?: number;
  /** Most faces reported. Default 100. */
  maxFaces?: number;
  /**
   * Smallest face wanted (detector-box side, pixels). Chooses the tiling
   * ({@link planTiles}); detections smaller than half of it are dropped.
   * Default 48 (no tiles up to about 614 px images; 3-7 passes on 1024 px
   * photos). `0`: the whole-image pass only (fastest; finds faces down to
   * about `max(width, height) / 12.8` px).
   */
  minFaceSize?: number;
  /** IoU above which two detections are one face. Default 0.3. */
  iouThreshold?: number;
  /** `"weighted"` (MediaPipe blending) or `"greedy"`. Default `"weighted"`. */
  nms?: "weighted" | "greedy";
  /**
   * Box-average the image by an integer factor before resampling a region
   * that is shrunk 2x or more (cheap anti-aliasing). Default true.
   */
  antialias?: boolean;
  /**
   * Also run every region mirrored left-right and average the two passes
   * anchor by anchor (scores as probabilities): twice the cost, fewer false
   * alarms on face-like clutter. Default false.
   */
  flip?: boolean;
  /** Explicit regions to search instead of {@link planTiles}'s. */
  tiles?: Tile[];
}

/** Defaults of {@link BlazeFaceOptions}. */
export const DEFAULT_OPTIONS: Required<Omit<BlazeFaceOptions, "tiles">> = {
  minScore: 0.7,
  minFaceSize: 48,
  maxFaces: 100,
  iouThreshold: 0.3,
  nms: "weighted",
  antialias: true,
  flip: false,
};

/**
 * Fills unset (or `undefined`) fields of {@link BlazeFaceOptions} with
 * {@link DEFAULT_OPTIONS}.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "./blazeface.ts";
 * console.log(resolveOptions({ minScore: undefined }).minScore); // 0.7
 * ```
 */
export function resolveOptions(
  options: BlazeFaceOptions = {},
): Required<Omit<BlazeFaceOptions, "tiles">> & Pick<BlazeFaceOptions, "tiles"> {
  const d = DEFAULT_OPTIONS;
  return {
    minScore: options.minScore ?? d.minScore,
    maxFaces: options.maxFaces ?? d.maxFaces,
    minFaceSize: options.minFaceSize ?? d.minFaceSize,
    iouThreshold: options.iouThreshold ?? d.iouThreshold,
    nms: options.nms ?? d.nms,
    antialias: options.antialias ?? d.antialias,
    flip: options.flip ?? d.flip,
    tiles: options.tiles,
  };
}

/** Options of {@link detectInTiles}. */
export interface DetectOptions {
  /** Lowest score kept. */
  minScore: number;
  /** See {@link BlazeFaceOptions.antialias}. Default true. */
  antialias?: boolean;
  /** See {@link BlazeFaceOptions.flip}. Default false. */
  flip?: boolean;
  /** See {@link TilingParams.edgeSlack}. */
  edgeSlack?: number;
}

/**
 * Runs the network on each tile and returns every decoded detection with
 * score `>= minScore`, in image pixels, before NMS. Tiles with
 * {@link Tile.maxFace} drop what {@link keepFromTile} rejects.
 *
 * @param model Loaded model.
 * @param image RGBA image.
 * @param tiles Regions to search (see {@link planTiles}).
 * @param options See {@link DetectOptions}.
 * @example
 * ```ts ignore
 * import { detectInTiles, loadBlazeFace, planTiles } from "./blazeface.ts";
 * const model = await loadBlazeFace();
 * const img = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 4) };
 * console.log((await detectInTiles(model, img, planTiles(64, 64), { minScore: 0.5 })).length); // 0
 * ```
 */
export async function detectInTiles(
  model: BlazeFaceModel,
  image: RgbaLike,
  tiles: Tile[],
  options: DetectOptions,
): Promise<Detection[]> {
  const { minScore, antialias = true, flip = false, edgeSlack = DEFAULT_TILING.edgeSlack } =
    options;
  const n = model.inputSize;
  const need = image.width * image.height * 4;
  if (image.data.length < need) {
    throw new Error(`findFaces: image data holds ${image.data.length} bytes, expected ${need}`);
  }
  // The photo box-averaged per factor, shared by the tiles that use it.
  const pooled = new Map<number, PooledImage>();
  const names = [...model.scoreOutputs, ...model.boxOutputs];
  const g = model.scoreOutputs.length;
  const out: Detection[] = [];
  for (const tile of tiles) {
    let k = antialias ? Math.floor(tile.size / n) : 1;
    k = Math.max(1, Math.min(k, Math.floor(Math.min(image.width, image.height) / 2)));
    let src = pooled.get(k);
    if (!src) {
      src = poolImage(image, k);
      pooled.set(k, src);
    }
    const grid = sampleTile(src, tile, n);
    const results = tf.tidy(() => {
      const input = tf.tensor4d(grid, [1, n, n, 3]);
      const run = (x: tf.Tensor): tf.Tensor[] => {
        const res = model.graph.execute(x, names) as tf.Tensor[];
        return [
          tf.concat(res.slice(0, g).map((t) => t.reshape([-1]))),
          tf.concat(res.slice(g).map((t) => t.reshape([-1]))),
        ];
      };
      return flip ? [...run(input), ...run(tf.reverse(input, 2))] : run(input);
    });
    const arrays = await Promise.all(results.map((t) => t.data() as Promise<Float32Array>));
    tf.dispose(results);
    let [logits, regs] = arrays;
    if (flip) {
      ({ logits, regs } = mergeFlipped(logits, regs, arrays[2], arrays[3], model.mirror));
    }
    for (const d of decodeDetections(logits, regs, model.anchors, n, minScore)) {
      const map = (v: number, o: number): number => o + v * tile.size;
      const det: Detection = {
        x1: map(d.x1, tile.x),
        y1: map(d.y1, tile.y),
        x2: map(d.x2, tile.x),
        y2: map(d.y2, tile.y),
        score: d.score,
        keypoints: d.keypoints.map((v, i) => map(v, i % 2 === 0 ? tile.x : tile.y)),
      };
      if (keepFromTile(det, tile, image.width, image.height, edgeSlack)) out.push(det);
    }
  }
  return out;
}

/** Converts a corner-form detection to a {@link RawFace}. */
export function toFace(d: Detection): RawFace {
  const landmarks: Point[] = [];
  for (let i = 0; i + 1 < d.keypoints.length; i += 2) {
    landmarks.push({ x: d.keypoints[i], y: d.keypoints[i + 1] });
  }
  return {
    box: { x: d.x1, y: d.y1, width: d.x2 - d.x1, height: d.y2 - d.y1 },
    score: d.score,
    landmarks,
  };
}

/**
 * Finds faces in an RGBA image: the whole image letterboxed to a square
 * (aspect ratio kept, black padding), plus overlapping tiles when
 * `minFaceSize` asks for faces too small for the whole-image pass; all
 * detections are merged by NMS. Coordinates are image pixels; best first.
 * Boxes are not clipped to the image. Disposes every tensor it makes.
 *
 * @param model From {@link loadBlazeFace}.
 * @param image RGBA pixels (alpha ignored).
 * @param options See {@link BlazeFaceOptions}.
 * @example
 * ```ts ignore
 * import { findFaces, loadBlazeFace } from "./blazeface.ts";
 * import { readImage } from "./vendor/image.ts";
 * const model = await loadBlazeFace();
 * const faces = await findFaces(model, await readImage("photo.jpg"), { minFaceSize: 40 });
 * console.log(faces.map((f) => f.box));
 * ```
 */
export async function findFaces(
  model: BlazeFaceModel,
  image: RgbaLike,
  options: BlazeFaceOptions = {},
): Promise<RawFace[]> {
  const o = resolveOptions(options);
  if (image.width < 2 || image.height < 2) return [];
  const tiles = o.tiles ?? planTiles(image.width, image.height, o.minFaceSize, model.inputSize);
  const dets = await detectInTiles(model, image, tiles, {
    minScore: o.minScore,
    antialias: o.antialias,
    flip: o.flip,
  });
  return mergeDetections(dets, o);
}

/**
 * The part of {@link findFaces} after the network: keeps detections with
 * score `>= minScore` and side `>= minFaceSize / 2`, merges them by NMS and
 * converts them to {@link RawFace}s, best first. Lets one set of raw
 * detections be scored under several settings.
 *
 * @param dets Raw detections (from {@link detectInTiles}).
 * @param options See {@link BlazeFaceOptions}.
 * @example
 * ```ts
 * import { mergeDetections } from "./blazeface.ts";
 * const d = { x1: 0, y1: 0, x2: 10, y2: 10, score: 0.9, keypoints: [] };
 * console.log(mergeDetections([d, { ...d, score: 0.4 }], { minScore: 0.5 }).length); // 1
 * ```
 */
export function mergeDetections(dets: Detection[], options: BlazeFaceOptions = {}): RawFace[] {
  const o = resolveOptions(options);
  const minSide = o.minFaceSize / 2;
  const kept = dets.filter((d) =>
    d.score >= o.minScore && Math.max(d.x2 - d.x1, d.y2 - d.y1) >= minSide
  );
  const merged = o.nms === "greedy"
    ? greedyNms(kept, o.iouThreshold, o.maxFaces)
    : weightedNms(kept, o.iouThreshold, o.maxFaces);
  return merged.map(toFace);
}
