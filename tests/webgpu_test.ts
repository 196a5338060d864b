import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  assertBindingSizes,
  initWebGpu,
  setGuardLimits,
  type WebGpuInfo,
} from "../lib/backends/webgpu.ts";

const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
const hasAdapter = gpu ? (await gpu.requestAdapter()) !== null : false;
if (!hasAdapter) {
  console.warn("webgpu_test: no WebGPU adapter, skipping WebGPU tests");
}

let infoPromise: Promise<WebGpuInfo> | null = null;
function info(): Promise<WebGpuInfo> {
  infoPromise ??= initWebGpu();
  return infoPromise;
}

const opts = {
  ignore: !hasAdapter,
  sanitizeOps: false,
  sanitizeResources: false,
};

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function rand(shape: number[], seed: number): Float32Array {
  const next = seeded(seed);
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < v.length; i++) v[i] = next();
  return v;
}

/** Runs `fn` on cpu then on webgpu with the same inputs; returns outputs. */
async function onBoth(
  inputs: Array<[Float32Array, number[]]>,
  fn: (xs: tf.Tensor[]) => tf.Tensor[],
): Promise<{ cpu: Float32Array[]; gpu: Float32Array[]; leaked: number }> {
  const results: Float32Array[][] = [];
  let leaked = 0;
  for (const backend of ["cpu", "webgpu"]) {
    if (backend === "webgpu") await info();
    assert.ok(await tf.setBackend(backend));
    const before = tf.memory().numTensors;
    const xs = inputs.map(([v, s]) => tf.tensor(v, s));
    const outs = tf.tidy(() => fn(xs));
    const vals: Float32Array[] = [];
    for (const o of outs) vals.push((await o.data()) as Float32Array);
    tf.dispose([...xs, ...outs]);
    if (backend === "webgpu") leaked = tf.memory().numTensors - before;
    results.push(vals);
  }
  return { cpu: results[0], gpu: results[1], leaked };
}

function assertClose(
  name: string,
  want: Float32Array,
  got: Float32Array,
  rtol = 1e-4,
): void {
  assert.equal(got.length, want.length, `${name}: length`);
  let maxAbs = 0, maxRef = 0;
  for (let i = 0; i < want.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(want[i] - got[i]));
    maxRef = Math.max(maxRef, Math.abs(want[i]));
  }
  const rel = maxAbs / Math.max(maxRef, 1e-12);
  assert.ok(
    rel <= rtol,
    `${name}: max abs err ${maxAbs.toExponential(2)}, rel ${rel.toExponential(2)} > ${rtol}`,
  );
}

Deno.test({
  ...opts,
  name: "initWebGpu registers webgpu with the adapter limits",
  fn: async () => {
    const i = await info();
    assert.equal(tf.getBackend(), "webgpu");
    assert.ok(i.description.length > 0);
    assert.ok(i.limits.maxStorageBufferBindingSize >= 128 * 2 ** 20);
    assert.ok(i.limits.maxBufferSize >= i.limits.maxStorageBufferBindingSize);
    assert.ok(i.limits.maxComputeWorkgroupsPerDimension >= 65535);
    assert.equal(typeof i.isFallbackAdapter, "boolean");
  },
});

Deno.test({
  ...opts,
  name: "dense 19200x2000 (146.5 MiB) forward, gradients and Adam match cpu",
  fn: async () => {
    const [B, K, N] = [8, 19200, 2000];
    const i = await info();
    assert.ok(K * N * 4 > i.limits.maxStorageBufferBindingSize);
    const x = rand([B, K], 1), w = rand([K, N], 2);
    const bias = rand([N], 3), r = rand([B, N], 4);
    const { cpu, gpu, leaked } = await onBoth(
      [[x, [B, K]], [w, [K, N]], [bias, [N]], [r, [B, N]]],
      ([xt, wt, bt, rt]) => {
        const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Tensor =>
          tf.fused.matMul({
            a: a as tf.Tensor2D,
            b: b as tf.Tensor2D,
            bias: c,
            activation: "relu",
          });
        const y = f(xt, wt, bt);
        const [dx, dw, db] = tf.grads((a, b, c) => f(a, b, c).mul(rt).sum())(
          [xt, wt, bt],
        );
        // One Adam step on the big weight exercises the element-wise guards.
        const v = tf.variable(wt.mul(1));
        // epsilon 1e-3 keeps m / sqrt(v) well conditioned for tiny grads.
        const adam = tf.train.adam(0.01, 0.9, 0.999, 1e-3);
        adam.applyGradients([{ name: v.name, tensor: dw }]);
        const updated = v.clone();
        v.dispose();
        adam.dispose();
        return [y, dx, dw, db, updated];
      },
    );
    assertClose("y", cpu[0], gpu[0]);
    assertClose("dx", cpu[1], gpu[1]);
    assertClose("dW", cpu[2], gpu[2]);
    assertClose("db", cpu[3], gpu[3]);
    assertClose("W after Adam", cpu[4], gpu[4]);
    assert.equal(leaked, 0, "tensors leaked");
  },
});

Deno.test({
  ...opts,
  name: "conv2d filter gradient past the dispatch limit matches cpu",
  fn: async () => {
    const xs = [4, 120, 160, 1], ws = [3, 3, 1, 32];
    const { cpu, gpu, leaked } = await onBoth(
      [[rand(xs, 5), xs], [rand(ws, 6), ws], [rand([4, 120, 160, 32], 7), [
        4,
        120,
        160,
        32,
      ]]],
      ([x, w, r]) => {
        const f = (k: tf.Tensor): tf.Tensor =>
          tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, "same").mul(r)
            .sum();
        return [tf.grad(f)(w)];
      },
    );
    assertClose("dW", cpu[0], gpu[0]);
    assert.equal(leaked, 0, "tensors leaked");
  },
});

Deno.test({
  ...opts,
  name: "conv2d filter gradient split into row bands matches cpu",
  fn: async () => {
    await info();
    // Force the one-image-too-big path on small tensors.
    setGuardLimits({ convFilterPixels: 1000 });
    try {
      for (
        const [xs, ws, stride, pad] of [
          [[2, 70, 50, 3], [3, 3, 3, 4], 2, "same"],
          [[1, 61, 41, 2], [5, 3, 2, 3], 1, "valid"],
          [[1, 64, 40, 1], [3, 3, 1, 2], 1, "same"],
        ] as Array<[number[], number[], number, "same" | "valid"]>
      ) {
        const { cpu, gpu, leaked } = await onBoth(
          [[rand(xs, 8), xs], [rand(ws, 9), ws]],
          ([x, w]) => [
            tf.grad((k: tf.Tensor) =>
              tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, stride, pad)
                .square().sum()
            )(w),
          ],
        );
        assertClose(`dW ${xs} s${stride} ${pad}`, cpu[0], gpu[0]);
        assert.equal(leaked, 0, "tensors leaked");
      }
    } finally {
      setGuardLimits({});
    }
  },
});

Deno.test({
  ...opts,
  name: "matmul and element-wise splits match cpu under a small limit",
  fn: async () => {
    await info();
    setGuardLimits({ bindingBytes: 16 * 1024 });
    try {
      const cases: Array<[number[], number[], boolean, boolean]> = [
        [[40, 300], [300, 50], false, false], // B big in K
        [[300, 40], [300, 50], true, false], // A big in K, out small
        [[300, 40], [40, 50], false, false], // A and out big in M
        [[40, 300], [50, 300], false, true], // B big in N
        [[70, 80], [80, 90], false, false], // out big only
        [[3, 40, 60], [3, 60, 30], false, false], // batched
      ];
      for (const [as, bs, ta, tb] of cases) {
        const n = tb ? bs[bs.length - 2] : bs[bs.length - 1];
        const { cpu, gpu, leaked } = await onBoth(
          [[rand(as, 10), as], [rand(bs, 11), bs], [rand([n], 12), [n]]],
          ([a, b, c]) => [
            tf.matMul(a, b, ta, tb),
            tf.fused.matMul({
              a: a as tf.Tensor2D,
              b: b as tf.Tensor2D,
              transposeA: ta,
              transposeB: tb,
              bias: c,
              activation: "relu",
            }),
          ],
        );
        assertClose(`matMul ${as}x${bs} ${ta} ${tb}`, cpu[0], gpu[0]);
        assertClose(`fused ${as}x${bs} ${ta} ${tb}`, cpu[1], gpu[1]);
        assert.equal(leaked, 0, "tensors leaked");
      }
      const { cpu, gpu, leaked } = await onBoth(
        [[rand([90, 70], 13), [90, 70]], [rand([70], 14), [70]]],
        ([a, b]) => [
          a.add(b),
          a.abs().mul(2).sqrt(),
          a.sub(a.square()).div(3),
          tf.zerosLike(a).add(1),
          tf.fill([90, 70], 0.5),
        ],
      );
      for (let k = 0; k < cpu.length; k++) {
        assertClose(`elementwise ${k}`, cpu[k], gpu[k]);
      }
      assert.equal(leaked, 0, "tensors leaked");
    } finally {
      setGuardLimits({});
    }
  },
});

Deno.test({
  ...opts,
  name: "assertBindingSizes names the offending layer",
  fn: async () => {
    await info();
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [8, 8, 1],
          filters: 32,
          kernelSize: 3,
          name: "conv_big",
        }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 40, name: "dense_big" }),
      ],
    });
    // Dense kernel 1152x40 floats (184 KiB) is split automatically.
    assertBindingSizes(model, 4096 * 4);
    // Conv kernel 3x3x1x32 = 1152 B is not.
    assert.throws(() => assertBindingSizes(model, 1000), /conv_big/);
    model.dispose();
  },
});
