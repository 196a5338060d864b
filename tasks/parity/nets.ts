/**
 * The nets the parity task trains and the fixed batches they train on (real data or
 * seeded synthetic faces).
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";
import { DEFAULT_AUGMENT } from "../../lib/augment/augment.ts";
import type { ModelMeta } from "../../lib/models/checkpoint.ts";
import type { TrainingLossSpec } from "../../lib/head/training_loss.ts";
import { prepareImm, resolveImmDir } from "../../lib/course/imm_task.ts";
import { keypointSource } from "../../lib/train/keypoint_source.ts";
import { IBUG68, IMM58, IMM_NOSE_TIP } from "../../lib/data/layouts.ts";
import { buildPart1, buildPart2 } from "../../lib/models/course_cnn.ts";
import { normaliseImageInto, normalisePoints } from "../../lib/augment/preprocess.ts";
import { createRng, type Rng, shuffle } from "../../lib/util/random.ts";
import { buildResNet } from "../../lib/models/resnet.ts";
import { learningRate } from "../../lib/train/loop.ts";
import { buildHeatmapUNet } from "../../lib/models/unet.ts";
import { load300w, resolve300wDir, W300_SPLIT } from "../../lib/data/w300.ts";
import { augmentFace, prepareTrainFace } from "../../lib/course/w300_task.ts";
import { transformPoints } from "../../lib/image/affine.ts";
import { translation } from "../../lib/image/affine.ts";
import type { HostBatches, NetId } from "./steps.ts";

/** A net under test: how it is built, trained and fed. */
export interface NetSpec {
  /** Net id. */
  id: NetId;
  /** A description for the report. */
  description: string;
  /** The real default batch size (main.ts). */
  batch: number;
  /** Peak learning rate (main.ts default). */
  peakLr: number;
  /** Learning rate of the first epoch (warm-up applied), used for the steps. */
  lr: number;
  /** The training loss, as the part trains with. */
  lossName: string;
  /** Builds the model (seeded; `meanShape` only matters to the ResNet). */
  build: (seed: number, meanShape?: Float32Array) => tf.LayersModel;
  /** The training loss. */
  loss: TrainingLossSpec;
}

/** Input side of the Part 3 nets. */
export const P3_SIZE = 112;

/**
 * The specification of a net, with main.ts's defaults: parts 1 and 2 Adam
 * 1e-3 constant and MSE; part 3 Adam 2e-3 peak with one warm-up epoch from
 * lr/10 (so 2e-4 during the first epoch's steps) and Smooth-L1 with beta
 * 1/112 (the U-Net adds its heatmap term through `heatmapTrainingLoss`).
 *
 * @example
 * ```ts
 * import { netSpec } from "./parity.ts";
 * console.log(netSpec("part3-resnet").batch); // 16
 * ```
 */
export function netSpec(id: NetId): NetSpec {
  const mse: TrainingLossSpec = { loss: "mse", head: "regression" };
  const sl1: TrainingLossSpec = { loss: "smoothl1", beta: 1 / P3_SIZE, head: "regression" };
  const p3Lr = learningRate(2e-3, 0, 40, { warmupEpochs: 1, decay: "cosine" });
  switch (id) {
    case "part1":
      return {
        id,
        description: "Part 1 nose tip, 80x64 gray",
        batch: 8,
        peakLr: 1e-3,
        lr: 1e-3,
        lossName: "mse",
        build: (seed) => buildPart1({ seed }),
        loss: mse,
      };
    case "part2":
      return {
        id,
        description: "Part 2 58 points, 160x120 gray",
        batch: 8,
        peakLr: 1e-3,
        lr: 1e-3,
        lossName: "mse",
        build: (seed) => buildPart2({ seed }),
        loss: mse,
      };
    case "part3-resnet":
      return {
        id,
        description: "Part 3 ResNet-18 w0.5, 112 gray",
        batch: 16,
        peakLr: 2e-3,
        lr: p3Lr,
        lossName: "smoothl1 (beta 1/112)",
        build: (seed, meanShape) =>
          buildResNet({
            depth: 18,
            inputSize: P3_SIZE,
            channels: 1,
            widthMultiplier: 0.5,
            bottleneckWidth: 1,
            initialBias: meanShape,
            seed,
            outputs: 136,
          }),
        loss: sl1,
      };
    case "part3-unet":
      return {
        id,
        description: "Part 3 heatmap U-Net, 112 gray",
        batch: 16,
        peakLr: 2e-3,
        lr: p3Lr,
        lossName: "heatmapTrainingLoss (smoothl1 + 0.01 KL)",
        build: (seed) =>
          buildHeatmapUNet({
            inputWidth: P3_SIZE,
            inputHeight: P3_SIZE,
            channels: 1,
            keypoints: 68,
            outputStride: 4,
            seed,
          }),
        loss: { ...sl1, head: "heatmap" },
      };
  }
}

/**
 * Indices of the first `steps` batches as `lib/train/loop.ts` draws them: a
 * seeded shuffle per epoch, consecutive slices (the last, short slice of an
 * epoch included), calling `draw` with the same random stream in order.
 */
async function drawBatches(
  trainSize: number,
  steps: number,
  batch: number,
  seed: number,
  draw: (idx: number[], rng: Rng) =>
    | { x: Float32Array; y: Float32Array }
    | Promise<
      { x: Float32Array; y: Float32Array }
    >,
): Promise<{ x: Float32Array[]; y: Float32Array[] }> {
  const rng = createRng(seed);
  const x: Float32Array[] = [], y: Float32Array[] = [];
  while (x.length < steps) {
    const order = shuffle(Array.from({ length: trainSize }, (_, i) => i), rng);
    for (let s = 0; s * batch < order.length && x.length < steps; s++) {
      const b = await draw(order.slice(s * batch, (s + 1) * batch), rng);
      x.push(b.x);
      y.push(b.y);
    }
  }
  return { x, y };
}

/**
 * Seeded synthetic face-like batches: a dark oval on a gradient with two
 * eye blobs and a nose blob, placed and scaled at random; the targets are
 * points on the oval (the nose tip first), normalised to [0, 1].
 *
 * @example
 * ```ts
 * import { syntheticBatches } from "./parity.ts";
 * const b = syntheticBatches([64, 80, 1], 2, 2, 4, 1);
 * console.log(b.x.length, b.y[0].length); // 2 8
 * ```
 */
export function syntheticBatches(
  inputShape: [number, number, number],
  outputs: number,
  steps: number,
  batch: number,
  seed: number,
): HostBatches {
  const [h, w, c] = inputShape;
  const rng = createRng(seed);
  const k = outputs / 2;
  const xs: Float32Array[] = [], ys: Float32Array[] = [];
  for (let s = 0; s < steps; s++) {
    const x = new Float32Array(batch * h * w * c);
    const y = new Float32Array(batch * outputs);
    for (let b = 0; b < batch; b++) {
      const cx = rng.uniform(0.4, 0.6), cy = rng.uniform(0.4, 0.6);
      const rx = rng.uniform(0.2, 0.3), ry = rng.uniform(0.25, 0.35);
      const blobs = [[cx, cy + 0.05], [cx - rx / 2, cy - ry / 3], [cx + rx / 2, cy - ry / 3]];
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const u = (j + 0.5) / w, v = (i + 0.5) / h;
          let val = 0.2 * (u - 0.5) + 0.1 * rng.normal() * 0.1;
          if (((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2 < 1) val += 0.4;
          for (const [bx, by] of blobs) {
            val -= 0.5 * Math.exp(-((u - bx) ** 2 + (v - by) ** 2) / 0.002);
          }
          for (let ch = 0; ch < c; ch++) x[((b * h + i) * w + j) * c + ch] = val;
        }
      }
      for (let p = 0; p < k; p++) {
        const a = p === 0 ? 0 : (2 * Math.PI * p) / k;
        y[b * outputs + 2 * p] = p === 0 ? blobs[0][0] : cx + rx * Math.cos(a);
        y[b * outputs + 2 * p + 1] = p === 0 ? blobs[0][1] : cy + ry * Math.sin(a);
      }
    }
    xs.push(x);
    ys.push(y);
  }
  return { inputShape, outputs, x: xs, y: ys, source: `synthetic faces (seed ${seed})` };
}

/**
 * The first `steps` training batches of a net from its real data, drawn
 * as `lib/train/loop.ts` would with `seed`: IMM (persons 1-32; part 1 without,
 * part 2 with the default augmentation) or the 300-W training subsets
 * (the first `ceil(steps * batch / 3)` faces of each, as the project's
 * `--limit` does; augmentation, box jitter 0.05, box scale 0.25).
 *
 * @example
 * ```ts ignore
 * import { realBatches } from "./parity.ts";
 * const b = await realBatches("part1", 20, 8, 1);
 * ```
 */
export async function realBatches(
  id: NetId,
  steps: number,
  batch: number,
  seed: number,
): Promise<HostBatches> {
  if (id === "part1" || id === "part2") {
    const dir = resolveImmDir(undefined);
    const { train } = await prepareImm(dir, id);
    const points = id === "part1" ? [IMM_NOSE_TIP] : Array.from({ length: 58 }, (_, i) => i);
    const source = keypointSource(train, [], {
      points,
      flip: IMM58.flip,
      augment: id === "part2" ? DEFAULT_AUGMENT : null,
    });
    const b = await drawBatches(
      train.length,
      steps,
      batch,
      seed,
      (idx, rng) => source.trainBatch(idx, rng),
    );
    return {
      inputShape: source.inputShape,
      outputs: source.outputs,
      ...b,
      source: `IMM ${dir} (${train.length} training faces${
        id === "part2" ? ", augmented" : ""
      }, shuffle seed ${seed})`,
    };
  }
  const root = resolve300wDir(undefined);
  const meta: ModelMeta = {
    task: "part3",
    layout: IBUG68.id,
    points: Array.from({ length: 68 }, (_, i) => i),
    inputWidth: P3_SIZE,
    inputHeight: P3_SIZE,
    channels: 1,
    boxScale: 0.25,
  };
  const limit = Math.ceil((steps * batch) / W300_SPLIT.train.length);
  const samples = await load300w(W300_SPLIT.train.map((d) => `${root}/${d}`), {
    channels: 1,
    limit,
  });
  const faces = samples.map((s) => prepareTrainFace(s, meta));
  const pixels = P3_SIZE * P3_SIZE;
  const b = await drawBatches(faces.length, steps, batch, seed, (idx, rng) => {
    const x = new Float32Array(idx.length * pixels);
    const y = new Float32Array(idx.length * 136);
    idx.forEach((i, k) => {
      const a = augmentFace(faces[i], P3_SIZE, rng, DEFAULT_AUGMENT, 0.05);
      normaliseImageInto(a.image, x, k * pixels);
      y.set(normalisePoints(a.points, P3_SIZE, P3_SIZE), k * 136);
    });
    return { x, y };
  });
  // The ResNet head starts at the mean training shape, as in runPart3.
  const meanShape = new Float32Array(136);
  for (const f of faces) {
    const margin = (f.image.width - P3_SIZE) / 2;
    const p = normalisePoints(
      transformPoints(translation(-margin, -margin), f.points),
      P3_SIZE,
      P3_SIZE,
    );
    for (let i = 0; i < 136; i++) meanShape[i] += p[i] / faces.length;
  }
  return {
    inputShape: [P3_SIZE, P3_SIZE, 1],
    outputs: 136,
    ...b,
    meanShape,
    source:
      `300-W ${root} ${W300_SPLIT.train.join("+")} (first ${limit} faces each, ${faces.length} ` +
      `faces, augmented, shuffle seed ${seed})`,
  };
}
