/**
 * Writes the small synthetic test inputs under `fixtures/` (run once;
 * the outputs are committed). Nothing here comes from a real dataset: the
 * faces are drawn shapes whose 58 "keypoints" follow a hand-made template
 * with the IMM point order.
 *
 * ```sh
 * deno run -A tasks/make_fixtures.ts
 * ```
 *
 * @module
 */

import jpeg from "jpeg-js";
import { drawDot } from "../lib/image/draw.ts";
import { createRng } from "../lib/util/random.ts";
import { parseOrExit } from "../lib/cli/args.ts";

if (import.meta.main) {
  parseOrExit(Deno.args, {}, "usage: deno task fixtures\n  regenerate the small test fixtures");
}

// A 58-point template in IMM order, centred at (0, 0), pixels of a 640x480
// frontal face (jaw 0-12, eyes 13-20 / 21-28, brows 29-33 / 34-38, mouth
// 39-46, nose 47-57).
const TEMPLATE: number[] = [
  -93,
  22,
  -87,
  46,
  -78,
  70,
  -63,
  90,
  -45,
  107,
  -23,
  119,
  2,
  123,
  28,
  118,
  47,
  104,
  64,
  87,
  78,
  68,
  88,
  46,
  93,
  20,
  61,
  -44,
  53,
  -50,
  42,
  -54,
  32,
  -51,
  23,
  -43,
  32,
  -40,
  43,
  -38,
  53,
  -40,
  -62,
  -42,
  -54,
  -49,
  -44,
  -52,
  -34,
  -49,
  -25,
  -42,
  -34,
  -39,
  -44,
  -37,
  -53,
  -38,
  18,
  -66,
  33,
  -75,
  53,
  -78,
  66,
  -72,
  76,
  -59,
  -20,
  -65,
  -35,
  -74,
  -57,
  -76,
  -70,
  -71,
  -78,
  -57,
  -37,
  50,
  -10,
  39,
  1,
  42,
  11,
  39,
  39,
  48,
  17,
  64,
  2,
  66,
  -13,
  65,
  -12,
  -41,
  -15,
  -12,
  -25,
  -2,
  -25,
  13,
  -14,
  17,
  0,
  20,
  13,
  17,
  25,
  13,
  25,
  -2,
  16,
  -12,
  12,
  -41,
];

function face(seed: number, width = 640, height = 480) {
  const rng = createRng(seed);
  const cx = width / 2 + rng.uniform(-40, 40);
  const cy = height / 2 + rng.uniform(-30, 30);
  const s = rng.uniform(0.85, 1.15) * width / 640;
  const pts = new Float32Array(116);
  for (let i = 0; i < 58; i++) {
    pts[2 * i] = Math.round(cx + TEMPLATE[2 * i] * s);
    pts[2 * i + 1] = Math.round(cy + TEMPLATE[2 * i + 1] * s);
  }
  const img = {
    data: new Uint8Array(width * height * 4),
    width,
    height,
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = (x - cx) / (100 * s), dy = (y - cy + 10 * s) / (135 * s);
      const inside = dx * dx + dy * dy < 1;
      const v = inside ? 170 : 60 + (y * 40) / height;
      const o = (y * width + x) * 4;
      img.data[o] = img.data[o + 1] = img.data[o + 2] = v;
      img.data[o + 3] = 255;
    }
  }
  for (let i = 0; i < 58; i++) {
    drawDot(img, pts[2 * i], pts[2 * i + 1], Math.max(1, 4 * s), [20, 20, 20]);
  }
  return { img, pts };
}

function dat(pts: Float32Array, count = 58): string {
  return Array.from({ length: count }, (_, i) => `${i + 1} ${pts[2 * i]} ${pts[2 * i + 1]}`).join(
    "\n",
  ) + "\n";
}

function asf(pts: Float32Array, host: string): string {
  const rows = Array.from(
    { length: 58 },
    (_, i) =>
      `0\t0\t${(pts[2 * i] / 640).toFixed(10)}\t${(pts[2 * i + 1] / 480).toFixed(10)}\t${i}\t${
        (i + 57) % 58
      }\t${(i + 1) % 58}\t0.00\t0.00\t0.00`,
  );
  return [
    "######################################################################",
    "#",
    "#    AAM Shape File  -  written by facekit's fixture generator",
    "#",
    "######################################################################",
    "",
    "#",
    "# number of model points",
    "#",
    "58",
    "",
    "#",
    "# model points",
    "#",
    "# format: <path#> <type> <x rel.> <y rel.> <point#> <connects from> <connects to> <user1> <user2> <user3>",
    "#",
    ...rows,
    "",
    "#",
    "# host image",
    "#",
    host,
    "",
  ].join("\n");
}

const enc = (img: { data: Uint8Array; width: number; height: number }) => jpeg.encode(img, 85).data;

await Deno.mkdir("fixtures/imm", { recursive: true });
await Deno.mkdir("fixtures/bad", { recursive: true });
// Six faces: persons 1-4 train, 33-34 validation; one label as .asf.
const names = ["01-1m", "02-1m", "03-2f", "04-1m", "33-1m", "34-2f"];
for (const [i, name] of names.entries()) {
  const { img, pts } = face(100 + i);
  await Deno.writeFile(`fixtures/imm/${name}.jpg`, enc(img));
  if (name === "02-1m") {
    await Deno.writeTextFile(`fixtures/imm/${name}.asf`, asf(pts, `${name}.jpg`));
  } else {
    await Deno.writeTextFile(`fixtures/imm/${name}.dat`, dat(pts));
  }
}
// Bad inputs, one problem each.
const { img, pts } = face(7);
const good = enc(img);
await Deno.writeFile("fixtures/bad/truncated.jpg", good.slice(0, Math.floor(good.length / 3)));
await Deno.writeTextFile("fixtures/bad/57_lines.dat", dat(pts, 57));
await Deno.writeTextFile(
  "fixtures/bad/nan.dat",
  dat(pts).replace(/^5 \S+ /m, "5 NaN "),
);
console.log("fixtures written");
