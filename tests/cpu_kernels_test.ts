/**
 * The cpu backend is the reference every other backend is checked against;
 * its kernels that tfjs gets wrong are replaced (`lib/backends/cpu_kernels.ts`).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { requireSelfCheck, setupBackend } from "../lib/backends/backend.ts";
import { nearestSource } from "../lib/backends/cpu_kernels.ts";
import { buildHeatmapUNet } from "../lib/models/unet.ts";

/** The gradient of nearest resizing, by hand: add every output pixel's dy at its source. */
function byHand(
  dy: Float32Array,
  [n, h, w, c]: number[],
  [oh, ow]: number[],
  align: boolean,
  half: boolean,
): Float64Array {
  const out = new Float64Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const sy = nearestSource(y, h, oh, align, half);
        const sx = nearestSource(x, w, ow, align, half);
        for (let k = 0; k < c; k++) {
          out[((b * h + sy) * w + sx) * c + k] += dy[((b * oh + y) * ow + x) * c + k];
        }
      }
    }
  }
  return out;
}

async function resizeGrad(
  backend: "cpu" | "wasm",
  shape: number[],
  size: [number, number],
  align: boolean,
  half: boolean,
): Promise<{ got: Float32Array; dy: Float32Array }> {
  await setupBackend(backend);
  const [n, , , c] = shape;
  const dy = Float32Array.from(
    { length: n * size[0] * size[1] * c },
    (_, i) => Math.cos(i * 0.37) * (1 + (i % 7)),
  );
  const x = tf.zeros(shape as [number, number, number, number]) as tf.Tensor4D;
  const w = tf.tensor4d(dy, [n, size[0], size[1], c]);
  const g = tf.grad((t: tf.Tensor) =>
    tf.sum(tf.mul(tf.image.resizeNearestNeighbor(t as tf.Tensor4D, size, align, half), w))
  )(x);
  const got = (await g.data()) as Float32Array;
  tf.dispose([x, w, g]);
  return { got, dy };
}

Deno.test("nearestSource follows tfjs's forward rule", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((o) => nearestSource(o, 3, 6, false, false)), [
    0,
    0,
    1,
    1,
    2,
    2,
  ]);
  assert.deepEqual([0, 1, 2, 3].map((o) => nearestSource(o, 3, 4, true, false)), [0, 1, 1, 2]);
  assert.deepEqual([0, 1, 2, 3].map((o) => nearestSource(o, 2, 4, false, true)), [0, 0, 1, 1]);
});

Deno.test("cpu ResizeNearestNeighborGrad is right for every image of a batch", async () => {
  const cases: [number[], [number, number], boolean, boolean][] = [
    [[3, 5, 5, 2], [10, 10], false, false], // tfjs's own cpu kernel: max error 4.5 here
    [[2, 4, 6, 3], [8, 12], false, true],
    [[2, 3, 4, 1], [7, 9], true, false],
    [[1, 6, 5, 4], [3, 4], false, false], // down-sampling
    [[4, 2, 3, 5], [5, 7], false, true],
  ];
  for (const [shape, size, align, half] of cases) {
    const { got, dy } = await resizeGrad("cpu", shape, size, align, half);
    const want = byHand(dy, shape, size, align, half);
    want.forEach((v, i) =>
      assert.ok(Math.abs(v - got[i]) <= 1e-5 * (1 + Math.abs(v)), `${shape} ${size} [${i}]`)
    );
    const wasm = await resizeGrad("wasm", shape, size, align, half);
    if (!align && !half) {
      // The U-Net's up-sampling: wasm must agree with the corrected reference.
      wasm.got.forEach((v, i) => assert.ok(Math.abs(v - got[i]) <= 1e-5 * (1 + Math.abs(v))));
    }
  }
});

Deno.test("the self-check reaches every layer of a U-Net with a zero-initialised head", async () => {
  const info = await setupBackend("wasm");
  const build = () =>
    buildHeatmapUNet({
      inputWidth: 32,
      inputHeight: 32,
      channels: 1,
      keypoints: 5,
      outputStride: 4,
      seed: 1,
    });
  const r = await requireSelfCheck(build, info, () => {});
  assert.ok(r!.ok, `max relative gradient error ${r!.maxRelError} in ${r!.worst}`);
});
