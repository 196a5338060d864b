import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { hasWebGpu, requireSelfCheck, setupBackend } from "../lib/backends/backend.ts";
import { buildPart1 } from "../lib/models/course_cnn.ts";
import { buildResNet } from "../lib/models/resnet.ts";
import { selfCheck } from "../lib/backends/self_check.ts";

const info = await setupBackend("wasm");
const quiet = () => {};

Deno.test("self-check passes on wasm for the Part 1 net and a small ResNet", async () => {
  assert.ok((await requireSelfCheck(() => buildPart1({ seed: 1 }), info, quiet))!.ok);
  const r = await requireSelfCheck(
    () => buildResNet({ depth: 18, inputSize: 64, channels: 1, widthMultiplier: 0.125, seed: 1 }),
    info,
    quiet,
  );
  assert.ok(r!.ok && r!.maxRelError < 1e-3, `max rel error ${r!.maxRelError}`);
  assert.equal(tf.getBackend(), "wasm");
});

/** Sabotages wasm's filter gradient (scaled by 1.5), as a broken backend would. */
function sabotageWasm(): () => void {
  const stock = tf.getKernel("Conv2DBackpropFilter", "wasm")!;
  tf.unregisterKernel("Conv2DBackpropFilter", "wasm");
  tf.registerKernel({
    ...stock,
    kernelFunc: (args) => {
      const backend = args.backend as unknown as {
        makeOutput(shape: number[], dtype: string): tf.TensorInfo;
        typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
        disposeData(id: unknown): void;
      };
      const out = stock.kernelFunc(args) as tf.TensorInfo;
      const k = backend.makeOutput([], "float32");
      backend.typedArrayFromHeap(k)[0] = 1.5;
      const scaled = tf.getKernel("Multiply", "wasm")!.kernelFunc({
        inputs: { a: out, b: k },
        backend: args.backend,
        attrs: {},
      }) as tf.TensorInfo;
      backend.disposeData(out.dataId);
      backend.disposeData(k.dataId);
      return scaled;
    },
  });
  return () => {
    tf.unregisterKernel("Conv2DBackpropFilter", "wasm");
    tf.registerKernel(stock);
  };
}

Deno.test("self-check catches a silently wrong kernel and training refuses", async () => {
  const restore = sabotageWasm();
  try {
    const r = await selfCheck(() => buildPart1({ seed: 2 }), "wasm", async (b) => {
      await tf.setBackend(b);
    });
    assert.equal(r.ok, false);
    assert.ok(r.maxRelError > 0.1);
    await assert.rejects(
      () => requireSelfCheck(() => buildPart1({ seed: 2 }), info, quiet),
      /backend wasm disagrees with cpu .* refusing to train/,
    );
  } finally {
    restore();
  }
});

Deno.test("auto times every candidate on the model and keeps the fastest that agrees", async () => {
  const gpu = await hasWebGpu();
  const auto = await setupBackend("auto");
  assert.equal(auto.auto, true);
  const r = await requireSelfCheck(() => buildPart1({ seed: 3 }), auto, quiet);
  assert.ok(r!.ok);
  const trials = auto.trials!;
  assert.deepEqual(trials.map((t) => t.name), gpu ? ["wasm", "webgpu"] : ["wasm"]);
  const fastest = trials.filter((t) => t.ok).sort((a, b) => a.msPerStep - b.msPerStep)[0];
  assert.equal(auto.name, fastest.name);
  assert.equal(tf.getBackend(), fastest.name);
  assert.ok(trials.every((t) => t.msPerStep > 0 && t.msPerStep < 60_000), JSON.stringify(trials));
  await setupBackend("wasm");
});

Deno.test("auto never picks a backend whose gradients disagree with cpu", async () => {
  const gpu = await hasWebGpu();
  const restore = sabotageWasm();
  try {
    const auto = await setupBackend("auto");
    if (gpu) {
      await requireSelfCheck(() => buildPart1({ seed: 4 }), auto, quiet);
      assert.equal(auto.name, "webgpu");
      const wasm = auto.trials!.find((t) => t.name === "wasm")!;
      assert.equal(wasm.ok, false);
      assert.match(wasm.note!, /disagree/);
    } else {
      await assert.rejects(
        () => requireSelfCheck(() => buildPart1({ seed: 4 }), auto, quiet),
        /no backend agrees with cpu/,
      );
    }
  } finally {
    restore();
    await setupBackend("wasm");
  }
});
