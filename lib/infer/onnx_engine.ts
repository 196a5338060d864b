/**
 * The opt-in fast engine: a keypoint model's exported `model.onnx` run by
 * onnxruntime-node (native, multi-threaded; about 10-30x faster per face
 * than tfjs-wasm here). It needs `--allow-ffi` (onnxruntime-node loads a
 * native library) besides read access to the model folder; without it the
 * error says so.
 *
 * @module
 */

import { fetchBytes } from "../models/location.ts";
import type { WeightStorage } from "../onnx/compress.ts";

/** A loaded ONNX keypoint model. */
export interface OnnxKeypointRunner {
  /** Runs `n` NHWC images (as the tfjs path feeds them); returns the model's output. */
  run(nhwc: Float32Array, n: number, h: number, w: number, c: number): Promise<Float32Array>;
  /** Frees the session. */
  release(): Promise<void>;
}

/** The file of each weight storage in a model folder. */
export const ONNX_FILES: Record<WeightStorage, string> = {
  float32: "model.onnx",
  float16: "model.fp16.onnx",
  int8: "model.int8.onnx",
};

/**
 * Loads `model.onnx` of a model folder (or its `model.fp16.onnx` /
 * `model.int8.onnx` variant) into onnxruntime-node.
 *
 * @example
 * ```ts ignore
 * import { loadOnnxRunner } from "./onnx_engine.ts";
 * import { resolveModelLocation } from "../models/location.ts";
 * const runner = await loadOnnxRunner(resolveModelLocation("part3"));
 * ```
 */
export async function loadOnnxRunner(
  location: URL,
  weights: WeightStorage = "float32",
): Promise<OnnxKeypointRunner> {
  const url = new URL(ONNX_FILES[weights], location);
  const bytes = await fetchBytes(url);
  // deno-lint-ignore no-explicit-any
  let ort: any;
  try {
    ort = await import("onnxruntime-node");
  } catch (e) {
    const msg = (e as Error).message;
    if (e instanceof Deno.errors.NotCapable || /ffi|Requires .*ffi|NotCapable/i.test(msg)) {
      throw new Error(
        `engine "onnxruntime" loads a native library: run deno with --allow-ffi (${msg})`,
      );
    }
    throw new Error(`engine "onnxruntime": onnxruntime-node did not load: ${msg}`);
  }
  const session = await ort.InferenceSession.create(bytes);
  const inputName: string = session.inputNames[0];
  const outputName: string = session.outputNames[0];
  return {
    async run(nhwc, n, h, w, c) {
      const nchw = new Float32Array(nhwc.length);
      const plane = h * w;
      for (let b = 0; b < n; b++) {
        const o = b * plane * c;
        for (let p = 0; p < plane; p++) {
          for (let k = 0; k < c; k++) nchw[o + k * plane + p] = nhwc[o + p * c + k];
        }
      }
      const out = await session.run({
        [inputName]: new ort.Tensor("float32", nchw, [n, c, h, w]),
      });
      return out[outputName].data as Float32Array;
    },
    async release() {
      await session.release();
    },
  };
}
