/**
 * The same training steps on wasm and on WebGPU (Mesa lavapipe on CPU-only
 * machines) must match the cpu backend: tfjs backends can be silently wrong.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { hasWebGpu, setupBackend } from "../lib/backends/backend.ts";
import { buildPart1 } from "../lib/models/course_cnn.ts";
import { mseLoss } from "../lib/head/losses.ts";
import { createRng } from "../lib/util/random.ts";

const gpu = await hasWebGpu();
if (!gpu) {
  console.warn("skipping WebGPU parity: no WebGPU adapter (apt-get install mesa-vulkan-drivers)");
}

/** Runs `steps` Adam steps of the Part 1 net from fixed weights; returns losses and final weights. */
async function run(
  backend: "cpu" | "wasm" | "webgpu",
  weights: Float32Array[],
  steps: number,
): Promise<{ losses: number[]; final: Float32Array[] }> {
  await setupBackend(backend);
  const model = buildPart1({ seed: 1 });
  model.setWeights(weights.map((w, i) => tf.tensor(w, model.getWeights()[i].shape)));
  const rng = createRng(4);
  const x = tf.tensor4d(Float32Array.from({ length: 4 * 64 * 80 }, () => rng.uniform(-0.5, 0.5)), [
    4,
    64,
    80,
    1,
  ]);
  const y = tf.tensor2d(Float32Array.from({ length: 8 }, () => rng.uniform(0.3, 0.7)), [4, 2]);
  const opt = tf.train.adam(1e-3);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const cost = opt.minimize(
      () => mseLoss(y, model.apply(x, { training: true }) as tf.Tensor),
      true,
      vars,
    )!;
    losses.push((await cost.data())[0]);
    cost.dispose();
  }
  const final = await Promise.all(
    model.getWeights().map(async (w) => (await w.data()) as Float32Array),
  );
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
  return { losses, final };
}

async function reference(): Promise<
  { init: Float32Array[]; cpu: { losses: number[]; final: Float32Array[] } }
> {
  await setupBackend("cpu");
  const m = buildPart1({ seed: 11 });
  const init = await Promise.all(m.getWeights().map(async (w) => (await w.data()) as Float32Array));
  m.dispose();
  return { init, cpu: await run("cpu", init, 5) };
}

function assertClose(
  a: { losses: number[]; final: Float32Array[] },
  b: typeof a,
  what: string,
): void {
  a.losses.forEach((l, i) => {
    assert.ok(
      Math.abs(l - b.losses[i]) <= 1e-4 * Math.max(1, Math.abs(l)),
      `${what} step ${i + 1} loss ${b.losses[i]} vs cpu ${l}`,
    );
  });
  let maxDiff = 0;
  a.final.forEach((w, i) =>
    w.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - b.final[i][j]))))
  );
  assert.ok(maxDiff <= 1e-4, `${what}: max |weight diff| after training ${maxDiff}`);
}

const ref = await reference();

Deno.test("wasm: 5 Adam steps of the Part 1 net match the cpu backend", async () => {
  assertClose(ref.cpu, await run("wasm", ref.init, 5), "wasm");
});

Deno.test({
  name: "webgpu (lavapipe on CPU machines): 5 Adam steps of the Part 1 net match the cpu backend",
  ignore: !gpu,
  fn: async () => {
    assertClose(ref.cpu, await run("webgpu", ref.init, 5), "webgpu");
  },
});
