/**
 * A lean inference path for a loaded layers model: each BatchNormalization
 * that follows a linear Conv2D is folded into the conv's kernel and bias
 * once, at load, and a ReLU after it becomes the fused conv's activation,
 * so conv + BN + ReLU run as one `fusedConv2d` kernel. Other layers run as
 * they are. The layers model's own `predict` also pays per-layer
 * bookkeeping (symbolic checks, masks, tidy scopes) that this path skips.
 * Results equal `predict` to float rounding.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/** A compiled model: `run` returns the requested outputs, in order. */
export interface LeanGraph {
  /** Runs a batch (caller disposes the returned tensors). */
  run(x: tf.Tensor4D): tf.Tensor[];
  /** Frees the folded weights. */
  dispose(): void;
  /** Number of conv + BN (+ ReLU) groups folded into one kernel. */
  readonly folded: number;
}

// deno-lint-ignore no-explicit-any
type AnyLayer = any;

/**
 * Compiles `model` (a functional or sequential model whose layers are each
 * applied once), returning `outputs` (default the model's outputs; any
 * symbolic tensors of the model). Returns null when the model has a shape
 * this path does not handle (then use `predict`).
 *
 * @example
 * ```ts ignore
 * import { compileLean } from "./lean_graph.ts";
 * const lean = compileLean(model)!;
 * const [y] = lean.run(x);
 * ```
 */
export function compileLean(
  model: tf.LayersModel,
  outputs: tf.SymbolicTensor[] = model.outputs,
): LeanGraph | null {
  const layers = model.layers as AnyLayer[];
  if (model.inputs.length !== 1) return null;
  if (layers.some((l) => l.inboundNodes.length !== 1 && l.getClassName() !== "InputLayer")) {
    return null; // shared layers
  }
  const key = (layer: AnyLayer, index = 0): string => `${layer.name}:${index}`;
  const consumers = new Map<string, AnyLayer[]>();
  for (const l of layers) {
    for (const inb of l.inboundNodes[0]?.inboundLayers ?? []) {
      consumers.set(inb.name, [...(consumers.get(inb.name) ?? []), l]);
    }
  }
  const wanted = new Set(outputs.map((t) => t.sourceLayer.name));
  const alias = new Map<string, string>(); // a folded layer's output key -> the conv's
  const skip = new Set<string>();
  const kept: tf.Tensor[] = [];
  const steps: ((env: Map<string, tf.Tensor>) => void)[] = [];
  const inputsOf = (l: AnyLayer): string[] => {
    const node = l.inboundNodes[0];
    return node.inboundLayers.map((inb: AnyLayer, i: number) => {
      const k = key(inb, node.tensorIndices[i]);
      return alias.get(k) ?? k;
    });
  };
  let folded = 0;
  for (const l of layers) {
    const cls = l.getClassName();
    if (cls === "InputLayer" || skip.has(l.name)) continue;
    const c = cls === "Conv2D" ? l.getConfig() : null;
    if (
      c && c.dataFormat === "channelsLast" && (c.activation === "linear" || c.activation === "relu")
    ) {
      const [kernel, given] = l.getWeights() as tf.Tensor[];
      const bias = given ?? tf.zeros([c.filters as number]);
      let k4 = kernel, b1 = bias;
      let activation: "linear" | "relu" = c.activation;
      const next = consumers.get(l.name) ?? [];
      const bn = next.length === 1 && !wanted.has(l.name) ? next[0] : null;
      const bnAxis = bn?.getConfig().axis;
      if (
        activation === "linear" && bn?.getClassName() === "BatchNormalization" &&
        (bnAxis === -1 || bnAxis === 3) && bn.getConfig().center && bn.getConfig().scale
      ) {
        const [gamma, beta, mean, variance] = bn.getWeights() as tf.Tensor[];
        [k4, b1] = tf.tidy(() => {
          const s = tf.div(gamma, tf.sqrt(tf.add(variance, bn.getConfig().epsilon)));
          return [tf.mul(kernel, s), tf.add(tf.sub(beta, tf.mul(mean, s)), tf.mul(bias, s))];
        });
        if (!given) bias.dispose();
        skip.add(bn.name);
        alias.set(key(bn), key(l));
        folded++;
        const after = consumers.get(bn.name) ?? [];
        const relu = after.length === 1 && !wanted.has(bn.name) ? after[0] : null;
        if (relu?.getClassName() === "ReLU" && relu.getConfig().maxValue == null) {
          activation = "relu";
          skip.add(relu.name);
          alias.set(key(relu), key(l));
        }
      } else {
        k4 = tf.clone(kernel);
        if (given) b1 = tf.clone(given);
      }
      kept.push(k4, b1);
      const [src] = inputsOf(l);
      const out = key(l);
      const filter = k4 as tf.Tensor4D, b = b1;
      steps.push((env) =>
        env.set(
          out,
          tf.fused.conv2d({
            x: env.get(src) as tf.Tensor4D,
            filter,
            strides: c.strides,
            pad: c.padding,
            dilations: c.dilationRate,
            bias: b,
            activation,
          }),
        )
      );
      continue;
    }
    const srcs = inputsOf(l);
    const outs = l.inboundNodes[0].outputTensors.length;
    steps.push((env) => {
      const ins = srcs.map((s) => env.get(s)!);
      const r = l.apply(ins.length === 1 ? ins[0] : ins) as tf.Tensor | tf.Tensor[];
      const list = Array.isArray(r) ? r : [r];
      for (let i = 0; i < outs; i++) env.set(key(l, i), list[i]);
    });
  }
  const inputKey = key(model.inputs[0].sourceLayer);
  const outKeys = outputs.map((t) => {
    const k = key(t.sourceLayer, t.tensorIndex);
    return alias.get(k) ?? k;
  });
  return {
    folded,
    run(x) {
      return tf.tidy(() => {
        const env = new Map<string, tf.Tensor>([[inputKey, x]]);
        for (const s of steps) s(env);
        return outKeys.map((k) => env.get(k)!);
      });
    },
    dispose() {
      tf.dispose(kept);
    },
  };
}
