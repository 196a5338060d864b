/**
 * Backend selection: `auto | webgpu | wasm | cpu`. WebGPU gets our own
 * device set-up and kernel guards (`webgpu.ts`); wasm gets the training
 * kernels it lacks (`wasm_kernels.ts`).
 *
 * @module
 */

import { nativeBlas } from "./native_blas.ts";
import { simdKernelVariant } from "./wasm_simd_kernels.ts";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { requestGpuAdapter } from "./gpu_adapter.ts";
import { initWebGpu } from "./webgpu.ts";
import { registerCpuKernelFixes } from "./cpu_kernels.ts";
import { registerWasmTrainingKernels } from "./wasm_kernels.ts";
import { useEmbeddedWasm } from "./wasm_source.ts";
import { selfCheck, type SelfCheckResult } from "./self_check.ts";
import { syntheticStep } from "./synthetic_step.ts";

// tfjs's cpu backend prints a banner recommending tfjs-node (which cannot be
// installed here) on first use under Node-compatible runtimes; PROD mode
// silences it without changing any numerics.
tf.env().set("PROD", true);
// The cpu backend is the reference of every self-check: fix it first.
registerCpuKernelFixes();

/** Backend names accepted by `--backend`. */
export type BackendName = "auto" | "webgpu" | "wasm" | "cpu";

/** What {@link setupBackend} chose. */
export interface BackendInfo {
  /** The active tfjs backend. */
  name: "webgpu" | "wasm" | "cpu";
  /**
   * Set when `auto` was asked for: the choice is provisional until
   * {@link requireSelfCheck} has timed every candidate on the model.
   */
  auto?: boolean;
  /** The candidates {@link requireSelfCheck} measured for `auto`. */
  trials?: BackendTrial[];
  /** A human description (adapter name for WebGPU). */
  description: string;
  /** Largest storage binding for WebGPU, in bytes. */
  maxBindingBytes?: number;
}

/** One candidate of a measured `auto` choice. */
export interface BackendTrial {
  /** Backend name. */
  name: "webgpu" | "wasm";
  /** Whether its gradients agree with cpu. */
  ok: boolean;
  /** Milliseconds per training step of the probe batch (Infinity if not timed). */
  msPerStep: number;
  /** Largest relative gradient error against cpu. */
  maxRelError: number;
  /** Why it was not usable, if it was not. */
  note?: string;
}

let webgpuInfo: BackendInfo | null = null;

/**
 * Whether a WebGPU adapter exists (no device is created).
 *
 * @example
 * ```ts ignore
 * import { hasWebGpu } from "./backend.ts";
 * console.log(await hasWebGpu());
 * ```
 */
export async function hasWebGpu(): Promise<boolean> {
  try {
    return (await requestGpuAdapter()) !== null;
  } catch {
    return false;
  }
}

/**
 * Checks a `--backend` value.
 *
 * @example
 * ```ts
 * import { parseBackend } from "./backend.ts";
 * console.log(parseBackend("wasm")); // wasm
 * ```
 */
export function parseBackend(value: string): BackendName {
  if (["auto", "webgpu", "wasm", "cpu"].includes(value)) {
    return value as BackendName;
  }
  throw new Error(`unknown backend "${value}" (use auto, webgpu, wasm or cpu)`);
}

/**
 * Activates a backend. For `auto` this is a provisional choice (a
 * hardware WebGPU adapter, otherwise wasm, which on a CPU-only machine is
 * faster than WebGPU on Mesa's software rasteriser): training then calls
 * {@link requireSelfCheck}, which checks and times every candidate on the
 * model being trained and keeps the fastest that agrees with cpu.
 * Inference keeps the provisional choice.
 *
 * @example
 * ```ts ignore
 * import { setupBackend } from "./backend.ts";
 * const info = await setupBackend("wasm");
 * console.log(info.name); // wasm
 * ```
 */
export async function setupBackend(name: BackendName): Promise<BackendInfo> {
  const auto = name === "auto";
  if (auto) {
    const adapter = await requestGpuAdapter().catch(() => null);
    const info = adapter?.info as
      | (GPUAdapterInfo & { isFallbackAdapter?: boolean })
      | undefined;
    const software = !adapter || info?.isFallbackAdapter ||
      /llvmpipe|lavapipe|swiftshader/i.test(info?.description ?? "");
    name = software ? "wasm" : "webgpu";
  }
  if (name === "webgpu") {
    if (webgpuInfo) {
      // The device is set up once per process; later calls switch back to it.
      if (!(await tf.setBackend("webgpu"))) {
        throw new Error("tfjs failed to switch to the webgpu backend");
      }
      return { ...webgpuInfo, auto };
    }
    const info = await initWebGpu();
    webgpuInfo = {
      name: "webgpu",
      description: `WebGPU adapter: ${info.description}${
        info.isFallbackAdapter ? " (software)" : ""
      }, maxStorageBufferBindingSize ${
        (info.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)
      } MiB`,
      maxBindingBytes: info.limits.maxStorageBufferBindingSize,
    };
    return { ...webgpuInfo, auto };
  }
  if (name === "wasm") {
    registerWasmTrainingKernels();
    useEmbeddedWasm();
    if (!(await tf.setBackend("wasm"))) {
      throw new Error("tfjs failed to initialise the wasm backend");
    }
    await tf.ready();
    const blas = nativeBlas();
    const simd = `our kernels: ${simdKernelVariant()} SIMD`;
    return {
      name: "wasm",
      description: blas
        ? `tfjs wasm (XNNPACK) + native GEMM for convs and matmuls: ${blas.description}, ${blas.threads} threads; ${simd}`
        : `tfjs wasm (XNNPACK, single thread; ${simd})`,
      auto,
    };
  }
  if (!(await tf.setBackend("cpu"))) {
    throw new Error("tfjs failed to initialise the cpu backend");
  }
  return { name: "cpu", description: "tfjs cpu (plain JavaScript)" };
}

/**
 * Milliseconds per training step (forward, MSE, backward, the training
 * optimizer) of a fresh
 * `build()` on the active backend at `batch`, after one warm-up step; stops
 * timing after `budgetMs`.
 */
async function timeTrainingStep(
  build: () => tf.LayersModel,
  batch: number,
  budgetMs: number,
): Promise<number> {
  const model = build();
  const { step, dispose } = syntheticStep(model, batch);
  try {
    await step();
    const t0 = performance.now();
    let n = 0;
    do {
      await step();
      n++;
    } while (n < 3 && performance.now() - t0 < budgetMs);
    return (performance.now() - t0) / n;
  } finally {
    dispose();
    model.dispose();
  }
}

/**
 * Runs {@link selfCheck} for a model on the active backend (skipped on
 * cpu, the reference) and throws when its gradients disagree with cpu.
 *
 * When `info` came from `setupBackend("auto")`, every available candidate
 * (wasm, and WebGPU when an adapter exists) is checked against cpu and
 * timed on training steps of this very model; the fastest one that agrees
 * is activated and `info` is updated in place (with the `trials`).
 *
 * @example
 * ```ts ignore
 * import { requireSelfCheck, setupBackend } from "./backend.ts";
 * const info = await setupBackend("wasm");
 * await requireSelfCheck(() => buildPart1({ seed: 1 }), info);
 * ```
 */
export async function requireSelfCheck(
  build: () => tf.LayersModel,
  info: BackendInfo,
  log: (line: string) => void = (l) => console.log(l),
): Promise<SelfCheckResult | null> {
  if (info.auto) return await chooseMeasured(build, info, log);
  return await checkOne(build, info, log);
}

async function checkOne(
  build: () => tf.LayersModel,
  info: BackendInfo,
  log: (line: string) => void,
): Promise<SelfCheckResult | null> {
  if (info.name === "cpu") return null;
  const r = await selfCheck(build, info.name, async (b) => {
    await tf.setBackend(b);
  });
  log(
    `self-check ${info.name} vs cpu: loss ${r.loss[0].toPrecision(6)} vs ${
      r.loss[1].toPrecision(6)
    }, max relative gradient error ${r.maxRelError.toExponential(2)} (${r.worst})`,
  );
  if (!r.ok) {
    throw new Error(
      `backend ${info.name} disagrees with cpu on one training step (max relative gradient ` +
        `error ${
          r.maxRelError.toExponential(2)
        } in ${r.worst}); refusing to train: use --backend wasm or cpu`,
    );
  }
  return r;
}

async function chooseMeasured(
  build: () => tf.LayersModel,
  info: BackendInfo,
  log: (line: string) => void,
): Promise<SelfCheckResult | null> {
  const candidates: ("wasm" | "webgpu")[] = ["wasm"];
  if (await hasWebGpu()) candidates.push("webgpu");
  const trials: BackendTrial[] = [];
  const results = new Map<string, { info: BackendInfo; check: SelfCheckResult }>();
  let bestMs = Infinity;
  for (const name of candidates) {
    try {
      const cand = await setupBackend(name);
      const check = await selfCheck(build, name, async (b) => {
        await tf.setBackend(b);
      });
      if (!check.ok) {
        trials.push({
          name,
          ok: false,
          msPerStep: Infinity,
          maxRelError: check.maxRelError,
          note: `gradients disagree with cpu (${check.worst})`,
        });
        continue;
      }
      // A candidate far slower than the best so far gets one timed step.
      const ms = await timeTrainingStep(build, 2, bestMs < Infinity ? bestMs * 2 : 2000);
      bestMs = Math.min(bestMs, ms);
      trials.push({ name, ok: true, msPerStep: ms, maxRelError: check.maxRelError });
      results.set(name, { info: cand, check });
    } catch (e) {
      trials.push({
        name,
        ok: false,
        msPerStep: Infinity,
        maxRelError: NaN,
        note: e instanceof Error ? e.message : String(e),
      });
    }
  }
  for (const t of trials) {
    log(
      `auto: ${t.name} ${
        t.ok
          ? `agrees with cpu (max relative gradient error ${t.maxRelError.toExponential(2)}), ` +
            `${t.msPerStep.toFixed(0)} ms per training step at batch 2`
          : `not usable: ${t.note}`
      }`,
    );
  }
  const usable = trials.filter((t) => t.ok).sort((a, b) => a.msPerStep - b.msPerStep);
  if (usable.length === 0) {
    throw new Error(
      "auto: no backend agrees with cpu on a training step; use --backend cpu " +
        `(${trials.map((t) => `${t.name}: ${t.note}`).join("; ")})`,
    );
  }
  const winner = results.get(usable[0].name)!;
  await setupBackend(usable[0].name);
  Object.assign(info, winner.info, { auto: false, trials });
  log(`auto: training on ${info.name} (fastest that agrees with cpu)`);
  return winner.check;
}
