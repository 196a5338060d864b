/**
 * The reusable training loop: epochs of shuffled batches, Adam with an
 * optional warm-up and cosine/step decay, validation each epoch, metrics as
 * JSON lines, the best-by-validation checkpoint and a resumable last one.
 *
 * Output folder layout: `best/` (model), `last/` (model, optimizer,
 * `state.json`, and with `ema` the averaged model in `last/ema/`),
 * `metrics.jsonl`. With `ema`, validation, `best/` and `last/ema/` use the
 * moving average of the weights (`weight_ema.ts`); `last/` keeps the
 * optimizer's own weights to resume from.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import {
  folderSaver,
  loadModelFolder,
  loadOptimizer,
  type ModelMeta,
  saveOptimizer,
} from "../models/checkpoint.ts";
import { ensureDir, writeFileAtomic } from "../util/fs_util.ts";
import type { BackendInfo } from "../backends/backend.ts";
import { nativeBlas } from "../backends/native_blas.ts";
import { autoWorkers, createDataParallel, type DataParallel } from "./data_parallel.ts";
import { hostLoss, type LossName } from "../head/losses.ts";
import { createOptimizer } from "../backends/optimizer.ts";
import { trainingLossFromSpec } from "../head/training_loss.ts";
import { createProgress } from "../util/progress.ts";
import { createRng, type Rng, shuffle } from "../util/random.ts";
import { createWeightEma, type WeightEma } from "./weight_ema.ts";

/** A batch of inputs (NHWC, normalised) and targets (normalised coordinates). */
export interface Batch {
  /** Inputs, `size * h * w * c` values. */
  x: Float32Array;
  /** Targets, `size * outputs` values. */
  y: Float32Array;
  /** Number of images. */
  size: number;
  /**
   * The inputs before occlusion, blur and noise, when the source degrades
   * them (same layout as `x`): what a distillation teacher should see.
   */
  clean?: Float32Array;
}

/** Where batches come from. */
export interface BatchSource {
  /** Input `[height, width, channels]`. */
  inputShape: [number, number, number];
  /** Values per target. */
  outputs: number;
  /** Number of training items. */
  trainSize: number;
  /** Number of validation items. */
  valSize: number;
  /** Builds an augmented training batch. */
  trainBatch(indices: number[], rng: Rng): Batch | Promise<Batch>;
  /** Builds a validation batch (no augmentation). */
  valBatch(indices: number[]): Batch;
}

/** Learning-rate schedule. */
export interface Schedule {
  /** Epochs of linear warm-up from lr/10. */
  warmupEpochs: number;
  /** Decay after warm-up. */
  decay: "constant" | "cosine" | "step";
  /** For "step": multiply by 0.1 at these epochs (1-based). */
  steps?: number[];
}

/** Training options. */
export interface TrainConfig {
  /** Output folder. */
  outDir: string;
  /** Number of epochs in total (a resumed run continues up to this). */
  epochs: number;
  /** Batch size. */
  batch: number;
  /** Peak learning rate (Adam). */
  lr: number;
  /** Seed for shuffling and augmentation. */
  seed: number;
  /** Coordinate loss. */
  loss: LossName;
  /** Smooth-L1 beta in normalised units. */
  lossBeta?: number;
  /** Continue from `outDir/last`. */
  resume: boolean;
  /** Metadata stored with checkpoints. */
  meta: ModelMeta;
  /** Learning-rate schedule (default constant). */
  schedule?: Schedule;
  /**
   * `heatmap`: train on the coordinate loss plus a heatmap term (see
   * `training_loss.ts`); default `regression`. Validation reports `loss`
   * on the coordinates either way.
   */
  head?: "regression" | "heatmap";
  /**
   * Replaces the training loss; receives the model, the input batch and
   * the targets. Cannot be combined with `workers` (a closure cannot be
   * sent to a worker): prefer `head`.
   */
  trainingLoss?: (model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor) => tf.Scalar;
  /**
   * Data-parallel replicas (main thread + workers, see
   * `data_parallel.ts`); 1 (default) trains on the main thread only;
   * `auto` is {@link autoWorkers} for the backend in use.
   */
  workers?: number | "auto";
  /** The active backend (needed by `workers`; default the current one). */
  backend?: BackendInfo["name"];
  /** Extra validation metrics from all predictions and targets. */
  valMetrics?: (
    pred: Float32Array,
    target: Float32Array,
  ) => Record<string, number>;
  /** Where log lines go (default console.log). */
  log?: (line: string) => void;
  /** Hide the progress bar. */
  quiet?: boolean;
  /**
   * Decay per step of an exponential moving average of the weights
   * (e.g. 0.999: a memory of about 1000 steps); validated and saved in
   * place of the raw weights. Off when absent.
   */
  ema?: number;
}

/** One epoch's record in `metrics.jsonl`. */
export interface EpochRecord {
  /** 1-based epoch. */
  epoch: number;
  /** Mean training loss. */
  trainLoss: number;
  /** Validation loss (same loss, no augmentation). */
  valLoss: number;
  /** Validation MSE in normalised coordinates. */
  valMse: number;
  /** Training images per second. */
  imagesPerSec: number;
  /** Seconds for the epoch including validation. */
  seconds: number;
  /** Learning rate used. */
  lr: number;
  /** Live tensors after the epoch (leak check). */
  numTensors: number;
  /** Extra metrics. */
  [key: string]: number;
}

/** The outcome of {@link train}. */
export interface TrainResult {
  /** All epoch records, including those of resumed runs. */
  history: EpochRecord[];
  /** The best epoch record (lowest validation loss). */
  best: EpochRecord;
}

interface State {
  epoch: number;
  rng: number;
  history: EpochRecord[];
  bestValLoss: number;
  emaCount?: number;
}

/**
 * The learning rate at a (0-based, fractional) epoch.
 *
 * @example
 * ```ts
 * import { learningRate } from "./loop.ts";
 * console.log(learningRate(1e-3, 5, 10, { warmupEpochs: 0, decay: "constant" })); // 0.001
 * ```
 */
export function learningRate(
  peak: number,
  epoch: number,
  epochs: number,
  s: Schedule,
): number {
  if (epoch < s.warmupEpochs) {
    return peak * (0.1 + 0.9 * epoch / s.warmupEpochs);
  }
  if (s.decay === "cosine") {
    const t = (epoch - s.warmupEpochs) / Math.max(1, epochs - s.warmupEpochs);
    return peak * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, t)));
  }
  if (s.decay === "step") {
    const n = (s.steps ?? []).filter((e) => epoch + 1 > e).length;
    return peak * Math.pow(0.1, n);
  }
  return peak;
}

/**
 * Runs validation: predictions for every validation item (normalised
 * coordinates) and the targets, in order.
 *
 * @example
 * ```ts ignore
 * const { pred, target } = await predictAll(model, source);
 * ```
 */
export async function predictAll(
  model: tf.LayersModel,
  source: BatchSource,
  batch = 16,
): Promise<{ pred: Float32Array; target: Float32Array }> {
  const [h, w, c] = source.inputShape;
  const pred = new Float32Array(source.valSize * source.outputs);
  const target = new Float32Array(source.valSize * source.outputs);
  for (let i = 0; i < source.valSize; i += batch) {
    const idx = Array.from(
      { length: Math.min(batch, source.valSize - i) },
      (_, k) => i + k,
    );
    const b = source.valBatch(idx);
    const x = tf.tensor4d(b.x, [b.size, h, w, c]);
    const y = model.predict(x) as tf.Tensor;
    pred.set(await y.data(), i * source.outputs);
    target.set(b.y, i * source.outputs);
    x.dispose();
    y.dispose();
  }
  return { pred, target };
}

/**
 * The folder of a run's final model: `<outDir>/last/ema` (the moving
 * average) when the run was trained with `ema`, else `<outDir>/last`.
 *
 * @example
 * ```ts ignore
 * const dir = await finalModelDir("runs/part3");
 * ```
 */
export async function finalModelDir(outDir: string): Promise<string> {
  const averaged = await Deno.stat(`${outDir}/last/ema/model.json`).then(() => true, () => false);
  return averaged ? `${outDir}/last/ema` : `${outDir}/last`;
}

async function readState(dir: string): Promise<State | null> {
  for (const d of [`${dir}/last`, `${dir}/last.old`]) {
    try {
      return JSON.parse(await Deno.readTextFile(`${d}/state.json`));
    } catch {
      // try the next one
    }
  }
  return null;
}

async function saveLast(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  state: State,
  cfg: TrainConfig,
  ema: WeightEma | null,
): Promise<void> {
  // Write a complete new folder, then swap it in, so an interrupted save
  // never leaves a half-written `last`.
  const dir = cfg.outDir;
  const tmp = `${dir}/last.tmp`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await model.save(folderSaver(tmp, cfg.meta));
  if (ema) await ema.withAverage(() => model.save(folderSaver(`${tmp}/ema`, cfg.meta)));
  await saveOptimizer(optimizer, tmp);
  await writeFileAtomic(`${tmp}/state.json`, JSON.stringify(state));
  await Deno.remove(`${dir}/last.old`, { recursive: true }).catch(() => {});
  await Deno.rename(`${dir}/last`, `${dir}/last.old`).catch(() => {});
  await Deno.rename(tmp, `${dir}/last`);
  await Deno.remove(`${dir}/last.old`, { recursive: true }).catch(() => {});
}

/**
 * Trains `model` on `source`. On `resume`, the model's weights, the Adam
 * state, the random state and the history are restored from `outDir/last`.
 *
 * @example
 * ```ts ignore
 * import { train } from "./loop.ts";
 * const result = await train(model, source, { outDir: "runs/x", epochs: 5, batch: 8, lr: 1e-3, seed: 1, loss: "mse", resume: false, meta });
 * console.log(result.best.valLoss);
 * ```
 */
export async function train(
  model: tf.LayersModel,
  source: BatchSource,
  cfg: TrainConfig,
): Promise<TrainResult> {
  const log = cfg.log ?? ((s: string) => console.log(s));
  const schedule = cfg.schedule ?? { warmupEpochs: 0, decay: "constant" };
  const lossSpec = { loss: cfg.loss, beta: cfg.lossBeta, head: cfg.head ?? "regression" } as const;
  const lossFn = cfg.trainingLoss ?? trainingLossFromSpec(lossSpec);
  const backendName = cfg.backend ?? (tf.getBackend() as BackendInfo["name"]);
  const workers = cfg.workers === "auto" ? autoWorkers(backendName, cfg.batch) : cfg.workers ?? 1;
  if (workers > 1 && cfg.trainingLoss) {
    throw new Error("train: a custom trainingLoss cannot run in data-parallel workers");
  }
  const optimizer = createOptimizer(cfg.lr);
  const [h, w, c] = source.inputShape;
  await ensureDir(cfg.outDir);

  let state: State = {
    epoch: 0,
    rng: cfg.seed,
    history: [],
    bestValLoss: Infinity,
  };
  if (cfg.resume) {
    const saved = await readState(cfg.outDir);
    if (!saved) {
      throw new Error(`--resume: no checkpoint in ${cfg.outDir}/last`);
    }
    const lastDir = `${cfg.outDir}/last`;
    const { model: restored } = await loadModelFolder(lastDir);
    model.setWeights(restored.getWeights());
    restored.dispose();
    await loadOptimizer(optimizer, lastDir);
    state = saved;
    log(`resumed from ${lastDir} after epoch ${state.epoch}`);
  }
  let ema: WeightEma | null = null;
  if (cfg.ema !== undefined) {
    if (cfg.resume && state.emaCount !== undefined) {
      const { model: avg } = await loadModelFolder(`${cfg.outDir}/last/ema`);
      ema = createWeightEma(model, cfg.ema, avg.getWeights(), state.emaCount);
      avg.dispose();
    } else {
      ema = createWeightEma(model, cfg.ema);
    }
    log(`weight averaging: EMA decay ${cfg.ema} per step (validated and saved)`);
  }
  const rng = createRng(state.rng);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let dp: DataParallel | null = null;
  if (workers > 1) {
    dp = await createDataParallel(model, optimizer, {
      workers,
      backend: backendName,
      loss: lossSpec,
      lr: cfg.lr,
    });
    const native = backendName === "wasm" && nativeBlas()
      ? ", each calling the native GEMM with 1 BLAS thread"
      : "";
    log(
      `data-parallel: ${workers} replicas (the main thread and ${workers - 1} Deno Worker${
        workers > 2 ? "s" : ""
      })${native}`,
    );
  }
  try {
    for (let epoch = state.epoch; epoch < cfg.epochs; epoch++) {
      const lr = learningRate(cfg.lr, epoch, cfg.epochs, schedule);
      const t0 = performance.now();
      // A fresh permutation each epoch depends only on the random state, so
      // a resumed run shuffles exactly like an uninterrupted one.
      const order = shuffle(Array.from({ length: source.trainSize }, (_, i) => i), rng);
      const progress = createProgress(`epoch ${epoch + 1}/${cfg.epochs}`);
      let lossSum = 0, seen = 0, trainMs = 0;
      const steps = Math.ceil(order.length / cfg.batch);
      for (let s = 0; s < steps; s++) {
        const idx = order.slice(s * cfg.batch, (s + 1) * cfg.batch);
        const b = await source.trainBatch(idx, rng);
        const ts = performance.now();
        let v: number;
        if (dp) {
          v = await dp.step(b.x, b.y, b.size, lr);
        } else {
          (optimizer as unknown as { learningRate: number }).learningRate = lr;
          const x = tf.tensor4d(b.x, [b.size, h, w, c]);
          const y = tf.tensor2d(b.y, [b.size, source.outputs]);
          const cost = optimizer.minimize(() => lossFn(model, x, y), true, vars) as tf.Scalar;
          v = (await cost.data())[0];
          tf.dispose([x, y, cost]);
        }
        ema?.update();
        trainMs += performance.now() - ts;
        if (!Number.isFinite(v)) {
          throw new Error(
            `training diverged: loss is ${v} at epoch ${epoch + 1}, step ${s + 1}; ` +
              `checkpoints in ${cfg.outDir} were left as they were; try a lower --lr`,
          );
        }
        lossSum += v * b.size;
        seen += b.size;
        if (!cfg.quiet) {
          progress.update(
            s + 1,
            steps,
            `loss ${(lossSum / seen).toExponential(3)} ${
              (seen / (trainMs / 1000)).toFixed(1)
            } img/s`,
          );
        }
      }
      const { pred, target } = ema
        ? await ema.withAverage(() => predictAll(model, source))
        : await predictAll(model, source);
      const valLoss = hostLoss(cfg.loss, pred, target, cfg.lossBeta);
      const record: EpochRecord = {
        epoch: epoch + 1,
        trainLoss: lossSum / seen,
        valLoss,
        valMse: hostLoss("mse", pred, target),
        imagesPerSec: seen / (trainMs / 1000),
        seconds: (performance.now() - t0) / 1000,
        lr,
        numTensors: tf.memory().numTensors,
        ...(cfg.valMetrics ? cfg.valMetrics(pred, target) : {}),
      };
      state.history.push(record);
      state.epoch = epoch + 1;
      state.rng = rng.state();
      if (ema) state.emaCount = ema.count();
      const improved = valLoss < state.bestValLoss;
      if (improved) {
        state.bestValLoss = valLoss;
        const saveBest = () =>
          model.save(folderSaver(`${cfg.outDir}/best`, {
            ...cfg.meta,
            extra: { ...cfg.meta.extra, ...record },
          }));
        await (ema ? ema.withAverage(saveBest) : saveBest());
      }
      await saveLast(model, optimizer, state, cfg, ema);
      await writeFileAtomic(
        `${cfg.outDir}/metrics.jsonl`,
        state.history.map((r) => JSON.stringify(r)).join("\n") + "\n",
      );
      const extras = Object.entries(record)
        .filter(([k]) =>
          ![
            "epoch",
            "trainLoss",
            "valLoss",
            "valMse",
            "imagesPerSec",
            "seconds",
            "lr",
            "numTensors",
          ]
            .includes(k)
        )
        .map(([k, v]) => `${k} ${Number(v).toFixed(4)}`).join(" ");
      progress.finish(
        `train ${record.trainLoss.toExponential(3)} val ${valLoss.toExponential(3)} ` +
          `${extras} ${record.imagesPerSec.toFixed(1)} img/s ${record.seconds.toFixed(1)} s${
            improved ? " *best" : ""
          }`,
      );
    }
  } finally {
    dp?.close();
    ema?.dispose();
  }
  optimizer.dispose();
  const best = state.history.reduce((a, b) => (b.valLoss < a.valLoss ? b : a));
  return { history: state.history, best };
}
