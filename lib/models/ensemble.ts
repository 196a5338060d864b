/**
 * An ensemble of keypoint models as one flat layers model: every member's
 * layers, renamed `m<i>_<name>`, read one shared input, and an `Average`
 * layer gives the mean of their coordinates. Being a plain functional model,
 * it saves, loads, exports to ONNX and runs on the lean inference path like
 * any single model; each member's `heatmap_logits` layer keeps that suffix,
 * so per-point scores can average over the members.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

// deno-lint-ignore no-explicit-any
type Json = any;

/**
 * The name an ensemble gives member `i`'s layer `name`.
 *
 * @example
 * ```ts
 * import { memberLayerName } from "./ensemble.ts";
 * console.log(memberLayerName(1, "heatmap_logits")); // m1_heatmap_logits
 * ```
 */
export function memberLayerName(i: number, name: string): string {
  return `m${i}_${name}`;
}

/**
 * Builds the ensemble of `members` (functional models with one input of the
 * same shape and one output of the same size) and copies their weights.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { buildEnsemble } from "./ensemble.ts";
 * const member = (v: number) => {
 *   const x = tf.input({ shape: [2] });
 *   const d = tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.constant({ value: v }) });
 *   return tf.model({ inputs: x, outputs: d.apply(x) as tf.SymbolicTensor });
 * };
 * const e = await buildEnsemble([member(1), member(3)]);
 * console.log((e.predict(tf.ones([1, 2])) as tf.Tensor).dataSync()[0]); // 4
 * ```
 */
export async function buildEnsemble(
  members: tf.LayersModel[],
  name = "ensemble",
): Promise<tf.LayersModel> {
  if (members.length < 2) {
    throw new Error(`an ensemble needs at least 2 models, got ${members.length}`);
  }
  const shapeOf = (m: tf.LayersModel) => JSON.stringify(m.inputs.map((t) => t.shape));
  const outOf = (m: tf.LayersModel) => JSON.stringify(m.outputs.map((t) => t.shape));
  for (const m of members) {
    if (m.inputs.length !== 1 || m.outputs.length !== 1) {
      throw new Error(`ensemble members need one input and one output (${m.name})`);
    }
    if (shapeOf(m) !== shapeOf(members[0]) || outOf(m) !== outOf(members[0])) {
      throw new Error(
        `ensemble members differ: ${m.name} takes ${shapeOf(m)} and gives ${outOf(m)}, ` +
          `${members[0].name} takes ${shapeOf(members[0])} and gives ${outOf(members[0])}`,
      );
    }
  }
  const first = members[0].toJSON(null, false) as Json;
  const inputLayer = first.config.layers.find((l: Json) => l.class_name === "InputLayer");
  const input = { ...inputLayer, name: "image", config: { ...inputLayer.config, name: "image" } };
  const layers: Json[] = [input];
  const outputs: string[] = [];
  members.forEach((m, i) => {
    const cfg = (m.toJSON(null, false) as Json).config;
    const inputs = new Set(cfg.input_layers.map((r: Json) => r[0]));
    const rename = (n: string) => (inputs.has(n) ? "image" : memberLayerName(i, n));
    for (const l of cfg.layers) {
      if (inputs.has(l.name)) continue;
      layers.push({
        ...l,
        name: rename(l.name),
        config: { ...l.config, name: rename(l.name) },
        inbound_nodes: l.inbound_nodes.map((node: Json[]) =>
          node.map(([src, ...rest]: Json[]) => [rename(src), ...rest])
        ),
      });
    }
    outputs.push(rename(cfg.output_layers[0][0]));
  });
  layers.push({
    name: "keypoints",
    class_name: "Average",
    config: { name: "keypoints", trainable: true },
    inbound_nodes: [outputs.map((o) => [o, 0, 0, {}])],
  });
  const json = {
    class_name: "Model",
    config: {
      name,
      layers,
      input_layers: [["image", 0, 0]],
      output_layers: [["keypoints", 0, 0]],
    },
  };
  const model = await tf.models.modelFromJSON(json as Json);
  members.forEach((m, i) => {
    for (const l of m.layers) {
      if (l.weights.length === 0 || l.getClassName() === "InputLayer") continue;
      model.getLayer(memberLayerName(i, l.name)).setWeights(l.getWeights());
    }
  });
  return model;
}
