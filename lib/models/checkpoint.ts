/**
 * Saving and loading tfjs layers models as `model.json` + `weights.bin` in a
 * folder, with our own IOHandler: writes are atomic, and loading validates
 * the manifest (no path escapes the folder, byte counts match the shapes).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { ensureDir, explainFsError, readBytes, writeFileAtomic } from "../util/fs_util.ts";
// Registers the custom SoftArgmax2D layer so heatmap models load.
import "../head/heatmap.ts";

/** What a model folder says about its inputs and outputs. */
export interface ModelMeta {
  /** Which task trained it, e.g. `"part2"`. */
  task: string;
  /** Keypoint layout id (`"imm58"`, `"ibug68"`) or `"nose"`. */
  layout: string;
  /** Indices of the layout's points that the model predicts, in order. */
  points: number[];
  /** Input width in pixels. */
  inputWidth: number;
  /** Input height in pixels. */
  inputHeight: number;
  /** 1 (grayscale) or 3 (RGB). */
  channels: number;
  /** How the face box was enlarged before cropping (fraction per side), 0 for whole images. */
  boxScale?: number;
  /** Free-form facts (metrics, training command). */
  extra?: Record<string, unknown>;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

function joinWeightData(data: tf.io.WeightData): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  const parts = data as ArrayBuffer[];
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), o);
    o += p.byteLength;
  }
  return out;
}

/**
 * An IOHandler that saves a model into `dir` atomically (`model.json`,
 * `weights.bin`), with our metadata.
 *
 * @example
 * ```ts ignore
 * import { folderSaver } from "./checkpoint.ts";
 * await model.save(folderSaver("runs/part1/best", meta));
 * ```
 */
export function folderSaver(dir: string, meta?: ModelMeta): tf.io.IOHandler {
  return {
    save: async (artifacts) => {
      await ensureDir(dir);
      if (!artifacts.weightData || !artifacts.weightSpecs) {
        throw new Error(`${dir}: model has no weights to save`);
      }
      const weights = joinWeightData(artifacts.weightData);
      const json = {
        format: "layers-model",
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: "facekit",
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{
          paths: ["weights.bin"],
          weights: artifacts.weightSpecs,
        }],
        userDefinedMetadata: { facekit: meta ?? null },
      };
      // Weights first, then the json that points at them.
      await writeFileAtomic(`${dir}/weights.bin`, weights);
      await writeFileAtomic(`${dir}/model.json`, JSON.stringify(json));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: "JSON",
          weightDataBytes: weights.byteLength,
        },
      };
    },
  };
}

/** A parsed and validated model folder. */
export interface LoadedArtifacts {
  /** The artifacts to give `tf.loadLayersModel`. */
  artifacts: tf.io.ModelArtifacts;
  /** Our metadata (null for plain tfjs models). */
  meta: ModelMeta | null;
}

function expectedBytes(
  spec: tf.io.WeightsManifestEntry,
  source: string,
): number {
  const per = BYTES[spec.dtype];
  if (per === undefined || spec.quantization) {
    throw new Error(
      `${source}: weight ${spec.name}: unsupported dtype ${spec.dtype}${
        spec.quantization ? " (quantized)" : ""
      }`,
    );
  }
  for (const d of spec.shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new Error(
        `${source}: weight ${spec.name}: bad shape [${spec.shape}]`,
      );
    }
  }
  return per * spec.shape.reduce((a, b) => a * b, 1);
}

/**
 * Checks that a manifest path names a file inside the model folder.
 *
 * @example
 * ```ts
 * import { safeWeightPath } from "./checkpoint.ts";
 * console.log(safeWeightPath("weights.bin", "m/model.json")); // weights.bin
 * ```
 */
export function safeWeightPath(path: string, source: string): string {
  if (
    typeof path !== "string" || path === "" || path.startsWith("/") ||
    path.includes("\\") || path.includes(":") ||
    path.split("/").some((p) => p === ".." || p === "." || p === "")
  ) {
    throw new Error(
      `${source}: weight file path "${path}" escapes the model folder`,
    );
  }
  return path;
}

/**
 * Parses `model.json` text and validates it against the weight files that
 * `fetchBytes(path)` returns; the result can be given to `tf.loadLayersModel`.
 *
 * @example
 * ```ts ignore
 * import { parseModelFolder } from "./checkpoint.ts";
 * const { artifacts } = await parseModelFolder(json, "m/model.json", (p) => Deno.readFile(`m/${p}`));
 * ```
 */
export async function parseModelFolder(
  jsonText: string,
  source: string,
  fetchBytes: (path: string) => Promise<Uint8Array>,
): Promise<LoadedArtifacts> {
  let json;
  try {
    json = JSON.parse(jsonText);
  } catch (e) {
    throw new Error(`${source}: not valid JSON: ${(e as Error).message}`);
  }
  if (!json || typeof json !== "object" || !json.modelTopology) {
    throw new Error(`${source}: no modelTopology: not a tfjs model`);
  }
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest) || manifest.length === 0) {
    throw new Error(`${source}: missing weightsManifest`);
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  for (const group of manifest) {
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new Error(`${source}: malformed weightsManifest group`);
    }
    let want = 0;
    for (const spec of group.weights) {
      want += expectedBytes(spec, source);
      specs.push(spec);
    }
    let got = 0;
    for (const p of group.paths) {
      const bytes = await fetchBytes(safeWeightPath(p, source));
      got += bytes.byteLength;
      chunks.push(bytes);
    }
    if (got !== want) {
      throw new Error(
        `${source}: weight files hold ${got} bytes but the manifest's shapes need ${want} (${
          got < want ? "truncated" : "oversized"
        } file)`,
      );
    }
  }
  const total = chunks.reduce((n, c) => n + c.byteLength, 0);
  const all = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.byteLength;
  }
  return {
    artifacts: {
      modelTopology: json.modelTopology,
      weightSpecs: specs,
      weightData: all.buffer,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      userDefinedMetadata: json.userDefinedMetadata,
    },
    meta: json.userDefinedMetadata?.facekit ?? null,
  };
}

/**
 * Loads a model folder from disk (read permission on that folder only).
 *
 * @example
 * ```ts ignore
 * import { loadModelFolder } from "./checkpoint.ts";
 * const { model, meta } = await loadModelFolder("models/part2");
 * ```
 */
export async function loadModelFolder(
  dir: string,
): Promise<{ model: tf.LayersModel; meta: ModelMeta | null }> {
  const source = `${dir}/model.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(source);
  } catch (e) {
    throw explainFsError(e, source, "read");
  }
  const { artifacts, meta } = await parseModelFolder(
    text,
    source,
    (p) => readBytes(`${dir}/${p}`),
  );
  const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  return { model, meta };
}

/**
 * Saves optimizer state (e.g. Adam moments) next to a checkpoint so that
 * `--resume` continues exactly.
 *
 * @example
 * ```ts ignore
 * import { saveOptimizer } from "./checkpoint.ts";
 * await saveOptimizer(optimizer, "runs/part2/last");
 * ```
 */
export async function saveOptimizer(
  optimizer: tf.Optimizer,
  dir: string,
): Promise<void> {
  const weights = await optimizer.getWeights();
  const { data, specs } = await tf.io.encodeWeights(weights);
  weights.forEach((w) => {
    // getWeights returns the iteration count as a new tensor; the others
    // are the optimizer's own variables.
    if (w.name === "iter") w.tensor.dispose();
  });
  await ensureDir(dir);
  await writeFileAtomic(`${dir}/optimizer.bin`, joinWeightData(data));
  await writeFileAtomic(`${dir}/optimizer.json`, JSON.stringify(specs));
}

/**
 * Restores optimizer state written by {@link saveOptimizer}.
 *
 * @example
 * ```ts ignore
 * import { loadOptimizer } from "./checkpoint.ts";
 * await loadOptimizer(optimizer, "runs/part2/last");
 * ```
 */
export async function loadOptimizer(
  optimizer: tf.Optimizer,
  dir: string,
): Promise<void> {
  const specs = JSON.parse(await Deno.readTextFile(`${dir}/optimizer.json`));
  const bytes = await readBytes(`${dir}/optimizer.bin`);
  const want = (specs as tf.io.WeightsManifestEntry[]).reduce(
    (n, s) => n + expectedBytes(s, `${dir}/optimizer.json`),
    0,
  );
  if (bytes.byteLength !== want) {
    throw new Error(
      `${dir}/optimizer.bin: ${bytes.byteLength} bytes, expected ${want}`,
    );
  }
  const named = tf.io.decodeWeights(bytes.slice().buffer, specs);
  const list = Object.entries(named).map(([name, tensor]) => ({
    name,
    tensor,
  }));
  await optimizer.setWeights(list);
  list.forEach((w) => w.tensor.dispose());
}
