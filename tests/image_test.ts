// Tests for lib/image/decode.ts: format sniffing, JPEG decoding (incl. truncated
// files), grayscale conversion, readImage errors, and that decoding runs
// without any Deno permission.
import assert from "node:assert/strict";
import { decodeImage, readImage, toGray } from "../lib/image/decode.ts";
import { encodePng } from "../lib/image/png.ts";

const SAMPLE = new URL("../../shared/samples/einstein.jpg", import.meta.url);
const SAMPLE_PATH = decodeURIComponent(SAMPLE.pathname);
let sample: Uint8Array | undefined;
try {
  sample = Deno.readFileSync(SAMPLE);
} catch {
  console.warn(
    `image_test: ${SAMPLE_PATH} is absent; the JPEG tests are skipped`,
  );
}
const noSample = sample === undefined;

Deno.test({
  name: "decodeImage: einstein.jpg is 817x1024 gray, opaque",
  ignore: noSample,
  fn() {
    const img = decodeImage(sample!, "einstein.jpg");
    assert.equal(img.width, 817);
    assert.equal(img.height, 1024);
    assert.equal(img.data.length, 817 * 1024 * 4);
    let sum = 0;
    for (let i = 0; i < img.data.length; i += 4 * 97) {
      assert.equal(img.data[i], img.data[i + 1]);
      assert.equal(img.data[i], img.data[i + 2]);
      assert.equal(img.data[i + 3], 255);
      sum += img.data[i];
    }
    const mean = sum / Math.ceil(img.data.length / (4 * 97));
    assert.ok(mean > 20 && mean < 235, `mean gray ${mean}`);
    const gray = toGray(img);
    assert.equal(gray.length, 817 * 1024);
    assert.ok(Math.abs(gray[5000] - img.data[5000 * 4]) < 0.01);
  },
});

Deno.test({
  name: "decodeImage: truncated JPEG throws naming the file",
  ignore: noSample,
  fn() {
    const bytes = sample!;
    const cuts = [3, 20, 100, 700, 5000, bytes.length >> 1, bytes.length - 2];
    cuts.push(bytes.length - 1);
    for (const n of cuts) {
      assert.throws(
        () => decodeImage(bytes.subarray(0, n), "einstein_cut.jpg"),
        /^Error: einstein_cut\.jpg: corrupt JPEG: /,
        `cut at ${n}`,
      );
    }
    assert.throws(
      () => decodeImage(bytes.subarray(0, bytes.length >> 1), "half.jpg"),
      /half\.jpg: corrupt JPEG: file is truncated \(no end-of-image marker\)/,
    );
    // Trailing bytes after the end-of-image marker are harmless.
    const padded = new Uint8Array(bytes.length + 5);
    padded.set(bytes);
    assert.equal(decodeImage(padded, "padded.jpg").width, 817);
  },
});

Deno.test("decodeImage: damaged JPEG header is wrapped as corrupt JPEG", () => {
  // SOI, then an SOF0 claiming 0 components, then SOS and EOI.
  const bytes = new Uint8Array([
    0xff,
    0xd8,
    0xff,
    0xc0,
    0x00,
    0x08,
    0x08,
    0x00,
    0x01,
    0x00,
    0x01,
    0x00,
    0xff,
    0xda,
    0x00,
    0x02,
    0xff,
    0xd9,
  ]);
  assert.throws(
    () => decodeImage(bytes, "broken.jpg"),
    /^Error: broken\.jpg: corrupt JPEG: /,
  );
});

Deno.test("decodeImage: unknown formats and PNG", () => {
  assert.throws(
    () => decodeImage(new TextEncoder().encode("GIF89a..."), "x.gif"),
    /^Error: x\.gif: not a JPEG or PNG image$/,
  );
  assert.throws(
    () => decodeImage(new Uint8Array(0)),
    /^Error: image: not a JPEG or PNG image$/,
  );
  const src = {
    width: 2,
    height: 1,
    data: new Uint8Array([10, 20, 30, 128, 200, 100, 0, 255]),
  };
  const img = decodeImage(encodePng(src), "two.png");
  assert.deepEqual([...img.data], [...src.data]); // alpha kept as stored
  const cut = encodePng(src).subarray(0, 40);
  assert.throws(() => decodeImage(cut, "two.png"), /two\.png: corrupt PNG/);
});

Deno.test("toGray: Rec. 601 luma, composited over black", () => {
  const img = {
    width: 4,
    height: 1,
    data: new Uint8ClampedArray([
      255,
      0,
      0,
      255,
      0,
      255,
      0,
      255,
      0,
      0,
      255,
      255,
      200,
      200,
      200,
      0,
    ]),
  };
  const g = toGray(img);
  assert.equal(g.length, 4);
  assert.ok(Math.abs(g[0] - 76.245) < 1e-3);
  assert.ok(Math.abs(g[1] - 149.685) < 1e-3);
  assert.ok(Math.abs(g[2] - 29.07) < 1e-3);
  assert.equal(g[3], 0);
  assert.throws(
    () => toGray({ width: 2, height: 2, data: new Uint8Array(4) }),
    /expected 16/,
  );
});

Deno.test("readImage: reads a file; missing file names the path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/dot.png`;
    await Deno.writeFile(
      path,
      encodePng({ width: 1, height: 1, data: new Uint8Array([1, 2, 3, 255]) }),
    );
    const img = await readImage(path);
    assert.deepEqual([...img.data], [1, 2, 3, 255]);
    await assert.rejects(
      () => readImage(`${dir}/nope.jpg`),
      new RegExp(`^Error: ${dir}/nope\\.jpg: file not found$`),
    );
    await assert.rejects(() => readImage(dir), /is a directory|cannot read/);
    await Deno.writeFile(`${dir}/junk.jpg`, new Uint8Array([1, 2, 3]));
    await assert.rejects(
      () => readImage(`${dir}/junk.jpg`),
      new RegExp(`${dir}/junk\\.jpg: not a JPEG or PNG image`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "decoding needs no permissions; readImage names --allow-read",
  ignore: noSample,
  async fn() {
    const config = decodeURIComponent(
      new URL("../deno.json", import.meta.url).pathname,
    );
    const lib = new URL("../lib/image/decode.ts", import.meta.url).href;
    const dir = await Deno.makeTempDir();
    try {
      const script = `${dir}/probe.ts`;
      await Deno.writeTextFile(
        script,
        `import { decodeImage, readImage } from "${lib}";
import { encodePng } from "${new URL("../lib/image/png.ts", import.meta.url).href}";
const chunks = [];
for await (const c of Deno.stdin.readable) chunks.push(c);
const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
let off = 0;
for (const c of chunks) { bytes.set(c, off); off += c.length; }
const jpg = decodeImage(bytes, "stdin.jpg");
const png = decodeImage(encodePng(jpg), "mem.png");
console.log("decoded", jpg.width, jpg.height, png.width, png.height);
try { await readImage("/etc/hostname"); } catch (e) { console.log((e as Error).message); }
`,
      );
      const cmd = new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-prompt", "--no-lock", "--config", config, script],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      });
      const child = cmd.spawn();
      const writer = child.stdin.getWriter();
      await writer.write(sample!);
      await writer.close();
      const out = await child.output();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      assert.match(stdout, /decoded 817 1024 817 1024/);
      assert.match(
        stdout,
        /\/etc\/hostname: read access denied; run with --allow-read=\/etc\/hostname/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
