import * as tf from "@tensorflow/tfjs";
import { registerWasmTrainingKernels } from "./lib/wasm_kernels.ts";
registerWasmTrainingKernels();
await tf.setBackend("wasm");
const x1 = tf.randomNormal([8,120,160,1]), dy1 = tf.randomNormal([8,120,160,32]);
const f = () => tf.engine().runKernel("Conv2DBackpropFilter", {x: x1, dy: dy1}, {strides: 1, pad: "same", dataFormat: "NHWC", filterShape: [3,3,1,32]}) as tf.Tensor;
f().dispose();
const ts: number[] = [];
for (let i = 0; i < 7; i++) { const t0 = performance.now(); f().dispose(); ts.push(performance.now() - t0); }
ts.sort((a,b)=>a-b); console.log("layer1 dW median", ts[3].toFixed(1), "min", ts[0].toFixed(1));
