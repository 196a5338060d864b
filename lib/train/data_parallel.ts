/**
 * Data-parallel training in Deno Workers: every replica (the main thread
 * and `workers - 1` module workers) holds the same model and optimizer;
 * each step the batch is split between them, each computes the gradients
 * of its share, the gradients are averaged (weighted by share size) in
 * shared memory, and every replica applies the same averaged gradients
 * with the same optimizer, so the weights stay bit-identical without ever
 * being sent. tfjs's wasm backend is single-threaded in Deno, so this is
 * how a training run uses more than one core.
 *
 * Synchronisation is a barrier on a `SharedArrayBuffer` (`Atomics.wait`);
 * the averaging is split into one range per replica, so it is parallel
 * too. BatchNorm layers see batch statistics of each replica's share (as
 * in PyTorch's DistributedDataParallel without SyncBatchNorm); only the
 * main thread's moving statistics are saved.
 *
 * @module
 */

import { nativeBlas } from "../backends/native_blas.ts";
import * as tf from "@tensorflow/tfjs";
import type { BackendInfo } from "../backends/backend.ts";
import { createOptimizer } from "../backends/optimizer.ts";
import {
  type TrainingLossFn,
  trainingLossFromSpec,
  type TrainingLossSpec,
} from "../head/training_loss.ts";

/** Control words in the shared `Int32Array`. */
const COUNT = 0, GENERATION = 1, ERROR = 2;

/** Shared memory of a data-parallel group. */
export interface SharedTraining {
  /** Barrier counter, generation and error flag. */
  control: SharedArrayBuffer;
  /** One gradient slot per replica, `parties * params` floats. */
  grads: SharedArrayBuffer;
  /** The averaged gradients, `params` floats. */
  average: SharedArrayBuffer;
  /** Per replica: loss (float64). */
  losses: SharedArrayBuffer;
}

/** The message that starts a worker replica. */
export interface ReplicaInit {
  /** Message type. */
  type: "init";
  /** Replica index (the main thread is 0). */
  rank: number;
  /** Number of replicas. */
  parties: number;
  /** tfjs backend to use. */
  backend: BackendInfo["name"];
  /** The model topology (`model.toJSON(null, false)`). */
  topology: unknown;
  /** All model weights, in `model.weights` order. */
  weights: { shape: number[]; data: Float32Array }[];
  /** Optimizer state to continue from (a resumed run), if any. */
  optimizerState?: { name: string; shape: number[]; data: Float32Array }[];
  /** The training loss. */
  loss: TrainingLossSpec;
  /** Peak learning rate (the loop sets the current one each step). */
  lr: number;
  /** Shared memory. */
  shared: SharedTraining;
  /** Milliseconds a barrier waits before giving up. */
  timeoutMs: number;
}

/** The per-step message to a worker replica. */
export interface ReplicaStep {
  /** Message type. */
  type: "step";
  /** This replica's inputs. */
  x: Float32Array;
  /** This replica's targets. */
  y: Float32Array;
  /** Number of images in this replica's share (may be 0). */
  n: number;
  /** Learning rate for the step. */
  lr: number;
  /** Weight of every replica's gradients in the average. */
  shares: number[];
}

/**
 * Waits until all `parties` replicas have called it (a reusable barrier);
 * throws when a replica reported an error or the wait times out.
 *
 * @example
 * ```ts
 * import { barrier } from "./data_parallel.ts";
 * const ctl = new Int32Array(new SharedArrayBuffer(12));
 * barrier(ctl, 1, 1000); // one party: returns at once
 * ```
 */
export function barrier(control: Int32Array, parties: number, timeoutMs: number): void {
  const gen = Atomics.load(control, GENERATION);
  if (Atomics.add(control, COUNT, 1) === parties - 1) {
    Atomics.store(control, COUNT, 0);
    Atomics.add(control, GENERATION, 1);
    Atomics.notify(control, GENERATION);
    return;
  }
  const deadline = performance.now() + timeoutMs;
  while (Atomics.load(control, GENERATION) === gen) {
    if (Atomics.load(control, ERROR) !== 0) {
      throw new Error("a data-parallel worker failed (see its error above)");
    }
    const left = deadline - performance.now();
    if (left <= 0) {
      throw new Error(`data-parallel barrier: no answer from a worker in ${timeoutMs} ms`);
    }
    Atomics.wait(control, GENERATION, gen, Math.min(left, 200));
  }
}

/**
 * Marks the group as failed and wakes every waiting replica.
 *
 * @example
 * ```ts
 * import { signalFailure } from "./data_parallel.ts";
 * signalFailure(new Int32Array(new SharedArrayBuffer(12)));
 * ```
 */
export function signalFailure(control: Int32Array): void {
  Atomics.store(control, ERROR, 1);
  Atomics.add(control, GENERATION, 1);
  Atomics.notify(control, GENERATION);
}

/**
 * The number of replicas `--workers auto` means: one per core on CPU
 * backends, at most 4 and at least 4 images per replica; 1 on WebGPU
 * (the device is already parallel).
 *
 * @example
 * ```ts
 * import { autoWorkers } from "./data_parallel.ts";
 * console.log(autoWorkers("webgpu", 16, 8)); // 1
 * console.log(autoWorkers("cpu", 8, 2)); // 2
 * ```
 */
export function autoWorkers(
  backend: BackendInfo["name"],
  batch: number,
  cores: number = navigator.hardwareConcurrency ?? 1,
): number {
  if (backend === "webgpu") return 1;
  return Math.max(1, Math.min(cores, 4, Math.floor(batch / 4)));
}

/**
 * Splits `size` items into `parties` contiguous shares as equal as
 * possible (earlier shares get the remainder).
 *
 * @example
 * ```ts
 * import { splitBatch } from "./data_parallel.ts";
 * console.log(splitBatch(5, 2)); // [3, 2]
 * ```
 */
export function splitBatch(size: number, parties: number): number[] {
  const base = Math.floor(size / parties);
  return Array.from({ length: parties }, (_, k) => base + (k < size % parties ? 1 : 0));
}

/** Views a tensor's float32 values without copying when the backend allows it. */
async function values(t: tf.Tensor): Promise<Float32Array> {
  const backend = tf.backend() as tf.KernelBackend & {
    typedArrayFromHeap?: (t: tf.TensorInfo) => Float32Array;
  };
  if (tf.getBackend() === "wasm" && backend.typedArrayFromHeap) {
    return backend.typedArrayFromHeap(t);
  }
  return (await t.data()) as Float32Array;
}

/** Milliseconds of each phase of a replica's step. */
export interface StepTimings {
  /** Forward, backward and copying the gradients to shared memory. */
  gradients: number;
  /** Waiting for the other replicas' gradients. */
  waitGradients: number;
  /** Averaging this replica's range. */
  average: number;
  /** Waiting for the other ranges. */
  waitAverage: number;
  /** Reading the averaged gradients back and the optimizer update. */
  update: number;
}

/**
 * One replica's half of the protocol; the main thread and each worker run
 * exactly the same code, so their floating-point results are identical.
 */
export class Replica {
  /** The model. */
  readonly model: tf.LayersModel;
  /** The optimizer. */
  readonly optimizer: tf.Optimizer;
  /** Where the last step's time went on this replica (milliseconds). */
  lastTimings: StepTimings | null = null;
  readonly #rank: number;
  readonly #parties: number;
  readonly #vars: tf.Variable[];
  readonly #offsets: number[];
  readonly #params: number;
  readonly #grads: Float32Array;
  readonly #average: Float32Array;
  readonly #losses: Float64Array;
  readonly #control: Int32Array;
  readonly #loss: TrainingLossFn;
  readonly #timeoutMs: number;

  /**
   * Wraps a model and optimizer as replica `rank` of `parties`.
   *
   * @example
   * ```ts ignore
   * const r = new Replica(model, optimizer, 0, 2, { loss: "mse", head: "regression" }, shared, 60000);
   * ```
   */
  constructor(
    model: tf.LayersModel,
    optimizer: tf.Optimizer,
    rank: number,
    parties: number,
    loss: TrainingLossSpec,
    shared: SharedTraining,
    timeoutMs: number,
  ) {
    this.model = model;
    this.optimizer = optimizer;
    this.#rank = rank;
    this.#parties = parties;
    this.#vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.#offsets = [];
    let n = 0;
    for (const v of this.#vars) {
      this.#offsets.push(n);
      n += v.size;
    }
    this.#params = n;
    if (shared.average.byteLength !== n * 4) {
      throw new Error(
        `data-parallel: shared buffer holds ${shared.average.byteLength / 4} ` +
          `parameters, the model has ${n}`,
      );
    }
    this.#grads = new Float32Array(shared.grads);
    this.#average = new Float32Array(shared.average);
    this.#losses = new Float64Array(shared.losses);
    this.#control = new Int32Array(shared.control);
    this.#loss = trainingLossFromSpec(loss);
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Runs one synchronous step of the group: gradients of this replica's
   * share, barrier, average of this replica's range, barrier, optimizer
   * update. Returns the batch-weighted mean loss of the whole group.
   *
   * @example
   * ```ts ignore
   * const loss = await replica.step(x, y, 4, 1e-3, [0.5, 0.5]);
   * ```
   */
  async step(
    x: Float32Array,
    y: Float32Array,
    n: number,
    lr: number,
    shares: number[],
  ): Promise<number> {
    const T = [performance.now()];
    const slot = this.#grads.subarray(this.#rank * this.#params, (this.#rank + 1) * this.#params);
    if (n > 0) {
      const [, h, w, c] = this.model.inputs[0].shape as number[];
      const xt = tf.tensor4d(x, [n, h, w, c]);
      const yt = tf.tensor2d(y, [n, y.length / n]);
      const { value, grads } = tf.variableGrads(() => this.#loss(this.model, xt, yt), this.#vars);
      for (let i = 0; i < this.#vars.length; i++) {
        slot.set(await values(grads[this.#vars[i].name]), this.#offsets[i]);
      }
      this.#losses[this.#rank] = (await value.data())[0];
      tf.dispose([xt, yt, value, ...Object.values(grads)]);
    } else {
      slot.fill(0);
      this.#losses[this.#rank] = 0;
    }
    T.push(performance.now());
    barrier(this.#control, this.#parties, this.#timeoutMs);
    T.push(performance.now());
    // Average this replica's range of parameters over all slots.
    const per = Math.ceil(this.#params / this.#parties);
    const from = Math.min(this.#params, this.#rank * per);
    const to = Math.min(this.#params, from + per);
    const avg = this.#average, g = this.#grads, P = this.#params;
    for (let i = from; i < to; i++) avg[i] = shares[0] * g[i];
    for (let k = 1; k < this.#parties; k++) {
      const s = shares[k], o = k * P;
      if (s === 0) continue;
      for (let i = from; i < to; i++) avg[i] += s * g[o + i];
    }
    T.push(performance.now());
    barrier(this.#control, this.#parties, this.#timeoutMs);
    T.push(performance.now());
    (this.optimizer as unknown as { learningRate: number }).learningRate = lr;
    const named: tf.NamedTensorMap = {};
    // wasm copies into its heap; other backends may keep the array itself.
    const copy = tf.getBackend() !== "wasm";
    this.#vars.forEach((v, i) => {
      const part = avg.subarray(this.#offsets[i], this.#offsets[i] + v.size);
      named[v.name] = tf.tensor(copy ? part.slice() : part, v.shape);
    });
    this.optimizer.applyGradients(named);
    tf.dispose(Object.values(named));
    T.push(performance.now());
    const d = T.slice(1).map((t, i) => t - T[i]);
    this.lastTimings = {
      gradients: d[0],
      waitGradients: d[1],
      average: d[2],
      waitAverage: d[3],
      update: d[4],
    };
    let loss = 0;
    for (let k = 0; k < this.#parties; k++) loss += shares[k] * this.#losses[k];
    return loss;
  }
}

/** Options of {@link createDataParallel}. */
export interface DataParallelOptions {
  /** Number of replicas including the main thread (>= 2). */
  workers: number;
  /** The backend every replica uses (the main thread's). */
  backend: BackendInfo["name"];
  /** The training loss. */
  loss: TrainingLossSpec;
  /** Peak learning rate. */
  lr: number;
  /** Milliseconds a replica waits for the others (default 10 minutes). */
  timeoutMs?: number;
}

/** A running data-parallel group, driven from the main thread. */
export interface DataParallel {
  /** Number of replicas. */
  readonly parties: number;
  /**
   * One training step on a batch (`n` images; the main thread takes the
   * first share). Returns the mean loss over the batch.
   */
  step(x: Float32Array, y: Float32Array, n: number, lr: number): Promise<number>;
  /** Where the main thread's last step went (milliseconds). */
  timings(): StepTimings | null;
  /** A worker replica's current weights (for checks). */
  workerWeights(rank: number): Promise<Float32Array[]>;
  /** Stops the workers. */
  close(): void;
}

/**
 * Starts `workers - 1` worker replicas of `model` (same weights, same
 * optimizer state) and returns a stepper that trains `model` and
 * `optimizer` on the main thread in lockstep with them.
 *
 * @example
 * ```ts ignore
 * import { createDataParallel } from "./data_parallel.ts";
 * const dp = await createDataParallel(model, optimizer, { workers: 2, backend: "wasm", loss: { loss: "mse", head: "regression" }, lr: 1e-3 });
 * const loss = await dp.step(x, y, 8, 1e-3);
 * dp.close();
 * ```
 */
export async function createDataParallel(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  opts: DataParallelOptions,
): Promise<DataParallel> {
  const parties = opts.workers;
  if (!Number.isInteger(parties) || parties < 2) {
    throw new Error(`--workers: use an integer >= 2 (got ${parties})`);
  }
  if (opts.backend === "webgpu") {
    throw new Error(
      "--workers: data-parallel workers are for CPU backends (wasm, cpu); " +
        "on WebGPU the device is already parallel",
    );
  }
  // Replicas already fill the cores: each one calls the native GEMM (when
  // loaded; one library shared by the process) on its own thread, with no
  // library threads on top.
  const blas = nativeBlas();
  const blasThreads = blas?.threads ?? 1;
  blas?.setThreads(1);
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const params = model.trainableWeights.reduce((n, w) => n + w.read().size, 0);
  const shared: SharedTraining = {
    control: new SharedArrayBuffer(12),
    grads: new SharedArrayBuffer(parties * params * 4),
    average: new SharedArrayBuffer(params * 4),
    losses: new SharedArrayBuffer(parties * 8),
  };
  const control = new Int32Array(shared.control);
  const topology = model.toJSON(null, false);
  const weights = await Promise.all(
    model.weights.map(async (w) => ({
      shape: w.shape as number[],
      data: (await w.read().data()) as Float32Array,
    })),
  );
  const optWeights = await optimizer.getWeights();
  const optimizerState = optWeights.length > 1
    ? await Promise.all(optWeights.map(async (w) => ({
      name: w.name,
      shape: w.tensor.shape,
      data: (await w.tensor.data()) as Float32Array,
    })))
    : undefined;
  optWeights.forEach((w) => {
    if (w.name === "iter") w.tensor.dispose();
  });

  const workers: Worker[] = [];
  const pending = new Map<number, (v: unknown) => void>();
  let failure: Error | null = null;
  const fail = (rank: number, message: string): void => {
    failure = new Error(`data-parallel worker ${rank}: ${message}`);
    signalFailure(control);
    for (const reject of pending.values()) reject(failure);
  };
  const ready: Promise<unknown>[] = [];
  for (let rank = 1; rank < parties; rank++) {
    const worker = new Worker(new URL("./data_parallel_worker.ts", import.meta.url).href, {
      type: "module",
    });
    workers.push(worker);
    ready.push(
      new Promise((resolve, reject) => {
        pending.set(rank, reject);
        worker.onmessage = (e: MessageEvent) => {
          const m = e.data as { type: string; message?: string; weights?: Float32Array[] };
          if (m.type === "error") fail(rank, m.message ?? "unknown error");
          else if (m.type === "ready") resolve(null);
        };
        worker.onerror = (e: ErrorEvent) => {
          e.preventDefault();
          fail(rank, e.message);
        };
      }),
    );
    const init: ReplicaInit = {
      type: "init",
      rank,
      parties,
      backend: opts.backend,
      topology,
      weights,
      optimizerState,
      loss: opts.loss,
      lr: opts.lr,
      shared,
      timeoutMs,
    };
    worker.postMessage(init);
  }
  try {
    await Promise.all(ready);
  } catch (e) {
    workers.forEach((w) => w.terminate());
    throw e;
  }
  const replica = new Replica(model, optimizer, 0, parties, opts.loss, shared, timeoutMs);

  return {
    parties,
    async step(x, y, n, lr) {
      if (failure) throw failure;
      const sizes = splitBatch(n, parties);
      const shares = sizes.map((s) => s / n);
      const xPer = x.length / n, yPer = y.length / n;
      let at = sizes[0];
      for (let k = 1; k < parties; k++) {
        const msg: ReplicaStep = {
          type: "step",
          x: x.slice(at * xPer, (at + sizes[k]) * xPer),
          y: y.slice(at * yPer, (at + sizes[k]) * yPer),
          n: sizes[k],
          lr,
          shares,
        };
        workers[k - 1].postMessage(msg, [msg.x.buffer as ArrayBuffer, msg.y.buffer as ArrayBuffer]);
        at += sizes[k];
      }
      try {
        return await replica.step(
          x.subarray(0, sizes[0] * xPer),
          y.subarray(0, sizes[0] * yPer),
          sizes[0],
          lr,
          shares,
        );
      } catch (e) {
        // Let the worker's own error message arrive first.
        await new Promise((r) => setTimeout(r, 50));
        throw failure ?? e;
      }
    },
    timings() {
      return replica.lastTimings;
    },
    workerWeights(rank) {
      const worker = workers[rank - 1];
      return new Promise((resolve, reject) => {
        pending.set(rank, reject);
        worker.onmessage = (e: MessageEvent) => {
          const m = e.data as { type: string; message?: string; weights?: Float32Array[] };
          if (m.type === "error") fail(rank, m.message ?? "unknown error");
          else if (m.type === "weights") resolve(m.weights!);
        };
        worker.postMessage({ type: "weights" });
      });
    },
    close() {
      workers.forEach((w) => w.terminate());
      blas?.setThreads(blasThreads);
    },
  };
}

/**
 * The worker side: builds the replica from an init message and runs steps
 * until terminated. Called by `data_parallel_worker.ts`.
 *
 * @example
 * ```ts ignore
 * import { runWorkerReplica } from "./data_parallel.ts";
 * runWorkerReplica(self as unknown as Worker, (b) => setupBackend(b));
 * ```
 */
export function runWorkerReplica(
  scope: {
    onmessage: ((e: MessageEvent) => void) | null;
    postMessage: (m: unknown, transfer?: Transferable[]) => void;
  },
  activate: (backend: BackendInfo["name"]) => Promise<unknown>,
): void {
  let replica: Replica | null = null;
  let control: Int32Array | null = null;
  // Messages are handled strictly in order, one at a time.
  let queue: Promise<void> = Promise.resolve();
  const handle = async (m: ReplicaInit | ReplicaStep | { type: "weights" }): Promise<void> => {
    if (m.type === "init") {
      control = new Int32Array(m.shared.control);
      await activate(m.backend);
      const model = await tf.models.modelFromJSON(
        { modelTopology: m.topology } as tf.io.ModelJSON,
      );
      const initial = m.weights.map((w) => tf.tensor(w.data, w.shape));
      model.setWeights(initial);
      tf.dispose(initial);
      const optimizer = createOptimizer(m.lr);
      if (m.optimizerState) {
        const list = m.optimizerState.map((w) => ({
          name: w.name,
          tensor: tf.tensor(w.data, w.shape),
        }));
        await optimizer.setWeights(list);
        list.forEach((w) => w.tensor.dispose());
      }
      replica = new Replica(model, optimizer, m.rank, m.parties, m.loss, m.shared, m.timeoutMs);
      scope.postMessage({ type: "ready" });
    } else if (m.type === "step") {
      await replica!.step(m.x, m.y, m.n, m.lr, m.shares);
    } else if (m.type === "weights") {
      const weights = await Promise.all(
        replica!.model.weights.map(async (w) => (await w.read().data()) as Float32Array),
      );
      scope.postMessage({ type: "weights", weights });
    }
  };
  scope.onmessage = (e: MessageEvent) => {
    queue = queue.then(() => handle(e.data)).catch((err) => {
      if (control) signalFailure(control);
      scope.postMessage({
        type: "error",
        message: err instanceof Error ? err.message : String(err),
      });
    });
  };
}
