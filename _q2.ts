import * as tf from "@tensorflow/tfjs";
import { registerWasmTrainingKernels } from "./lib/wasm_kernels.ts";
registerWasmTrainingKernels();
await tf.setBackend("wasm");
const x = tf.randomNormal([2,7,9,3]) as tf.Tensor4D, f = tf.randomNormal([3,3,3,4]) as tf.Tensor4D;
const mode = Deno.args[0];
for (let i = 0; i < 5; i++) {
if (mode === "fwd") { const y = tf.conv2d(x, f, [2,1], 1); console.log(y.shape); await y.data(); }
if (mode === "fwdexp") { const y = tf.conv2d(x, f, [2,1], [[0,0],[1,1],[1,1],[0,0]]); console.log(y.shape); await y.data(); }
if (mode === "fwd11") { const y = tf.conv2d(x, f, 1, 1); console.log(y.shape); await y.data(); }
}
console.log("ok");
