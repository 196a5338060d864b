import assert from "node:assert/strict";
import { boxFromPoints, cropFace, enlargeBox, squareBox } from "../lib/data/face_box.ts";
import { IBUG68 } from "../lib/data/layouts.ts";
import {
  load300w,
  loadDlibXml,
  parseDlibXml,
  parsePts,
  resolve300wDir,
  W300_SPLIT,
  w300Group,
} from "../lib/data/w300.ts";

const FIX = new URL("../fixtures/300w/", import.meta.url).pathname;
const REAL = new URL("../../shared/data/300w/", import.meta.url).pathname;
const hasReal = (() => {
  try {
    return Deno.statSync(`${REAL}helen_testset`).isDirectory;
  } catch {
    return false;
  }
})();

const GOOD = Deno.readTextFileSync(`${FIX}raw/1000_1.pts`);

Deno.test("parsePts reads the 300-W form, tolerant of CRLF and whitespace", () => {
  const pts = parsePts(GOOD, "1000_1.pts");
  assert.equal(pts.length, 136);
  const first = GOOD.split("\n")[3].split(" ").map(Number);
  assert.deepEqual([pts[0], pts[1]], [Math.fround(first[0]), Math.fround(first[1])]);
  // CRLF fixture.
  assert.equal(parsePts(Deno.readTextFileSync(`${FIX}raw/1000_2.pts`), "1000_2.pts").length, 136);
  // Tabs, extra spaces, blank lines, a BOM, no space after the colon, CR only.
  const messy =
    "\uFEFF  version: 1 \r\n\r\nn_points:3\r\n {\r\n1\t2\r\n  3.5   -4e1 \r\n\r\n5 6\r\n}\r\n\r\n";
  assert.deepEqual(Array.from(parsePts(messy, "m.pts", 3)), [1, 2, 3.5, -40, 5, 6]);
  assert.deepEqual(
    Array.from(parsePts("version: 1\rn_points: 1\r{\r7 8\r}", "cr.pts", null)),
    [7, 8],
  );
});

Deno.test("parsePts: malformed files give clear errors naming the file", () => {
  const bad = (name: string) => Deno.readTextFileSync(`${FIX}bad/${name}`);
  assert.throws(
    () => parsePts(bad("truncated.pts"), "truncated.pts"),
    /truncated\.pts: truncated: no closing "\}" \(found 37 of 68 point lines\)/,
  );
  assert.throws(
    () => parsePts(bad("wrong_count.pts"), "wrong_count.pts"),
    /wrong_count\.pts: n_points is 68 but 67 point lines are between "\{" and "\}"/,
  );
  assert.throws(
    () => parsePts(bad("nan.pts"), "nan.pts"),
    /nan\.pts: line 11: point 8 has a non-finite x \(NaN\)/,
  );
  assert.throws(
    () => parsePts(bad("non_number.pts"), "non_number.pts"),
    /non_number\.pts: line 21: "abc" is not a number/,
  );
  assert.throws(
    () => parsePts(bad("no_header.pts"), "no_header.pts"),
    /no_header\.pts: line 1: missing header: expected "version: 1", got "\{"/,
  );
  assert.throws(() => parsePts("", "e.pts"), /e\.pts: empty \.pts file/);
  assert.throws(
    () => parsePts("version: 1\n{\n", "h.pts"),
    /h\.pts: missing header: expected "n_points: N"/,
  );
  assert.throws(
    () => parsePts("version: 1\nn_points: 2\n{\n1 2\n3 4\n}\n", "c.pts"),
    /c\.pts: n_points is 2, expected 68/,
  );
  assert.throws(
    () => parsePts("version: 1\nn_points: 1\n1 2\n}\n", "b.pts", 1),
    /b\.pts: missing "\{" after the header/,
  );
  assert.throws(
    () => parsePts("version: 1\nn_points: 1\n{\n1 2 3\n}\n", "x.pts", 1),
    /x\.pts: line 4: expected "x y", got "1 2 3"/,
  );
  assert.throws(
    () => parsePts("version: 1\nn_points: 1\n{\n1 2\n}\n3 4\n", "t.pts", 1),
    /t\.pts: line 6: unexpected text after "\}"/,
  );
  assert.throws(
    () => parsePts("version: 1\nn_points: 1\n{\n1 inf\n}\n", "i.pts", 1),
    /i\.pts: line 4: point 1 has a non-finite y/,
  );
});

Deno.test("w300Group: faces of one photo share a group", () => {
  assert.equal(w300Group("100032540_1"), "100032540");
  assert.equal(w300Group("helen/trainset/100032540_2.jpg"), "100032540");
  assert.equal(w300Group("afw/1051618982_1.pts"), "1051618982");
  assert.equal(w300Group("image_0042"), "image_0042");
  assert.equal(w300Group("lfpw\\trainset\\image_0042.png"), "image_0042");
  assert.equal(w300Group("image_003_1.jpg"), "image_003"); // iBUG challenging set
  assert.equal(w300Group("face"), "face");
  assert.deepEqual(W300_SPLIT, {
    train: ["helen_trainset", "lfpw_trainset", "afw"],
    val: ["helen_testset"],
  });
});

Deno.test("parseDlibXml: boxes, parts in order, both quote styles, boxes without parts", () => {
  const faces = parseDlibXml(Deno.readTextFileSync(`${FIX}dlib/labels.xml`), "labels.xml");
  assert.equal(faces.length, 4);
  assert.deepEqual(faces.map((f) => f.file), [
    "images/4000_1.jpg",
    "images/4000_1.jpg",
    "images/image_0100.png",
    "images/image_0100.png",
  ]);
  assert.deepEqual(faces[0].box, { x: 2, y: 2, w: 28, h: 32 });
  assert.deepEqual(faces[1].box, { x: 34, y: 6, w: 24, h: 26 }); // double quotes
  assert.equal(faces[1].points!.length, 136);
  assert.equal(faces[3].points, null);
  assert.equal(faces[3].ignore, true);
  assert.equal(faces[0].ignore, false);
  // Part order follows the name, not the file order; entities are decoded.
  const xml =
    `<dataset><images><image file="a&amp;b.jpg"><box top='1' left='2' width='3' height='4'>
    <part name='01' x='30' y='40'/><part name="00" x="10" y="20" />
  </box><box top='0' left='0' width='5' height='5'></box></image></images></dataset>`;
  const two = parseDlibXml(xml, "t.xml", 2);
  assert.equal(two[0].file, "a&b.jpg");
  assert.deepEqual(Array.from(two[0].points!), [10, 20, 30, 40]);
  assert.equal(two[1].points, null);
});

Deno.test("parseDlibXml: bad XML and bad labels give errors naming the file and line", () => {
  const full = Deno.readTextFileSync(`${FIX}dlib/labels.xml`);
  assert.throws(
    () => parseDlibXml(full.slice(0, Math.floor(full.length / 2)), "cut.xml"),
    /cut\.xml: bad XML.*truncated/,
  );
  const wrap = (inner: string) => `<dataset><images>${inner}</images></dataset>`;
  const part = (i: number) => `<part name='${String(i).padStart(2, "0")}' x='1' y='2'/>`;
  const parts = (n: number) => Array.from({ length: n }, (_, i) => part(i)).join("");
  const cases: [string, RegExp][] = [
    [
      wrap(`<image file='a.jpg'><box top='1' left='1' width='2' height='2'>${parts(68)}</image>`),
      /b\.xml: line 1: bad XML: <\/image> closes <box>/,
    ],
    [
      wrap(`<image file='a.jpg'><box top='1' left='1' width='2'>${parts(68)}</box></image>`),
      /b\.xml: line 1: <box> has no height attribute/,
    ],
    [
      wrap(`<image file='a.jpg'><box top='1' left='x' width='2' height='2'></box></image>`),
      /b\.xml: line 1: <box> left="x" is not a finite number/,
    ],
    [
      wrap(`<image file='a.jpg'><box top=1 left='1' width='2' height='2'></box></image>`),
      /b\.xml: bad XML at line 1: attribute top of <box> is not quoted/,
    ],
    [
      wrap(`<image file='a.jpg'><box top='1 left='1' width='2' height='2'></box></image>`),
      /b\.xml: bad XML at line 1: bad attribute in <box> near "1' width/,
    ],
    [wrap(`<image file='a.jpg'>${part(0)}</image>`), /b\.xml: line 1: <part> outside a <box>/],
    [wrap(`<box top='1' left='1' width='2' height='2'></box>`), /<box> outside an <image>/],
    [
      wrap(`<image><box top='1' left='1' width='2' height='2'></box></image>`),
      /<image> has no file attribute/,
    ],
    [
      wrap(
        `<image file='a.jpg'><box top='1' left='1' width='2' height='2'>${parts(67)}</box></image>`,
      ),
      /b\.xml: line 1: box in a\.jpg has 67 parts, part 67 is missing \(expected 68\)/,
    ],
    [
      wrap(
        `<image file='a.jpg'><box top='1' left='1' width='2' height='2'>${part(68)}</box></image>`,
      ),
      /part name "68" is not a number in 00\.\.67/,
    ],
    [
      wrap(
        `<image file='a.jpg'><box top='1' left='1' width='2' height='2'>${part(3)}${
          part(3)
        }</box></image>`,
      ),
      /part 03 repeated/,
    ],
    [
      `<dataset>\n<images>\n<image file='a.jpg'>\n</images></dataset>`,
      /b\.xml: line 4: bad XML: <\/images> closes <image> opened on line 3/,
    ],
    [`<dataset><!-- never closed`, /b\.xml: bad XML at line 1: unterminated comment/],
    [`just some text`, /b\.xml: not a dlib landmark XML file/],
    [`<dataset><images></dataset>`, /closes <images>/],
  ];
  for (const [xml, re] of cases) assert.throws(() => parseDlibXml(xml, "b.xml"), re, xml);
});

Deno.test("load300w reads .pts + jpg/png pairs: groups, channels, odd image formats", async () => {
  const faces = await load300w([`${FIX}raw`], { channels: 3 });
  assert.deepEqual(faces.map((f) => f.name), [
    "1000_1",
    "1000_2",
    "2000_1",
    "3000_1",
    "image_0007",
  ]);
  assert.deepEqual(faces.map((f) => f.group), ["1000", "1000", "2000", "3000", "image_0007"]);
  const byName = new Map(faces.map((f) => [f.name, f]));
  const at = (name: string, x: number, y: number, c = 0) => {
    const f = byName.get(name)!;
    return f.image.data[(Math.round(y) * f.image.width + Math.round(x)) * f.image.channels + c];
  };
  // RGB JPEG: bright dots on every keypoint.
  const a = byName.get("1000_1")!;
  assert.equal(a.image.channels, 3);
  for (let i = 0; i < 68; i++) assert.ok(at("1000_1", a.points[2 * i], a.points[2 * i + 1]) > 150);
  // RGBA PNG with alpha: colours as stored, alpha ignored.
  assert.deepEqual([0, 1, 2].map((c) => at("1000_2", 1, 0, c)), [30, 40, 50]);
  // 16-bit grayscale PNG (high byte kept); point 0 lies outside the image.
  const d = byName.get("2000_1")!;
  assert.equal(d.points[0], -3.25);
  assert.equal(at("2000_1", 0, 31), 30);
  assert.equal(at("2000_1", d.points[10], d.points[11]), 255);
  // Single-component grayscale JPEG: flat blocks 40 + 50 bx + 20 by, equal channels.
  assert.deepEqual([0, 1, 2].map((c) => at("image_0007", 9, 9, c)), [110, 110, 110]);
  // 1x1 image.
  assert.equal(byName.get("3000_1")!.image.width, 1);
  // Grayscale.
  const gray = await load300w([`${FIX}raw`], { channels: 1, limit: 2 });
  assert.equal(gray.length, 2);
  assert.equal(gray[0].image.channels, 1);
  assert.equal(gray[0].image.data.length, 48 * 48);
});

Deno.test("load300w: missing folder, image or bad label are errors naming the file", async () => {
  await assert.rejects(
    () => load300w(["/nonexistent/300w/afw"], { channels: 1 }),
    /300-W data folder \/nonexistent\/300w\/afw not found: get the 300-W data \(iBUG 300 Faces In-the-Wild/,
  );
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(() => load300w([dir], { channels: 1 }), /no \.pts label files/);
    await Deno.copyFile(`${FIX}raw/1000_1.pts`, `${dir}/5_1.pts`);
    await assert.rejects(
      () => load300w([dir], { channels: 1 }),
      /5_1\.pts: its image .*5_1\.jpg \(or \.png\) is missing/,
    );
    await Deno.writeFile(`${dir}/5_1.jpg`, new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16]));
    await assert.rejects(() => load300w([dir], { channels: 1 }), /5_1\.jpg: corrupt JPEG/);
    await Deno.copyFile(`${FIX}raw/1000_1.jpg`, `${dir}/5_1.jpg`);
    assert.equal((await load300w([dir], { channels: 1 })).length, 1);
    await Deno.copyFile(`${FIX}bad/nan.pts`, `${dir}/5_1.pts`);
    await assert.rejects(() => load300w([dir], { channels: 1 }), /5_1\.pts: line 11: point 8/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadDlibXml: images relative to the XML, one decode per photo, crops line up", async () => {
  const faces = await loadDlibXml(`${FIX}dlib/labels.xml`, 1);
  assert.deepEqual(faces.map((f) => f.name), ["4000_1#0", "4000_1#1", "image_0100"]);
  assert.deepEqual(faces.map((f) => f.group), ["4000", "4000", "image_0100"]);
  assert.equal(faces[0].image, faces[1].image, "the photo is decoded once");
  assert.equal(faces[0].image.width, 64);
  assert.equal(faces[2].image.width, 32);
  for (const f of faces) {
    const crop = cropFace(f.image, f.points, squareBox(enlargeBox(f.box, 0.1)), 48, {
      name: f.name,
    });
    // Every keypoint is inside the crop and lies on a bright dot.
    for (let i = 0; i < 68; i++) {
      const x = crop.points[2 * i], y = crop.points[2 * i + 1];
      assert.ok(x > -0.5 && y > -0.5 && x < 47.5 && y < 47.5, `${f.name} point ${i}`);
      const v = crop.image.data[Math.round(y) * 48 + Math.round(x)];
      assert.ok(v > 120, `${f.name} point ${i}: value ${v}`);
    }
  }
  await assert.rejects(() => loadDlibXml(`${FIX}dlib/none.xml`), /none\.xml: file not found/);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${FIX}dlib/labels.xml`, `${dir}/labels.xml`);
    await assert.rejects(
      () => loadDlibXml(`${dir}/labels.xml`),
      /labels\.xml: its image .*images\/4000_1\.jpg is missing/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resolve300wDir: flag, then FACEKIT_300W, with a message where to get 300-W", () => {
  assert.equal(resolve300wDir(`${FIX}raw`), `${FIX}raw`);
  assert.throws(
    () => resolve300wDir("/nonexistent/300w"),
    /300-W data folder \/nonexistent\/300w \(from --data\) not found: .*iBUG 300 Faces In-the-Wild.*research use only/,
  );
  const old = Deno.env.get("FACEKIT_300W");
  try {
    Deno.env.set("FACEKIT_300W", `${FIX}dlib`);
    assert.equal(resolve300wDir(undefined), `${FIX}dlib`);
    Deno.env.set("FACEKIT_300W", "/nonexistent/env300w");
    assert.throws(() => resolve300wDir(undefined), /\/nonexistent\/env300w \(from FACEKIT_300W\)/);
  } finally {
    if (old === undefined) Deno.env.delete("FACEKIT_300W");
    else Deno.env.set("FACEKIT_300W", old);
  }
});

Deno.test({
  name:
    "real 300-W: every .pts parses, helen_testset loads 330 faces, mean shape is mirror-symmetric",
  ignore: !hasReal,
  fn: async () => {
    const expected: Record<string, number> = {
      helen_trainset: 870,
      helen_testset: 330,
      lfpw_trainset: 802,
      afw: 273,
    };
    const mean = new Float64Array(136);
    let n = 0;
    for (const [subset, count] of Object.entries(expected)) {
      const labels = [...Deno.readDirSync(`${REAL}${subset}`)].filter((e) =>
        e.name.endsWith(".pts")
      );
      assert.equal(labels.length, count, subset);
      for (const e of labels) {
        const pts = parsePts(Deno.readTextFileSync(`${REAL}${subset}/${e.name}`), e.name);
        // Mean shape in box-normalised coordinates (each face's keypoint box -> unit square).
        const b = boxFromPoints(pts);
        for (let i = 0; i < 68; i++) {
          mean[2 * i] += (pts[2 * i] + 0.5 - b.x) / b.w;
          mean[2 * i + 1] += (pts[2 * i + 1] + 0.5 - b.y) / b.h;
        }
        n++;
      }
    }
    for (let i = 0; i < 136; i++) mean[i] /= n;
    // Mirror x -> 1 - x and re-pair with the flip map: within a few px on a 100 px face.
    let worst = 0, worstIdentity = 0;
    for (let i = 0; i < 68; i++) {
      const j = IBUG68.flip[i];
      const d = Math.hypot(1 - mean[2 * j] - mean[2 * i], mean[2 * j + 1] - mean[2 * i + 1]);
      const dId = Math.hypot(1 - mean[2 * i] - mean[2 * i], 0);
      worst = Math.max(worst, d * 100);
      worstIdentity = Math.max(worstIdentity, dId * 100);
    }
    // (The mean face is slightly turned: the chin is off by about 3 px.)
    assert.ok(worst < 5, `mirrored mean shape is ${worst.toFixed(2)} px off (100 px face)`);
    // Threshold-free: each point's mirror partner is the nearest mirrored mean point.
    for (let i = 0; i < 68; i++) {
      let best = -1, bestD = Infinity;
      for (let j = 0; j < 68; j++) {
        const d = Math.hypot(1 - mean[2 * j] - mean[2 * i], mean[2 * j + 1] - mean[2 * i + 1]);
        if (d < bestD) [best, bestD] = [j, d];
      }
      assert.equal(best, IBUG68.flip[i], `nearest mirrored point of ${i}`);
    }
    assert.ok(worstIdentity > 20, "without the flip map the mirror does not match (sanity)");

    const val = await load300w(W300_SPLIT.val.map((d) => `${REAL}${d}`), { channels: 1 });
    assert.equal(val.length, 330);
    const groups = new Set(val.map((f) => f.group));
    assert.ok(groups.size <= 330 && groups.size > 250, `${groups.size} photos`);
    for (const f of val) assert.ok(f.image.width > 0 && f.points.length === 136);
  },
});
if (!hasReal) {
  console.warn(
    `skipping real-300-W test: ${REAL}helen_testset not found (300-W: iBUG 300 Faces In-the-Wild, research use only)`,
  );
}
