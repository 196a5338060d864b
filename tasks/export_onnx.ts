/**
 * Exports a model folder to ONNX (IR 8, opset 17, NCHW float32 input).
 *
 * ```sh
 * deno run -A tasks/export_onnx.ts --model runs/part1/best --out part1.onnx
 * ```
 *
 * @module
 */

import { CliExit, parseCli, usageError } from "../lib/cli/args.ts";
import * as tf from "@tensorflow/tfjs";
import { exportOnnxFile } from "../lib/onnx/export.ts";
import type { WeightStorage } from "../lib/onnx/compress.ts";

const USAGE = `usage: deno run -A tasks/export_onnx.ts --model DIR --out FILE.onnx [--weights W]
  --weights float32|float16|int8   weight storage (float32; float16 halves the file, int8
                                   stores per-channel int8 and is about 4x smaller)`;

/**
 * Runs the export command line; returns the exit code.
 *
 * @example
 * ```ts ignore
 * import { main } from "./export_onnx.ts";
 * await main(["--model", "runs/part1/best", "--out", "part1.onnx"]);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseCli(args, {
      model: { type: "string" },
      out: { type: "string" },
      weights: { type: "string", default: "float32" },
    }, USAGE));
    if (!values.model || !values.out) throw usageError("--model and --out are required", USAGE);
    if (!["float32", "float16", "int8"].includes(values.weights!)) {
      throw usageError(`--weights: use float32, float16 or int8, got "${values.weights}"`, USAGE);
    }
  } catch (e) {
    if (!(e instanceof CliExit)) throw e;
    if (e.code === 0) console.log(e.message);
    else console.error(`error: ${e.message}`);
    return e.code;
  }
  // The weights are read on the CPU; no accelerator needed for an export.
  tf.env().set("PROD", true);
  await tf.setBackend("cpu");
  try {
    const { bytes } = await exportOnnxFile(
      values.model,
      values.out,
      values.weights as WeightStorage,
    );
    console.log(`${values.out} (${(bytes / 1024 / 1024).toFixed(2)} MiB, ${bytes} bytes)`);
    return 0;
  } catch (e) {
    console.error(`export_onnx: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
