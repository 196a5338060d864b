import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../lib/backends/backend.ts";
import { DEFAULT_AUGMENT } from "../lib/augment/augment.ts";
import { prepareImm, runImm } from "../lib/course/imm_task.ts";
import { keypointSource } from "../lib/train/keypoint_source.ts";
import { IMM58, IMM_NOSE_TIP } from "../lib/data/layouts.ts";
import { buildPart1 } from "../lib/models/course_cnn.ts";
import { finalModelDir, predictAll, train } from "../lib/train/loop.ts";
import { loadModelFolder } from "../lib/models/checkpoint.ts";

const FIX = new URL("../fixtures/imm", import.meta.url).pathname;
const backend = await setupBackend("wasm");
const meta = {
  task: "part1",
  layout: "imm58",
  points: [IMM_NOSE_TIP],
  inputWidth: 80,
  inputHeight: 64,
  channels: 1,
};

async function fixtureSource() {
  const { train: tr, val } = await prepareImm(FIX, "part1");
  return keypointSource(tr, val, {
    points: [IMM_NOSE_TIP],
    flip: IMM58.flip,
    augment: DEFAULT_AUGMENT,
  });
}

Deno.test("a short training run on fixtures lowers the loss without leaking tensors", async () => {
  const out = await Deno.makeTempDir();
  try {
    const source = await fixtureSource();
    assert.equal(source.trainSize, 4);
    assert.equal(source.valSize, 2);
    const model = buildPart1({ seed: 2 });
    const before = tf.memory().numTensors;
    const result = await train(model, source, {
      outDir: out,
      epochs: 12,
      batch: 2,
      lr: 1e-3,
      seed: 2,
      loss: "mse",
      resume: false,
      meta,
      quiet: true,
      log: () => {},
    });
    const h = result.history;
    assert.ok(
      h[h.length - 1].trainLoss < h[0].trainLoss / 2,
      `loss ${h[0].trainLoss} -> ${h[h.length - 1].trainLoss}`,
    );
    // Tensor count is flat from epoch 2 on (epoch 1 creates Adam's slots).
    const counts = h.slice(1).map((r) => r.numTensors);
    assert.ok(counts.every((c) => c === counts[0]), `numTensors per epoch: ${counts}`);
    assert.ok(
      tf.memory().numTensors - before < 40,
      "only the model and its optimizer slots remain",
    );
    for (
      const f of [
        "best/model.json",
        "best/weights.bin",
        "last/state.json",
        "last/optimizer.bin",
        "metrics.jsonl",
      ]
    ) {
      assert.ok(Deno.statSync(`${out}/${f}`).isFile, f);
    }
    model.dispose();
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

/**
 * Trains 4 epochs into `a`, and 2 epochs into `b` then resumes it to 4 (from
 * a differently seeded model, so only the checkpoint can make them agree).
 */
async function runAndResume(a: string, b: string, ema?: number) {
  const source = await fixtureSource();
  const cfg = {
    epochs: 4,
    batch: 2,
    lr: 1e-3,
    seed: 5,
    loss: "mse" as const,
    meta,
    quiet: true,
    log: () => {},
    ema,
  };
  const full = await train(buildPart1({ seed: 5 }), source, { ...cfg, outDir: a, resume: false });
  await train(buildPart1({ seed: 5 }), source, { ...cfg, epochs: 2, outDir: b, resume: false });
  const resumed = await train(buildPart1({ seed: 99 }), source, {
    ...cfg,
    outDir: b,
    resume: true,
  });
  return { source, full, resumed };
}

Deno.test("resume continues exactly where an interrupted run stopped", async () => {
  const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
  try {
    const { full, resumed } = await runAndResume(a, b);
    assert.equal(await finalModelDir(a), `${a}/last`);
    assert.equal(resumed.history.length, 4);
    for (let i = 0; i < 4; i++) {
      const x = full.history[i].trainLoss, y = resumed.history[i].trainLoss;
      assert.ok(Math.abs(x - y) <= 1e-5 * Math.abs(x), `epoch ${i + 1}: ${x} vs ${y}`);
    }
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});

Deno.test("with ema, validation and last/ema use the average, and resume continues it exactly", async () => {
  const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
  try {
    const { source, full, resumed } = await runAndResume(a, b, 0.9);
    assert.equal(await finalModelDir(a), `${a}/last/ema`);
    for (let i = 0; i < 4; i++) {
      const x = full.history[i].valLoss, y = resumed.history[i].valLoss;
      assert.ok(Math.abs(x - y) <= 1e-5 * Math.abs(x), `epoch ${i + 1}: ${x} vs ${y}`);
    }
    const read = async (dir: string): Promise<Float32Array[]> => {
      const { model } = await loadModelFolder(dir);
      const out = await Promise.all(
        model.getWeights().map(async (w) => await w.data() as Float32Array),
      );
      model.dispose();
      return out;
    };
    const [avgA, avgB, rawA] = [
      await read(`${a}/last/ema`),
      await read(`${b}/last/ema`),
      await read(`${a}/last`),
    ];
    avgA.forEach((w, i) =>
      w.forEach((v, k) => assert.ok(Math.abs(v - avgB[i][k]) < 1e-5, `${i}[${k}]`))
    );
    assert.ok(
      avgA.some((w, i) => w.some((v, k) => Math.abs(v - rawA[i][k]) > 1e-6)),
      "the average differs from the raw weights",
    );
    // The validation loss reported is the average's: predicting with last/ema reproduces it.
    const { model: avgModel } = await loadModelFolder(`${a}/last/ema`);
    const { pred, target } = await predictAll(avgModel, source);
    avgModel.dispose();
    const mse = pred.reduce((s, v, i) => s + (v - target[i]) ** 2, 0) / pred.length;
    assert.ok(
      Math.abs(mse - full.history[3].valMse) < 1e-6 * Math.max(1, mse),
      `${mse} vs ${full.history[3].valMse}`,
    );
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});

Deno.test("NaN loss stops training with a clear error and leaves checkpoints alone", async () => {
  const out = await Deno.makeTempDir();
  try {
    const good = await fixtureSource();
    // A source whose second batch yields a NaN loss (as an overflow would).
    let calls = 0;
    const source = {
      ...good,
      trainBatch: async (idx: number[], rng: Parameters<typeof good.trainBatch>[1]) => {
        const b = await good.trainBatch(idx, rng);
        if (++calls === 2) b.y[0] = NaN;
        return b;
      },
    };
    await assert.rejects(
      () =>
        train(buildPart1({ seed: 1 }), source, {
          outDir: out,
          epochs: 2,
          batch: 2,
          lr: 1e-3,
          seed: 1,
          loss: "mse",
          resume: false,
          meta,
          quiet: true,
          log: () => {},
        }),
      /training diverged: loss is NaN at epoch 1, step 2/,
    );
    assert.throws(() => Deno.statSync(`${out}/best/model.json`));
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("train on a folder with a bad label fails before writing anything", async () => {
  const data = await Deno.makeTempDir(), out = await Deno.makeTempDir();
  try {
    for (const e of Deno.readDirSync(FIX)) {
      await Deno.copyFile(`${FIX}/${e.name}`, `${data}/${e.name}`);
    }
    await Deno.copyFile(
      new URL("../fixtures/bad/57_lines.dat", import.meta.url).pathname,
      `${data}/04-1m.dat`,
    );
    await assert.rejects(
      () =>
        runImm({
          part: "part1",
          data,
          out: `${out}/run`,
          epochs: 1,
          batch: 2,
          lr: 1e-3,
          seed: 1,
          resume: false,
          augment: false,
          backend,
          quiet: true,
        }),
      /04-1m\.dat: expected 58 lines/,
    );
    assert.throws(() => Deno.statSync(`${out}/run`), "no output folder created");
  } finally {
    await Deno.remove(data, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});
