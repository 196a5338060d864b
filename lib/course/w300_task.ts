/**
 * Part 3: 68 keypoints on 300-W faces in the wild. Faces are cropped from
 * the landmarks' box enlarged by `boxScale` per side (square, padded outside
 * the photo), decoded and cropped once, then augmented per batch (box
 * jitter, rotation, scale, a correct flip, colour jitter) in a single warp.
 * Reports MAE in original pixels, NME (inter-ocular), failure rate at 8 %
 * and AUC@8 %, with a CED curve and overlays.
 *
 * @module
 */

import { type Affine, chain, transformPoints, translation } from "../image/affine.ts";
import {
  type AugmentOptions,
  type AugmentPreset,
  augmentPreset,
  colourJitter,
  DEFAULT_AUGMENT,
  flipHorizontal,
  permutePoints,
  randomAffine,
} from "../augment/augment.ts";
import { degrade } from "../augment/degrade.ts";
import { occludeHand } from "../augment/hand_occlusion.ts";
import { type BackendInfo, requireSelfCheck } from "../backends/backend.ts";
import { loadModelFolder, type ModelMeta } from "../models/checkpoint.ts";
import { boxFromPoints, cropAffine, cropFace, jitterBox } from "../data/face_box.ts";
import { faceInput, modelBox, toImagePoints } from "../infer/face_input.ts";
import {
  aucAt,
  cedCurve,
  failureRate,
  interOcular,
  nmeInterOcular,
} from "../metrics/face_alignment.ts";
import { ensureDir, writeFileAtomic } from "../util/fs_util.ts";
import { IBUG68 } from "../data/layouts.ts";
import type { LossName } from "../head/losses.ts";
import { mean, meanAbsoluteError } from "../metrics/point_errors.ts";
import { denormalisePoints, normaliseImageInto, normalisePoints } from "../augment/preprocess.ts";
import { type FloatImage, warpAffine } from "../image/raster.ts";
import { buildResNet, type ResNetDepth } from "../models/resnet.ts";
import { buildHeatmapUNet } from "../models/unet.ts";
import { buildLiteHeatmapNet } from "../models/lite_heatmap_net.ts";
import { distilledSource } from "./distill.ts";
import { flipAverageBatch } from "../augment/flip_average.ts";
import type * as tf from "@tensorflow/tfjs";
import { GREEN, lossCurves, overlay, RED, savePng, titledGrid } from "../report/pictures.ts";
import { curveChart } from "../report/plot.ts";
import type { Rgb } from "../image/draw.ts";
import type { RgbaImage } from "../image/rgba.ts";
import type { Rng } from "../util/random.ts";
import { createRng } from "../util/random.ts";
import type { Sample } from "../data/sample.ts";
import { type Batch, type BatchSource, finalModelDir, predictAll, train } from "../train/loop.ts";
import { centreCropBatches, recalibrateFolder } from "../train/bn_recalibrate.ts";
import { load300w, W300_SPLIT } from "../data/w300.ts";
import { headPose } from "../analyze/head_pose.ts";
import { REGIONS_68 } from "../analyze/regions.ts";
import { isLabelSource, labelSamples, splitByGroup } from "../data/label_samples.ts";

/** Options of a Part 3 run. */
export interface Part3Options {
  /** 300-W root (with the subset folders). */
  data: string;
  /** Output folder. */
  out: string;
  /** Epochs. */
  epochs: number;
  /** Batch size. */
  batch: number;
  /** Peak learning rate. */
  lr: number;
  /** Seed. */
  seed: number;
  /** Continue from `out/last`. */
  resume: boolean;
  /** Input side. */
  inputSize: number;
  /** 1 (grayscale) or 3 (RGB). */
  channels: 1 | 3;
  /** ResNet depth. */
  depth: ResNetDepth;
  /** Channel width multiplier. */
  width: number;
  /** Bottleneck width (2 = Wide-ResNet-50-2). */
  bottleneckWidth: number;
  /** Box enlargement per side. */
  boxScale: number;
  /** Box jitter (fraction of the box). */
  jitter: number;
  /** Coordinate loss. */
  loss: LossName;
  /** Warm-up epochs. */
  warmup: number;
  /** Learning-rate decay. */
  decay: "constant" | "cosine" | "step";
  /** Backend info for the summary. */
  backend: BackendInfo;
  /** Faces per subset folder (quick runs). */
  limit?: number;
  /** Hide progress bars. */
  quiet?: boolean;
  /** Compare one step's gradients with the cpu backend before training (default true). */
  check?: boolean;
  /** Data-parallel replicas, main thread included, or `auto` (default 1). */
  workers?: number | "auto";
  /** ResNet regression or the heatmap U-Net with soft-argmax. */
  head?: "regression" | "heatmap";
  /**
   * Augmentation preset: `default` (±15°, colour jitter), `heavy` (see
   * `HEAVY_AUGMENT`) or `degrade` (default plus occlusion, blur and noise).
   */
  augment?: AugmentPreset;
  /** Start from this model folder's weights (same architecture) instead of a fresh init. */
  init?: string;
  /** Heatmap U-Net: filters of the first level (default 16). */
  base?: number;
  /** Heatmap architecture: the U-Net (default) or the latency-designed lite net. */
  arch?: "unet" | "lite";
  /** Lite net: add the stem's 1/2-resolution features into the 1/4 decoder. */
  fineSkip?: boolean;
  /** Distil from this trained model folder (same input and points; see `distill.ts`). */
  teacher?: string;
  /** The teacher's share in the training targets (default 0.5). */
  teacherWeight?: number;
  /** The teacher's points are flip-averaged (it also reads the mirrored inputs). */
  teacherFlip?: boolean;
  /** Decay per step of a moving average of the weights, validated and saved (off when absent). */
  ema?: number;
  /**
   * After training, re-estimate the final model's batch-norm statistics on
   * the un-augmented training crops and write it to `<out>/recalibrated`.
   */
  recalibrateBn?: boolean;
}

/** A face prepared for training or validation. */
export interface PreparedFace {
  /** The sample name. */
  name: string;
  /** Crop (validation: the model input; training: the wider context crop). */
  image: FloatImage;
  /** Points in crop pixel-centre coordinates. */
  points: Float32Array;
  /** Image -> crop map. */
  matrix: Affine;
  /** Original points (image pixels). */
  original: Float32Array;
}

/** Extra context around the model's box kept in training crops. */
const CONTEXT = 1.5;

/**
 * Crops a labelled face for validation or inference: the model box from the
 * landmarks' box, exactly as the inference API does for a given box.
 *
 * @example
 * ```ts ignore
 * const face = prepareValFace(sample, meta);
 * ```
 */
export function prepareValFace(s: Sample, meta: ModelMeta): PreparedFace {
  const box = boxFromPoints(s.points, s.name);
  const input = faceInput(s.image, box, meta, s.name);
  return {
    name: s.name,
    image: input.image,
    points: transformPoints(input.matrix, s.points),
    matrix: input.matrix,
    original: s.points,
  };
}

/**
 * Crops a labelled face with extra context for training augmentation: the
 * model box maps to the central `inputSize` pixels of a
 * `round(CONTEXT * inputSize)` crop.
 *
 * @example
 * ```ts ignore
 * const face = prepareTrainFace(sample, meta);
 * ```
 */
export function prepareTrainFace(s: Sample, meta: ModelMeta): PreparedFace {
  const box = modelBox(boxFromPoints(s.points, s.name), meta);
  const side = Math.round(meta.inputWidth * CONTEXT);
  const grow = (CONTEXT - 1) / 2;
  const ctxBox = {
    x: box.x - grow * box.w,
    y: box.y - grow * box.h,
    w: box.w * CONTEXT,
    h: box.h * CONTEXT,
  };
  const crop = cropFace(s.image, s.points, ctxBox, side, { name: s.name });
  return {
    name: s.name,
    image: crop.image,
    points: crop.points,
    matrix: crop.matrix,
    original: s.points,
  };
}

/**
 * Draws one augmented training input from a context crop: jittered box,
 * random rotation/scale/translation/flip about the centre and colour
 * jitter, in a single warp, then the preset's degradations (`clean` is the
 * image before them).
 *
 * @example
 * ```ts ignore
 * const { image, points } = augmentFace(face, 112, rng, DEFAULT_AUGMENT, 0.05);
 * ```
 */
export function augmentFace(
  face: PreparedFace,
  size: number,
  rng: Rng,
  aug: AugmentOptions,
  jitter: number,
): { image: FloatImage; points: Float32Array; clean: FloatImage } {
  const side = face.image.width;
  const margin = (side - size) / 2;
  const box = jitterBox({ x: margin, y: margin, w: size, h: size }, rng, {
    shift: jitter,
    scale: jitter,
  });
  const draw = randomAffine(rng, size, size, aug);
  const m = chain(cropAffine(box, size), draw.matrix);
  const image = warpAffine(face.image, m, size, size);
  let points = transformPoints(m, face.points);
  if (draw.flipped) points = permutePoints(points, IBUG68.flip);
  const coloured = colourJitter(image, rng, aug);
  const handed = aug.hand ? occludeHand(coloured, points, rng, aug.hand) : coloured;
  const degraded = aug.degrade ? degrade(handed, rng, aug.degrade) : handed;
  return { image: degraded, points, clean: coloured };
}

function faceSource(
  trainFaces: PreparedFace[],
  valFaces: PreparedFace[],
  size: number,
  channels: number,
  jitter: number,
  aug: AugmentOptions = DEFAULT_AUGMENT,
  keepClean = false,
): BatchSource {
  const pixels = size * size * channels;
  const build = (items: PreparedFace[], idx: number[], rng: Rng | null): Batch => {
    const x = new Float32Array(idx.length * pixels);
    const y = new Float32Array(idx.length * 136);
    const clean = rng && aug.degrade && keepClean
      ? new Float32Array(idx.length * pixels)
      : undefined;
    idx.forEach((i, k) => {
      const f = items[i];
      const s = rng ? augmentFace(f, size, rng, aug, jitter) : f;
      normaliseImageInto(s.image, x, k * pixels);
      if (clean && "clean" in s) normaliseImageInto(s.clean, clean, k * pixels);
      y.set(normalisePoints(s.points, size, size), k * 136);
    });
    return clean ? { x, y, size: idx.length, clean } : { x, y, size: idx.length };
  };
  return {
    inputShape: [size, size, channels],
    outputs: 136,
    trainSize: trainFaces.length,
    valSize: valFaces.length,
    trainBatch: (idx, rng) => build(trainFaces, idx, rng),
    valBatch: (idx) => build(valFaces, idx, null),
  };
}

/** Face-alignment metrics of a set of predictions. */
export interface FaceMetrics {
  /** Mean NME (inter-ocular), fraction. */
  nme: number;
  /** Failure rate at NME > 8 %. */
  failureRate: number;
  /** Area under the CED up to 8 %. */
  auc8: number;
  /** Mean absolute coordinate error in original image pixels. */
  maePixels: number;
  /** Per-face NME. */
  perFace: Float32Array;
  /** Failure rate at NME > 10 %. */
  failureRate10: number;
  /** Area under the CED up to 10 %. */
  auc10: number;
  /** Mean point error / inter-ocular distance per region (jaw, brows, nose, eyes, mouth). */
  regionNme: Record<string, number>;
  /**
   * The hardest tenth by head pose: faces with the largest |yaw| (from the
   * truth points, `headPose`), their mean NME and the smallest |yaw| among them.
   */
  hardYaw: { faces: number; nme: number; minAbsYaw: number };
}

/**
 * Metrics from normalised predictions of prepared faces, in the faces'
 * original image coordinates.
 *
 * @example
 * ```ts ignore
 * const m = faceMetrics(pred, faces, 112);
 * console.log(m.nme);
 * ```
 */
export function faceMetrics(pred: Float32Array, faces: PreparedFace[], size: number): FaceMetrics {
  const all = new Float32Array(pred.length);
  const truth = new Float32Array(pred.length);
  faces.forEach((f, i) => {
    const p = denormalisePoints(pred.subarray(i * 136, (i + 1) * 136), size, size);
    all.set(toImagePoints(p, f.matrix), i * 136);
    truth.set(f.original, i * 136);
  });
  const perFace = nmeInterOcular(all, truth);
  const groups: Record<string, (readonly [number, number])[]> = {
    jaw: [REGIONS_68.jaw],
    brows: [REGIONS_68.rightBrow, REGIONS_68.leftBrow],
    nose: [REGIONS_68.nose],
    eyes: [REGIONS_68.rightEye, REGIONS_68.leftEye],
    mouth: [REGIONS_68.outerLips, REGIONS_68.innerLips],
  };
  const regionNme: Record<string, number> = {};
  for (const [name, ranges] of Object.entries(groups)) {
    let sum = 0, n = 0;
    faces.forEach((_, i) => {
      const o = i * 136;
      const iod = interOcular(truth.subarray(o, o + 136));
      for (const [a, b] of ranges) {
        for (let j = a; j <= b; j++) {
          sum += Math.hypot(
            all[o + 2 * j] - truth[o + 2 * j],
            all[o + 2 * j + 1] - truth[o + 2 * j + 1],
          ) / iod;
          n++;
        }
      }
    });
    regionNme[name] = sum / n;
  }
  const yaw = faces.map((f, i) => ({
    i,
    yaw: Math.abs(
      headPose(
        Array.from({ length: 68 }, (_, j) => ({ x: f.original[2 * j], y: f.original[2 * j + 1] })),
      ).yaw,
    ),
  })).sort((a, b) => b.yaw - a.yaw);
  const hard = yaw.slice(0, Math.max(1, Math.round(faces.length / 10)));
  return {
    nme: mean(perFace),
    failureRate: failureRate(perFace, 0.08),
    auc8: aucAt(perFace, 0.08),
    maePixels: meanAbsoluteError(all, truth),
    perFace,
    failureRate10: failureRate(perFace, 0.1),
    auc10: aucAt(perFace, 0.1),
    regionNme,
    hardYaw: {
      faces: hard.length,
      nme: mean(hard.map((h) => perFace[h.i])),
      minAbsYaw: hard[hard.length - 1].yaw,
    },
  };
}

const CED_COLORS: Rgb[] = [[214, 39, 40], [31, 119, 180], [44, 160, 44], [148, 103, 189]];

/**
 * One cumulative-error-distribution chart of one or more models' per-face
 * NMEs (legend: name, NME and AUC at `maxErr`).
 *
 * @example
 * ```ts ignore
 * import { cedChart } from "./w300_task.ts";
 * const png = cedChart([{ name: "part3", metrics: a }, { name: "part3-fast", metrics: b }]);
 * ```
 */
export function cedChart(
  series: { name: string; metrics: FaceMetrics }[],
  maxErr = 0.08,
): RgbaImage {
  const pct = Math.round(maxErr * 100);
  return curveChart(
    series.map(({ name, metrics }, i) => {
      const ced = cedCurve(metrics.perFace, maxErr, 80);
      return {
        name: `${name ? `${name}: ` : ""}NME ${(metrics.nme * 100).toFixed(2)} %, AUC@${pct} ${
          aucAt(metrics.perFace, maxErr).toFixed(3)
        }`,
        x: Array.from(ced.x),
        y: Array.from(ced.y),
        color: CED_COLORS[i % CED_COLORS.length],
      };
    }),
    {
      title: "cumulative error distribution",
      xLabel: "NME (inter-ocular)",
      yLabel: "fraction of faces",
      xRange: [0, maxErr],
      yRange: [0, 1],
    },
  );
}

/**
 * Loads and crops the 300-W split (train: helen_trainset, lfpw_trainset,
 * afw; validation: helen_testset), or, when `root` is a label file (dlib
 * XML, COCO JSON, CSV) or a plain `.pts` folder, its faces split by photo
 * (about 10 % of the photos for validation). Faces of one photo never
 * cross splits.
 *
 * @example
 * ```ts ignore
 * const { train, val } = await preparePart3("../shared/data/300w", meta);
 * ```
 */
export async function preparePart3(
  root: string,
  meta: ModelMeta,
  limit?: number,
): Promise<{ train: PreparedFace[]; val: PreparedFace[] }> {
  const channels = meta.channels as 1 | 3;
  if (await isLabelSource(root)) {
    // Any label file or a plain .pts folder: split it by photo.
    const { train, val } = splitByGroup(await labelSamples(root, channels, limit));
    return {
      train: train.map((s) => prepareTrainFace(s, meta)),
      val: val.map((s) => prepareValFace(s, meta)),
    };
  }
  const trainSamples = await load300w(W300_SPLIT.train.map((d) => `${root}/${d}`), {
    channels,
    limit,
  });
  const valSamples = await load300w(W300_SPLIT.val.map((d) => `${root}/${d}`), { channels, limit });
  const trainGroups = new Set(trainSamples.map((s) => s.group));
  const shared = valSamples.filter((s) => trainGroups.has(s.group));
  if (shared.length) {
    throw new Error(
      `split leaks photos across train/validation: ${shared.map((s) => s.name).join(", ")}`,
    );
  }
  return {
    train: trainSamples.map((s) => prepareTrainFace(s, meta)),
    val: valSamples.map((s) => prepareValFace(s, meta)),
  };
}

/** Part 3 summary. */
export interface Part3Summary {
  /** Backend. */
  backend: string;
  /** Model description. */
  model: string;
  /** Face counts. */
  trainFaces: number;
  /** Validation faces. */
  valFaces: number;
  /** Best epoch. */
  bestEpoch: number;
  /** NME, percent. */
  nmePercent: number;
  /** Failure rate at 8 %, percent. */
  failureRatePercent: number;
  /** AUC@8 %. */
  auc8: number;
  /** MAE in original pixels. */
  maePixels: number;
  /** Mean training images/s. */
  imagesPerSec: number;
  /** Loader images/s (augmented batches built, no training). */
  loaderImagesPerSec: number;
  /** Total training seconds. */
  trainSeconds: number;
  /** With `recalibrateBn`: the recalibrated final model's validation figures. */
  recalibrated?: { from: string; nmePercent: number; failureRatePercent: number; auc8: number };
}

/**
 * Trains Part 3 and writes checkpoints, metrics, `summary.json`, `loss.png`,
 * `ced.png`, `val_best_worst.png` and `train_samples.png`.
 *
 * @example
 * ```ts ignore
 * const summary = await runPart3(opts);
 * ```
 */
export async function runPart3(o: Part3Options): Promise<Part3Summary> {
  const size = o.inputSize;
  const meta: ModelMeta = {
    task: "part3",
    layout: IBUG68.id,
    points: Array.from({ length: 68 }, (_, i) => i),
    inputWidth: size,
    inputHeight: size,
    channels: o.channels,
    boxScale: o.boxScale,
  };
  const lite = o.head === "heatmap" && o.arch === "lite";
  const modelName = lite
    ? `lite${o.fineSkip ? "-fine" : ""}-heatmap-${size}`
    : o.head === "heatmap"
    ? `unet${(o.base ?? 16) !== 16 ? `${o.base}` : ""}-heatmap-${size}`
    : `resnet${o.depth}${o.bottleneckWidth > 1 ? `-wide${o.bottleneckWidth}` : ""}` +
      `${o.width !== 1 ? `-w${o.width}` : ""}-${size}-${o.channels === 1 ? "gray" : "rgb"}`;
  meta.extra = { model: modelName };
  const t0 = performance.now();
  const { train: trainFaces, val: valFaces } = await preparePart3(o.data, meta, o.limit);
  console.log(
    `300-W: ${trainFaces.length} training and ${valFaces.length} validation faces cropped in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
  const aug = augmentPreset(o.augment ?? "default");
  // The undegraded inputs travel with each batch only for a teacher to read.
  let source = faceSource(trainFaces, valFaces, size, o.channels, o.jitter, aug, !!o.teacher);
  let teacher: tf.LayersModel | undefined;
  let distilled: ReturnType<typeof distilledSource> | undefined;
  if (o.teacher) {
    teacher = (await loadModelFolder(o.teacher)).model;
    const flip = o.teacherFlip ? IBUG68.flip : undefined;
    source = distilled = distilledSource(source, teacher, o.teacherWeight ?? 0.5, flip);
    console.log(
      `distilling from ${o.teacher} (teacher weight ${o.teacherWeight ?? 0.5}` +
        `${flip ? ", flip-averaged" : ""})`,
    );
  }
  // Loader throughput (augmented batches, no training).
  const lt = performance.now();
  const rng = createRng(o.seed + 1);
  let built = 0;
  while (performance.now() - lt < 2000) {
    const idx = Array.from({ length: o.batch }, () => rng.int(trainFaces.length));
    built += (await source.trainBatch(idx, rng)).size;
  }
  const loaderImagesPerSec = built / ((performance.now() - lt) / 1000);
  console.log(`loader: ${loaderImagesPerSec.toFixed(0)} augmented images/s`);

  // The head starts at the mean training shape.
  const meanShape = new Float32Array(136);
  for (const f of trainFaces) {
    const margin = (f.image.width - size) / 2;
    const p = normalisePoints(transformPoints(translation(-margin, -margin), f.points), size, size);
    for (let i = 0; i < 136; i++) meanShape[i] += p[i] / trainFaces.length;
  }
  const heatmap = o.head === "heatmap";
  const build = (): tf.LayersModel =>
    lite
      ? buildLiteHeatmapNet({
        inputSize: size,
        channels: o.channels,
        keypoints: 68,
        base: o.base,
        fineSkip: o.fineSkip,
        seed: o.seed,
      })
      : heatmap
      ? buildHeatmapUNet({
        inputWidth: size,
        inputHeight: size,
        channels: o.channels,
        keypoints: 68,
        outputStride: 4,
        base: o.base,
        seed: o.seed,
      })
      : buildResNet({
        depth: o.depth,
        inputSize: size,
        channels: o.channels,
        widthMultiplier: o.width,
        bottleneckWidth: o.bottleneckWidth,
        initialBias: meanShape,
        seed: o.seed,
        outputs: 136,
      });
  if (o.check !== false) await requireSelfCheck(build, o.backend);
  const model = build();
  if (o.init && !o.resume) await initWeights(model, o.init);
  await ensureDir(o.out);
  const ts = performance.now();
  const result = await train(model, source, {
    outDir: o.out,
    epochs: o.epochs,
    batch: o.batch,
    lr: o.lr,
    seed: o.seed,
    loss: o.loss,
    lossBeta: 1 / size,
    resume: o.resume,
    quiet: o.quiet,
    meta,
    schedule: { warmupEpochs: o.warmup, decay: o.decay },
    head: o.head,
    workers: o.workers,
    backend: o.backend.name,
    ema: o.ema,
    valMetrics: (pred) => {
      const m = faceMetrics(pred, valFaces, size);
      return { nme: m.nme, fr8: m.failureRate, maePx: m.maePixels };
    },
  });
  const trainSeconds = (performance.now() - ts) / 1000;
  distilled?.dispose();
  teacher?.dispose();
  let recalibrated: Part3Summary["recalibrated"];
  if (o.recalibrateBn) {
    // The final weights (their moving average with --ema), not an epoch picked on validation.
    const from = await finalModelDir(o.out);
    const rec = await recalibrateFolder(
      from,
      `${o.out}/recalibrated`,
      centreCropBatches(trainFaces.map((f) => f.image), size),
      [size, size, o.channels],
    );
    const rm = faceMetrics((await predictAll(rec, source)).pred, valFaces, size);
    rec.dispose();
    recalibrated = {
      from,
      nmePercent: rm.nme * 100,
      failureRatePercent: rm.failureRate * 100,
      auc8: rm.auc8,
    };
    console.log(
      `batch norm recalibrated on ${trainFaces.length} un-augmented training crops: ` +
        `${o.out}/recalibrated (from ${from}), NME ${recalibrated.nmePercent.toFixed(3)} %, ` +
        `FR@8 ${recalibrated.failureRatePercent.toFixed(2)} %`,
    );
  }
  const { model: best } = await loadModelFolder(`${o.out}/best`);
  const { pred } = await predictAll(best, source);
  const m = faceMetrics(pred, valFaces, size);
  const summary: Part3Summary = {
    backend: o.backend.description,
    model: modelName,
    trainFaces: trainFaces.length,
    valFaces: valFaces.length,
    bestEpoch: result.best.epoch,
    nmePercent: m.nme * 100,
    failureRatePercent: m.failureRate * 100,
    auc8: m.auc8,
    maePixels: m.maePixels,
    imagesPerSec: mean(result.history.map((r) => r.imagesPerSec)),
    loaderImagesPerSec,
    trainSeconds,
    ...(recalibrated ? { recalibrated } : {}),
  };
  await writeFileAtomic(`${o.out}/summary.json`, JSON.stringify(summary, null, 2));
  await writePart3Pictures(o, result.history, valFaces, pred, m, trainFaces);
  best.dispose();
  model.dispose();
  return summary;
}

/**
 * Copies a saved model's weights into `model` (fine-tuning from a shipped
 * model); fails, naming both, when the architectures differ.
 *
 * @example
 * ```ts ignore
 * await initWeights(model, "models/part3");
 * ```
 */
export async function initWeights(model: tf.LayersModel, dir: string): Promise<void> {
  const { model: saved } = await loadModelFolder(dir);
  try {
    const from = saved.getWeights(), to = model.getWeights();
    const same = from.length === to.length &&
      from.every((w, i) => w.shape.join("x") === to[i].shape.join("x"));
    if (!same) {
      throw new Error(
        `--init ${dir}: its ${from.length} weight tensors do not match this model's ${to.length} ` +
          `(use the same --head, --size, --channels and width)`,
      );
    }
    model.setWeights(from);
    console.log(`initialised from ${dir}`);
  } finally {
    saved.dispose();
  }
}

/**
 * Writes the CED curve and best/worst overlays for a set of predictions.
 *
 * @example
 * ```ts ignore
 * await writeEvalPictures("runs/part3", faces, pred, metrics, 112);
 * ```
 */
export async function writeEvalPictures(
  dir: string,
  faces: PreparedFace[],
  pred: Float32Array,
  m: FaceMetrics,
  size: number,
): Promise<void> {
  await savePng(`${dir}/ced.png`, cedChart([{ name: "", metrics: m }]));
  const order = Array.from(m.perFace.keys()).sort((a, b) => m.perFace[a] - m.perFace[b]);
  const pick = [...order.slice(0, 4), ...order.slice(-4)];
  const tiles = pick.map((i) =>
    overlay(
      faces[i].image,
      [
        { points: faces[i].points, color: GREEN },
        {
          points: denormalisePoints(pred.subarray(i * 136, (i + 1) * 136), size, size),
          color: RED,
        },
      ],
      Math.max(1, Math.round(224 / size)),
      `${faces[i].name} ${(m.perFace[i] * 100).toFixed(1)}%`,
    )
  );
  await savePng(
    `${dir}/val_best_worst.png`,
    titledGrid(tiles, 4, "4 best, 4 worst (red prediction, green truth)"),
  );
}

async function writePart3Pictures(
  o: Part3Options,
  history: Parameters<typeof lossCurves>[0],
  valFaces: PreparedFace[],
  pred: Float32Array,
  m: FaceMetrics,
  trainFaces: PreparedFace[],
): Promise<void> {
  await savePng(`${o.out}/loss.png`, lossCurves(history, `part3 loss (${o.loss})`));
  await writeEvalPictures(o.out, valFaces, pred, m, o.inputSize);
  const rng = createRng(o.seed + 3);
  const samples = trainFaces.slice(0, 8).map((f) => {
    const a = augmentFace(
      f,
      o.inputSize,
      rng,
      augmentPreset(o.augment ?? "default"),
      o.jitter,
    );
    return overlay(
      a.image,
      [{ points: a.points, color: GREEN }],
      Math.max(1, Math.round(224 / o.inputSize)),
      f.name,
    );
  });
  await savePng(
    `${o.out}/train_samples.png`,
    titledGrid(samples, 4, "training inputs (augmented)"),
  );
}

/**
 * Evaluates a saved model on labelled faces (a folder of NAME.pts + image),
 * using the landmarks' box as the face box; `flip`: test-time flip averaging.
 *
 * @example
 * ```ts ignore
 * const m = await evaluateFolder("runs/part3/best", ["../shared/data/300w/helen_testset"]);
 * ```
 */
export async function evaluateFolder(
  modelDir: string,
  dirs: string[],
  picturesDir?: string,
  flip = false,
): Promise<FaceMetrics & { faces: number }> {
  const { model, meta } = await loadModelFolder(modelDir);
  if (!meta || meta.layout !== IBUG68.id) {
    throw new Error(`${modelDir}: not a 68-point (part3) model`);
  }
  const samples = await load300w(dirs, { channels: meta.channels as 1 | 3 });
  const faces = samples.map((s) => prepareValFace(s, meta));
  const source = faceSource([], faces, meta.inputWidth, meta.channels, 0);
  let { pred } = await predictAll(model, source);
  if (flip) {
    // The model also reads the mirrored crops; their points are mirrored back and averaged.
    const mirrored = faces.map((f) => ({
      ...f,
      ...flipHorizontal(f.image, f.points, IBUG68.flip),
    }));
    const back = await predictAll(
      model,
      faceSource([], mirrored, meta.inputWidth, meta.channels, 0),
    );
    const both = new Float32Array(2 * pred.length);
    both.set(pred);
    both.set(back.pred, pred.length);
    pred = flipAverageBatch(both, faces.length, IBUG68.flip);
  }
  const m = faceMetrics(pred, faces, meta.inputWidth);
  if (picturesDir) {
    await ensureDir(picturesDir);
    await writeEvalPictures(picturesDir, faces, pred, m, meta.inputWidth);
  }
  model.dispose();
  return { ...m, faces: faces.length };
}
