import * as tf from "@tensorflow/tfjs";
import { registerWasmTrainingKernels } from "./lib/wasm_kernels.ts";
registerWasmTrainingKernels();
await tf.setBackend("wasm");
function time(label: string, f: () => tf.Tensor, n = 3) {
  const r = f(); r.dispose();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) { const r = f(); r.dispose(); }
  console.log(label, ((performance.now() - t0) / n).toFixed(1), "ms");
}
const x = tf.randomNormal([8, 19200]); const W = tf.randomNormal([19200, 2000]);
time("mm cached W", () => tf.matMul(x, W));
time("mm fresh W (clone)", () => tf.tidy(() => tf.matMul(x, W.clone())));
time("clone W", () => W.clone());
time("transpose W", () => tf.transpose(W));
time("mm W^T x^T", () => tf.tidy(() => tf.matMul(W, x.transpose(), true, false)));
time("add W W", () => W.add(W));
const x1 = tf.randomNormal([8,120,160,1]), dy1 = tf.randomNormal([8,120,160,32]);
const f1 = tf.randomNormal([3,3,1,32]) as tf.Tensor4D;
time("dW layer1", () => tf.grad((f: tf.Tensor4D) => tf.conv2d(x1 as tf.Tensor4D, f, 1, "same").mul(dy1).sum())(f1));
time("fwd layer1 * dy sum", () => tf.tidy(() => tf.conv2d(x1 as tf.Tensor4D, f1, 1, "same").mul(dy1).sum()));
time("transpose dy1 [1,2,0,3]", () => tf.transpose(dy1, [1,2,0,3]));
time("transpose x1 [3,1,2,0]", () => tf.transpose(x1, [3,1,2,0]));
const xT = tf.transpose(x1, [3,1,2,0]) as tf.Tensor4D, dyT = tf.transpose(dy1, [1,2,0,3]) as tf.Tensor4D;
time("conv part", () => tf.conv2d(xT, dyT, 1, [[0,0],[1,1],[1,1],[0,0]]));
const x2 = tf.randomNormal([8,120,160,32]), y2 = tf.maxPool(x2 as tf.Tensor4D, 2, 2, "valid");
time("maxpoolgrad", () => tf.grad((a: tf.Tensor4D) => tf.maxPool(a, 2, 2, "valid"))(x2 as tf.Tensor4D));
time("maxpool", () => tf.maxPool(x2 as tf.Tensor4D, 2, 2, "valid"));
