/**
 * Compiles `lib/wasm/adam.wat` (the fused Adam step, WebAssembly text with
 * SIMD) with the npm package `wabt` and writes the binary, base64, to
 * `lib/wasm_adam_binary.ts`. Re-run after editing the `.wat`; a test
 * (`tests/wasm_adam_test.ts`) fails when the generated file is stale. Only
 * this generator and that test use `wabt`; the runtime reads the generated
 * file.
 *
 * ```sh
 * deno run --allow-read=lib --allow-write=lib tasks/build_wasm_adam.ts
 * ```
 *
 * @module
 */

import wabtInit from "wabt";
import { encodeBase64Chunks } from "../lib/wasm_source.ts";

/** The WebAssembly text source, relative to the repository root. */
export const ADAM_WAT_PATH = "lib/wasm/adam.wat";
/** The generated TypeScript file, relative to the repository root. */
export const ADAM_BINARY_PATH = "lib/wasm_adam_binary.ts";

const ROOT = new URL("../", import.meta.url);

/**
 * Compiles WebAssembly text (SIMD enabled) to a validated binary.
 *
 * @example
 * ```ts ignore
 * import { compileWat } from "./build_wasm_adam.ts";
 * const bytes = await compileWat("(module)", "empty.wat");
 * console.log(bytes.length); // 8
 * ```
 */
export async function compileWat(text: string, filename: string): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const features = { simd: true };
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
 * The text of `lib/wasm_adam_binary.ts` for a compiled module.
 *
 * @example
 * ```ts ignore
 * import { binaryModuleSource } from "./build_wasm_adam.ts";
 * console.log(binaryModuleSource(new Uint8Array([0, 97, 115, 109])));
 * ```
 */
export function binaryModuleSource(bytes: Uint8Array): string {
  return [
    `// Generated from ${ADAM_WAT_PATH} by \`deno run --allow-read=lib --allow-write=lib ` +
    "tasks/build_wasm_adam.ts`",
    `// (wabt, SIMD enabled; ${bytes.length} bytes of wasm). Do not edit; re-run that command.`,
    "",
    "/** The fused Adam WebAssembly module, base64 in chunks. */",
    "export const WASM_ADAM_BASE64: string[] = [",
    ...encodeBase64Chunks(bytes, 80).map((c) => `  "${c}",`),
    "];",
    "",
  ].join("\n");
}

/**
 * Compiles `lib/wasm/adam.wat` and returns the text the generated file
 * should hold.
 *
 * @example
 * ```ts ignore
 * import { expectedBinarySource } from "./build_wasm_adam.ts";
 * console.log((await expectedBinarySource()).length);
 * ```
 */
export async function expectedBinarySource(): Promise<string> {
  const text = await Deno.readTextFile(new URL(ADAM_WAT_PATH, ROOT));
  return binaryModuleSource(await compileWat(text, ADAM_WAT_PATH));
}

async function main(): Promise<void> {
  const source = await expectedBinarySource();
  const out = new URL(ADAM_BINARY_PATH, ROOT);
  const tmp = new URL(`${ADAM_BINARY_PATH}.tmp`, ROOT);
  await Deno.writeTextFile(tmp, source);
  await Deno.rename(tmp, out);
  console.log(`${ADAM_BINARY_PATH}: written from ${ADAM_WAT_PATH}`);
}

if (import.meta.main) {
  await main();
}
