/**
 * Model folder -> `.onnx` file: loads a checkpoint folder written by
 * `lib/models/checkpoint.ts`, converts it with {@link tfjsToOnnx} and writes the
 * result atomically, with the folder's metadata (task, keypoint layout and
 * names, input size, normalisation) in the ONNX `metadata_props`.
 *
 * @module
 */

import type { WeightStorage } from "./compress.ts";
import { loadModelFolder, type ModelMeta } from "../models/checkpoint.ts";
import { writeFileAtomic } from "../util/fs_util.ts";
import { IBUG68, IMM58, type Layout } from "../data/layouts.ts";
import { tfjsToOnnx } from "./convert.ts";
// Custom layers of this project register their converters on import.
import "./heatmap_onnx.ts";
import denoJson from "../../deno.json" with { type: "json" };

const LAYOUTS: Record<string, Layout> = { imm58: IMM58, ibug68: IBUG68, nose: IMM58 };

/**
 * The ONNX metadata_props entries for a model folder's metadata: everything
 * a consumer needs to feed the model and read its output.
 *
 * @example
 * ```ts
 * import { onnxMetadata } from "./export.ts";
 * const md = onnxMetadata({
 *   task: "part1", layout: "imm58", points: [52], inputWidth: 80, inputHeight: 64, channels: 1,
 * });
 * console.log(md.keypoint_count); // 1
 * ```
 */
export function onnxMetadata(meta: ModelMeta | null): Record<string, string> {
  const md: Record<string, string> = {
    input_layout: "NCHW float32 [N, C, H, W]",
    input_normalisation: "pixel / 255 - 0.5 (pixels 0..255 -> [-0.5, 0.5])",
    output_format: "[N, 2K]: x0, y0, x1, y1, ... as fractions of the input width/height; " +
      "pixel-centre coordinate = x * width - 0.5",
  };
  if (!meta) return md;
  md.task = meta.task;
  md.keypoint_layout = meta.layout;
  md.keypoint_count = String(meta.points.length);
  md.keypoint_indices = JSON.stringify(meta.points);
  const layout = LAYOUTS[meta.layout];
  if (layout) {
    md.keypoint_names = JSON.stringify(meta.points.map((i) => layout.names[i] ?? `p${i}`));
  }
  md.input_width = String(meta.inputWidth);
  md.input_height = String(meta.inputHeight);
  md.input_channels = String(meta.channels);
  if (meta.boxScale !== undefined) md.box_scale = String(meta.boxScale);
  if (meta.extra) md.extra = JSON.stringify(meta.extra);
  return md;
}

/**
 * Exports a model folder (`model.json` + `weights.bin`) to an ONNX file,
 * written atomically; returns the file's size.
 *
 * @example
 * ```ts ignore
 * import { exportOnnxFile } from "./export.ts";
 * const { bytes } = await exportOnnxFile("runs/part1/best", "part1.onnx");
 * ```
 */
export async function exportOnnxFile(
  modelDir: string,
  outFile: string,
  weights: WeightStorage = "float32",
): Promise<{ bytes: number }> {
  const { model, meta } = await loadModelFolder(modelDir);
  try {
    const onnx = tfjsToOnnx(model, {
      metadata: onnxMetadata(meta),
      producerVersion: denoJson.version,
      weights,
    });
    await writeFileAtomic(outFile, onnx);
    return { bytes: onnx.byteLength };
  } finally {
    model.dispose();
  }
}
