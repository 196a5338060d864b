/**
 * Times one training step (forward + MSE + backward + Adam) of the keypoint
 * CNN on the tfjs wasm backend and reports which kernels dominate.
 *
 * Usage:
 *   deno run -A tasks/profile_wasm.ts [--steps=N] [--batch=N] [--baseline]
 *
 * `--baseline` keeps the stock wasm `Conv2DBackpropInput` and `BatchMatMul`
 * kernels (only the missing `Conv2DBackpropFilter` is added), to compare with
 * the replacements from `lib/wasm_kernels.ts`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmTrainingKernels } from "../lib/wasm_kernels.ts";

interface Options {
  steps: number;
  batch: number;
  baseline: boolean;
}

function parseArgs(args: string[]): Options {
  const opts: Options = { steps: 3, batch: 8, baseline: false };
  for (const arg of args) {
    const [key, value] = arg.replace(/^--/, "").split("=");
    if (key === "steps") opts.steps = Number(value);
    else if (key === "batch") opts.batch = Number(value);
    else if (key === "baseline") opts.baseline = true;
    else throw new Error(`unknown argument ${arg}`);
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
  const pool = (): tf.layers.Layer =>
    tf.layers.maxPooling2d({ poolSize: 2, strides: 2 });
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

  const model = buildModel();
  const optimizer = tf.train.adam(1e-4);
  const x = tf.randomUniform([opts.batch, 120, 160, 1]);
  const y = tf.randomUniform([opts.batch, 116]);
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
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(
    `${
      opts.baseline ? "baseline" : "replaced"
    } kernels, batch ${opts.batch}: ` +
      `median ${median.toFixed(0)} ms/step, ` +
      `${(opts.batch / median * 1000).toFixed(1)} images/s`,
  );

  const info = await tf.profile(() => {
    step();
  });
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    const entry = byKernel.get(key) ?? { ms: 0, calls: 0 };
    entry.ms += Number(k.kernelTimeMs);
    entry.calls++;
    byKernel.set(key, entry);
  }
  const rows = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, v]) => s + v.ms, 0);
  console.log(`profiled step: kernel time ${total.toFixed(0)} ms`);
  for (const [key, v] of rows.slice(0, 20)) {
    console.log(
      `${v.ms.toFixed(1).padStart(8)} ms ${
        (100 * v.ms / total).toFixed(1).padStart(5)
      }%  x${v.calls}  ${key}`,
    );
  }
  x.dispose();
  y.dispose();
}

if (import.meta.main) {
  await main();
}
