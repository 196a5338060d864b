/**
 * Compiles every WebAssembly text module `lib/wasm/NAME.wat` (our own
 * kernels, with SIMD) with the npm package `wabt` and writes its binary,
 * base64, to `lib/wasm_NAME_binary.ts` as `WASM_NAME_BASE64` (NAME in upper
 * case). Re-run after editing a `.wat`; tests (`tests/wasm_adam_test.ts`,
 * `tests/wasm_simd_kernels_test.ts`) fail when a generated file is stale.
 * Only this generator and those tests use `wabt`; the runtime reads the
 * generated files.
 *
 * ```sh
 * deno task build:wasm
 * # or: deno run --allow-read=lib --allow-write=lib tasks/build_wasm.ts
 * ```
 *
 * @module
 */

import wabtInit from "wabt";
import { encodeBase64Chunks } from "../lib/backends/wasm_source.ts";
import { parseOrExit } from "../lib/cli/args.ts";

if (import.meta.main) {
  parseOrExit(
    Deno.args,
    {},
    "usage: deno task build:wasm\n  compile lib/backends/wasm/*.wat into lib/backends/wasm_*_binary.ts",
  );
}

/** The folder of the WebAssembly text sources, relative to the repository root. */
export const WAT_DIR = "lib/backends/wasm";

const ROOT = new URL("../", import.meta.url);

/** What is generated from one `.wat` file. */
export interface WasmModuleFiles {
  /** Module name: the `.wat` file name without extension. */
  name: string;
  /** The text source, relative to the repository root. */
  watPath: string;
  /** The generated TypeScript file, relative to the repository root. */
  binaryPath: string;
  /** The exported constant holding the base64 chunks. */
  constName: string;
}

/**
 * The generated file names for module `name` (`lib/wasm/NAME.wat`).
 *
 * @example
 * ```ts
 * import { wasmModuleFiles } from "./build_wasm.ts";
 * console.log(wasmModuleFiles("adam").binaryPath); // lib/backends/wasm_adam_binary.ts
 * ```
 */
export function wasmModuleFiles(name: string): WasmModuleFiles {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) {
    throw new Error(`${WAT_DIR}/${name}.wat: use lower-case letters, digits and _ in names`);
  }
  return {
    name,
    watPath: `${WAT_DIR}/${name}.wat`,
    binaryPath: `lib/backends/wasm_${name}_binary.ts`,
    constName: `WASM_${name.toUpperCase()}_BASE64`,
  };
}

/**
 * Every `lib/backends/wasm/*.wat` module, sorted by name.
 *
 * @example
 * ```ts ignore
 * import { listWasmModules } from "./build_wasm.ts";
 * console.log((await listWasmModules()).map((m) => m.name)); // [ "adam", "simd_kernels" ]
 * ```
 */
export async function listWasmModules(): Promise<WasmModuleFiles[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(new URL(`${WAT_DIR}/`, ROOT))) {
    if (entry.isFile && entry.name.endsWith(".wat")) names.push(entry.name.slice(0, -4));
  }
  return names.sort().map(wasmModuleFiles);
}

/**
 * Compiles WebAssembly text (SIMD and bulk memory enabled) to a validated
 * binary.
 *
 * @example
 * ```ts ignore
 * import { compileWat } from "./build_wasm.ts";
 * const bytes = await compileWat("(module)", "empty.wat");
 * console.log(bytes.length); // 8
 * ```
 */
export async function compileWat(text: string, filename: string): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const features = { simd: true, bulk_memory: true };
  const mod = wabt.parseWat(filename, text, features);
  try {
    mod.resolveNames();
    mod.validate();
    const { buffer } = mod.toBinary({ log: false, write_debug_names: false });
    return new Uint8Array(buffer);
  } finally {
    mod.destroy();
  }
}

/**
 * The text of the generated file of a compiled module.
 *
 * @example
 * ```ts ignore
 * import { binaryModuleSource, wasmModuleFiles } from "./build_wasm.ts";
 * console.log(binaryModuleSource(wasmModuleFiles("adam"), new Uint8Array([0, 97, 115, 109])));
 * ```
 */
export function binaryModuleSource(files: WasmModuleFiles, bytes: Uint8Array): string {
  return [
    `// Generated from ${files.watPath} by \`deno task build:wasm\``,
    `// (tasks/build_wasm.ts; wabt, SIMD enabled; ${bytes.length} bytes of wasm). Do not edit.`,
    "",
    `/** The WebAssembly module compiled from ${files.watPath}, base64 in chunks. */`,
    `export const ${files.constName}: string[] = [`,
    ...encodeBase64Chunks(bytes, 80).map((c) => `  "${c}",`),
    "];",
    "",
  ].join("\n");
}

/**
 * Compiles `lib/wasm/NAME.wat` and returns the text its generated file
 * should hold.
 *
 * @example
 * ```ts ignore
 * import { expectedBinarySource, wasmModuleFiles } from "./build_wasm.ts";
 * console.log((await expectedBinarySource(wasmModuleFiles("adam"))).length);
 * ```
 */
export async function expectedBinarySource(files: WasmModuleFiles): Promise<string> {
  const text = await Deno.readTextFile(new URL(files.watPath, ROOT));
  return binaryModuleSource(files, await compileWat(text, files.watPath));
}

async function main(): Promise<void> {
  for (const files of await listWasmModules()) {
    const source = await expectedBinarySource(files);
    const out = new URL(files.binaryPath, ROOT);
    const tmp = new URL(`${files.binaryPath}.tmp`, ROOT);
    await Deno.writeTextFile(tmp, source);
    await Deno.rename(tmp, out);
    console.log(`${files.binaryPath}: written from ${files.watPath}`);
  }
}

if (import.meta.main) {
  await main();
}
