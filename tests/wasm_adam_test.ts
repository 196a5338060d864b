import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../lib/backends/backend.ts";
import { loadOptimizer, saveOptimizer } from "../lib/models/checkpoint.ts";
import { type AdamGradients, createAdam, FusedAdamOptimizer } from "../lib/backends/wasm_adam.ts";
import { WASM_ADAM_BASE64 } from "../lib/backends/wasm_adam_binary.ts";
import { expectedBinarySource, wasmModuleFiles } from "../tasks/build_wasm.ts";

await setupBackend("wasm");

/** Deterministic uniform values in [lo, hi). */
function randomData(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (hi - lo) * (s / 2 ** 32);
  }
  return out;
}

/** max |a - b| / max |b| (0 when both are all zeros). */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0, scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** A variable with its own buffer (no other tensor shares its data). */
function ownVariable(values: Float32Array, shape: number[]): tf.Variable {
  return tf.tidy(() => tf.tensor(values, shape).variable());
}

/** Gradients as a name -> tensor map (the form `minimize` passes). */
function gradMap(pairs: [tf.Variable, tf.Tensor][]): AdamGradients {
  return Object.fromEntries(pairs.map(([v, g]) => [v.name, g])) as unknown as AdamGradients;
}

function refCount(t: tf.Tensor): number {
  return tf.backend().refCount(t.dataId);
}

Deno.test("lib/backends/wasm_adam_binary.ts is the compiled lib/backends/wasm/adam.wat", async () => {
  const files = wasmModuleFiles("adam");
  const actual = await Deno.readTextFile(new URL(`../${files.binaryPath}`, import.meta.url));
  assert.equal(actual, await expectedBinarySource(files), "stale: run deno task build:wasm");
});

Deno.test("the kernel matches a float32 reference at unaligned offsets, tails and after growth", () => {
  const bin = atob(WASM_ADAM_BASE64.join(""));
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  const memory = new WebAssembly.Memory({ initial: 1 });
  const adam = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } })
    .exports.adam as (...args: number[]) => void;
  const f = Math.fround;
  const [b1, b2, eps, lr] = [0.9, 0.999, 1e-7, 3e-3];
  const [bc1, bc2] = [f(1 - f(f(b1) * f(b1))), f(1 - f(f(b2) * f(b2)))];
  memory.grow(1); // the kernel addresses the grown memory through the import
  for (const inPlace of [true, false]) {
    for (const n of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 33]) {
      // w, g, m, v and wOut at various offsets mod 16, the last two in the
      // grown page, with guard values around each.
      const base = [4, 4 + 4 * (n + 3), 12 + 8 * (n + 3), 65536 + 8, 65536 + 8 + 4 * (n + 5)];
      const wOut = inPlace ? base[0] : base[4];
      const heap = new Float32Array(memory.buffer);
      heap.fill(12345);
      const [w, g, m, v] = [0, 1, 2, 3].map((k) => randomData(n, 7 + 13 * k + n));
      for (let i = 0; i < n; i++) v[i] = Math.abs(v[i]); // a second moment is >= 0
      [w, g, m, v].forEach((a, k) => heap.set(a, base[k] / 4));
      adam(base[0], wOut, base[1], base[2], base[3], n, b1, 1 - b1, b2, 1 - b2, bc1, bc2, eps, -lr);
      const out = new Float32Array(memory.buffer);
      const label = `${inPlace ? "in place" : "to wOut"}, n=${n}`;
      for (let i = 0; i < n; i++) {
        const mi = f(f(m[i] * f(b1)) + f(g[i] * f(1 - b1)));
        const vi = f(f(v[i] * f(b2)) + f(f(g[i] * g[i]) * f(1 - b2)));
        const step = f(f(mi / bc1) / f(f(Math.sqrt(f(vi / bc2))) + f(eps)));
        const wi = f(f(step * f(-lr)) + w[i]);
        assert.equal(out[base[2] / 4 + i], mi, `${label}: m[${i}]`);
        assert.equal(out[base[3] / 4 + i], vi, `${label}: v[${i}]`);
        assert.equal(out[wOut / 4 + i], wi, `${label}: w[${i}]`);
        assert.notEqual(wi, w[i], `${label}: w[${i}] should move`);
        assert.equal(out[base[1] / 4 + i], g[i], "the gradient is read only");
        if (!inPlace) assert.equal(out[base[0] / 4 + i], w[i], "w is read only");
      }
      for (const b of inPlace ? base.slice(0, 4) : base) {
        assert.equal(out[b / 4 - 1], 12345, `${label}: wrote before an array`);
        assert.equal(out[b / 4 + n], 12345, `${label}: wrote past an array`);
      }
      if (inPlace) {
        const rest = out.subarray(base[4] / 4 - 1);
        assert.ok(rest.every((x) => x === 12345), `${label}: wrote outside the arrays`);
      }
    }
  }
});

Deno.test("the fused update equals tf.train.adam bit for bit, for lengths not a multiple of 4", () => {
  const shapes = [[1], [2], [3], [5], [7], [4, 4], [13], [3, 7, 11], [1001]];
  const initial = shapes.map((s, k) => randomData(tf.util.sizeFromShape(s), 100 + k));
  const stockVars = shapes.map((s, k) => ownVariable(initial[k], s));
  const fusedVars = shapes.map((s, k) => ownVariable(initial[k], s));
  const stock = tf.train.adam(0.01);
  const fused = new FusedAdamOptimizer(0.01);
  for (let step = 0; step < 5; step++) {
    const grads = shapes.map((s, k) =>
      tf.tensor(randomData(tf.util.sizeFromShape(s), 1000 * step + k), s)
    );
    stock.applyGradients(stockVars.map((v, k) => ({ name: v.name, tensor: grads[k] })));
    fused.applyGradients(gradMap(fusedVars.map((v, k) => [v, grads[k]])));
    tf.dispose(grads);
  }
  assert.equal(fused.fusedUpdates, 5 * shapes.length);
  assert.equal(fused.stockUpdates, 0);
  for (let k = 0; k < shapes.length; k++) {
    const a = fusedVars[k].dataSync(), b = stockVars[k].dataSync();
    assert.deepEqual(a, b, `variable of shape [${shapes[k]}]`);
    assert.ok(relDiff(a, initial[k]) > 1e-3, "the variable was updated");
    assert.notDeepEqual(a.slice(-1), initial[k].slice(-1), "the tail was updated");
  }
  tf.dispose([...stockVars, ...fusedVars]);
  stock.dispose();
  fused.dispose();
});

/** A small conv + dense model (bias lengths 3 and 5; kernels 27 and 525). */
function smallModel(): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.conv2d({
    inputShape: [6, 7, 1],
    filters: 3,
    kernelSize: 3,
    padding: "same",
    activation: "relu",
    kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
    biasInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: 2 }),
  }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({
    units: 5,
    kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
    biasInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: 4 }),
  }));
  return model;
}

/** A copy of `model` whose weights have buffers of their own. */
function copyModel(model: tf.Sequential): tf.Sequential {
  const copy = smallModel();
  const values = model.getWeights().map((w) => tf.tensor(w.dataSync(), w.shape));
  copy.setWeights(values);
  tf.dispose(values);
  return copy;
}

function batch(step: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  return {
    x: tf.tensor4d(randomData(4 * 6 * 7, 50 + step), [4, 6, 7, 1]),
    y: tf.tensor2d(randomData(4 * 5, 90 + step), [4, 5]),
  };
}

/** Trains `steps` steps as lib/train/loop.ts does; returns the losses and tensor counts. */
function trainSteps(
  model: tf.Sequential,
  optimizer: tf.Optimizer,
  steps: number,
  lr: (step: number) => number,
  first = 0,
): { losses: number[]; numTensors: number[] } {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const losses: number[] = [], numTensors: number[] = [];
  for (let s = first; s < first + steps; s++) {
    (optimizer as unknown as { learningRate: number }).learningRate = lr(s);
    const { x, y } = batch(s);
    const cost = optimizer.minimize(
      () => tf.losses.meanSquaredError(y, model.apply(x, { training: true }) as tf.Tensor),
      true,
      vars,
    ) as tf.Scalar;
    losses.push(cost.dataSync()[0]);
    tf.dispose([x, y, cost]);
    numTensors.push(tf.memory().numTensors);
  }
  return { losses, numTensors };
}

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

function assertSameWeights(a: tf.LayersModel, b: tf.LayersModel, tol: number): void {
  const wa = weightsOf(a), wb = weightsOf(b);
  wa.forEach((w, k) => {
    const d = relDiff(w, wb[k]);
    assert.ok(d <= tol, `weight ${k}: relative difference ${d}`);
  });
}

const schedule = (s: number): number => (s < 5 ? 1e-2 : 3e-3);

Deno.test("a conv+dense model trains like tf.train.adam, without leaking tensors", () => {
  const stockModel = smallModel();
  const fusedModel = copyModel(stockModel);
  const initial = weightsOf(stockModel);
  const stockOpt = tf.train.adam(1e-2);
  const fusedOpt = createAdam(1e-2) as FusedAdamOptimizer;
  assert.ok(fusedOpt instanceof FusedAdamOptimizer && !(stockOpt instanceof FusedAdamOptimizer));
  assert.ok(Object.prototype.isPrototypeOf.call(tf.AdamOptimizer.prototype, fusedOpt));
  assert.equal(fusedOpt.getClassName(), "Adam");
  const stock = trainSteps(stockModel, stockOpt, 10, schedule);
  const fused = trainSteps(fusedModel, fusedOpt, 10, schedule);
  // Both run the same float32 operations in the same order, so the results
  // agree to the bit; 1e-6 relative is the requested bound.
  assert.ok(relDiff(fused.losses, stock.losses) <= 1e-6, `losses ${fused.losses} ${stock.losses}`);
  assertSameWeights(fusedModel, stockModel, 1e-6);
  assert.ok(fused.losses[9] < 0.8 * fused.losses[0], `the loss falls: ${fused.losses}`);
  weightsOf(fusedModel).forEach((w, k) => assert.ok(relDiff(w, initial[k]) > 1e-3));
  // Every update was fused: 4 variables x 10 steps.
  assert.equal(fusedOpt.fusedUpdates, 40);
  assert.equal(fusedOpt.stockUpdates, 0);
  // Step 1 creates the moments; afterwards the count must not move.
  assert.deepEqual(fused.numTensors.slice(1), Array(9).fill(fused.numTensors[1]));
  stockModel.dispose();
  fusedModel.dispose();
  stockOpt.dispose();
  fusedOpt.dispose();
});

Deno.test("learningRate set between steps takes effect", async () => {
  const fusedModel = smallModel();
  const stockModel = copyModel(fusedModel);
  const fused = new FusedAdamOptimizer(1e-2);
  const stock = tf.train.adam(1e-2);
  const before = weightsOf(fusedModel);
  const lrs = [0, 1e-3, 5e-2];
  trainSteps(fusedModel, fused, 1, (s) => lrs[s]);
  trainSteps(stockModel, stock, 1, (s) => lrs[s]);
  weightsOf(fusedModel).forEach((w, k) => assert.deepEqual(w, before[k], "lr 0 leaves weights"));
  const moments = await fused.getWeights();
  assert.ok(moments[1].tensor.dataSync().some((x) => x !== 0), "lr 0 still moves the moments");
  moments[0].tensor.dispose(); // the iteration count
  let last = before;
  for (let s = 1; s < lrs.length; s++) {
    trainSteps(fusedModel, fused, 1, (i) => lrs[i], s);
    trainSteps(stockModel, stock, 1, (i) => lrs[i], s);
    assertSameWeights(fusedModel, stockModel, 0);
    const now = weightsOf(fusedModel);
    now.forEach((w, k) => assert.notDeepEqual(w, last[k], `lr ${lrs[s]} moves weight ${k}`));
    last = now;
  }
  assert.equal(fused.fusedUpdates, 4 * lrs.length);
  fusedModel.dispose();
  stockModel.dispose();
  fused.dispose();
  stock.dispose();
});

Deno.test("shared variables update without touching the sharers; shared moments fall back", async () => {
  const n = 7;
  const w0 = randomData(n, 5);
  // A reshape shares the data id on wasm (refCount 2).
  const viewed = ownVariable(w0, [n]);
  const view = viewed.reshape([1, n]);
  // A variable made from a tensor that is still alive shares that tensor's data.
  const kept = tf.tensor1d(w0);
  const fromKept = tf.variable(kept);
  // On wasm, clone() copies (Identity); the variable stays exclusive.
  const cloned = ownVariable(w0, [n]);
  const copy = cloned.clone();
  assert.deepEqual([viewed, fromKept, cloned].map(refCount), [2, 2, 1]);
  const vars = [viewed, fromKept, cloned];
  const refs = vars.map(() => ownVariable(w0, [n]));
  const fused = new FusedAdamOptimizer(0.05);
  const stock = tf.train.adam(0.05);
  const step = (s: number): void => {
    const grads = vars.map((_, k) => tf.tensor1d(randomData(n, 20 + 3 * s + k)));
    fused.applyGradients(gradMap(vars.map((v, k) => [v, grads[k]])));
    stock.applyGradients(gradMap(refs.map((v, k) => [v, grads[k]])));
    tf.dispose(grads);
    vars.forEach((v, k) => assert.deepEqual(v.dataSync(), refs[k].dataSync(), `step ${s}`));
    for (const sharer of [view, kept, copy]) {
      assert.deepEqual(sharer.dataSync(), w0, `step ${s}: a tensor sharing the data changed`);
    }
  };
  // The weights are only read by the fused pass, so sharing them is fine.
  step(0);
  assert.deepEqual([fused.fusedUpdates, fused.stockUpdates], [3, 0]);
  vars.forEach((v) => assert.notDeepEqual(v.dataSync(), w0));
  assert.deepEqual(vars.map(refCount), [1, 1, 1], "each variable got a buffer of its own");
  step(1);
  assert.deepEqual([fused.fusedUpdates, fused.stockUpdates], [6, 0]);
  // The moments are written in place: a tensor sharing one forces a fallback.
  const weights = await fused.getWeights();
  assert.equal(weights[1].name, `${viewed.name}/m`);
  assert.equal(weights[6].name, `${cloned.name}/v`);
  const mView = weights[1].tensor.reshape([n]);
  const vView = weights[6].tensor.reshape([n]);
  const [mBefore, vBefore] = [mView.dataSync().slice(), vView.dataSync().slice()];
  step(2);
  assert.deepEqual([fused.fusedUpdates, fused.stockUpdates], [7, 2]);
  assert.deepEqual(mView.dataSync(), mBefore, "the first moment's view is unchanged");
  assert.deepEqual(vView.dataSync(), vBefore, "the second moment's view is unchanged");
  weights[0].tensor.dispose(); // the iteration count
  tf.dispose([...vars, ...refs, view, kept, copy, mView, vView]);
  fused.dispose();
  stock.dispose();
});

Deno.test("optimizer state saved by one loads into the other and continues identically", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const [first, second] of [["stock", "fused"], ["fused", "stock"]] as const) {
      const make = (kind: string): tf.Optimizer =>
        kind === "stock" ? tf.train.adam(1e-2) : createAdam(1e-2);
      const a = smallModel();
      const optA = make(first);
      trainSteps(a, optA, 3, schedule);
      await saveOptimizer(optA, dir);
      const b = copyModel(a);
      const optB = make(second);
      await loadOptimizer(optB, dir);
      const ra = trainSteps(a, optA, 4, schedule, 3);
      const rb = trainSteps(b, optB, 4, schedule, 3);
      assert.deepEqual(rb.losses, ra.losses, `${first} -> ${second}: losses`);
      assertSameWeights(b, a, 0);
      const fusedOpt = (first === "fused" ? optA : optB) as FusedAdamOptimizer;
      assert.equal(fusedOpt.fusedUpdates, (first === "fused" ? 7 : 4) * 4);
      assert.equal(fusedOpt.stockUpdates, 0);
      const names = (await optB.getWeights()).map((w) => w.name);
      assert.deepEqual(names, (await optA.getWeights()).map((w) => w.name));
      a.dispose();
      b.dispose();
      optA.dispose();
      optB.dispose();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("on the cpu backend it is tf.train.adam", async () => {
  await tf.setBackend("cpu");
  try {
    const w0 = randomData(9, 3);
    const a = ownVariable(w0, [9]), b = ownVariable(w0, [9]);
    const fused = new FusedAdamOptimizer(0.1);
    const stock = tf.train.adam(0.1);
    for (let s = 0; s < 3; s++) {
      const g = tf.tensor1d(randomData(9, 30 + s));
      fused.applyGradients(gradMap([[a, g]]));
      stock.applyGradients(gradMap([[b, g]]));
      g.dispose();
    }
    assert.equal(fused.fusedUpdates + fused.stockUpdates, 0, "super.applyGradients ran");
    assert.deepEqual(a.dataSync(), b.dataSync());
    assert.notDeepEqual(a.dataSync(), w0);
    tf.dispose([a, b]);
    fused.dispose();
    stock.dispose();
  } finally {
    await tf.setBackend("wasm");
  }
});
