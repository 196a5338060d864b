/**
 * Writes an ensemble of trained keypoint models as one model folder: the
 * members' layers side by side on one input, their coordinates averaged
 * (`lib/models/ensemble.ts`), with `model.json` + `weights.bin`, the facekit
 * metadata of the first member and `model.onnx`. The members must predict
 * the same points from the same crop.
 *
 * ```sh
 * deno run -A tasks/ensemble.ts --models models/part3,runs/lite24/best --out runs/ensemble
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { parseOrExit } from "../lib/cli/args.ts";
import { buildEnsemble } from "../lib/models/ensemble.ts";
import { folderSaver, loadModelFolder, type ModelMeta } from "../lib/models/checkpoint.ts";
import { exportOnnxFile } from "../lib/onnx/export.ts";

const USAGE = `usage: deno run -A tasks/ensemble.ts --models DIR,DIR[,...] --out DIR
  one model folder whose output is the mean of the members' keypoints (same points and crop)`;

const { values } = parseOrExit(Deno.args, {
  models: { type: "string" },
  out: { type: "string" },
}, USAGE);
if (!values.models || !values.out) {
  console.error(`error: --models and --out are required\n${USAGE}`);
  Deno.exit(2);
}
tf.env().set("PROD", true);
await tf.setBackend("cpu");
const dirs = values.models.split(",").filter((d) => d !== "");
const loaded = await Promise.all(dirs.map((d) => loadModelFolder(d)));
const crop = (m: ModelMeta | null) =>
  m &&
  JSON.stringify([m.task, m.layout, m.points, m.inputWidth, m.inputHeight, m.channels, m.boxScale]);
loaded.forEach(({ meta }, i) => {
  if (!meta || crop(meta) !== crop(loaded[0].meta)) {
    console.error(`error: ${dirs[i]} predicts other points or reads another crop than ${dirs[0]}`);
    Deno.exit(1);
  }
});
const ensemble = await buildEnsemble(loaded.map((l) => l.model));
const meta: ModelMeta = {
  ...loaded[0].meta!,
  extra: {
    model: `ensemble(${loaded.map((l) => l.meta!.extra?.model ?? "?").join(", ")})`,
    members: dirs.join(", "),
  },
};
await ensemble.save(folderSaver(values.out, meta));
const { bytes } = await exportOnnxFile(values.out, `${values.out}/model.onnx`);
console.log(
  `wrote ${values.out}: ${dirs.length} members, ${ensemble.countParams().toLocaleString("en")} ` +
    `parameters, ONNX ${(bytes / 2 ** 20).toFixed(2)} MiB`,
);
