// The browser page in a real browser: headless Chromium (Debian's
// `chromium`) driven by puppeteer-core loads web/index.html from a local
// server on 127.0.0.1, runs on the fixture photo, and its keypoints match
// the command line's to 1 px. Skipped with a message where Chromium is absent.
import assert from "node:assert/strict";
import { serveStatic } from "../tasks/serve_web.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
if (!CHROMIUM) console.log("browser test skipped: no chromium (apt-get install chromium)");

interface PageFace {
  box: { x: number; y: number; width: number; height: number };
  keypoints: { x: number; y: number }[];
}

Deno.test({
  name: "web page in headless Chromium: two faces on the fixture, keypoints as the CLI's (1 px)",
  ignore: !CHROMIUM,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const build = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "build:web"],
      cwd: ROOT,
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(build.success, new TextDecoder().decode(build.stderr));
    // The only module the page must map is node:zlib (web/index.html's import map).
    const bundle = await Deno.readTextFile(`${ROOT}web/app.js`);
    const imports = [...bundle.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
    assert.deepEqual(imports, ["node:zlib"], "the page's script imports a module browsers lack");
    const cli = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "mod.ts", "predict", "fixtures/einstein.jpg"],
      cwd: ROOT,
      stdout: "piped",
    }).output();
    const want = JSON.parse(new TextDecoder().decode(cli.stdout)).faces as PageFace[];
    const server = serveStatic(ROOT, 0);
    // A computed specifier keeps puppeteer's DOM-laden types out of the
    // suite's type check (they clash with Deno's own Event and node types).
    const spec = "puppeteer-core";
    // deno-lint-ignore no-explicit-any
    const { default: puppeteer } = await import(spec) as { default: any };
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e: unknown) => errors.push(String(e)));
      await page.goto(`${server.url}web/index.html?image=../fixtures/einstein.jpg`);
      await page.waitForFunction("globalThis.facekitReady === true", { timeout: 240_000 });
      assert.deepEqual(errors, []);
      const got = await page.evaluate("globalThis.facekitResult") as PageFace[];
      assert.equal(got.length, want.length);
      for (const w of want) {
        const g = got.find((f) =>
          Math.abs(f.box.x - w.box.x) < 2 && Math.abs(f.box.y - w.box.y) < 2
        );
        assert.ok(g, `no face at ${JSON.stringify(w.box)} in the page`);
        w.keypoints.forEach((k, j) => {
          const d = Math.hypot(k.x - g.keypoints[j].x, k.y - g.keypoints[j].y);
          assert.ok(d < 1, `point ${j} is ${d.toFixed(2)} px from the CLI's`);
        });
      }
      const status = await page.evaluate("document.getElementById('status').textContent") as string;
      assert.match(status, /2 face\(s\)/);
    } finally {
      await browser.close();
      await server.close();
    }
  },
});
