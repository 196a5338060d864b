/**
 * Adam with a fused update on the tfjs wasm backend.
 *
 * tfjs's `AdamOptimizer` updates each variable with about ten element-wise
 * kernels (Multiply, Add, Square, RealDiv, a scalar Sqrt, ...), each a full
 * pass over the variable into a fresh output buffer. {@link createAdam}
 * returns a subclass that, on the wasm backend, does the whole update of a
 * variable in one SIMD pass of our own WebAssembly module
 * (`lib/backends/wasm/adam.wat`, compiled by `tasks/build_wasm.ts`, `deno task
 * build:wasm`, into `lib/backends/wasm_adam_binary.ts`) that runs directly on the
 * wasm heap: the first and second moments are updated in place, and the
 * new weights are written to one fresh buffer that the variable is then
 * assigned.
 *
 * Why the weights are not overwritten in place: tfjs treats tensor data as
 * immutable, and caches rely on it. The wasm runtime keeps XNNPACK
 * operators, with packed copies of weights and biases, per tensor id, and
 * `lib/backends/wasm_kernels.ts` picks its matmul strategy per data id, assuming a
 * right operand it has seen is still packed. Overwriting the weights under
 * the same id gave stale weights (had the ids not been re-registered) or,
 * with re-registration, a repack of the 19200x2000 kernel in the wrong
 * strategy (about 150 ms more per Part-2 step); a fresh buffer costs nothing
 * measurable (the update is memory-bound either way) and keeps both caches
 * right. The moments are never matmul operands; their ids are re-registered
 * with the runtime after the in-place write all the same.
 *
 * The arithmetic is the stock optimizer's, operation by operation in float32,
 * so on wasm the result is the same bit for bit, and the optimizer state
 * (moment variables, their names, `accBeta1`/`accBeta2`, the iteration
 * count) is laid out exactly as `tf.train.adam`'s: checkpoints written by
 * `saveOptimizer` load into either.
 *
 * A variable is updated with the stock kernels instead when the fused pass
 * would be unsafe or impossible: a moment's buffer is shared with another
 * tensor (refCount above 1), a tensor is not float32, not in the wasm heap,
 * misaligned or aliased with another operand. A variable whose own buffer is
 * shared is fine: it is only read. On other backends the optimizer is
 * `tf.train.adam`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";
import { WASM_ADAM_BASE64 } from "./wasm_adam_binary.ts";
import { base64Bytes } from "../util/base64.ts";

/** A wasm backend tensor record (`BackendWasm.dataIdMap` values). */
interface WasmTensorData {
  id: number;
  memoryOffset: number | null;
  shape: number[];
  dtype: string;
  refCount: number;
}

/** The parts of `BackendWasm` (tfjs-backend-wasm 4.x) used here. */
interface WasmBackendInternals {
  wasm?: {
    asm?: { memory?: unknown };
    wasmMemory?: unknown;
    HEAPU8?: Uint8Array;
    tfjs?: {
      registerTensor?: (id: number, size: number, memoryOffset: number) => void;
      disposeData?: (id: number) => void;
    };
  };
  dataIdMap?: {
    has(dataId: object): boolean;
    get(dataId: object): WasmTensorData | undefined;
  };
  makeOutput?: (shape: number[], dtype: tf.DataType) => tf.TensorInfo;
}

/** `AdamOptimizer`'s private state (the same fields in tfjs-core 4.x). */
interface AdamPrivate {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}

/**
 * What `AdamOptimizer.applyGradients` accepts: gradients by variable name,
 * as a map or as a list of named tensors.
 *
 * @example
 * ```ts ignore
 * import type { AdamGradients } from "./wasm_adam.ts";
 * const grads: AdamGradients = [{ name: w.name, tensor: dw }];
 * ```
 */
export type AdamGradients = Parameters<tf.AdamOptimizer["applyGradients"]>[0];

type AdamKernel = (
  w: number,
  wOut: number,
  g: number,
  m: number,
  v: number,
  n: number,
  beta1: number,
  oneMinusBeta1: number,
  beta2: number,
  oneMinusBeta2: number,
  oneMinusAccBeta1: number,
  oneMinusAccBeta2: number,
  epsilon: number,
  negLearningRate: number,
) => void;

/** What the fused path needs from the active wasm backend. */
interface FusedRuntime {
  kernel: AdamKernel;
  memory: WebAssembly.Memory;
  data: NonNullable<WasmBackendInternals["dataIdMap"]>;
  makeOutput: (shape: number[], dtype: tf.DataType) => tf.TensorInfo;
  registerTensor: (id: number, size: number, memoryOffset: number) => void;
  disposeData: (id: number) => void;
}

let compiled: WebAssembly.Module | null = null;
/** One instance per heap; `null` when instantiation failed (e.g. shared memory). */
const instances = new WeakMap<WebAssembly.Memory, AdamKernel | null>();

function adamModule(): WebAssembly.Module {
  if (compiled === null) {
    compiled = new WebAssembly.Module(base64Bytes(WASM_ADAM_BASE64));
  }
  return compiled;
}

/**
 * The fused kernel bound to the active backend's heap, or null when the
 * active backend is not wasm or its internals are not as expected.
 */
function fusedRuntime(): FusedRuntime | null {
  if (tf.getBackend() !== "wasm") return null;
  const backend = tf.backend() as unknown as WasmBackendInternals;
  const wasm = backend.wasm;
  const data = backend.dataIdMap;
  const registerTensor = wasm?.tfjs?.registerTensor;
  const disposeData = wasm?.tfjs?.disposeData;
  const memory = wasm?.asm?.memory ?? wasm?.wasmMemory;
  const makeOutput = backend.makeOutput?.bind(backend);
  if (
    !(memory instanceof WebAssembly.Memory) || data === undefined || makeOutput === undefined ||
    typeof registerTensor !== "function" || typeof disposeData !== "function" ||
    // The memory found must be the heap the backend's tensors live in.
    wasm?.HEAPU8?.buffer !== memory.buffer
  ) {
    return null;
  }
  let kernel = instances.get(memory);
  if (kernel === undefined) {
    try {
      const instance = new WebAssembly.Instance(adamModule(), { env: { memory } });
      kernel = instance.exports.adam as AdamKernel;
    } catch {
      kernel = null;
    }
    instances.set(memory, kernel);
  }
  if (kernel === null) return null;
  return { kernel, memory, data, makeOutput, registerTensor, disposeData };
}

/**
 * The wasm heap record of a float32 tensor the kernel may address (and, if
 * `exclusive`, overwrite: no other tensor holds its buffer), else null.
 */
function ownedData(rt: FusedRuntime, t: tf.Tensor, exclusive: boolean): WasmTensorData | null {
  if (t.dtype !== "float32" || !rt.data.has(t.dataId)) return null;
  const d = rt.data.get(t.dataId);
  if (
    d === undefined || d.dtype !== "float32" || d.memoryOffset === null ||
    d.memoryOffset % 4 !== 0 || tf.util.sizeFromShape(d.shape) !== t.size ||
    d.memoryOffset + 4 * t.size > rt.memory.buffer.byteLength
  ) {
    return null;
  }
  if (exclusive && d.refCount !== 1) return null;
  return d;
}

/**
 * tfjs's `AdamOptimizer` with a fused update on the wasm backend
 * (see the module documentation). Create it with {@link createAdam}.
 *
 * @example
 * ```ts ignore
 * import { FusedAdamOptimizer } from "./wasm_adam.ts";
 * const opt = new FusedAdamOptimizer(1e-3);
 * opt.minimize(() => loss(), true, vars);
 * console.log(opt.fusedUpdates, opt.stockUpdates);
 * ```
 */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  /** Variable updates done by the fused kernel so far. */
  fusedUpdates = 0;
  /** Variable updates done with the stock kernels on wasm so far (fallbacks). */
  stockUpdates = 0;

  /**
   * A real prototype check: tfjs's `Optimizer` makes `instanceof` true for
   * any object with `minimize`, `computeGradients` and `applyGradients`.
   *
   * @example
   * ```ts ignore
   * import * as tf from "@tensorflow/tfjs";
   * import { createAdam, FusedAdamOptimizer } from "./wasm_adam.ts";
   * console.log(createAdam(1e-3) instanceof FusedAdamOptimizer); // true
   * console.log(tf.train.adam(1e-3) instanceof FusedAdamOptimizer); // false
   * ```
   */
  static override [Symbol.hasInstance](instance: unknown): boolean {
    return typeof instance === "object" && instance !== null &&
      Object.prototype.isPrototypeOf.call(FusedAdamOptimizer.prototype, instance);
  }

  /**
   * Same arguments as `tf.train.adam`.
   *
   * @example
   * ```ts ignore
   * import { FusedAdamOptimizer } from "./wasm_adam.ts";
   * const opt = new FusedAdamOptimizer(1e-3, 0.9, 0.999);
   * ```
   */
  constructor(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon?: number) {
    super(learningRate, beta1, beta2, epsilon);
  }

  /**
   * Applies one Adam step. On wasm, each variable is updated by the fused
   * kernel where that is safe, otherwise by the stock kernels; on other
   * backends this is `AdamOptimizer.applyGradients`.
   *
   * @example
   * ```ts ignore
   * const { grads } = opt.computeGradients(() => loss(), vars);
   * opt.applyGradients(grads);
   * tf.dispose(grads);
   * ```
   */
  override applyGradients(variableGradients: AdamGradients): void {
    const rt = fusedRuntime();
    if (rt === null) {
      super.applyGradients(variableGradients);
      return;
    }
    const self = this as unknown as AdamPrivate;
    const names = Array.isArray(variableGradients)
      ? variableGradients.map((v) => v.name)
      : Object.keys(variableGradients);
    const beta1 = this.beta1;
    const beta2 = this.beta2;
    const epsilon = this.epsilon;
    const learningRate = this.learningRate;
    tf.tidy(() => {
      const oneMinusAccBeta1 = tf.sub(1, self.accBeta1);
      const oneMinusAccBeta2 = tf.sub(1, self.accBeta2);
      let bias: [number, number] | null = null;
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        // Slots are indexed by position, as in AdamOptimizer.
        if (self.accumulatedFirstMoment[i] == null) {
          self.accumulatedFirstMoment[i] = {
            originalName: `${name}/m`,
            variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
          };
        }
        if (self.accumulatedSecondMoment[i] == null) {
          self.accumulatedSecondMoment[i] = {
            originalName: `${name}/v`,
            variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
          };
        }
        const gradient = Array.isArray(variableGradients)
          ? variableGradients[i].tensor
          : variableGradients[name];
        if (gradient == null) return;
        const m = self.accumulatedFirstMoment[i].variable;
        const v = self.accumulatedSecondMoment[i].variable;

        // The weights are read, never written (the new values go to a fresh
        // buffer), so they may be shared; the moments are written in place.
        const wd = ownedData(rt, value, false);
        const md = ownedData(rt, m, true);
        const vd = ownedData(rt, v, true);
        const gd = ownedData(rt, gradient, false);
        const ids = new Set([value.dataId, m.dataId, v.dataId, gradient.dataId]);
        if (
          wd !== null && md !== null && vd !== null && gd !== null && ids.size === 4 &&
          gradient.size === value.size && m.size === value.size && v.size === value.size
        ) {
          if (value.size > 0) {
            if (bias === null) {
              bias = [oneMinusAccBeta1.dataSync()[0], oneMinusAccBeta2.dataSync()[0]];
            }
            const out = rt.makeOutput(value.shape, "float32");
            const od = rt.data.get(out.dataId)!;
            rt.kernel(
              wd.memoryOffset!,
              od.memoryOffset!,
              gd.memoryOffset!,
              md.memoryOffset!,
              vd.memoryOffset!,
              value.size,
              beta1,
              1 - beta1,
              beta2,
              1 - beta2,
              bias[0],
              bias[1],
              epsilon,
              -learningRate,
            );
            // The moments changed under the same ids: drop anything the wasm
            // runtime cached for them (it caches XNNPACK operators, with
            // packed copies of their operands, per tensor id).
            for (const d of [md, vd]) {
              rt.disposeData(d.id);
              rt.registerTensor(d.id, value.size, d.memoryOffset!);
            }
            // Like any kernel output; tidy releases this handle.
            value.assign(tf.engine().makeTensorFromTensorInfo(out));
          }
          this.fusedUpdates++;
          return;
        }
        // The stock update, as in AdamOptimizer.applyGradients.
        const newFirstMoment = tf.add(tf.mul(m, beta1), tf.mul(gradient, 1 - beta1));
        const newSecondMoment = tf.add(
          tf.mul(v, beta2),
          tf.mul(tf.square(gradient), 1 - beta2),
        );
        const biasCorrectedFirstMoment = tf.div(newFirstMoment, oneMinusAccBeta1);
        const biasCorrectedSecondMoment = tf.div(newSecondMoment, oneMinusAccBeta2);
        m.assign(newFirstMoment);
        v.assign(newSecondMoment);
        const newValue = tf.add(
          tf.mul(
            tf.div(biasCorrectedFirstMoment, tf.add(tf.sqrt(biasCorrectedSecondMoment), epsilon)),
            -learningRate,
          ),
          value,
        );
        value.assign(newValue);
        this.stockUpdates++;
      });
      self.accBeta1.assign(tf.mul(self.accBeta1, beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, beta2));
    });
    this.incrementIterations();
  }
}

/**
 * Creates an Adam optimizer (beta1 0.9, beta2 0.999, the backend's epsilon,
 * as `tf.train.adam(learningRate)`) whose update is one fused pass per
 * variable on the wasm backend (moments in place). Its `learningRate` field may be changed between steps;
 * its state saves and loads like `tf.train.adam`'s.
 *
 * @example
 * ```ts ignore
 * import * as tf from "@tensorflow/tfjs";
 * import { createAdam } from "./wasm_adam.ts";
 * const optimizer = createAdam(1e-3);
 * (optimizer as unknown as { learningRate: number }).learningRate = 5e-4;
 * const cost = optimizer.minimize(() => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar, true, vars);
 * ```
 */
export function createAdam(learningRate: number): tf.Optimizer {
  return new FusedAdamOptimizer(learningRate);
}
