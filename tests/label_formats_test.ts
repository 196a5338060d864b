// Label formats: dlib -> COCO -> CSV -> pts -> dlib keeps every face, box
// and point; bad files give errors that name the file and the problem.
import assert from "node:assert/strict";
import { convertLabels } from "../lib/course/convert.ts";
import { parseLabels, readLabels } from "../lib/data/label_formats.ts";

const XML = new URL("../fixtures/300w/dlib/labels.xml", import.meta.url).pathname;

Deno.test("convert: dlib -> coco -> csv -> pts -> dlib round trip", async () => {
  const dir = await Deno.makeTempDir({ prefix: "facekit-convert-" });
  try {
    const start = await readLabels(XML, "dlib");
    await convertLabels(XML, "dlib", `${dir}/a.json`, "coco");
    await convertLabels(`${dir}/a.json`, "coco", `${dir}/b/a.csv`, "csv");
    await convertLabels(`${dir}/b/a.csv`, "csv", `${dir}/pts`, "pts");
    const n = await convertLabels(`${dir}/pts`, "pts", `${dir}/back.xml`, "dlib");
    const faces = start.images.reduce((s, im) => s + im.faces.length, 0);
    assert.equal(n, faces);
    const csv = await readLabels(`${dir}/b/a.csv`, "csv");
    assert.equal(csv.points, 68);
    assert.deepEqual(
      csv.images.map((i) => i.faces.length),
      start.images.map((i) => i.faces.length),
    );
    csv.images.forEach((im, i) =>
      im.faces.forEach((f, k) => {
        const g = start.images[i].faces[k];
        f.points.forEach((v, j) => assert.ok(Math.abs(v - g.points[j]) < 1e-3));
        assert.deepEqual(f.box, g.box);
      })
    );
    // The CSV's image paths point at the real images from its own folder.
    await Deno.stat(new URL(csv.images[0].image, `file://${dir}/b/`));
    const back = await readLabels(`${dir}/back.xml`, "dlib");
    assert.equal(back.images.reduce((s, im) => s + im.faces.length, 0), faces);
    // A two-face photo becomes two .pts files, each with its image.
    const names = [...Deno.readDirSync(`${dir}/pts`)].map((e) => e.name).sort();
    assert.ok(names.includes("4000_1_1.pts") && names.includes("4000_1_2.jpg"), names.join(" "));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad label files name the file and the problem", () => {
  assert.throws(
    () => parseLabels("image,box_x,box_y,box_w,box_h,x0,y0\na.jpg,1,2\n", "csv", "f.csv"),
    /f\.csv: line 2 has 3 cells/,
  );
  assert.throws(() => parseLabels("x,y\n", "csv", "f.csv"), /f\.csv: CSV header/);
  assert.throws(() => parseLabels("{", "coco", "c.json"), /c\.json: not JSON/);
  assert.throws(
    () =>
      parseLabels(
        JSON.stringify({
          images: [{ id: 1, file_name: "a" }],
          annotations: [{ image_id: 1, keypoints: [1, 2, 2, 3, 4, 2] }, {
            image_id: 1,
            keypoints: [1, 2, 2],
          }],
        }),
        "coco",
        "c.json",
      ),
    /c\.json: a: a face has 2 points .*expected 1/,
  );
});

Deno.test("train part3 runs from each label format (a few steps on the fixtures)", async () => {
  const { setupBackend } = await import("../lib/backends/backend.ts");
  const { runPart3 } = await import("../lib/course/w300_task.ts");
  const backend = await setupBackend("wasm");
  const dir = await Deno.makeTempDir({ prefix: "facekit-train-formats-" });
  try {
    const sources: Record<string, string> = {
      dlib: XML,
      coco: `${dir}/faces.json`,
      csv: `${dir}/faces.csv`,
      pts: `${dir}/pts`,
    };
    await convertLabels(XML, "dlib", sources.coco, "coco");
    await convertLabels(XML, "dlib", sources.csv, "csv");
    await convertLabels(XML, "dlib", sources.pts, "pts");
    for (const [format, data] of Object.entries(sources)) {
      const summary = await runPart3({
        data,
        out: `${dir}/run_${format}`,
        epochs: 1,
        batch: 2,
        lr: 1e-3,
        seed: 1,
        resume: false,
        inputSize: 32,
        channels: 1,
        depth: 18,
        width: 0.125,
        bottleneckWidth: 1,
        boxScale: 0.25,
        jitter: 0.05,
        loss: "smoothl1",
        warmup: 0,
        decay: "constant",
        backend,
        quiet: true,
        check: false,
      });
      assert.equal(summary.trainFaces + summary.valFaces, 3, format);
      assert.ok(summary.valFaces >= 1, format);
      assert.ok(Number.isFinite(summary.nmePercent), format);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
