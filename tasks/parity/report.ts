/**
 * The parity report: rows, tolerances and the Markdown table.
 *
 * @module
 */

import { type Comparison, NET_IDS, type NetId, type ParityBackend } from "./steps.ts";

/** One row of the report. */
export interface ParityRow {
  /** Net id. */
  net: NetId;
  /** Backend. */
  backend: ParityBackend;
  /** Batch size used. */
  batch: number;
  /** The net's real default batch size. */
  defaultBatch: number;
  /** Steps. */
  steps: number;
  /** Seed. */
  seed: number;
  /** Learning rate used. */
  lr: number;
  /** Loss name. */
  loss: string;
  /** Data description. */
  data: string;
  /** Loss at every step. */
  losses: number[];
  /** Mean wall seconds per step. */
  secondsPerStep: number;
  /** Wall seconds of the first step (includes kernel compilation). */
  firstStepSeconds: number;
  /** For cpu: whether the run came from the cache. */
  cached?: boolean;
  /** Comparison with cpu (absent for cpu itself). */
  vsCpu?: Comparison & {
    /** `maxWeightDiff / maxCpuMovement`. */
    weightDiffVsMovement: number;
    /** `weightsOverStep / weightCount`. */
    fractionOverStep: number;
    /** Whether the backend is within the tolerances. */
    pass: boolean;
  };
  /** When it was measured. */
  measured: string;
  /** `git describe --always --dirty` of the working tree it ran from. */
  revision: string;
}

/**
 * When a backend "matches" cpu: the loss curve within `relLoss` (relative)
 * at every step, and at most the fraction `weightsOverStep` of the weight
 * values more than one Adam step (the learning rate) away from cpu's after
 * the last step. A maximum over all weights is no criterion: Adam divides
 * each gradient by its own running scale, so a weight whose gradient is
 * near zero moves by about the learning rate in a direction set by rounding
 * noise, on any two backends that round differently.
 */
export interface Tolerances {
  /** Largest relative loss difference at any step. */
  relLoss: number;
  /** Largest fraction of weight values off by more than one step. */
  weightsOverStep: number;
}

/** The whole report (`parity.json`). */
export interface ParityReport {
  /** Tolerances used for `pass`. */
  tolerances: Tolerances;
  /** Rows by net and backend. */
  rows: ParityRow[];
}

/** The mean of `a`. */
export function mean(a: number[]): number {
  return a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);
}

/**
 * The Markdown table of a report.
 *
 * @example
 * ```ts
 * import { markdownTable } from "./parity.ts";
 * console.log(markdownTable({ tolerances: { relLoss: 1e-3, weightsOverStep: 1e-3 }, rows: [] }).startsWith("|")); // true
 * ```
 */
export function markdownTable(report: ParityReport): string {
  const head =
    "| net | backend | batch | steps | lr | loss step 1 → last | max rel. loss diff vs cpu " +
    "| max \\|weight diff\\| | diff / cpu movement | weights off by > lr | s/step | verdict |\n" +
    "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  const order = (r: ParityRow): number =>
    NET_IDS.indexOf(r.net) * 10 + ["cpu", "wasm", "webgpu"].indexOf(r.backend);
  const lines = [...report.rows].sort((a, b) => order(a) - order(b)).map((r) => {
    const c = r.vsCpu;
    const batch = r.batch === r.defaultBatch ? `${r.batch}` : `${r.batch} (real ${r.defaultBatch})`;
    return `| ${r.net} | ${r.backend}${r.cached ? " (cached)" : ""} | ${batch} | ${r.steps} | ${
      r.lr.toExponential(0)
    } | ${r.losses[0].toPrecision(5)} → ${r.losses[r.losses.length - 1].toPrecision(5)} | ${
      c ? `${c.maxRelLossDiff.toExponential(2)} (step ${c.worstStep})` : "reference"
    } | ${c ? `${c.maxWeightDiff.toExponential(2)} (${c.worstWeight})` : "–"} | ${
      c ? c.weightDiffVsMovement.toExponential(2) : "–"
    } | ${c ? `${c.weightsOverStep} / ${c.weightCount}` : "–"} | ${r.secondsPerStep.toFixed(2)} | ${
      c ? (c.pass ? "match" : "**MISMATCH**") : "–"
    } |`;
  });
  return head + lines.join("\n") + "\n";
}
