/**
 * Times training steps (forward + MSE + backward + Adam) and batch-1
 * inference on the tfjs wasm backend and reports which kernels dominate.
 *
 * Usage:
 *   deno run -A tasks/profile_wasm.ts [--net=part2|resnet18|unet] [--size=N]
 *     [--width=X] [--channels=N] [--batch=N] [--steps=N] [--baseline]
 *     [--top=N] [--no-profile] [--no-infer] [--fused-adam]
 *
 * `--net=part2` (default) is the 120x160 grey-scale keypoint CNN;
 * `--net=resnet18` is `buildResNet({ depth: 18 })` with `--size` (default
 * 224), `--channels` (default 3) and `--width` (width multiplier, default 1).
 * `--net=unet` is `buildHeatmapUNet` (defaults: base 16, depth 3) for 68
 * keypoints on `--size` x `--size` x `--channels` images.
 * `--baseline` restores the stock wasm `Conv2DBackpropInput` and
 * `BatchMatMul` kernels (the other replacements from `lib/backends/wasm_kernels.ts`
 * stay registered). `--fused-adam` trains with `createAdam` from
 * `lib/backends/wasm_adam.ts` (one in-place SIMD pass per variable) instead of
 * `tf.train.adam`; its update does not appear among the profiled kernels.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmTrainingKernels } from "../lib/backends/wasm_kernels.ts";
import { buildResNet } from "../lib/models/resnet.ts";
import { buildHeatmapUNet } from "../lib/models/unet.ts";
import { createAdam, FusedAdamOptimizer } from "../lib/backends/wasm_adam.ts";

interface Options {
  net: "part2" | "resnet18" | "unet";
  size: number;
  width: number;
  channels: number;
  steps: number;
  batch: number;
  top: number;
  baseline: boolean;
  profile: boolean;
  infer: boolean;
  fusedAdam: boolean;
}

const USAGE = `usage: deno run -A tasks/profile_wasm.ts [--net=part2|resnet18|unet] [--size=N]
    [--width=X] [--channels=N] [--batch=N] [--steps=N] [--baseline]
    [--top=N] [--no-profile] [--no-infer] [--fused-adam]
  per-kernel time of training steps on the wasm backend`;

function parseArgs(args: string[]): Options {
  const opts: Options = {
    net: "part2",
    size: 224,
    width: 1,
    channels: 3,
    steps: 3,
    batch: 8,
    top: 20,
    baseline: false,
    profile: true,
    infer: true,
    fusedAdam: false,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      Deno.exit(0);
    }
    let [key, value] = arg.replace(/^--/, "").split("=");
    const needsValue = !["baseline", "no-profile", "no-infer", "fused-adam"].includes(key);
    if (needsValue && value === undefined) value = args[++i];
    if (key === "steps") opts.steps = Number(value);
    else if (key === "batch") opts.batch = Number(value);
    else if (key === "size") opts.size = Number(value);
    else if (key === "width") opts.width = Number(value);
    else if (key === "channels") opts.channels = Number(value);
    else if (key === "top") opts.top = Number(value);
    else if (key === "net") {
      if (value !== "part2" && value !== "resnet18" && value !== "unet") {
        throw new Error(`unknown net ${value} (use part2, resnet18 or unet)`);
      }
      opts.net = value;
    } else if (key === "baseline") opts.baseline = true;
    else if (key === "no-profile") opts.profile = false;
    else if (key === "no-infer") opts.infer = false;
    else if (key === "fused-adam") opts.fusedAdam = true;
    else {
      console.error(`error: unknown argument ${arg}\n(run "profile_wasm.ts --help" for usage)`);
      Deno.exit(2);
    }
  }
  return opts;
}

/** Builds the 120x160 grey-scale keypoint CNN used for profiling. */
export function buildModel(): tf.Sequential {
  const conv = (filters: number, first = false): tf.layers.Layer =>
    tf.layers.conv2d({
      filters,
      kernelSize: 3,
      padding: "same",
      activation: "relu",
      ...(first ? { inputShape: [120, 160, 1] } : {}),
    });
  const pool = (): tf.layers.Layer => tf.layers.maxPooling2d({ poolSize: 2, strides: 2 });
  const model = tf.sequential();
  model.add(conv(32, true));
  model.add(pool());
  model.add(conv(32));
  model.add(conv(32));
  model.add(pool());
  model.add(conv(64));
  model.add(conv(64));
  model.add(pool());
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 2000, activation: "relu" }));
  model.add(tf.layers.dense({ units: 116 }));
  return model;
}

function restoreStock(saved: Map<string, tf.KernelConfig>): void {
  for (const [name, config] of saved) {
    tf.unregisterKernel(name, "wasm");
    tf.registerKernel(config);
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Row {
  ms: number;
  calls: number;
}

function printTop(title: string, rows: Map<string, Row>, total: number, top: number): void {
  console.log(title);
  const sorted = [...rows.entries()].sort((a, b) => b[1].ms - a[1].ms);
  for (const [key, v] of sorted.slice(0, top)) {
    console.log(
      `${v.ms.toFixed(1).padStart(8)} ms ${(100 * v.ms / total).toFixed(1).padStart(5)}%  ` +
        `x${v.calls}  ${key}`,
    );
  }
}

/** Profiles `fn` once and prints the top kernels by name and by name+shapes. */
async function profileKernels(label: string, fn: () => void, top: number): Promise<void> {
  const info = await tf.profile(fn);
  const byName = new Map<string, Row>();
  const byShape = new Map<string, Row>();
  let total = 0;
  for (const k of info.kernels) {
    const ms = Number(k.kernelTimeMs);
    total += ms;
    for (
      const [map, key] of [
        [byName, k.name],
        [byShape, `${k.name} ${JSON.stringify(k.inputShapes)}`],
      ] as const
    ) {
      const entry = map.get(key) ?? { ms: 0, calls: 0 };
      entry.ms += ms;
      entry.calls++;
      map.set(key, entry);
    }
  }
  console.log(
    `${label}: kernel time ${total.toFixed(0)} ms in ${info.kernels.length} kernel calls`,
  );
  printTop("  by kernel:", byName, total, top);
  printTop("  by kernel and input shapes:", byShape, total, top);
}

async function main(): Promise<void> {
  const opts = parseArgs(Deno.args);
  const saved = new Map<string, tf.KernelConfig>();
  for (const name of ["Conv2DBackpropInput", "BatchMatMul"]) {
    const config = tf.getKernel(name, "wasm");
    if (config !== undefined) saved.set(name, config);
  }
  registerWasmTrainingKernels();
  if (opts.baseline) restoreStock(saved);
  await tf.setBackend("wasm");
  await tf.ready();

  let model: tf.LayersModel;
  let inShape: number[];
  let outputs: number;
  if (opts.net === "resnet18") {
    model = buildResNet({
      depth: 18,
      inputSize: opts.size,
      channels: opts.channels,
      widthMultiplier: opts.width,
      outputs: 136,
      seed: 1,
    });
    inShape = [opts.size, opts.size, opts.channels];
    outputs = 136;
  } else if (opts.net === "unet") {
    model = buildHeatmapUNet({
      inputWidth: opts.size,
      inputHeight: opts.size,
      channels: opts.channels,
      keypoints: 68,
      seed: 1,
    });
    inShape = [opts.size, opts.size, opts.channels];
    outputs = 136;
  } else {
    model = buildModel();
    inShape = [120, 160, 1];
    outputs = 116;
  }
  const name = opts.net === "resnet18"
    ? `resnet18 ${opts.size}x${opts.size}x${opts.channels} width ${opts.width}`
    : opts.net === "unet"
    ? `unet ${opts.size}x${opts.size}x${opts.channels}`
    : "part2 120x160x1";
  const optimizer = opts.fusedAdam ? createAdam(1e-4) : tf.train.adam(1e-4);
  const x = tf.randomUniform([opts.batch, ...inShape], -0.5, 0.5);
  const y = tf.randomUniform([opts.batch, outputs]);
  const step = (): number => {
    const loss = optimizer.minimize(
      () =>
        tf.losses.meanSquaredError(
          y,
          model.apply(x, { training: true }) as tf.Tensor,
        ) as tf.Scalar,
      true,
    );
    const value = loss === null ? NaN : loss.dataSync()[0];
    loss?.dispose();
    return value;
  };

  step(); // warm-up: creates optimizer slots and XNNPACK operators
  const times: number[] = [];
  for (let i = 0; i < opts.steps; i++) {
    const t0 = performance.now();
    const loss = step();
    const dt = performance.now() - t0;
    times.push(dt);
    console.log(
      `step ${i}: ${dt.toFixed(0)} ms  loss ${loss.toFixed(5)}  ` +
        `tensors ${tf.memory().numTensors}`,
    );
  }
  const med = median(times);
  console.log(
    `${name}, ${opts.baseline ? "baseline" : "replaced"} kernels, ` +
      `${opts.fusedAdam ? "fused" : "stock"} Adam, ` +
      `train batch ${opts.batch}: median ${med.toFixed(0)} ms/step ` +
      `(min ${Math.min(...times).toFixed(0)}), ${(opts.batch / med * 1000).toFixed(2)} img/s`,
  );
  if (optimizer instanceof FusedAdamOptimizer) {
    console.log(
      `fused Adam: ${optimizer.fusedUpdates} variable updates fused, ` +
        `${optimizer.stockUpdates} fell back to the stock kernels`,
    );
  }
  if (opts.profile) await profileKernels("profiled training step", () => void step(), opts.top);

  if (opts.infer) {
    const x1 = tf.randomUniform([1, ...inShape], -0.5, 0.5);
    const infer = (): void => {
      const out = model.predict(x1) as tf.Tensor;
      out.dataSync();
      out.dispose();
    };
    infer();
    const inferTimes: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      infer();
      inferTimes.push(performance.now() - t0);
    }
    console.log(
      `${name}, inference batch 1: median ${median(inferTimes).toFixed(1)} ms ` +
        `(min ${Math.min(...inferTimes).toFixed(1)})`,
    );
    if (opts.profile) await profileKernels("profiled inference", infer, Math.min(opts.top, 10));
    x1.dispose();
  }
  x.dispose();
  y.dispose();
}

if (import.meta.main) {
  await main();
}
