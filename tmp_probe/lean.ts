import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../lib/backends/backend.ts";
import { loadModelFolder } from "../lib/models/checkpoint.ts";
await setupBackend(Deno.args[0] ?? "wasm" as any);
const { model } = await loadModelFolder(Deno.args[1] ?? "models/part3");
// deno-lint-ignore no-explicit-any
type L = any;
const layers: L[] = model.layers;
const consumers = new Map<string, L[]>();
for (const l of layers) for (const n of l.inboundNodes) for (const inb of n.inboundLayers) {
  consumers.set(inb.name, [...(consumers.get(inb.name) ?? []), l]);
}
type Step = (env: Map<string, tf.Tensor>) => void;
const steps: Step[] = [];
const skip = new Set<string>();
const alias = new Map<string, string>();
const src = (l: L): string[] => l.inboundNodes[0].inboundLayers.map((x: L) => alias.get(x.name) ?? x.name);
for (const l of layers) {
  const cls = l.getClassName();
  if (cls === "InputLayer") continue;
  if (skip.has(l.name)) continue;
  if (cls === "Conv2D") {
    const c = l.getConfig();
    const [k, b0] = l.getWeights();
    let kernel = k, bias = b0 ?? tf.zeros([c.filters]);
    let out = l.name; let act: "relu" | "linear" = c.activation === "relu" ? "relu" : "linear";
    const next = consumers.get(l.name) ?? [];
    if (next.length === 1 && next[0].getClassName() === "BatchNormalization" && c.activation === "linear") {
      const bn = next[0]; const [gamma, beta, mean, variance] = bn.getWeights();
      const eps = bn.getConfig().epsilon;
      const scale = tf.div(gamma, tf.sqrt(tf.add(variance, eps)));
      kernel = tf.mul(kernel, scale); bias = tf.sub(beta, tf.mul(mean, scale)); if (b0) bias = tf.add(bias, tf.mul(b0, scale));
      skip.add(bn.name); alias.set(bn.name, l.name); out = l.name;
      const n2 = consumers.get(bn.name) ?? [];
      if (n2.length === 1 && n2[0].getClassName() === "ReLU") { act = "relu"; skip.add(n2[0].name); alias.set(n2[0].name, l.name); }
    }
    const [inp] = src(l);
    const strides = c.strides, pad = c.padding;
    const kk = tf.keep(kernel), bb = tf.keep(bias);
    steps.push((env) => env.set(out, tf.fused.conv2d({ x: env.get(inp) as tf.Tensor4D, filter: kk as tf.Tensor4D, strides, pad, bias: bb, activation: act })));
    continue;
  }
  const ins = src(l);
  steps.push((env) => { const r = l.apply(ins.length === 1 ? env.get(ins[0]) : ins.map((n) => env.get(n))); env.set(l.name, r as tf.Tensor); });
}
const outName = layers[layers.length - 1].name;
const inName = layers[0].name;
const run = (x: tf.Tensor): tf.Tensor => tf.tidy(() => { const env = new Map([[inName, x]]); for (const s of steps) s(env); return env.get(outName)!; });
const x = tf.randomUniform([1, 112, 112, 1], -0.5, 0.5);
const a = (model.predict(x) as tf.Tensor).dataSync(), b = run(x).dataSync();
let md = 0; for (let i = 0; i < a.length; i++) md = Math.max(md, Math.abs(a[i] - b[i])); console.log("max diff", md);
const N = 40;
for (const [name, f] of [["predict", () => model.predict(x) as tf.Tensor], ["lean", () => run(x)], ["predict", () => model.predict(x) as tf.Tensor], ["lean", () => run(x)]] as const) {
  for (let i = 0; i < 5; i++) tf.tidy(() => f().dataSync());
  const t0 = performance.now(); for (let i = 0; i < N; i++) tf.tidy(() => f().dataSync());
  console.log(name, ((performance.now() - t0) / N).toFixed(2), "ms", tf.memory().numTensors);
}
