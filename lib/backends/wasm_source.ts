/**
 * Starting tfjs's wasm backend without file permissions: the binary is
 * embedded (base64, `lib/backends/wasm_binary.ts`) and handed to tfjs through a
 * `blob:` URL, which Deno fetches without `--allow-read`.
 *
 * @module
 */

import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { WASM_SIMD_BASE64 } from "./wasm_binary.ts";
import { base64Bytes } from "../util/base64.ts";

let url: string | null = null;

/**
 * Base64-encodes bytes in fixed-size chunks (so generated sources keep
 * short lines).
 *
 * @example
 * ```ts
 * import { encodeBase64Chunks } from "./wasm_source.ts";
 * console.log(encodeBase64Chunks(new Uint8Array([1, 2, 3]), 4)); // [ "AQID" ]
 * ```
 */
export function encodeBase64Chunks(bytes: Uint8Array, chunkChars: number): string[] {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  const b64 = btoa(bin);
  const out: string[] = [];
  for (let i = 0; i < b64.length; i += chunkChars) out.push(b64.slice(i, i + chunkChars));
  return out;
}

/**
 * Decodes the embedded wasm binary.
 *
 * @example
 * ```ts
 * import { embeddedWasm } from "./wasm_source.ts";
 * const b = embeddedWasm();
 * console.log(b[0], b[1], b[2], b[3]); // 0 97 115 109
 * ```
 */
export function embeddedWasm(): Uint8Array {
  return base64Bytes(WASM_SIMD_BASE64);
}

/**
 * Path of the SIMD binary inside the installed npm package (for the
 * generator and the test that checks the embedded copy).
 *
 * @example
 * ```ts ignore
 * import { wasmPackageFile } from "./wasm_source.ts";
 * console.log(wasmPackageFile());
 * ```
 */
export function wasmPackageFile(): string {
  const main = import.meta.resolve("@tensorflow/tfjs-backend-wasm");
  const path = new URL(main).pathname;
  return path.replace(/dist\/.*$/, "dist/tfjs-backend-wasm-simd.wasm");
}

/**
 * Points tfjs-backend-wasm at the embedded binary (idempotent); call before
 * the wasm backend is first initialised.
 *
 * @example
 * ```ts ignore
 * import { useEmbeddedWasm } from "./wasm_source.ts";
 * useEmbeddedWasm();
 * await tf.setBackend("wasm");
 * ```
 */
export function useEmbeddedWasm(): void {
  if (url) return;
  const bytes = embeddedWasm();
  url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: "application/wasm" }));
  // Deno has SIMD but no wasm threads, so tfjs asks for the SIMD file; the
  // plain name maps to it too, since every engine Deno ships supports SIMD.
  setWasmPaths({
    "tfjs-backend-wasm.wasm": url,
    "tfjs-backend-wasm-simd.wasm": url,
    "tfjs-backend-wasm-threaded-simd.wasm": url,
  }, true);
}
