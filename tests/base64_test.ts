import assert from "node:assert/strict";
import { base64Bytes } from "../lib/util/base64.ts";

Deno.test("base64Bytes joins the chunks in order and decodes them", () => {
  assert.deepEqual([...base64Bytes(["AGFz", "bQ=="])], [0, 97, 115, 109]);
  assert.deepEqual([...base64Bytes(["bQ==", ""])], [109]);
  assert.equal(base64Bytes([]).length, 0);
  // Every byte value survives (no text encoding in between).
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(base64Bytes([btoa(String.fromCharCode(...all))]), all);
  assert.throws(() => base64Bytes(["not base64!"]));
});
