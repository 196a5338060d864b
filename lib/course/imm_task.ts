/**
 * Parts 1 and 2 of the course on the IMM face database: nose tip at 80x64
 * and all 58 points at 160x120. Loads and checks all data before anything is
 * written, trains with {@link train}, then writes the pictures and a summary.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs";
import { augment, DEFAULT_AUGMENT } from "../augment/augment.ts";
import { type BackendInfo, requireSelfCheck } from "../backends/backend.ts";
import { loadModelFolder } from "../models/checkpoint.ts";
import { ensureDir, resolveDataDir, writeFileAtomic } from "../util/fs_util.ts";
import { IMM_HELP, immSplit, loadImm } from "../data/imm.ts";
import { keypointSource, selectPoints } from "../train/keypoint_source.ts";
import { IMM58, IMM_NOSE_TIP } from "../data/layouts.ts";
import { mean, perFaceErrors, pointErrors } from "../metrics/point_errors.ts";
import { buildPart1, buildPart2 } from "../models/course_cnn.ts";
import { buildHeatmapUNet } from "../models/unet.ts";
import { denormalisePoints, resizeWithPoints } from "../augment/preprocess.ts";
import { createRng } from "../util/random.ts";
import {
  filterGrid,
  GREEN,
  lossCurves,
  overlay,
  RED,
  savePng,
  titledGrid,
} from "../report/pictures.ts";
import type { Sample } from "../data/sample.ts";
import { predictAll, train, type TrainResult } from "../train/loop.ts";

/** Options of an IMM training run. */
export interface ImmRunOptions {
  /** `"part1"` (nose tip) or `"part2"` (58 points). */
  part: "part1" | "part2";
  /** IMM folder. */
  data: string;
  /** Output folder. */
  out: string;
  /** Epochs. */
  epochs: number;
  /** Batch size. */
  batch: number;
  /** Learning rate. */
  lr: number;
  /** Seed. */
  seed: number;
  /** Continue from `out/last`. */
  resume: boolean;
  /** Augment training images (Part 2 default on, Part 1 default off). */
  augment: boolean;
  /** Part 1 variant: kernel size of the first two convs. */
  firstKernel?: number;
  /** The backend in use, for the summary. */
  backend: BackendInfo;
  /** Use only this many training and validation faces (for quick runs). */
  limit?: number;
  /** Hide progress bars. */
  quiet?: boolean;
  /** Compare one step's gradients with the cpu backend before training (default true). */
  check?: boolean;
  /** Data-parallel replicas, main thread included, or `auto` (default 1). */
  workers?: number | "auto";
  /** Regression CNN (the course's nets) or the heatmap U-Net with soft-argmax. */
  head?: "regression" | "heatmap";
  /** Learning-rate decay (default constant, as the course). */
  decay?: "constant" | "cosine" | "step";
}

/** What a run reports. */
export interface ImmRunSummary {
  /** Which part. */
  part: string;
  /** Backend description. */
  backend: string;
  /** Training and validation face counts. */
  trainFaces: number;
  /** Validation face count. */
  valFaces: number;
  /** Best epoch. */
  bestEpoch: number;
  /** Validation MSE of the best model, normalised coordinates. */
  valMse: number;
  /** Mean Euclidean point error of the best model, input pixels. */
  valPixelError: number;
  /** The same error for always predicting the training mean position. */
  meanBaselinePixelError: number;
  /** Mean training images/s over the run. */
  imagesPerSec: number;
  /** Mean seconds per epoch. */
  secondsPerEpoch: number;
}

const SIZES = { part1: [80, 64], part2: [160, 120] } as const;

/**
 * Finds the IMM folder: `--data`, then `$FACEKIT_IMM`, then
 * `../shared/data/imm_face_db`; throws with download help if none exists.
 *
 * @example
 * ```ts ignore
 * import { resolveImmDir } from "./imm_task.ts";
 * console.log(resolveImmDir(undefined));
 * ```
 */
export function resolveImmDir(flag: string | undefined): string {
  return resolveDataDir(flag, "FACEKIT_IMM", "../shared/data/imm_face_db", "IMM", IMM_HELP);
}

/**
 * Loads IMM, splits by person (1-32 train, 33-40 validation) and resizes
 * every image once to the part's input size.
 *
 * @example
 * ```ts ignore
 * import { prepareImm } from "./imm_task.ts";
 * const { train, val } = await prepareImm("../shared/data/imm_face_db", "part2");
 * ```
 */
export async function prepareImm(
  dir: string,
  part: "part1" | "part2",
): Promise<{ train: Sample[]; val: Sample[] }> {
  const [w, h] = SIZES[part];
  const all = await loadImm(dir, 1);
  const sized = all.map((s) => {
    const r = resizeWithPoints(s.image, s.points, w, h);
    return { ...s, image: r.image, points: r.points };
  });
  return {
    train: sized.filter((s) => immSplit(s.name) === "train"),
    val: sized.filter((s) => immSplit(s.name) === "val"),
  };
}

/**
 * Trains Part 1 or Part 2 and writes `best/`, `last/`, `metrics.jsonl`,
 * `summary.json` and the pictures into `out`.
 *
 * @example
 * ```ts ignore
 * import { runImm } from "./imm_task.ts";
 * const summary = await runImm({ part: "part1", data, out: "runs/part1", epochs: 20, batch: 8, lr: 1e-3, seed: 1, resume: false, augment: false, backend });
 * ```
 */
export async function runImm(opts: ImmRunOptions): Promise<ImmRunSummary> {
  const [w, h] = SIZES[opts.part];
  const prepared = await prepareImm(opts.data, opts.part);
  let trainSet = prepared.train, valSet = prepared.val;
  if (opts.limit) {
    trainSet = trainSet.slice(0, opts.limit);
    valSet = valSet.slice(0, opts.limit);
  }
  const points = opts.part === "part1" ? [IMM_NOSE_TIP] : Array.from({ length: 58 }, (_, i) => i);
  const aug = opts.augment ? DEFAULT_AUGMENT : null;
  const source = keypointSource(trainSet, valSet, {
    points,
    flip: IMM58.flip,
    augment: aug,
  });
  const heatmap = opts.head === "heatmap";
  const build = (): tf.LayersModel =>
    heatmap
      ? buildHeatmapUNet({
        inputWidth: w,
        inputHeight: h,
        channels: 1,
        keypoints: points.length,
        outputStride: 4,
        seed: opts.seed,
      })
      : opts.part === "part1"
      ? buildPart1({ seed: opts.seed, firstKernel: opts.firstKernel })
      : buildPart2({ seed: opts.seed });
  if (opts.check !== false) await requireSelfCheck(build, opts.backend);
  const model = build();
  const nPts = points.length;
  const valMetrics = (pred: Float32Array, target: Float32Array) => ({
    pixelError: mean(pointErrors(pred, target, w, h)),
  });
  await ensureDir(opts.out);
  const result: TrainResult = await train(model, source, {
    outDir: opts.out,
    epochs: opts.epochs,
    batch: opts.batch,
    lr: opts.lr,
    seed: opts.seed,
    loss: "mse",
    resume: opts.resume,
    quiet: opts.quiet,
    schedule: { warmupEpochs: 0, decay: opts.decay ?? "constant" },
    head: opts.head,
    workers: opts.workers,
    backend: opts.backend.name,
    meta: {
      task: opts.part,
      layout: IMM58.id,
      points,
      inputWidth: w,
      inputHeight: h,
      channels: 1,
      boxScale: 0,
    },
    valMetrics,
  });
  // Evaluate the best checkpoint (not the last epoch's weights).
  const { model: best } = await loadModelFolder(`${opts.out}/best`);
  const { pred, target } = await predictAll(best, source);

  // Baseline: always predict the mean training position.
  const meanPos = new Float32Array(nPts * 2);
  for (const s of trainSet) {
    const p = selectPoints(s.points, points);
    for (let i = 0; i < p.length; i++) meanPos[i] += p[i] / trainSet.length;
  }
  const baselineErr = mean(
    valSet.flatMap((s) => Array.from(pointErrors(meanPos, selectPoints(s.points, points)))),
  );

  const summary: ImmRunSummary = {
    part: opts.part,
    backend: opts.backend.description,
    trainFaces: trainSet.length,
    valFaces: valSet.length,
    bestEpoch: result.best.epoch,
    valMse: result.best.valMse,
    valPixelError: mean(pointErrors(pred, target, w, h)),
    meanBaselinePixelError: baselineErr,
    imagesPerSec: mean(result.history.map((r) => r.imagesPerSec)),
    secondsPerEpoch: mean(result.history.map((r) => r.seconds)),
  };
  await writeFileAtomic(`${opts.out}/summary.json`, JSON.stringify(summary, null, 2));
  await writePictures(opts, result, best, trainSet, valSet, points, pred, target);
  best.dispose();
  model.dispose();
  return summary;
}

async function writePictures(
  opts: ImmRunOptions,
  result: TrainResult,
  best: tf.LayersModel,
  trainSet: Sample[],
  valSet: Sample[],
  points: number[],
  pred: Float32Array,
  target: Float32Array,
): Promise<void> {
  const [w, h] = SIZES[opts.part];
  const zoom = opts.part === "part1" ? 4 : 3;
  await savePng(
    `${opts.out}/loss.png`,
    lossCurves(result.history, `${opts.part} loss (MSE, normalised)`),
  );
  // Four training images as the network sees them (after augmentation).
  const rng = createRng(opts.seed + 7);
  const samples = trainSet.slice(0, 4).map((s) => {
    const a = opts.augment
      ? augment(s.image, s.points, IMM58.flip, rng, DEFAULT_AUGMENT)
      : { image: s.image, points: s.points };
    return overlay(
      a.image,
      [{ points: selectPoints(a.points, points), color: GREEN }],
      zoom,
      s.name,
    );
  });
  await savePng(
    `${opts.out}/train_samples.png`,
    titledGrid(samples, 4, "training samples (augmented)"),
  );
  // Two best and two worst validation faces.
  const n = points.length;
  const errs = perFaceErrors(pred, target, valSet.length, n, w, h);
  const order = Array.from(errs.keys()).sort((a, b) => errs[a] - errs[b]);
  const pick = [...order.slice(0, 2), ...order.slice(-2)];
  const tiles = pick.map((i) =>
    overlay(
      valSet[i].image,
      [
        {
          points: denormalisePoints(target.subarray(i * 2 * n, (i + 1) * 2 * n), w, h),
          color: GREEN,
        },
        { points: denormalisePoints(pred.subarray(i * 2 * n, (i + 1) * 2 * n), w, h), color: RED },
      ],
      zoom,
      `${valSet[i].name} ${errs[i].toFixed(2)}px`,
    )
  );
  await savePng(
    `${opts.out}/val_best_worst.png`,
    titledGrid(tiles, 4, "validation: 2 best, 2 worst (red prediction, green truth)"),
  );
  const conv1 = best.layers.find((l) => l.getClassName() === "Conv2D")!.getWeights()[0];
  await savePng(
    `${opts.out}/conv1_filters.png`,
    filterGrid(await conv1.data() as Float32Array, conv1.shape),
  );
}
