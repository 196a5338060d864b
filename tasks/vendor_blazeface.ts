/**
 * Copies the BlazeFace weights shipped in `models/blazeface/` from the npm
 * package they come from (`@vladmandic/human`, version pinned in
 * `deno.json`), or with `--check` only verifies that the shipped files are
 * byte-identical to the package's. The package is fetched from the npm
 * registry by `deno install` like any dependency; nothing is downloaded at run time
 * by the library itself.
 *
 * ```sh
 * deno task models:blazeface [--check]
 * ```
 *
 * @module
 */

import { parseOrExit } from "../lib/cli/args.ts";
import { writeFileAtomic } from "../lib/util/fs_util.ts";

const USAGE = `usage: deno task models:blazeface [--check]
  copy (or with --check, verify) models/blazeface/ from the pinned @vladmandic/human package`;
const { values } = parseOrExit(Deno.args, { check: { type: "boolean", default: false } }, USAGE);

const FILES = ["blazeface.json", "blazeface.bin"];
const base = new URL("../node_modules/@vladmandic/human/", import.meta.url);
let pkg: { name: string; version: string };
try {
  pkg = JSON.parse(await Deno.readTextFile(new URL("package.json", base)));
} catch {
  console.error(
    `error: ${base.pathname} is missing: run "deno install" first (deno task models:blazeface does)`,
  );
  Deno.exit(1);
}
const from = new URL("models/", base);
const to = new URL("../models/blazeface/", import.meta.url);
let differ = 0;
for (const f of FILES) {
  const bytes = await Deno.readFile(new URL(f, from));
  const sha = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  if (values.check) {
    const shipped = await Deno.readFile(new URL(f, to));
    const same = shipped.length === bytes.length && shipped.every((b, i) => b === bytes[i]);
    if (!same) differ++;
    console.log(
      `${f}: ${same ? "identical to" : "DIFFERS from"} ${pkg.name}@${pkg.version} (sha256 ${sha})`,
    );
  } else {
    await writeFileAtomic(new URL(f, to).pathname, bytes);
    console.log(`models/blazeface/${f}: copied from ${pkg.name}@${pkg.version} (sha256 ${sha})`);
  }
}
if (differ) Deno.exit(1);
