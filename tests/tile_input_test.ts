// The finder's tile input in plain TypeScript equals tfjs's avgPool +
// cropAndResize (the path it replaced) on the cpu backend.
import * as tf from "@tensorflow/tfjs";
import { ok, throws } from "node:assert/strict";
import { poolImage, sampleTile } from "../lib/detect/tile_input.ts";
import type { Tile } from "../lib/detect/tiles.ts";
import { createRng } from "../lib/util/random.ts";

/** The reference: the float photo, avgPool by k, cropAndResize (align-corners box). */
function reference(
  data: Uint8ClampedArray,
  width: number,
  height: number,
  tile: Tile,
  n: number,
  k: number,
): Float32Array {
  return tf.tidy(() => {
    const rgb = new Float32Array(width * height * 3);
    for (let i = 0; i < width * height; i++) {
      for (let c = 0; c < 3; c++) rgb[i * 3 + c] = data[i * 4 + c] / 127.5 - 1;
    }
    const full = tf.tensor4d(rgb, [1, height, width, 3]);
    const src = k > 1 ? tf.avgPool(full, k, k, "valid") as tf.Tensor4D : full;
    const [, h, w] = src.shape;
    const s = tile.size / n;
    const map = (origin: number, j: number, len: number): number =>
      ((origin + (j + 0.5) * s) / k - 0.5) / Math.max(1, len - 1);
    const box = [
      map(tile.y, 0, h),
      map(tile.x, 0, w),
      map(tile.y, n - 1, h),
      map(tile.x, n - 1, w),
    ];
    const out = tf.image.cropAndResize(
      src,
      tf.tensor2d([box], [1, 4]),
      tf.tensor1d([0], "int32"),
      [n, n],
      "bilinear",
      -1,
    );
    return out.dataSync() as Float32Array;
  });
}

Deno.test("tile input: poolImage + sampleTile equal avgPool + cropAndResize", async () => {
  await tf.setBackend("cpu");
  const rng = createRng(7);
  const [width, height] = [53, 41];
  const data = new Uint8ClampedArray(width * height * 4).map(() => Math.floor(rng.next() * 256));
  const cases: [Tile, number, number][] = [
    [{ x: -6, y: -12, size: 66 }, 16, 4], // whole photo, letterboxed
    [{ x: 0, y: 0, size: 40 }, 16, 2],
    [{ x: 20, y: 10, size: 24 }, 16, 1], // a tile inside the photo
    [{ x: 30, y: 25, size: 30 }, 12, 1], // crosses the bottom-right edge
    [{ x: -3, y: 5, size: 17 }, 9, 3],
  ];
  for (const [tile, n, k] of cases) {
    const ours = sampleTile(poolImage({ width, height, data }, k), tile, n);
    const ref = reference(data, width, height, tile, n, k);
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ours[i] - ref[i]));
    ok(ours.length === ref.length && worst < 1e-5, `${JSON.stringify(tile)} k=${k}: ${worst}`);
  }
});

Deno.test("tile input: short data and bad factors are errors", () => {
  throws(() => poolImage({ width: 4, height: 4, data: new Uint8Array(10) }, 1), /holds 10 bytes/);
  throws(() => poolImage({ width: 4, height: 4, data: new Uint8Array(64) }, 0), /integer >= 1/);
});
