/**
 * Times one Adam update of a single variable on the tfjs wasm backend:
 * `tf.train.adam` (stock kernels) against `createAdam` from
 * `lib/backends/wasm_adam.ts` (fused, in place), and checks that both give the same
 * weights. The default shape is Part 2's big dense kernel, 19200x2000
 * (38.4M floats, 153 MB).
 *
 * ```sh
 * deno run -A tasks/bench_wasm_adam.ts [--rows=19200] [--cols=2000] [--steps=5]
 * ```
 *
 * @module
 */

import { parseOrExit } from "../lib/cli/args.ts";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../lib/backends/backend.ts";
import { type AdamGradients, createAdam, FusedAdamOptimizer } from "../lib/backends/wasm_adam.ts";

const USAGE = `usage: deno run -A tasks/bench_wasm_adam.ts [--rows 19200] [--cols 2000] [--steps 5]
  stock tfjs Adam vs our fused wasm Adam on one weight`;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs `steps` + 1 updates (the first creates the moments) and returns ms per update. */
function timeUpdates(
  optimizer: tf.Optimizer,
  shape: [number, number],
  steps: number,
): { times: number[]; sample: Float32Array } {
  const w = tf.tidy(() => tf.randomUniform(shape, -0.1, 0.1, "float32", 1).variable());
  const g = tf.randomUniform(shape, -1, 1, "float32", 2);
  const grads = { [w.name]: g } as unknown as AdamGradients;
  const times: number[] = [];
  for (let i = 0; i <= steps; i++) {
    const t0 = performance.now();
    optimizer.applyGradients(grads); // wasm kernels run synchronously
    if (i > 0) times.push(performance.now() - t0);
  }
  const sample = w.dataSync() as Float32Array;
  tf.dispose([w, g]);
  optimizer.dispose();
  return { times, sample };
}

async function main(): Promise<void> {
  const args = parseOrExit(Deno.args, {
    rows: { type: "string", default: "19200" },
    cols: { type: "string", default: "2000" },
    steps: { type: "string", default: "5" },
  }, USAGE).values;
  const shape: [number, number] = [Number(args.rows), Number(args.cols)];
  const steps = Number(args.steps);
  await setupBackend("wasm");
  const n = shape[0] * shape[1];
  console.log(`Adam update of one [${shape}] float32 variable (${(n / 1e6).toFixed(1)}M floats)`);
  const results: Record<string, { times: number[]; sample: Float32Array }> = {};
  for (const kind of ["stock", "fused"] as const) {
    const optimizer = kind === "stock" ? tf.train.adam(1e-3) : createAdam(1e-3);
    results[kind] = timeUpdates(optimizer, shape, steps);
    const t = results[kind].times;
    console.log(
      `${kind.padEnd(5)}: median ${median(t).toFixed(1)} ms (min ${Math.min(...t).toFixed(1)}, ` +
        `all ${t.map((x) => x.toFixed(0)).join(" ")})` +
        (optimizer instanceof FusedAdamOptimizer
          ? `; ${optimizer.fusedUpdates} fused, ${optimizer.stockUpdates} stock updates`
          : ""),
    );
  }
  const a = results.stock.sample, b = results.fused.sample;
  let differ = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ++;
  console.log(`weights after ${steps + 1} updates: ${differ} of ${a.length} differ`);
  console.log(`tensors left: ${tf.memory().numTensors}`);
}

if (import.meta.main) {
  await main();
}
