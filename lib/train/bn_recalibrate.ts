/**
 * Precise batch-norm statistics: after training, a batch-norm layer's
 * moving mean and variance remember mostly the last few dozen batches
 * (momentum 0.9), so two checkpoints one epoch apart can read a test set
 * differently by several percent. This pass runs the net in training mode
 * over many batches with the per-layer momentum set so that the moving
 * statistics become the plain average of every batch's statistics, then
 * restores the momentum. Only the moving statistics change.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { translation } from "../image/affine.ts";
import { type FloatImage, warpAffine } from "../image/raster.ts";
import { normaliseImageInto } from "../augment/preprocess.ts";
import { folderSaver, loadModelFolder } from "../models/checkpoint.ts";

interface BatchNormLike {
  momentum: number;
}

function batchNormLayers(model: tf.LayersModel): BatchNormLike[] {
  return model.layers.filter((l) =>
    l.getClassName() === "BatchNormalization"
  ) as unknown as BatchNormLike[];
}

/**
 * Re-estimates every batch-norm layer's moving mean and variance as the
 * average over `batches` (NHWC inputs of `shape` = [height, width,
 * channels]); returns the number of batch-norm layers updated. Run it on
 * inputs like the ones the model will see (e.g. training faces without
 * augmentation).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
import { translation } from "../image/affine.ts";
import { type FloatImage, warpAffine } from "../image/raster.ts";
import { normaliseImageInto } from "../augment/preprocess.ts";
import { folderSaver, loadModelFolder } from "../models/checkpoint.ts";
 * import { recalibrateBatchNorm } from "./bn_recalibrate.ts";
 * const model = tf.sequential({
 *   layers: [tf.layers.batchNormalization({ inputShape: [1, 1, 1], momentum: 0.9 })],
 * });
 * const n = await recalibrateBatchNorm(model, [new Float32Array([1, 3]), new Float32Array([5, 7])], [1, 1, 1]);
 * console.log(n, model.getWeights()[2].dataSync()[0]); // 1 4
 * ```
 */
export async function recalibrateBatchNorm(
  model: tf.LayersModel,
  batches: Iterable<Float32Array> | AsyncIterable<Float32Array>,
  shape: [number, number, number],
): Promise<number> {
  const layers = batchNormLayers(model);
  const saved = layers.map((l) => l.momentum);
  const pixels = shape[0] * shape[1] * shape[2];
  let k = 0;
  try {
    for await (const x of batches) {
      if (x.length === 0 || x.length % pixels !== 0) {
        throw new Error(
          `recalibrateBatchNorm: a batch of ${x.length} values is not whole ${
            shape.join("x")
          } images`,
        );
      }
      // moving = m * moving + (1 - m) * batch with m = k / (k + 1): the mean of batches 0..k.
      for (const l of layers) l.momentum = k / (k + 1);
      tf.tidy(() => {
        const input = tf.tensor4d(x, [x.length / pixels, ...shape]);
        model.apply(input, { training: true });
      });
      k++;
    }
  } finally {
    layers.forEach((l, i) => (l.momentum = saved[i]));
  }
  if (k === 0) throw new Error("recalibrateBatchNorm: no batches");
  return layers.length;
}

/**
 * The central `size` x `size` pixels of each image (context crops whose
 * middle is the model box), normalised as network inputs, `batch` images
 * at a time: what the net sees at test time, without augmentation.
 *
 * @example
 * ```ts
 * import { centreCropBatches } from "./bn_recalibrate.ts";
 * const img = { data: new Float32Array(36).fill(255), width: 6, height: 6, channels: 1 };
 * const [first] = [...centreCropBatches([img, img, img], 4, 2)];
 * console.log(first.length); // 32
 * ```
 */
export function* centreCropBatches(
  images: FloatImage[],
  size: number,
  batch = 32,
): Generator<Float32Array> {
  if (images.length === 0) return;
  const pixels = size * size * images[0].channels;
  for (let i = 0; i < images.length; i += batch) {
    const part = images.slice(i, i + batch);
    const x = new Float32Array(part.length * pixels);
    part.forEach((img, k) => {
      const mx = (img.width - size) / 2, my = (img.height - size) / 2;
      normaliseImageInto(warpAffine(img, translation(-mx, -my), size, size), x, k * pixels);
    });
    yield x;
  }
}

/**
 * Loads the model folder `from`, recalibrates its batch norm on `batches`
 * ({@link recalibrateBatchNorm}) and writes the result to the folder `to`
 * (a new folder swapped in whole, never half-written); returns the model,
 * which the caller disposes.
 *
 * @example
 * ```ts ignore
 * const model = await recalibrateFolder("runs/x/last", "runs/x/recalibrated", batches, [112, 112, 1]);
 * model.dispose();
 * ```
 */
export async function recalibrateFolder(
  from: string,
  to: string,
  batches: Iterable<Float32Array> | AsyncIterable<Float32Array>,
  shape: [number, number, number],
): Promise<tf.LayersModel> {
  const { model, meta } = await loadModelFolder(from);
  try {
    await recalibrateBatchNorm(model, batches, shape);
    const tmp = `${to}.tmp`;
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    await model.save(folderSaver(tmp, meta ?? undefined));
    await Deno.remove(to, { recursive: true }).catch(() => {});
    await Deno.rename(tmp, to);
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}
