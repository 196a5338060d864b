/**
 * Plots one metric of several training runs (from their `metrics.jsonl`)
 * in one chart, e.g. the Part 1 hyper-parameter variants or the
 * regression and heatmap heads.
 *
 * ```sh
 * deno run -A tasks/compare_runs.ts --runs runs/part1,runs/part1_lr4e-3,runs/part1_k5 --metric valLoss --log --out runs/part1_variants.png
 * ```
 *
 * @module
 */

import { parseOrExit } from "../lib/cli/args.ts";
import type { Rgb } from "../lib/image/draw.ts";
import { lineChart } from "../lib/report/plot.ts";
import { savePng } from "../lib/report/pictures.ts";

const USAGE =
  `usage: deno task compare --runs DIR,DIR,... [--metric valLoss] [--log] [--title T] [--out FILE.png]
  one chart of a metric over epochs for several training runs`;

const COLORS: Rgb[] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [
  148,
  103,
  189,
]];

const { values } = parseOrExit(Deno.args, {
  runs: { type: "string" },
  metric: { type: "string", default: "valLoss" },
  out: { type: "string" },
  title: { type: "string" },
  log: { type: "boolean", default: false },
}, USAGE);
if (!values.runs || !values.out) {
  console.error("usage: compare_runs.ts --runs DIR,DIR --out FILE.png [--metric valLoss] [--log]");
  Deno.exit(2);
}
const series = await Promise.all(
  values.runs.split(",").map(async (dir, i) => {
    const rows = (await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    const vals = rows.map((r) => Number(r[values.metric!]));
    const best = Math.min(...vals);
    console.log(`${dir}: ${rows.length} epochs, best ${values.metric} ${best.toPrecision(4)}`);
    return {
      name: `${dir.replace(/^.*\//, "")} (best ${best.toPrecision(3)})`,
      values: vals,
      color: COLORS[i % COLORS.length],
    };
  }),
);
await savePng(
  values.out,
  lineChart(series, {
    title: values.title ?? values.metric,
    logY: values.log,
    xLabel: "epoch",
    yLabel: values.metric,
    xStart: 1,
    width: 800,
    height: 480,
  }),
);
console.log(`wrote ${values.out}`);
