/**
 * One call of a keypoint model on every face box of a photo: crops through
 * `face_input.ts` (the path Part 3 validation uses), one batched `predict`,
 * points mapped back to image pixels, and for heatmap models a confidence
 * per point from the heatmap logits.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { denormalisePoints, normaliseImageInto } from "../augment/preprocess.ts";
import { flipAveragePoints, mirrorImageInto } from "../augment/flip_average.ts";
import { type Box, boxFromPoints } from "../data/face_box.ts";
import { IBUG68, IMM58 } from "../data/layouts.ts";
import type { FaceBox } from "../detect/face_finder.ts";
import type { ModelMeta } from "../models/checkpoint.ts";
import { faceInput, modelBox, toImagePoints } from "./face_input.ts";
import { fromRgba, type RgbaLike } from "../image/raster.ts";
import { compose, translation } from "../image/affine.ts";
import type { OnnxKeypointRunner } from "./onnx_engine.ts";
import { compileLean } from "./lean_graph.ts";
import { findSoftArgmax, SoftArgmax2D } from "../head/heatmap.ts";
import type { Affine } from "../image/affine.ts";

/** The keypoints of one face box. */
export interface NetResult {
  /** Interleaved `[x0, y0, ...]` in image pixels (pixel centres). */
  points: Float32Array;
  /** Per-point confidence in [0, 1] (heatmap models only). */
  scores?: Float32Array;
}

/** A keypoint model ready to run on boxes. */
export interface KeypointNet {
  /** Channels the model reads (1 gray, 3 RGB). */
  channels: 1 | 3;
  /** Point names in output order. */
  names: string[];
  /**
   * Runs the model on `boxes` of `image` (one batch); one result per box.
   * `flip`: also on the mirrored crops, points re-paired and averaged
   * (twice the work; full layouts only).
   */
  run(image: RgbaLike, boxes: Box[], flip?: boolean): Promise<NetResult[]>;
  /** Whether `flip` is available (the model outputs a whole layout with a flip map). */
  canFlip: boolean;
  /** Frees the model. */
  dispose(): void;
}

/**
 * The pixels of `image` under `box` plus the margin `cropFace` reads around
 * a crop to `outSize` (its antialiasing filter's reach, at least a pixel),
 * clipped to the image, and where they start; the whole image when the box
 * covers it. Cropping this region gives exactly the crop of the whole image.
 */
function cropRegion(
  image: RgbaLike,
  box: Box,
  outSize: number,
): { rgba: RgbaLike; x: number; y: number } {
  const m = Math.ceil(2 * Math.max(1, box.w / outSize, box.h / outSize)) + 1;
  const x0 = Math.max(0, Math.floor(box.x) - m), y0 = Math.max(0, Math.floor(box.y) - m);
  const x1 = Math.min(image.width, Math.ceil(box.x + box.w) + m);
  const y1 = Math.min(image.height, Math.ceil(box.y + box.h) + m);
  if (x0 === 0 && y0 === 0 && x1 === image.width && y1 === image.height) {
    return { rgba: image, x: 0, y: 0 };
  }
  const w = Math.max(1, x1 - x0), h = Math.max(1, y1 - y0);
  const data = new Uint8ClampedArray(w * h * 4);
  const src = image.data;
  const rowBytes = Math.min(w, image.width - x0) * 4;
  for (let y = 0; y < h && y0 + y < image.height; y++) {
    const s = ((y0 + y) * image.width + x0) * 4;
    if (ArrayBuffer.isView(src)) data.set((src as Uint8Array).subarray(s, s + rowBytes), y * w * 4);
    else for (let i = 0; i < rowBytes; i++) data[y * w * 4 + i] = src[s + i];
  }
  return { rgba: { width: w, height: h, data }, x: x0, y: y0 };
}

/** Largest batch sent to the model at once. */
const MAX_BATCH = 16;

/**
 * Point confidence from heatmap logits `[h*w]` of one point: softmax, then
 * the probability mass in the 3x3 cells around the peak.
 *
 * @example
 * ```ts
 * import { peakMass } from "./keypoint_net.ts";
 * const sharp = new Float32Array(16).fill(-20);
 * sharp[5] = 20;
 * console.log(peakMass(sharp, 4, 4, 0) > 0.99); // true
 * console.log(peakMass(new Float32Array(16), 4, 4, 0)); // 0.25 (uniform: 4 of 16 cells)
 * ```
 */
export function peakMass(
  logits: ArrayLike<number>,
  width: number,
  height: number,
  offset: number,
  stride = 1,
): number {
  const { max, near } = aroundPeak(
    logits,
    width,
    height,
    offset,
    stride,
    (v, m) => Math.exp(v - m),
  );
  let total = 0;
  for (let i = 0, o = offset; i < width * height; i++, o += stride) {
    total += Math.exp(logits[o] - max);
  }
  return near / total;
}

/**
 * The largest of a map's `width * height` values (at `offset`, every
 * `stride`) and the sum of `f(value, max)` over the 3x3 cells around it
 * (fewer at the border).
 */
function aroundPeak(
  values: ArrayLike<number>,
  width: number,
  height: number,
  offset: number,
  stride: number,
  f: (v: number, max: number) => number,
): { max: number; near: number } {
  let max = -Infinity, arg = 0;
  for (let i = 0, o = offset; i < width * height; i++, o += stride) {
    if (values[o] > max) [max, arg] = [values[o], i];
  }
  const px = arg % width, py = Math.floor(arg / width);
  let near = 0;
  for (let y = Math.max(0, py - 1); y <= Math.min(height - 1, py + 1); y++) {
    for (let x = Math.max(0, px - 1); x <= Math.min(width - 1, px + 1); x++) {
      near += f(values[offset + (y * width + x) * stride], max);
    }
  }
  return { max, near };
}

/**
 * {@link peakMass} of a probability map (already a softmax): the mass in the
 * 3x3 cells around its peak.
 *
 * @example
 * ```ts
 * import { peakShare } from "./keypoint_net.ts";
 * const p = new Float32Array(16).fill(0.02);
 * p[5] = 0.7;
 * console.log(peakShare(p, 4, 4, 0).toFixed(2)); // 0.86
 * ```
 */
export function peakShare(
  probs: ArrayLike<number>,
  width: number,
  height: number,
  offset: number,
  stride = 1,
): number {
  return aroundPeak(probs, width, height, offset, stride, (v) => v).near;
}

/**
 * Wraps a loaded keypoint model. Heatmap models (a `heatmap_logits` layer)
 * also return per-point scores.
 *
 * @example
 * ```ts ignore
 * import { createKeypointNet } from "./keypoint_net.ts";
 * const net = createKeypointNet(model, meta);
 * const [face] = await net.run(image, [{ x: 10, y: 10, w: 80, h: 90 }]);
 * ```
 */
export function createKeypointNet(
  model: tf.LayersModel,
  meta: ModelMeta,
  onnx?: OnnxKeypointRunner,
): KeypointNet {
  const layout = meta.layout === IBUG68.id ? IBUG68 : meta.layout === IMM58.id ? IMM58 : null;
  const names = meta.points.map((p) => layout?.names[p] ?? `point_${p}`);
  // Output index of each output's mirror partner (when the model covers its whole layout).
  const whole = layout && meta.points.length === layout.names.length &&
    meta.points.every((p, i) => p === i);
  const flipMap = whole ? layout.flip : undefined;
  // Point scores: from the probability maps of a plain soft-argmax head (the
  // softmax the head computes anyway, so no second pass of exponentials
  // here), else from the heatmap logits: one layer, or one per member of an
  // ensemble (models/ensemble.ts).
  const head = findSoftArgmax(model);
  const mapsHead = head !== null && model.outputs.length === 1 &&
    model.outputs[0].sourceLayer === head && !head.learnableTemperature &&
    head.temperature === 1 && !head.outputHeatmaps;
  const logitsLayers = mapsHead
    ? []
    : model.layers.filter((l) => /(^|_)heatmap_logits$/.test(l.name));
  let both: tf.LayersModel | undefined;
  if (mapsHead) {
    const logitsTensor = head.inboundNodes[0].inputTensors[0];
    const outs = new SoftArgmax2D({ name: "keypoints_and_maps", outputHeatmaps: true })
      .apply(logitsTensor) as tf.SymbolicTensor[];
    both = tf.model({ inputs: model.inputs, outputs: outs });
  } else if (logitsLayers.length > 0) {
    both = tf.model({
      inputs: model.inputs,
      outputs: [model.outputs[0], ...logitsLayers.map((l) => l.output as tf.SymbolicTensor)],
    });
  }
  const size = meta.inputWidth * meta.inputHeight * meta.channels;
  // BatchNorm folded into the convs, conv + BN + ReLU as one kernel (see lean_graph.ts).
  const lean = onnx ? null : compileLean(both ?? model);
  const forward = (t: tf.Tensor4D): tf.Tensor[] => {
    if (lean) return lean.run(t);
    const o = (both ?? model).predict(t);
    return Array.isArray(o) ? o : [o];
  };
  // Warm-up: the first call compiles kernels and allocates; do it at load.
  if (!onnx) {
    const zeros = [1, meta.inputHeight, meta.inputWidth, meta.channels] as const;
    tf.tidy(() => forward(tf.zeros([...zeros]) as tf.Tensor4D));
  }
  const runBatch = async (image: RgbaLike, boxes: Box[], flip: boolean): Promise<NetResult[]> => {
    const n = boxes.length;
    const x = new Float32Array((flip ? 2 : 1) * n * size);
    const inputs = boxes.map((b, i) => {
      // Convert only the part of the photo the crop reads (exact: a shift).
      const region = (meta.boxScale ?? 0) > 0
        ? cropRegion(image, modelBox(b, meta), meta.inputWidth)
        : { rgba: image, x: 0, y: 0 }; // whole-image models: the training path as it is
      const float = fromRgba(region.rgba, meta.channels as 1 | 3);
      const local = region.x === 0 && region.y === 0
        ? b
        : { ...b, x: b.x - region.x, y: b.y - region.y };
      const input = faceInput(float, local, meta);
      input.matrix = compose(input.matrix, translation(-region.x, -region.y));
      normaliseImageInto(input.image, x, i * size);
      if (flip) {
        mirrorImageInto(
          x,
          i * size,
          (n + i) * size,
          meta.inputWidth,
          meta.inputHeight,
          meta.channels,
        );
      }
      return input;
    });
    if (onnx) {
      const out = await onnx.run(
        x,
        x.length / size,
        meta.inputHeight,
        meta.inputWidth,
        meta.channels,
      );
      return finish(inputs, n, flip, out, [], []);
    }
    const outs = tf.tidy(() =>
      forward(tf.tensor4d(x, [x.length / size, meta.inputHeight, meta.inputWidth, meta.channels]))
    );
    const [pred, ...logits] = await Promise.all(outs.map((o) => o.data() as Promise<Float32Array>));
    const lshapes = outs.slice(1).map((o) => o.shape);
    tf.dispose(outs);
    return finish(inputs, n, flip, pred, logits, lshapes);
  };
  const finish = (
    inputs: { matrix: Affine }[],
    n: number,
    flip: boolean,
    pred: Float32Array,
    logits: Float32Array[],
    lshapes: number[][],
  ): NetResult[] => {
    const k = names.length;
    // A point's score: its peak mass, averaged over an ensemble's members.
    const scoresOf = (i: number): Float32Array | undefined => {
      if (logits.length === 0) return undefined;
      const scores = new Float32Array(k);
      logits.forEach((l, m) => {
        const [, h, w, c] = lshapes[m];
        for (let j = 0; j < k; j++) {
          const at = i * h * w * c + j;
          const v = mapsHead ? peakShare(l, w, h, at, c) : peakMass(l, w, h, at, c);
          scores[j] += v / logits.length;
        }
      });
      return scores;
    };
    return inputs.map((input, i) => {
      let norm = pred.subarray(i * 2 * k, (i + 1) * 2 * k) as Float32Array;
      const scores = scoresOf(i);
      if (flip && flipMap) {
        const f = pred.subarray((n + i) * 2 * k, (n + i + 1) * 2 * k);
        const fs = scoresOf(n + i);
        if (scores && fs) {
          for (let j = 0; j < k; j++) scores[j] = (scores[j] + fs[flipMap[j]]) / 2;
        }
        norm = flipAveragePoints(norm, f, flipMap);
      }
      const pts = toImagePoints(
        denormalisePoints(norm, meta.inputWidth, meta.inputHeight),
        input.matrix,
      );
      return scores ? { points: pts, scores } : { points: pts };
    });
  };
  return {
    channels: meta.channels as 1 | 3,
    names,
    canFlip: flipMap !== undefined,
    async run(image, boxes, flip = false) {
      if (flip && !flipMap) {
        throw new Error(`flip: the ${meta.task} model has no whole-layout flip map`);
      }
      const out: NetResult[] = [];
      for (let i = 0; i < boxes.length; i += MAX_BATCH) {
        out.push(...await runBatch(image, boxes.slice(i, i + MAX_BATCH), flip));
      }
      return out;
    },
    dispose() {
      lean?.dispose();
      model.dispose();
      void onnx?.release();
    },
  };
}

/**
 * The box of a second pass: the bounding box of the first pass's points,
 * the box the crop models were trained on.
 *
 * @example
 * ```ts
 * import { refinedBox } from "./keypoint_net.ts";
 * console.log(refinedBox(new Float32Array([0, 0, 10, 4]))); // { x: 0.5, y: 0.5, w: 10, h: 4 }
 * ```
 */
export function refinedBox(points: Float32Array): Box {
  return boxFromPoints(points, "first-pass keypoints");
}

/**
 * A public box from the internal one.
 *
 * @example
 * ```ts
 * import { toFaceBox } from "./keypoint_net.ts";
 * console.log(toFaceBox({ x: 1, y: 2, w: 3, h: 4 })); // { x: 1, y: 2, width: 3, height: 4 }
 * ```
 */
export function toFaceBox(b: Box): FaceBox {
  return { x: b.x, y: b.y, width: b.w, height: b.h };
}

/**
 * The internal box of a public one (checked: finite, positive size).
 *
 * @example
 * ```ts
 * import { fromFaceBox } from "./keypoint_net.ts";
 * console.log(fromFaceBox({ x: 1, y: 2, width: 3, height: 4 })); // { x: 1, y: 2, w: 3, h: 4 }
 * ```
 */
export function fromFaceBox(b: FaceBox): Box {
  const box = { x: b.x, y: b.y, w: b.width, h: b.height };
  if (![box.x, box.y, box.w, box.h].every(Number.isFinite) || box.w <= 0 || box.h <= 0) {
    throw new Error(
      `face box must have finite x, y and positive width, height (got ${JSON.stringify(b)})`,
    );
  }
  return box;
}
