import assert from "node:assert/strict";
import { immPerson, immSplit, loadImm, parseAsf, parseDat } from "../lib/data/imm.ts";
import { IMM58 } from "../lib/data/layouts.ts";
import { resolveImmDir } from "../lib/course/imm_task.ts";

const FIX = new URL("../fixtures/", import.meta.url).pathname;
const REAL = new URL("../../shared/data/imm_face_db/", import.meta.url).pathname;
const hasReal = (() => {
  try {
    return Deno.statSync(REAL).isDirectory;
  } catch {
    return false;
  }
})();

Deno.test("parseDat reads 58 points and rejects bad files by name", async () => {
  const pts = parseDat(await Deno.readTextFile(`${FIX}imm/01-1m.dat`), "01-1m.dat");
  assert.equal(pts.length, 116);
  assert.throws(
    () => parseDat(Deno.readTextFileSync(`${FIX}bad/57_lines.dat`), "57_lines.dat"),
    /57_lines\.dat: expected 58 lines "index x y", found 57/,
  );
  assert.throws(
    () => parseDat(Deno.readTextFileSync(`${FIX}bad/nan.dat`), "nan.dat"),
    /nan\.dat: .*(not a number|non-finite)/,
  );
  assert.throws(
    () => parseDat("1 2\n".repeat(58), "x.dat"),
    /x\.dat: line 1: expected "index x y"/,
  );
});

Deno.test("parseAsf reads relative coordinates, header and host image", async () => {
  const text = await Deno.readTextFile(`${FIX}imm/02-1m.asf`);
  const shape = parseAsf(text, "02-1m.asf");
  assert.equal(shape.points.length, 116);
  assert.equal(shape.hostImage, "02-1m.jpg");
  // Relative x 0.5 -> 320 px in a 640-wide image.
  const one = parseAsf("# c\n1\n0 0 0.5 0.25 0 0 0\n", "a.asf", 1);
  assert.deepEqual(Array.from(one.points), [320, 120]);
  assert.throws(() => parseAsf("58\n0 0 0.1 0.1 0 0 0\n", "t.asf"), /t\.asf: truncated: 1 of 58/);
});

Deno.test("IMM person split: 1-32 train, 33-40 validation", () => {
  assert.equal(immPerson("07-3m.jpg"), 7);
  assert.equal(immSplit("32-6m"), "train");
  assert.equal(immSplit("33-1f"), "val");
  assert.throws(() => immPerson("face.jpg"), /not an IMM file name/);
});

Deno.test("loadImm reads .dat and .asf fixtures with their images", async () => {
  const faces = await loadImm(`${FIX}imm`, 1);
  assert.equal(faces.length, 6);
  const asf = faces.find((f) => f.name === "02-1m")!;
  assert.equal(asf.image.width, 640);
  // The fixture's dots are dark: the image is darker at a keypoint than at the face centre.
  const at = (x: number, y: number) => asf.image.data[Math.round(y) * 640 + Math.round(x)];
  assert.ok(at(asf.points[104], asf.points[105]) < 80, "nose tip drawn dark");
});

Deno.test("loadImm: missing image and corrupt JPEG errors name the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${FIX}imm/01-1m.dat`, `${dir}/05-1m.dat`);
    await assert.rejects(() => loadImm(dir), /05-1m\.dat: its image .*05-1m\.jpg is missing/);
    await Deno.copyFile(`${FIX}bad/truncated.jpg`, `${dir}/05-1m.jpg`);
    await assert.rejects(() => loadImm(dir), /05-1m\.jpg/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await assert.rejects(() => loadImm("/nonexistent/imm"), /not found: download the IMM/);
  assert.throws(() => resolveImmDir("/nonexistent/imm"), /download the IMM Face Database/);
});

Deno.test({
  name: "real IMM: 240 faces, mirrored mean shape matches under the flip map",
  ignore: !hasReal,
  fn: async () => {
    const faces = await loadImm(REAL, 1);
    assert.equal(faces.length, 240);
    assert.equal(faces.filter((f) => immSplit(f.name) === "train").length, 192);
    const meanShape = new Float64Array(116);
    for (const f of faces) {
      let cx = 0;
      for (let i = 0; i < 58; i++) cx += f.points[2 * i] / 58;
      for (let i = 0; i < 58; i++) {
        meanShape[2 * i] += (f.points[2 * i] - cx) / 240;
        meanShape[2 * i + 1] += f.points[2 * i + 1] / 240;
      }
    }
    // Mirroring the mean shape and re-pairing with the flip map gives back
    // the mean shape (within a few pixels).
    for (let i = 0; i < 58; i++) {
      const j = IMM58.flip[i];
      assert.ok(Math.abs(-meanShape[2 * j] - meanShape[2 * i]) < 6, `x of point ${i}`);
      assert.ok(Math.abs(meanShape[2 * j + 1] - meanShape[2 * i + 1]) < 6, `y of point ${i}`);
    }
  },
});
if (!hasReal) console.warn(`skipping real-IMM test: ${REAL} not found`);
