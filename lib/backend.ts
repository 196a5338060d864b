/**
 * Backend selection: `auto | webgpu | wasm | cpu`. WebGPU gets our own
 * device set-up and kernel guards (`webgpu.ts`); wasm gets the training
 * kernels it lacks (`wasm_kernels.ts`).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { initWebGpu } from "./webgpu.ts";
import { registerWasmTrainingKernels } from "./wasm_kernels.ts";
import { useEmbeddedWasm } from "./wasm_source.ts";
import { selfCheck, type SelfCheckResult } from "./self_check.ts";

// tfjs's cpu backend prints a banner recommending tfjs-node (which cannot be
// installed here) on first use under Node-compatible runtimes; PROD mode
// silences it without changing any numerics.
tf.env().set("PROD", true);

/** Backend names accepted by `--backend`. */
export type BackendName = "auto" | "webgpu" | "wasm" | "cpu";

/** What {@link setupBackend} chose. */
export interface BackendInfo {
  /** The active tfjs backend. */
  name: "webgpu" | "wasm" | "cpu";
  /** A human description (adapter name for WebGPU). */
  description: string;
  /** Largest storage binding for WebGPU, in bytes. */
  maxBindingBytes?: number;
}

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
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
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
 * Activates a backend. `auto` prefers a hardware WebGPU adapter and
 * otherwise wasm, which on a CPU-only machine is faster than WebGPU on
 * Mesa's software rasteriser (see `deno task bench`).
 *
 * @example
 * ```ts ignore
 * import { setupBackend } from "./backend.ts";
 * const info = await setupBackend("wasm");
 * console.log(info.name); // wasm
 * ```
 */
export async function setupBackend(name: BackendName): Promise<BackendInfo> {
  if (name === "auto") {
    const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
    const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
    const info = adapter?.info as
      | (GPUAdapterInfo & { isFallbackAdapter?: boolean })
      | undefined;
    const software = !adapter || info?.isFallbackAdapter ||
      /llvmpipe|lavapipe|swiftshader/i.test(info?.description ?? "");
    name = software ? "wasm" : "webgpu";
  }
  if (name === "webgpu") {
    const info = await initWebGpu();
    return {
      name: "webgpu",
      description: `WebGPU adapter: ${info.description}${
        info.isFallbackAdapter ? " (software)" : ""
      }, maxStorageBufferBindingSize ${
        (info.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)
      } MiB`,
      maxBindingBytes: info.limits.maxStorageBufferBindingSize,
    };
  }
  if (name === "wasm") {
    registerWasmTrainingKernels();
    useEmbeddedWasm();
    if (!(await tf.setBackend("wasm"))) {
      throw new Error("tfjs failed to initialise the wasm backend");
    }
    await tf.ready();
    return { name: "wasm", description: "tfjs wasm (XNNPACK, single thread)" };
  }
  if (!(await tf.setBackend("cpu"))) {
    throw new Error("tfjs failed to initialise the cpu backend");
  }
  return { name: "cpu", description: "tfjs cpu (plain JavaScript)" };
}

/**
 * Runs {@link selfCheck} for a model on the active backend (skipped on
 * cpu, the reference) and throws when its gradients disagree with cpu.
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
