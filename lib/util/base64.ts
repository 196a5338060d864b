/**
 * Bytes from base64 text split into chunks, as the generated
 * `lib/backends/*_binary.ts` modules store their WebAssembly.
 *
 * @module
 */

/**
 * Decodes base64 chunks (joined in order) into bytes.
 *
 * @example
 * ```ts
 * import { base64Bytes } from "./base64.ts";
 * console.log(base64Bytes(["AGFz", "bQ=="])); // Uint8Array [0, 97, 115, 109]
 * ```
 */
export function base64Bytes(chunks: readonly string[]): Uint8Array<ArrayBuffer> {
  const bin = atob(chunks.join(""));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}
