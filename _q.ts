import * as tf from "@tensorflow/tfjs";
import { registerWasmTrainingKernels } from "./lib/wasm_kernels.ts";
registerWasmTrainingKernels();
await tf.setBackend("wasm");
registerWasmTrainingKernels();
function rnd(shape: number[]) { const n = shape.reduce((a,b)=>a*b,1); const d = new Float32Array(n); for (let i=0;i<n;i++) d[i]=Math.random()*2-1; return d; }
async function on<T>(be: string, f: () => tf.Tensor): Promise<Float32Array> { await tf.setBackend(be); const t = f(); const d = await t.data() as Float32Array; t.dispose(); return d; }
function err(a: Float32Array, b: Float32Array) { let m=0, s=0; for (let i=0;i<a.length;i++){m=Math.max(m,Math.abs(a[i]-b[i])); s=Math.max(s,Math.abs(b[i]));} return m/Math.max(s,1e-12); }
for (const [xs, fs, st, pad] of [[[2,7,9,3],[3,3,3,4],1,"same"],[[2,7,9,3],[3,3,3,4],2,"same"],[[2,8,10,1],[3,3,1,5],2,"valid"],[[1,9,7,2],[5,3,2,3],2,"same"],[[3,6,6,4],[2,2,4,2],2,"same"], [[2,7,9,3],[3,3,3,4],1,"valid"], [[2,7,9,3],[3,3,3,4],2,1],[[2,7,9,3],[3,3,3,4],[2,1],"same"],[[2,7,8,3],[3,3,3,4],[1,2],"valid"],[[1,5,6,2],[3,3,2,2],1,[[0,0],[2,0],[0,1],[0,0]]]] as const) {
  const xd = rnd(xs as number[]), fd = rnd(fs as number[]);
  const oshape = tf.tidy(()=>tf.conv2d(tf.zeros(xs as any), tf.zeros(fs as any), st as any, pad as any).shape);
  const dyd = rnd(oshape);
  for (const be of ["cpu","wasm"]) {}
  const mk = () => [tf.tensor4d(xd, xs as any), tf.tensor4d(fd, fs as any), tf.tensor4d(dyd, oshape as any)] as const;
  const fF = () => { const [x,,dy] = mk(); return tf.conv2dBackpropFilter? (tf as any).conv2dBackpropFilter(x, dy, fs, st, pad) : null; };
  const gF = () => { const [x,,dy] = mk(); return tf.grad((f: tf.Tensor4D) => tf.conv2d(x, f, st as any, pad as any).mul(dy).sum())(tf.tensor4d(fd, fs as any)); };
  const gX = () => { const [, f, dy] = mk(); return tf.grad((x: tf.Tensor4D) => tf.conv2d(x, f, st as any, pad as any).mul(dy).sum())(tf.tensor4d(xd, xs as any)); };
  const c1 = await on("cpu", gF), w1 = await on("wasm", gF);
  const c2 = await on("cpu", gX), w2 = await on("wasm", gX);
  console.log(xs, fs, st, pad, "dW", err(w1,c1).toExponential(2), "dX", err(w2,c2).toExponential(2));
}
for (const [sa, sb, ta, tb] of [[[5,7],[7,3],false,false],[[7,5],[7,3],true,false],[[5,7],[3,7],false,true],[[7,5],[3,7],true,true],[[2,5,7],[2,3,7],false,true],[[8,300],[2000,300],false,true],[[300,8],[20,8],false,true],[[300,8],[300,20],true,false]] as const) {
  const ad = rnd(sa as any), bd = rnd(sb as any);
  const f = () => tf.matMul(tf.tensor(ad, sa as any), tf.tensor(bd, sb as any), ta, tb);
  console.log("mm", sa, sb, ta, tb, err(await on("wasm", f), await on("cpu", f)).toExponential(2));
}
await tf.setBackend("wasm");
console.log(tf.memory().numTensors);
