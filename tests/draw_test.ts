// Tests for lib/image/draw.ts and lib/report/plot.ts.
import assert from "node:assert/strict";
import {
  blank,
  blit,
  drawCross,
  drawDot,
  drawLine,
  drawText,
  fillRect,
  grayToRgba,
  scaleNearest,
  textHeight,
  textWidth,
  tile,
} from "../lib/image/draw.ts";
import { curveChart, lineChart } from "../lib/report/plot.ts";
import type { RgbaImage } from "../lib/image/decode.ts";

function px(img: RgbaImage, x: number, y: number): number[] {
  const o = (y * img.width + x) * 4;
  return [...img.data.subarray(o, o + 4)];
}

function countColor(img: RgbaImage, rgb: readonly number[]): number {
  let n = 0;
  for (let o = 0; o < img.data.length; o += 4) {
    if (
      img.data[o] === rgb[0] && img.data[o + 1] === rgb[1] &&
      img.data[o + 2] === rgb[2]
    ) n++;
  }
  return n;
}

Deno.test("blank fills colour and alpha", () => {
  const img = blank(3, 2, [1, 2, 3]);
  assert.equal(img.data.length, 24);
  assert.deepEqual(px(img, 2, 1), [1, 2, 3, 255]);
  assert.deepEqual(px(blank(1, 1, [9, 9, 9], 0), 0, 0), [9, 9, 9, 0]);
  assert.throws(() => blank(0, 1), /invalid size/);
});

Deno.test("drawDot colours the right pixels", () => {
  const img = blank(20, 20);
  drawDot(img, 10, 5, 2, [255, 0, 0]);
  assert.deepEqual(px(img, 10, 5), [255, 0, 0, 255]);
  assert.deepEqual(px(img, 12, 5), [255, 0, 0, 255]);
  assert.deepEqual(px(img, 10, 3), [255, 0, 0, 255]);
  assert.deepEqual(px(img, 12, 7), [0, 0, 0, 255]); // outside the disc
  assert.deepEqual(px(img, 13, 5), [0, 0, 0, 255]);
  assert.equal(countColor(img, [255, 0, 0]), 13);

  const one = blank(8, 8);
  drawDot(one, 3.4, 5.6, 0, [0, 255, 0]);
  assert.equal(countColor(one, [0, 255, 0]), 1);
  assert.deepEqual(px(one, 3, 6), [0, 255, 0, 255]);

  // Clipped at the border, NaN ignored.
  const edge = blank(4, 4);
  drawDot(edge, 0, 0, 3, [0, 0, 255]);
  drawDot(edge, NaN, 1, 3, [255, 255, 255]);
  assert.deepEqual(px(edge, 0, 0), [0, 0, 255, 255]);
  assert.equal(countColor(edge, [255, 255, 255]), 0);
});

Deno.test("drawLine, drawCross, fillRect", () => {
  const img = blank(10, 10);
  drawLine(img, 1, 2, 8, 2, [255, 255, 255]);
  for (let x = 1; x <= 8; x++) {
    assert.deepEqual(px(img, x, 2), [255, 255, 255, 255]);
  }
  assert.equal(countColor(img, [255, 255, 255]), 8);

  const diag = blank(10, 10);
  drawLine(diag, 0, 0, 9, 9, [1, 1, 1]);
  for (let i = 0; i < 10; i++) assert.deepEqual(px(diag, i, i), [1, 1, 1, 255]);
  assert.equal(countColor(diag, [1, 1, 1]), 10);

  const thick = blank(10, 10);
  drawLine(thick, 2, 5, 7, 5, [7, 7, 7], 3);
  // Square stamps: 3 rows, and the ends grow by 1 px (square caps).
  assert.equal(countColor(thick, [7, 7, 7]), 8 * 3);
  drawLine(thick, -100, -100, -50, -50, [9, 9, 9], 3); // fully outside
  assert.equal(countColor(thick, [9, 9, 9]), 0);

  const cross = blank(11, 11);
  drawCross(cross, 5, 5, 3, [0, 200, 0]);
  assert.equal(countColor(cross, [0, 200, 0]), 13);
  assert.deepEqual(px(cross, 8, 5), [0, 200, 0, 255]);
  assert.deepEqual(px(cross, 5, 2), [0, 200, 0, 255]);

  const rect = blank(6, 6);
  fillRect(rect, 4, 4, 10, 10, [5, 5, 5]);
  assert.equal(countColor(rect, [5, 5, 5]), 4);
});

Deno.test("drawText stays inside its measured box", () => {
  for (const scale of [1, 3]) {
    const img = blank(200, 60, [255, 255, 255]);
    const text = "NME: 3.5% (a/b),\nxy-z";
    drawText(img, 5, 4, text, [0, 0, 0], scale);
    const w = textWidth(text, scale), h = textHeight(text, scale);
    let inside = 0;
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) {
        if (px(img, x, y)[0] !== 0) continue;
        assert.ok(
          x >= 5 && x < 5 + w && y >= 4 && y < 4 + h,
          `ink at ${x},${y}`,
        );
        inside++;
      }
    }
    assert.ok(inside > 50 * scale * scale);
  }
  assert.equal(textWidth(""), 0);
  assert.equal(textWidth("ab"), 11);
  assert.equal(textHeight("a"), 7);
  // Lower case draws like upper case.
  const a = blank(8, 8), b = blank(8, 8);
  drawText(a, 1, 1, "q", [255, 0, 0]);
  drawText(b, 1, 1, "Q", [255, 0, 0]);
  assert.deepEqual(a.data, b.data);
});

Deno.test("grayToRgba maps lo..hi to black..white", () => {
  const img = grayToRgba(new Float32Array([0, 0.5, 1, 2]), 2, 2, 0, 1);
  assert.deepEqual(px(img, 0, 0), [0, 0, 0, 255]);
  assert.deepEqual(px(img, 1, 0), [128, 128, 128, 255]);
  assert.deepEqual(px(img, 0, 1), [255, 255, 255, 255]);
  assert.deepEqual(px(img, 1, 1), [255, 255, 255, 255]);
  const u8 = grayToRgba(new Uint8Array([7, 200]), 2, 1);
  assert.deepEqual(px(u8, 1, 0), [200, 200, 200, 255]);
  assert.throws(() => grayToRgba(new Uint8Array(3), 2, 2), /3 values/);
});

Deno.test("scaleNearest, blit and tile", () => {
  const src = blank(2, 1, [10, 10, 10]);
  src.data.set([90, 90, 90, 255], 4);
  const big = scaleNearest(src, 3);
  assert.equal(big.width, 6);
  assert.equal(big.height, 3);
  assert.deepEqual(px(big, 2, 2), [10, 10, 10, 255]);
  assert.deepEqual(px(big, 3, 0), [90, 90, 90, 255]);
  const small = scaleNearest(blank(10, 6), 0.5);
  assert.deepEqual([small.width, small.height], [5, 3]);
  assert.throws(() => scaleNearest(src, 0), /factor/);

  const canvas = blank(5, 5);
  blit(canvas, blank(3, 3, [4, 4, 4]), 3, -1);
  assert.equal(countColor(canvas, [4, 4, 4]), 4);

  const grid = tile(
    [blank(4, 3, [1, 0, 0]), blank(2, 5, [2, 0, 0]), blank(4, 4, [3, 0, 0])],
    2,
    1,
  );
  assert.deepEqual([grid.width, grid.height], [2 * 4 + 3, 2 * 5 + 3]);
  assert.deepEqual(px(grid, 1, 1), [1, 0, 0, 255]);
  assert.deepEqual(px(grid, 6, 1), [2, 0, 0, 255]);
  assert.deepEqual(px(grid, 1, 7), [3, 0, 0, 255]);
  assert.deepEqual(px(grid, 0, 0), [255, 255, 255, 255]);
  assert.throws(() => tile([], 2), /no images/);
});

Deno.test("lineChart: requested size, series and text drawn", () => {
  const red = [220, 20, 20] as const, blue = [20, 20, 220] as const;
  const chart = lineChart([
    { name: "train", values: [5, 3, 2, 1.5, 1.2, 1.1], color: red },
    { name: "val", values: [6, 4, 3, NaN, 2.5, 2.4], color: blue },
  ], { title: "Loss", width: 500, height: 300, xLabel: "epoch", yLabel: "L" });
  assert.equal(chart.width, 500);
  assert.equal(chart.height, 300);
  assert.equal(chart.data.length, 500 * 300 * 4);
  assert.ok(countColor(chart, red) > 100, "red line drawn");
  assert.ok(countColor(chart, blue) > 100, "blue line drawn");
  assert.ok(countColor(chart, [0, 0, 0]) > 200, "text drawn");
  const white = countColor(chart, [255, 255, 255]);
  assert.ok(white < 500 * 300 && white > 500 * 300 / 2);

  const log = lineChart([
    { name: "lr", values: [1e-1, 1e-2, 0, -1, 1e-4], color: red },
  ], { logY: true });
  assert.deepEqual([log.width, log.height], [640, 400]);
  assert.ok(countColor(log, red) > 50);

  const empty = lineChart([], { title: "nothing yet" });
  assert.equal(empty.width, 640);
  assert.throws(() => lineChart([], { width: 50 }), /too small/);
});

Deno.test("curveChart: CED-style chart with fixed ranges", () => {
  const green = [10, 160, 10] as const;
  const x = Array.from({ length: 50 }, (_, i) => i / 500);
  const chart = curveChart(
    [{ name: "model", x, y: x.map((v) => Math.min(1, v * 12)), color: green }],
    {
      title: "CED",
      xRange: [0, 0.08],
      yRange: [0, 1],
      width: 400,
      height: 300,
    },
  );
  assert.deepEqual([chart.width, chart.height], [400, 300]);
  assert.ok(countColor(chart, green) > 100);
  assert.throws(
    () => curveChart([{ name: "bad", x: [1, 2], y: [1], color: green }], {}),
    /2 x values but 1 y values/,
  );
});
