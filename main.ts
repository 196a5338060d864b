/**
 * The facekit command line.
 *
 * ```sh
 * deno run -A main.ts train part1|part2 [--data DIR] [--out DIR] [--epochs N] [--batch N] [--lr X] [--seed N] [--resume] [--backend auto|webgpu|wasm|cpu]
 * ```
 *
 * @module
 */

import { CliExit, parseCli, runCli, usageError } from "./lib/cli/args.ts";
import { parseBackend, requireSelfCheck, setupBackend } from "./lib/backends/backend.ts";
import { buildPart1, buildPart2 } from "./lib/models/course_cnn.ts";
import { buildResNet } from "./lib/models/resnet.ts";
import { resolveImmDir, runImm } from "./lib/course/imm_task.ts";
import { cedChart, evaluateFolder, runPart3 } from "./lib/course/w300_task.ts";
import { savePng } from "./lib/report/pictures.ts";
import { predictCli } from "./lib/cli/predict.ts";
import { createKeypointEstimator } from "./lib/infer/keypoint_estimator.ts";
import { writeKaggle } from "./lib/course/kaggle.ts";
import { exportOnnxFile } from "./lib/onnx/export.ts";
import { evaluateDetection } from "./lib/course/detect_eval.ts";
import { convertLabels } from "./lib/course/convert.ts";
import { isLabelSource } from "./lib/data/label_samples.ts";
import { guessLabelFormat, LABEL_FORMATS, type LabelFormat } from "./lib/data/label_formats.ts";
import { createFaceDetector } from "./lib/detect/face_detector.ts";
import { writeFileAtomic } from "./lib/util/fs_util.ts";
import { resolve300wDir, W300_SPLIT } from "./lib/data/w300.ts";
import { AUGMENT_PRESETS, type AugmentPreset } from "./lib/augment/augment.ts";

const TRAIN_USAGE = `usage: main.ts train part1|part2|part3 [options]
  part1: IMM nose tip (80x60); part2: IMM 58 points (160x120); part3: 300-W 68 points
    --data DIR        IMM folder (default $FACEKIT_IMM or ../shared/data/imm_face_db)
    --out DIR         output folder (default runs/<part>)
    --epochs N        epochs (part1 40, part2 30, part3 40)
    --batch N         batch size (8; part3 16)
    --lr X            Adam learning rate (1e-3; part3 2e-3)
    --seed N          random seed (1)
    --resume          continue from <out>/last
    --augment / --no-augment   augmentation (part1 off, part2 on)
    --first-kernel K  part1: kernel size of the first two convs (3; the seed's variant is 5)
    --decay D         learning-rate decay: constant (default) | cosine | step
    --head H          regression (the course's nets / ResNet) or heatmap (U-Net, soft-argmax)
    --limit N         use only N train and N validation faces (quick runs)
    --backend B       auto | webgpu | wasm | cpu (auto)
    --workers N|auto  data-parallel replicas on CPU backends: the main thread plus N-1
                      Deno Workers, gradients averaged each step (auto: one per core,
                      at most 4 and at least 4 images each; 1 on WebGPU)
    --quiet           no progress bar
    --no-check        skip the start-up gradient comparison with the cpu backend
  part3 only (300-W, default data ../shared/data/300w or $FACEKIT_300W; --data may also be a
  label file (dlib .xml, COCO .json, .csv) or a folder of .pts files: your own 68-point faces,
  about 10 % of the photos kept for validation):
    --size N          input side (112)        --channels 1|3   (1)
    --depth 18|34|50  ResNet depth (18)       --width X        channel multiplier (0.5)
    --wide            Wide-ResNet-50-2 (bottleneck width x2)
    --box-scale X     box enlargement per side (0.25)   --jitter X  box jitter (0.05)
    --loss smoothl1|mse (smoothl1)  --warmup N (1)  --decay cosine|step|constant (cosine)
    --aug default|heavy|degrade|hands  augmentation preset (default: ±15°, colour jitter; heavy:
                      ±30°, scale 0.8-1.2, occluding patches, blur, noise; degrade: the default
                      plus the occluding patches, blur and noise; hands: the default plus a
                      synthetic hand, textured with the face's skin, over a quarter of the faces)
    --init DIR        start from a model folder's weights (fine-tune, e.g. models/part3)
    --base N          heatmap nets: filters of the first level (16); the others scale with it
    --arch A          heatmap architecture: unet (default) or lite (the latency-designed net)
    --fine-skip       lite net: also feed the 1/2-resolution stem into the 1/4 decoder
    --teacher DIR     distil: targets blend the labels with this trained model's points
    --teacher-weight X  the teacher's share in the targets (0.5)
    --teacher-flip    the teacher's points are flip-averaged (it also reads the mirrored faces)
    --ema D           validate and save a moving average of the weights, decay D per step
                      (e.g. 0.999); the average is in <out>/best and <out>/last/ema
    --recalibrate-bn  after training, re-estimate the final model's batch-norm statistics on the
                      un-augmented training crops: <out>/recalibrated (--resume a finished run
                      with it to recalibrate that run)`;

const EVAL_USAGE =
  `usage: main.ts eval --model DIR [--data DIR ...] [--pictures DIR] [--flip] [--backend B]
       main.ts eval --detect [--model part3|DIR] [--data DIR|FILE.xml ...] [--min-score X]
                    [--min-face-size PX] [--refine] [--no-calibrate] [--flip] [--json FILE]
  NME, failure rate, AUC@8 and MAE of a 68-point model on labelled folders from their truth
  boxes (default: the 300-W validation subset helen_testset).
  --detect: the face finder end to end on labelled photos (300-W crop folders and dlib XML
  photo sets; default helen_testset and ../shared/data/300w_photos/afw/faces.xml): recall,
  precision, and the NME of the matched faces next to their NME from truth boxes.
  --refine: a second keypoint pass from the first pass's points; --no-calibrate: the face finder's raw boxes;
  --flip: test-time flip averaging of the keypoints (both modes; twice the network time).`;

const KAGGLE_USAGE =
  `usage: main.ts kaggle --model DIR --xml FILE [--out submission.csv] [--backend B]
  the course's Kaggle CSV (Id,Predicted; original-image pixels) for every box of a dlib XML`;

const DOCTOR_USAGE = `usage: main.ts doctor [--backend auto|webgpu|wasm|cpu]
  one training step of each net on the backend, gradients compared with cpu
  (auto: every available backend, checked and timed, and the one auto picks)`;

const EXPORT_USAGE = `usage: main.ts export --model DIR --out FILE.onnx
  ONNX (opset 17) export of a model folder`;

const CONVERT_USAGE = `usage: main.ts convert --in PATH --out PATH [--from F] [--to F]
  keypoint labels from one format to another: pts (a folder of 300-W .pts files beside their
  images), dlib (imglab XML), coco (keypoint JSON), csv (image,box_x,box_y,box_w,box_h,x0,y0,...);
  the formats default from the paths (a folder is pts, then .xml, .json, .csv)`;

const COMPARE_USAGE =
  `usage: main.ts compare --models DIR,DIR[,...] [--data DIR ...] [--max 0.08] --out FILE.png
  the cumulative error distributions of several 68-point models in one chart (default data:
  helen_testset), with each model's NME and AUC in the legend`;

const USAGE = `usage: main.ts COMMAND [options]   (main.ts COMMAND --help for a command's options)
  train part1|part2|part3   train a keypoint model (IMM nose tip, IMM 58 points, 300-W 68 points)
  eval --model DIR          NME, failure rate, AUC and MAE on labelled 300-W folders
  predict IMAGE...          keypoints of the faces in photos (as: deno run --allow-read mod.ts predict)
  kaggle --model DIR --xml FILE   the course's Kaggle CSV for every box of a dlib XML
  doctor                    check (and for auto, time) the training backends against cpu
  export --model DIR --out FILE.onnx   ONNX export of a model folder
  convert --in PATH --out PATH   keypoint labels between pts, dlib XML, COCO JSON and CSV
  compare --models A,B --out FILE.png   two or more models' CEDs in one chart`;

/** `--workers`: a count, or `auto` (resolved once the backend is final). */
function parseWorkers(v: string, batch: number): number | "auto" {
  if (v === "auto") return "auto";
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new Error(`--workers: use auto or an integer from 1 to 64 (got "${v}")`);
  }
  if (n > batch) throw new Error(`--workers ${n}: more replicas than images in a batch (${batch})`);
  return n;
}

function parseHead(v: string): "regression" | "heatmap" {
  if (v !== "regression" && v !== "heatmap") throw new Error(`--head: use regression or heatmap`);
  return v;
}

function parseDecay(v: string): "constant" | "cosine" | "step" {
  if (v !== "constant" && v !== "cosine" && v !== "step") {
    throw new Error(`--decay: use cosine, step or constant`);
  }
  return v;
}

function parseEma(v: string): number {
  const d = Number(v);
  if (!(d > 0 && d < 1)) {
    throw usageError(`--ema: a decay between 0 and 1 (e.g. 0.999), got "${v}"`, TRAIN_USAGE);
  }
  return d;
}

function num(v: string | undefined, d: number, name: string): number {
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: "${v}" is not a positive number`);
  return n;
}

async function trainPart3(args: string[]): Promise<void> {
  const { values } = parseCli(args, {
    data: { type: "string" },
    out: { type: "string", default: "runs/part3" },
    epochs: { type: "string" },
    batch: { type: "string" },
    lr: { type: "string" },
    seed: { type: "string" },
    resume: { type: "boolean", default: false },
    size: { type: "string" },
    channels: { type: "string" },
    depth: { type: "string" },
    width: { type: "string" },
    wide: { type: "boolean", default: false },
    "box-scale": { type: "string" },
    jitter: { type: "string" },
    loss: { type: "string", default: "smoothl1" },
    warmup: { type: "string" },
    decay: { type: "string", default: "cosine" },
    head: { type: "string", default: "regression" },
    limit: { type: "string" },
    backend: { type: "string", default: "auto" },
    workers: { type: "string", default: "auto" },
    quiet: { type: "boolean", default: false },
    "no-check": { type: "boolean", default: false },
    aug: { type: "string", default: "default" },
    init: { type: "string" },
    base: { type: "string" },
    arch: { type: "string", default: "unet" },
    "fine-skip": { type: "boolean", default: false },
    teacher: { type: "string" },
    "teacher-weight": { type: "string" },
    "teacher-flip": { type: "boolean", default: false },
    ema: { type: "string" },
    "recalibrate-bn": { type: "boolean", default: false },
  }, TRAIN_USAGE);
  if (values.arch !== "unet" && values.arch !== "lite") {
    throw usageError(`--arch: use unet or lite, got "${values.arch}"`, TRAIN_USAGE);
  }
  if (values["teacher-flip"] && !values.teacher) {
    throw usageError(`--teacher-flip: use it with --teacher DIR`, TRAIN_USAGE);
  }
  if (!(AUGMENT_PRESETS as readonly string[]).includes(values.aug!)) {
    throw usageError(`--aug: use ${AUGMENT_PRESETS.join(", ")}, got "${values.aug}"`, TRAIN_USAGE);
  }
  const depth = num(values.depth, 18, "depth");
  if (![18, 34, 50].includes(depth)) throw usageError(`--depth: use 18, 34 or 50`, TRAIN_USAGE);
  const channels = num(values.channels, 1, "channels");
  if (channels !== 1 && channels !== 3) throw usageError(`--channels: use 1 or 3`, TRAIN_USAGE);
  if (!["smoothl1", "mse"].includes(values.loss!)) {
    throw usageError(`--loss: use smoothl1 or mse`, TRAIN_USAGE);
  }
  const data = values.data && (await isLabelSource(values.data))
    ? values.data
    : resolve300wDir(values.data);
  const batch = num(values.batch, 16, "batch");
  const backend = await setupBackend(parseBackend(values.backend!));
  console.log(`backend: ${backend.description}`);
  const summary = await runPart3({
    data,
    out: values.out!,
    epochs: num(values.epochs, 40, "epochs"),
    batch,
    lr: num(values.lr, 2e-3, "lr"),
    seed: num(values.seed, 1, "seed"),
    resume: values.resume!,
    inputSize: num(values.size, 112, "size"),
    channels,
    depth: depth as 18 | 34 | 50,
    width: num(values.width, 0.5, "width"),
    bottleneckWidth: values.wide ? 2 : 1,
    boxScale: values["box-scale"] === "0" ? 0 : num(values["box-scale"], 0.25, "box-scale"),
    jitter: values.jitter === "0" ? 0 : num(values.jitter, 0.05, "jitter"),
    loss: values.loss as "smoothl1" | "mse",
    warmup: values.warmup === "0" ? 0 : num(values.warmup, 1, "warmup"),
    decay: parseDecay(values.decay!),
    head: parseHead(values.head!),
    backend,
    limit: values.limit ? num(values.limit, 0, "limit") : undefined,
    quiet: values.quiet,
    check: !values["no-check"],
    workers: parseWorkers(values.workers!, batch),
    augment: values.aug as AugmentPreset,
    init: values.init,
    base: num(values.base, 16, "base"),
    arch: values.arch as "unet" | "lite",
    fineSkip: values["fine-skip"],
    teacher: values.teacher,
    teacherWeight: values["teacher-weight"] === "0"
      ? 0
      : num(values["teacher-weight"], 0.5, "teacher-weight"),
    teacherFlip: values["teacher-flip"],
    ema: values.ema === undefined ? undefined : parseEma(values.ema),
    recalibrateBn: values["recalibrate-bn"],
  });
  console.log(JSON.stringify(summary, null, 2));
}

async function evalCommand(args: string[]): Promise<void> {
  const { values } = parseCli(args, {
    model: { type: "string" },
    data: { type: "string", multiple: true },
    pictures: { type: "string" },
    backend: { type: "string", default: "auto" },
    detect: { type: "boolean", default: false },
    "min-score": { type: "string" },
    "min-face-size": { type: "string" },
    refine: { type: "boolean", default: false },
    "no-calibrate": { type: "boolean", default: false },
    flip: { type: "boolean", default: false },
    json: { type: "string" },
  }, EVAL_USAGE);
  if (values.detect) {
    const sources = values.data ?? [
      `${resolve300wDir(undefined)}/helen_testset`,
      `${resolve300wDir(undefined)}/../300w_photos/afw/faces.xml`,
    ];
    const estimator = await createKeypointEstimator({
      model: values.model ?? "part3",
      faceFinder: values["no-calibrate"]
        ? await createFaceDetector({ calibration: null })
        : undefined,
    });
    const options = {
      minScore: values["min-score"] === undefined
        ? undefined
        : num(values["min-score"], 0, "min-score"),
      minFaceSize: values["min-face-size"] === undefined
        ? undefined
        : Number(values["min-face-size"]),
      refine: values.refine,
      flip: values.flip,
    };
    const reports = [];
    for (const source of sources) reports.push(await evaluateDetection(estimator, source, options));
    estimator.dispose();
    const table = [
      "| source | photos | faces | found | recall | precision | NME found | NME truth box | ratio | ms/photo |",
      "|---|---|---|---|---|---|---|---|---|---|",
      ...reports.map((r) =>
        `| ${r.source} | ${r.images} | ${r.faces} | ${r.matched} | ${r.recall.toFixed(3)} | ${
          r.precision.toFixed(3)
        } | ${(100 * r.nmeFound).toFixed(2)} % | ${(100 * r.nmeTruthBox).toFixed(2)} % | ${
          r.nmeRatio.toFixed(3)
        } | ${r.msPerImage.toFixed(0)} |`
      ),
    ].join("\n");
    console.log(table);
    for (const r of reports) {
      if (!r.pointScores) continue;
      console.log(
        `${r.source}: point error / IOD of the 10 % lowest-scoring points ${
          (100 * r.pointScores.lowestTenthError).toFixed(2)
        } %, of the rest ${(100 * r.pointScores.restError).toFixed(2)} %`,
      );
    }
    if (values.json) {
      await writeFileAtomic(values.json, JSON.stringify({ options, reports }, null, 2) + "\n");
    }
    return;
  }
  if (!values.model) throw usageError("eval: --model DIR is required", EVAL_USAGE);
  const dirs = values.data ?? W300_SPLIT.val.map((d) => `${resolve300wDir(undefined)}/${d}`);
  const backend = await setupBackend(parseBackend(values.backend!));
  console.log(`backend: ${backend.description}`);
  const m = await evaluateFolder(values.model, dirs, values.pictures, values.flip);
  console.log(JSON.stringify(
    {
      faces: m.faces,
      flip: values.flip,
      nmePercent: +(m.nme * 100).toFixed(3),
      failureRatePercent: +(m.failureRate * 100).toFixed(2),
      auc8: +m.auc8.toFixed(4),
      maePixels: +m.maePixels.toFixed(3),
      failureRate10Percent: +(m.failureRate10 * 100).toFixed(2),
      auc10: +m.auc10.toFixed(4),
      regionNmePercent: Object.fromEntries(
        Object.entries(m.regionNme).map(([k, v]) => [k, +(v * 100).toFixed(2)]),
      ),
      hardestYawTenth: {
        faces: m.hardYaw.faces,
        nmePercent: +(m.hardYaw.nme * 100).toFixed(3),
        minAbsYawDeg: +m.hardYaw.minAbsYaw.toFixed(1),
        ratioToAll: +(m.hardYaw.nme / m.nme).toFixed(3),
      },
    },
    null,
    2,
  ));
}

async function kaggleCommand(args: string[]): Promise<void> {
  const { values } = parseCli(args, {
    model: { type: "string" },
    xml: { type: "string" },
    out: { type: "string", default: "submission.csv" },
    backend: { type: "string", default: "wasm" },
  }, KAGGLE_USAGE);
  if (!values.model || !values.xml) {
    throw usageError("kaggle: --model DIR and --xml FILE are required", KAGGLE_USAGE);
  }
  const estimator = await createKeypointEstimator({
    model: values.model,
    backend: parseBackend(values.backend!),
  });
  const n = await writeKaggle(estimator, values.xml, values.out!);
  estimator.dispose();
  console.log(`wrote ${values.out}: ${n} faces, ${n * estimator.meta.points.length * 2} rows`);
}

async function doctorCommand(args: string[]): Promise<void> {
  const { values } = parseCli(args, { backend: { type: "string", default: "auto" } }, DOCTOR_USAGE);
  const info = await setupBackend(parseBackend(values.backend!));
  console.log(`backend: ${info.description}`);
  const nets: [string, () => import("@tensorflow/tfjs").LayersModel][] = [
    ["part1", () => buildPart1({ seed: 1 })],
    ["part2", () => buildPart2({ seed: 1 })],
    [
      "resnet18-w0.5-112-gray",
      () => buildResNet({ depth: 18, inputSize: 112, channels: 1, widthMultiplier: 0.5, seed: 1 }),
    ],
  ];
  let failed = 0;
  for (const [name, build] of nets) {
    try {
      // For auto, every net gets its own measured choice among the candidates.
      await requireSelfCheck(
        build,
        info.auto ? { ...info } : info,
        (line) => console.log(`${name}: ${line}`),
      );
    } catch (e) {
      failed++;
      console.log(`${name}: FAILED: ${(e as Error).message}`);
    }
  }
  if (failed) throw new Error(`${failed} of ${nets.length} nets disagree with cpu on ${info.name}`);
  console.log(
    info.auto
      ? `all ${nets.length} nets: auto found a backend that agrees with cpu`
      : `all ${nets.length} nets agree with cpu on ${info.name}`,
  );
}

async function exportCommand(args: string[]): Promise<void> {
  const { values } = parseCli(
    args,
    { model: { type: "string" }, out: { type: "string" } },
    EXPORT_USAGE,
  );
  if (!values.model || !values.out) {
    throw usageError("export: --model DIR and --out FILE are required", EXPORT_USAGE);
  }
  const { bytes } = await exportOnnxFile(values.model, values.out);
  console.log(`wrote ${values.out} (${(bytes / 2 ** 20).toFixed(2)} MiB)`);
}

async function compareCommand(args: string[]): Promise<void> {
  const { values } = parseCli(args, {
    models: { type: "string" },
    data: { type: "string", multiple: true },
    max: { type: "string", default: "0.08" },
    out: { type: "string" },
    backend: { type: "string", default: "wasm" },
  }, COMPARE_USAGE);
  if (!values.models || !values.out) {
    throw usageError("compare: --models DIR,DIR and --out FILE.png are required", COMPARE_USAGE);
  }
  const dirs = values.data ?? W300_SPLIT.val.map((d) => `${resolve300wDir(undefined)}/${d}`);
  await setupBackend(parseBackend(values.backend!));
  const series = [];
  for (const model of values.models.split(",")) {
    const m = await evaluateFolder(model, dirs);
    console.log(`${model}: NME ${(m.nme * 100).toFixed(2)} %, ${m.faces} faces`);
    series.push({ name: model.replace(/\/$/, "").replace(/^.*\//, ""), metrics: m });
  }
  await savePng(values.out, cedChart(series, num(values.max, 0.08, "max")));
  console.log(`wrote ${values.out}`);
}

async function convertCommand(args: string[]): Promise<void> {
  const { values } = parseCli(args, {
    in: { type: "string" },
    out: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
  }, CONVERT_USAGE);
  if (!values.in || !values.out) {
    throw usageError("convert: --in PATH and --out PATH are required", CONVERT_USAGE);
  }
  const format = async (v: string | undefined, path: string): Promise<LabelFormat> => {
    if (v === undefined) return await guessLabelFormat(path);
    if (!(LABEL_FORMATS as readonly string[]).includes(v)) {
      throw usageError(
        `convert: unknown format "${v}" (use ${LABEL_FORMATS.join(", ")})`,
        CONVERT_USAGE,
      );
    }
    return v as LabelFormat;
  };
  const from = await format(values.from, values.in);
  const to = await format(values.to, values.out);
  const n = await convertLabels(values.in, from, values.out, to);
  console.log(`wrote ${values.out} (${to}): ${n} faces from ${values.in} (${from})`);
}

async function trainCommand(args: string[]): Promise<void> {
  if (args[0] === "part3") return await trainPart3(args.slice(1));
  const { values, positionals } = parseCli(
    args,
    {
      data: { type: "string" },
      out: { type: "string" },
      epochs: { type: "string" },
      batch: { type: "string" },
      lr: { type: "string" },
      seed: { type: "string" },
      resume: { type: "boolean", default: false },
      augment: { type: "boolean" },
      "no-augment": { type: "boolean" },
      "first-kernel": { type: "string" },
      head: { type: "string", default: "regression" },
      decay: { type: "string", default: "constant" },
      limit: { type: "string" },
      backend: { type: "string", default: "auto" },
      workers: { type: "string", default: "auto" },
      quiet: { type: "boolean", default: false },
      "no-check": { type: "boolean", default: false },
    },
    TRAIN_USAGE,
    true,
  );
  const part = positionals[0];
  if (positionals.length !== 1 || (part !== "part1" && part !== "part2")) {
    throw usageError(
      `train: expected part1, part2 or part3, got "${positionals.join(" ")}"`,
      TRAIN_USAGE,
    );
  }
  const data = resolveImmDir(values.data);
  const batch = num(values.batch, 8, "batch");
  const backend = await setupBackend(parseBackend(values.backend!));
  console.log(`backend: ${backend.description}`);
  const summary = await runImm({
    part,
    data,
    out: values.out ?? `runs/${part}`,
    epochs: num(values.epochs, part === "part1" ? 40 : 30, "epochs"),
    batch,
    lr: num(values.lr, 1e-3, "lr"),
    seed: num(values.seed, 1, "seed"),
    resume: values.resume!,
    augment: values["no-augment"] ? false : values.augment ?? part === "part2",
    firstKernel: values["first-kernel"]
      ? num(values["first-kernel"], 3, "first-kernel")
      : undefined,
    head: parseHead(values.head!),
    decay: parseDecay(values.decay!),
    backend,
    limit: values.limit ? num(values.limit, 0, "limit") : undefined,
    quiet: values.quiet,
    check: !values["no-check"],
    workers: parseWorkers(values.workers!, batch),
  });
  console.log(JSON.stringify(summary, null, 2));
}

/**
 * Runs the CLI with the given arguments; returns the exit code (0 success
 * or help, 1 failure, 2 usage error).
 */
export function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  return runCli(async () => {
    if (command === "train") await trainCommand(rest);
    else if (command === "eval") await evalCommand(rest);
    else if (command === "predict") return await predictCli(args);
    else if (command === "export") await exportCommand(rest);
    else if (command === "doctor") await doctorCommand(rest);
    else if (command === "kaggle") await kaggleCommand(rest);
    else if (command === "convert") await convertCommand(rest);
    else if (command === "compare") await compareCommand(rest);
    else if (
      command === undefined || command === "help" || command === "--help" || command === "-h"
    ) {
      throw new CliExit(0, USAGE);
    } else throw usageError(`unknown command "${command}"`, USAGE);
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
