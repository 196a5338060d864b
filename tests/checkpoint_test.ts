import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  folderSaver,
  loadModelFolder,
  parseModelFolder,
  safeWeightPath,
} from "../lib/models/checkpoint.ts";
import { buildPart1 } from "../lib/models/course_cnn.ts";

await tf.setBackend("cpu");
const meta = {
  task: "part1",
  layout: "imm58",
  points: [52],
  inputWidth: 80,
  inputHeight: 64,
  channels: 1,
};

Deno.test("save/load round trip gives identical outputs and keeps metadata", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = buildPart1({ seed: 3 });
    await model.save(folderSaver(dir, meta));
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["model.json", "weights.bin"], "no temp files left");
    const { model: back, meta: m } = await loadModelFolder(dir);
    assert.deepEqual(m, meta);
    const x = tf.randomNormal([2, 64, 80, 1], 0, 0.3, "float32", 1);
    const a = await (model.predict(x) as tf.Tensor).data();
    const b = await (back.predict(x) as tf.Tensor).data();
    assert.deepEqual(a, b);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loading refuses path traversal, truncated and oversized weights", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await buildPart1({ seed: 1 }).save(folderSaver(dir, meta));
    const json = JSON.parse(await Deno.readTextFile(`${dir}/model.json`));
    const weights = await Deno.readFile(`${dir}/weights.bin`);
    const read = (bytes: Uint8Array) => (_p: string) => Promise.resolve(bytes);
    for (const bad of ["../weights.bin", "/etc/passwd", "a/../../b", "C:\\w.bin"]) {
      const j = structuredClone(json);
      j.weightsManifest[0].paths = [bad];
      await assert.rejects(
        () => parseModelFolder(JSON.stringify(j), "m/model.json", read(weights)),
        /escapes the model folder/,
      );
    }
    await assert.rejects(
      () => parseModelFolder(JSON.stringify(json), "m/model.json", read(weights.slice(0, 100))),
      /m\/model\.json: weight files hold 100 bytes .* \(truncated file\)/,
    );
    const bigger = new Uint8Array(weights.length + 4);
    bigger.set(weights);
    await assert.rejects(
      () => parseModelFolder(JSON.stringify(json), "m/model.json", read(bigger)),
      /oversized file/,
    );
    const j = structuredClone(json);
    j.weightsManifest[0].weights[0].shape = [3, 3, 1, 17];
    await assert.rejects(
      () => parseModelFolder(JSON.stringify(j), "m/model.json", read(weights)),
      /need/,
    );
    await assert.rejects(
      () => parseModelFolder("{", "m/model.json", read(weights)),
      /not valid JSON/,
    );
    assert.equal(safeWeightPath("group1-shard1of2.bin", "x"), "group1-shard1of2.bin");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing model folder names the file", async () => {
  await assert.rejects(
    () => loadModelFolder("/nonexistent/model"),
    /\/nonexistent\/model\/model\.json: file not found/,
  );
});
