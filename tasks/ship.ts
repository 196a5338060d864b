/**
 * Ships a trained model: copies `<run>/best` into `models/<name>/`, adds its
 * ONNX export (`model.onnx`) and writes `MODEL_CARD.md` from the run's
 * `summary.json` and `metrics.jsonl`.
 *
 * ```sh
 * deno run -A tasks/ship.ts --run runs/part3 --name part3 --command "deno task train:part3 ..."
 * ```
 *
 * @module
 */

import { parseOrExit } from "../lib/cli/args.ts";
import * as tf from "@tensorflow/tfjs";
import { ensureDir, writeFileAtomic } from "../lib/util/fs_util.ts";
import { exportOnnxFile } from "../lib/onnx/export.ts";
import { finalModelDir } from "../lib/train/loop.ts";

const USAGE =
  `usage: deno run -A tasks/ship.ts --run DIR --name NAME [--checkpoint best|last|recalibrated] [--command "..."] [--notes "..."]
  copy a run's best (or last) model into models/NAME with its model card and ONNX file;
  last: the final epoch, no epoch picked on the validation set (a run trained with --ema:
  the moving average of the weights, last/ema); recalibrated: the last model with its batch norm
  re-estimated on un-augmented training crops (train --recalibrate-bn)`;

const TERMS: Record<string, string> = {
  imm58:
    "Trained on the IMM Face Database (M. M. Nordstrøm et al., DTU Informatics, 2004), which is free for " +
    "research and educational (non-commercial) use; cite the technical report. The same terms apply to " +
    "these weights.",
  ibug68:
    "Trained on 300-W annotations (C. Sagonas et al., 300 Faces In-the-Wild Challenge, ICCV Workshops " +
    "2013 / IMAVIS 2016) of HELEN, LFPW and AFW photos. The annotations are provided by iBUG for research " +
    "purposes only; commercial use (including training commercial algorithms) is not allowed. The same " +
    "terms apply to these weights. Cite the 300-W papers.",
};

const { values } = parseOrExit(Deno.args, {
  run: { type: "string" },
  name: { type: "string" },
  command: { type: "string", default: "" },
  notes: { type: "string", default: "" },
  checkpoint: { type: "string", default: "best" },
}, USAGE);
if (!["best", "last", "recalibrated"].includes(values.checkpoint!)) {
  console.error(
    `error: --checkpoint: use best, last or recalibrated, got "${values.checkpoint}"\n${USAGE}`,
  );
  Deno.exit(2);
}
if (!values.run || !values.name) {
  console.error("usage: tasks/ship.ts --run DIR --name NAME [--command TEXT] [--notes TEXT]");
  Deno.exit(2);
}
tf.env().set("PROD", true);
await tf.setBackend("cpu");
const summary = JSON.parse(await Deno.readTextFile(`${values.run}/summary.json`));
const rec = summary.recalibrated;
if (values.checkpoint === "recalibrated" && !rec) {
  console.error(
    `error: ${values.run}/summary.json has no recalibrated figures (train --recalibrate-bn)`,
  );
  Deno.exit(1);
}
const dest = `models/${values.name}`;
await ensureDir(dest);
// A run trained with --ema keeps the moving average of its last weights in last/ema.
const source = values.checkpoint === "last"
  ? await finalModelDir(values.run)
  : `${values.run}/${values.checkpoint}`;
const averaged = source.endsWith("/last/ema");
for (const f of ["weights.bin", "model.json"]) {
  await writeFileAtomic(`${dest}/${f}`, await Deno.readFile(`${source}/${f}`));
}
const { bytes: onnxBytes } = await exportOnnxFile(dest, `${dest}/model.onnx`);
const json = JSON.parse(await Deno.readTextFile(`${dest}/model.json`));
const meta = json.userDefinedMetadata.facekit;
const history = (await Deno.readTextFile(`${values.run}/metrics.jsonl`)).trim().split("\n")
  .map((l) => JSON.parse(l));
const weightBytes = (await Deno.stat(`${dest}/weights.bin`)).size;
const params = weightBytes / 4;
// The last epoch's own record when shipping `last` (the summary describes `best`).
const last = history[history.length - 1];
const common = {
  backend: summary.backend,
  model: summary.model,
  trainFaces: summary.trainFaces,
  valFaces: summary.valFaces,
  epoch: last.epoch,
};
const shown = values.checkpoint === "recalibrated"
  ? {
    ...common,
    recalibratedFrom: rec.from,
    nmePercent: rec.nmePercent,
    failureRatePercent: rec.failureRatePercent,
    auc8: rec.auc8,
  }
  : values.checkpoint === "last"
  ? {
    ...common,
    nmePercent: last.nme * 100,
    failureRatePercent: last.fr8 * 100,
    maePixels: last.maePx,
    imagesPerSec: last.imagesPerSec,
  }
  : summary;
const rows = Object.entries(shown).map(([k, v]) =>
  `| ${k} | ${typeof v === "number" ? +v.toPrecision(5) : v} |`
);
const card = `# Model card: ${values.name}

- Task: ${meta.task} (${meta.points.length} keypoints, layout ${meta.layout})
- Input: ${meta.inputWidth}x${meta.inputHeight}, ${
  meta.channels === 1 ? "grayscale (ITU-R 601 luma)" : "RGB"
}, pixel values 0..255 mapped to [-0.5, 0.5]${
  meta.boxScale
    ? `; crop = face box enlarged by ${
      meta.boxScale * 100
    } % per side, squared about its centre, padded with 0 outside the photo`
    : "; the whole image (or the given box) resized to the input"
}
- Output: ${
  meta.points.length * 2
} values, interleaved x, y as fractions of the input width/height (pixel-centre convention: x = (col + 0.5) / width)
- Files: \`model.json\` + \`weights.bin\` (tfjs layers, ${
  (weightBytes / 2 ** 20).toFixed(2)
} MiB, ${params.toLocaleString("en")} float32 values), \`model.onnx\` (opset 17, NCHW input, ${
  (onnxBytes / 2 ** 20).toFixed(2)
} MiB)
- Trained by this project from scratch (no pretrained weights), ${history.length} epochs.

## Training command

\`\`\`sh
${values.command}
\`\`\`

${values.notes}

## Results (${
  values.checkpoint === "recalibrated"
    ? `last epoch, ${last.epoch}, batch norm recalibrated on the un-augmented training crops`
    : values.checkpoint === "last"
    ? `last epoch, ${last.epoch}${averaged ? ", the moving average of the weights" : ""}`
    : `best validation epoch ${summary.bestEpoch}`
})

| metric | value |
| --- | --- |
${rows.join("\n")}

## Data and terms

${TERMS[meta.layout] ?? ""}
`;
await writeFileAtomic(`${dest}/MODEL_CARD.md`, card);
console.log(
  `shipped ${dest}: ${(weightBytes / 2 ** 20).toFixed(2)} MiB tfjs, ${
    (onnxBytes / 2 ** 20).toFixed(2)
  } MiB ONNX`,
);
