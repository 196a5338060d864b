/**
 * `deno task bench`: training and inference speed of the project's nets on
 * every available backend. Training = forward + MSE + backward + Adam at
 * batch 8 and 32 after warm-up; inference = latency at batch 1 and
 * images/s at batch 32; GFLOP/s from the layer shapes (training counted as
 * 3x the forward FLOPs). Prints a Markdown table and writes JSON.
 *
 * ```sh
 * deno run -A tasks/bench.ts [--nets part1,part2,resnet18] [--backends wasm,webgpu,cpu] [--workers 1,2] [--secs 6] [--json bench.json]
 * ```
 *
 * `--workers 1,2` adds training rows (backend `wasm x2`) for data-parallel
 * training in Deno Workers (`lib/train/data_parallel.ts`): the batch is split
 * over the replicas, so batch 32 is 16 per replica.
 *
 * With a native GEMM loaded (OpenBLAS and `--allow-ffi`, see
 * `lib/backends/native_blas.ts`) wasm rows are labelled `wasm+openblas`: one
 * replica runs it with OpenBLAS's threads, data-parallel replicas with one
 * BLAS thread each.
 * Set `FACEKIT_NATIVE=0` for the wasm-only kernels.
 *
 * `--peer FILE` reads the JSON lines of `../shared/bench/torch_peer.py` and
 * adds PyTorch's images/s and the ratio ours / PyTorch to every row with the
 * same net, mode and batch.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { parseOrExit } from "../lib/cli/args.ts";
import { hasWebGpu, setupBackend } from "../lib/backends/backend.ts";
import { createDataParallel, type StepTimings } from "../lib/train/data_parallel.ts";
import { syntheticStep } from "../lib/backends/synthetic_step.ts";
import { createOptimizer } from "../lib/backends/optimizer.ts";
import { buildPart1, buildPart2, forwardFlops } from "../lib/models/course_cnn.ts";
import { buildResNet } from "../lib/models/resnet.ts";
import { buildHeatmapUNet } from "../lib/models/unet.ts";
import { nativeBlas } from "../lib/backends/native_blas.ts";

const USAGE =
  `usage: deno task bench [--nets part1,part2,resnet18,...] [--backends wasm,webgpu,cpu] [--workers 1,2] [--secs 6] [--json runs/bench.json] [--peer FILE]
  training and inference speed of the nets per backend (img/s, ms per step, GFLOP/s)
    --peer FILE   JSON lines of ../shared/bench/torch_peer.py: adds PyTorch's img/s and ours / PyTorch
  A native GEMM (OpenBLAS, needs --allow-ffi) is used when installed; FACEKIT_NATIVE=0 turns it off.`;

/** One measurement. */
interface Row {
  net: string;
  backend: string;
  mode: "train" | "infer";
  batch: number;
  imgPerSec: number;
  msPerStep: number;
  gflops: number;
  /** Data-parallel rows: where the main thread's last step went (ms). */
  phases?: StepTimings | null;
}

const NETS: Record<string, () => tf.LayersModel> = {
  part1: () => buildPart1({ seed: 1 }),
  part2: () => buildPart2({ seed: 1 }),
  resnet18: () => buildResNet({ depth: 18, inputSize: 224, channels: 3, seed: 1 }),
  "resnet18-w0.5-112-gray": () =>
    buildResNet({ depth: 18, inputSize: 112, channels: 1, widthMultiplier: 0.5, seed: 1 }),
  "unet-heatmap-160x120": () =>
    buildHeatmapUNet({
      inputWidth: 160,
      inputHeight: 120,
      channels: 1,
      keypoints: 58,
      outputStride: 4,
      seed: 1,
    }),
  "unet-heatmap-112-gray": () =>
    buildHeatmapUNet({
      inputWidth: 112,
      inputHeight: 112,
      channels: 1,
      keypoints: 68,
      outputStride: 4,
      seed: 1,
    }),
};

/** The backend as shown in rows: `wasm+openblas` when the native GEMM is loaded. */
function label(backend: string): string {
  return backend === "wasm" && nativeBlas() ? "wasm+openblas" : backend;
}

async function timeIt(step: () => Promise<void>, secs: number, minReps = 2): Promise<number> {
  await step(); // warm-up
  await step();
  const times: number[] = [];
  const t0 = performance.now();
  while (times.length < minReps || performance.now() - t0 < secs * 1000) {
    const t = performance.now();
    await step();
    times.push(performance.now() - t);
    if (times.length >= 50) break;
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]; // median
}

/** Training rows for data-parallel replicas (main thread + workers). */
async function benchParallel(
  name: string,
  backend: "wasm" | "cpu",
  workers: number,
  secs: number,
): Promise<Row[]> {
  const model = NETS[name]();
  const [, h, w, c] = model.inputs[0].shape as number[];
  const outputs = (model.outputs[0].shape as number[])[1];
  const flops = forwardFlops(model);
  const opt = createOptimizer(1e-4);
  const dp = await createDataParallel(model, opt, {
    workers,
    backend,
    loss: { loss: "mse", head: "regression" },
    lr: 1e-4,
  });
  const rows: Row[] = [];
  try {
    for (const batch of [8, 32]) {
      const x = Float32Array.from({ length: batch * h * w * c }, (_, i) => Math.sin(i) * 0.3);
      const y = Float32Array.from({ length: batch * outputs }, (_, i) => 0.5 + 0.2 * Math.cos(i));
      const ms = await timeIt(
        async () => {
          await dp.step(x, y, batch, 1e-4);
        },
        secs,
        1,
      );
      rows.push({
        net: name,
        backend: `${label(backend)} x${workers}`,
        mode: "train",
        batch,
        imgPerSec: batch / (ms / 1000),
        msPerStep: ms,
        gflops: 3 * flops * batch / (ms / 1e3) / 1e9,
        phases: dp.timings(),
      });
      const p = dp.timings()!;
      console.error(
        `  ${name} x${workers} b${batch} main thread: gradients ${p.gradients.toFixed(0)} ms, ` +
          `wait ${p.waitGradients.toFixed(0)}, average ${p.average.toFixed(0)}, ` +
          `wait ${p.waitAverage.toFixed(0)}, update ${p.update.toFixed(0)}`,
      );
    }
  } finally {
    dp.close();
    opt.dispose();
    model.dispose();
  }
  return rows;
}

/**
 * PyTorch's images/s by "net mode batch" from the JSON lines of
 * `torch_peer.py` (other lines are ignored).
 */
async function readPeer(file: string): Promise<Map<string, number>> {
  const peer = new Map<string, number>();
  for (const line of (await Deno.readTextFile(file)).split("\n")) {
    if (!line.trim().startsWith("{")) continue;
    try {
      const r = JSON.parse(line);
      if (typeof r.img_s === "number") peer.set(`${r.net} ${r.mode} ${r.batch}`, r.img_s);
    } catch {
      console.error(`--peer ${file}: skipped a line that is not JSON: ${line.slice(0, 60)}`);
    }
  }
  if (peer.size === 0) throw new Error(`--peer ${file}: no torch_peer.py results in it`);
  return peer;
}

async function benchNet(name: string, backend: string, secs: number): Promise<Row[]> {
  const model = NETS[name]();
  const [, h, w, c] = model.inputs[0].shape as number[];
  const flops = forwardFlops(model);
  const rows: Row[] = [];
  const cap = backend === "cpu" ? Math.min(secs, 3) : secs;
  for (const batch of [8, 32]) {
    if (backend === "cpu" && name !== "part1" && batch === 32) continue;
    // ResNet-18 at 224 with batch 32 needs more than wasm's 4 GiB heap.
    if (backend === "wasm" && name === "resnet18" && batch === 32) {
      console.error(`  ${name} train b32: skipped (exceeds the 4 GiB wasm memory)`);
      continue;
    }
    const train = syntheticStep(model, batch);
    const ms = await timeIt(
      () => train.step(),
      cap,
      1,
    );
    rows.push({
      net: name,
      backend: label(backend),
      mode: "train",
      batch,
      imgPerSec: batch / (ms / 1000),
      msPerStep: ms,
      gflops: 3 * flops * batch / (ms / 1e3) / 1e9,
    });
    train.dispose();
  }
  for (const batch of [1, 32]) {
    if (backend === "cpu" && batch === 32 && name !== "part1") continue;
    const x = tf.randomNormal([batch, h, w, c], 0, 0.3, "float32", 3);
    const ms = await timeIt(
      async () => {
        const p = model.predict(x) as tf.Tensor;
        await p.data();
        p.dispose();
      },
      cap,
      3,
    );
    rows.push({
      net: name,
      backend: label(backend),
      mode: "infer",
      batch,
      imgPerSec: batch / (ms / 1000),
      msPerStep: ms,
      gflops: flops * batch / (ms / 1e3) / 1e9,
    });
    x.dispose();
  }
  model.dispose();
  return rows;
}

if (import.meta.main) {
  const { values } = parseOrExit(Deno.args, {
    nets: {
      type: "string",
      default:
        "part1,part2,resnet18,resnet18-w0.5-112-gray,unet-heatmap-160x120,unet-heatmap-112-gray",
    },
    backends: { type: "string" },
    secs: { type: "string", default: "6" },
    json: { type: "string", default: "runs/bench.json" },
    workers: { type: "string", default: "1" },
    peer: { type: "string" },
  }, USAGE);
  const peer = values.peer ? await readPeer(values.peer) : new Map<string, number>();
  const workerCounts = values.workers.split(",").map(Number);
  const backends = values.backends?.split(",") ??
    ["wasm", ...(await hasWebGpu() ? ["webgpu"] : []), "cpu"];
  const rows: Row[] = [];
  for (const backend of backends) {
    const info = await setupBackend(backend as "wasm" | "webgpu" | "cpu");
    console.error(`backend ${backend}: ${info.description}`);
    for (const net of values.nets.split(",")) {
      if (!NETS[net]) throw new Error(`unknown net ${net} (${Object.keys(NETS).join(", ")})`);
      if (backend === "cpu" && net.startsWith("resnet18") && net !== "resnet18-w0.5-112-gray") {
        continue;
      }
      const r = workerCounts.includes(1) ? await benchNet(net, backend, Number(values.secs)) : [];
      for (const n of workerCounts.filter((n) => n > 1)) {
        if (backend === "webgpu") continue;
        r.push(...await benchParallel(net, backend as "wasm" | "cpu", n, Number(values.secs)));
      }
      for (const row of r) {
        console.error(
          `  ${net} ${row.mode} b${row.batch}: ${row.imgPerSec.toFixed(1)} img/s, ${
            row.msPerStep.toFixed(1)
          } ms, ${row.gflops.toFixed(1)} GFLOP/s`,
        );
      }
      rows.push(...r);
    }
  }
  const peerCols = values.peer ? " PyTorch images/s | ours / PyTorch |" : "";
  console.log(`| net | backend | mode | batch | images/s | ms/step | GFLOP/s |${peerCols}`);
  console.log(
    `| --- | --- | --- | ---: | ---: | ---: | ---: |${values.peer ? " ---: | ---: |" : ""}`,
  );
  for (const r of rows) {
    const theirs = peer.get(`${r.net} ${r.mode} ${r.batch}`);
    const extra = !values.peer
      ? ""
      : theirs
      ? ` ${theirs.toFixed(1)} | ${(r.imgPerSec / theirs).toFixed(2)}x |`
      : " - | - |";
    console.log(
      `| ${r.net} | ${r.backend} | ${r.mode} | ${r.batch} | ${r.imgPerSec.toFixed(1)} | ${
        r.msPerStep.toFixed(1)
      } | ${r.gflops.toFixed(1)} |${extra}`,
    );
  }
  await Deno.mkdir(values.json.replace(/\/[^/]*$/, "") || ".", { recursive: true });
  await Deno.writeTextFile(values.json, JSON.stringify(rows, null, 2));
}
