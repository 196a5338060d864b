/**
 * Training parity across backends: the first steps of real training of each
 * net, from identical initial weights and identical batches, on the cpu
 * backend (the reference), on wasm and on WebGPU.
 *
 * ```sh
 * deno task parity [--nets part1,part2,part3-resnet,part3-unet] [--backends cpu,wasm,webgpu]
 *   [--steps 20] [--batch N] [--seed 1] [--lr X] [--out runs/parity] [--synthetic]
 *   [--cpu-workers N]
 * ```
 *
 * For each net: the model is built with the seed on cpu and its initial
 * weights are read back; `steps` training batches are drawn exactly as
 * `lib/train/loop.ts` draws them (seeded shuffle, then the part's augmentation
 * with the same random stream) from the real data (IMM for parts 1 and 2,
 * the 300-W training subsets for part 3, loaded through the project's own
 * loaders), or seeded synthetic faces with `--synthetic`; then the same
 * Adam steps with the part's training loss and first-epoch learning rate run
 * on every backend. Per backend it reports the loss at every step, the
 * largest relative loss difference from cpu, the largest absolute weight
 * difference after the last step (all weights, BatchNorm statistics
 * included), and that difference relative to how far cpu training moved the
 * weights.
 *
 * The cpu run is slow, so it is cached in `OUT/<net>-cpu.json` (plus the
 * final weights in `OUT/<net>-cpu.weights.bin`), keyed by net, batch, steps,
 * seed, learning rate and data, and checked against hashes of the initial
 * weights and the batches before it is reused. Results are merged into
 * `OUT/parity.json` and `OUT/parity.md`.
 *
 * On WebGPU nothing is read back synchronously (only `await t.data()`).
 *
 * @module
 */

import { CliExit, parseCli } from "../lib/cli/args.ts";
import type * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../lib/backends/backend.ts";
import { ensureDir, writeFileAtomic } from "../lib/util/fs_util.ts";
import {
  compareRuns,
  hashFloats,
  NET_IDS,
  type NetId,
  type ParityBackend,
  runSteps,
  type StepRun,
} from "./parity/steps.ts";
import { netSpec, P3_SIZE, realBatches, syntheticBatches } from "./parity/nets.ts";
import {
  markdownTable,
  mean,
  type ParityReport,
  type ParityRow,
  type Tolerances,
} from "./parity/report.ts";
import {
  type CacheKey,
  gitRevision,
  loadCpuCache,
  readJson,
  saveCpuCache,
} from "./parity/cache.ts";

const USAGE =
  `usage: deno task parity [--nets part1,part2,part3-resnet,part3-unet] [--backends cpu,wasm,webgpu]
    [--steps 20] [--batch N] [--seed 1] [--lr X] [--out runs/parity] [--synthetic]
    [--tol-loss 1e-3] [--tol-weight 1e-3] [--cpu-workers N]
  the first training steps of each net on cpu (the cached reference), wasm and WebGPU`;

export * from "./parity/steps.ts";
export * from "./parity/nets.ts";
export * from "./parity/report.ts";

/** Options of {@link parityForNet}. */
export interface ParityOptions {
  /** Backends to run (cpu is always the reference; it is loaded from the cache if not listed). */
  backends: ParityBackend[];
  /** Steps. */
  steps: number;
  /** Batch size (default the net's real one). */
  batch?: number;
  /** Seed for weights and batches. */
  seed: number;
  /** Learning rate (default the net's first-epoch one). */
  lr?: number;
  /** Output folder. */
  out: string;
  /** Use seeded synthetic faces instead of the real data. */
  synthetic: boolean;
  /** Tolerances. */
  tolerances: Tolerances;
  /** Data-parallel replicas for the cpu reference (nets without BatchNorm). */
  cpuWorkers?: number;
}

/**
 * Runs the parity check of one net on the chosen backends; returns a row
 * per backend that ran (cpu included when listed or loaded from the cache).
 *
 * @example
 * ```ts ignore
 * import { parityForNet } from "./parity.ts";
 * const rows = await parityForNet("part1", { backends: ["cpu", "wasm"], steps: 20, seed: 1, out: "runs/parity", synthetic: false, tolerances: { relLoss: 1e-3, weightsOverStep: 1e-3 } });
 * ```
 */
export async function parityForNet(id: NetId, o: ParityOptions): Promise<ParityRow[]> {
  const spec = netSpec(id);
  const batch = o.batch ?? spec.batch;
  const lr = o.lr ?? spec.lr;
  const log = (s: string): void => console.log(`${id}: ${s}`);
  const t0 = performance.now();
  const batches = o.synthetic
    ? syntheticBatches(
      (id === "part1" ? [64, 80, 1] : id === "part2" ? [120, 160, 1] : [P3_SIZE, P3_SIZE, 1]) as [
        number,
        number,
        number,
      ],
      id === "part1" ? 2 : id === "part2" ? 116 : 136,
      o.steps,
      batch,
      o.seed,
    )
    : await realBatches(id, o.steps, batch, o.seed);
  log(
    `${o.steps} batches of ${batch} from ${batches.source} in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
  const build = (): tf.LayersModel => spec.build(o.seed, batches.meanShape);

  // The initial weights, made once on cpu.
  await setupBackend("cpu");
  const m0 = build();
  const names = m0.weights.map((w) => w.originalName);
  const batchNorm = m0.layers.some((l) => l.getClassName() === "BatchNormalization");
  const init = await Promise.all(
    m0.getWeights().map(async (t) => Float32Array.from(await t.data() as Float32Array)),
  );
  m0.dispose();
  const initHash = hashFloats(init);
  const batchHash = hashFloats([...batches.x, ...batches.y]);
  const key: CacheKey = {
    net: id,
    batch,
    steps: o.steps,
    seed: o.seed,
    lr,
    data: batches.source,
  };
  const now = (): string => new Date().toISOString();
  const revision = await gitRevision();
  const row = (backend: ParityBackend, r: StepRun): ParityRow => ({
    net: id,
    backend,
    batch,
    defaultBatch: spec.batch,
    steps: o.steps,
    seed: o.seed,
    lr,
    loss: spec.lossName,
    data: batches.source,
    losses: r.losses,
    secondsPerStep: mean(r.stepSeconds),
    firstStepSeconds: r.stepSeconds[0],
    measured: now(),
    revision,
  });
  const onStep = (b: string) => (s: number, l: number, sec: number): void =>
    log(`${b} step ${s}/${o.steps} loss ${l.toPrecision(7)} ${sec.toFixed(2)} s`);

  const rows: ParityRow[] = [];
  let cpu = o.backends.includes("cpu") ? null : await loadCpuCache(o.out, key, initHash, batchHash);
  if (o.backends.includes("cpu")) {
    cpu = await loadCpuCache(o.out, key, initHash, batchHash);
    if (cpu) log(`cpu reference from the cache (${o.out}/${id}-cpu.json)`);
    else {
      const workers = o.cpuWorkers ?? 1;
      if (workers > 1 && batchNorm) {
        throw new Error(`--cpu-workers: ${id} has BatchNorm; its reference must run whole`);
      }
      cpu = await runSteps(
        "cpu",
        build,
        init,
        batches,
        lr,
        spec.loss,
        onStep("cpu"),
        workers,
      );
      await saveCpuCache(o.out, key, initHash, batchHash, cpu);
      rows.push({ ...row("cpu", cpu), cached: false });
    }
  }
  if (!cpu) {
    throw new Error(
      `${id}: no cached cpu reference for batch ${batch}, ${o.steps} steps, seed ${o.seed} in ` +
        `${o.out}; run with --backends cpu first`,
    );
  }
  if (!rows.some((r) => r.backend === "cpu")) rows.push({ ...row("cpu", cpu), cached: true });
  for (const b of o.backends) {
    if (b === "cpu") continue;
    const r = await runSteps(b, build, init, batches, lr, spec.loss, onStep(b));
    const c = compareRuns(cpu, r, init, names, lr);
    const ratio = c.maxWeightDiff / Math.max(c.maxCpuMovement, 1e-30);
    const frac = c.weightsOverStep / Math.max(1, c.weightCount);
    const pass = c.maxRelLossDiff <= o.tolerances.relLoss &&
      frac <= o.tolerances.weightsOverStep;
    log(
      `${b} vs cpu: max rel loss diff ${
        c.maxRelLossDiff.toExponential(2)
      } (step ${c.worstStep}), ` +
        `max |weight diff| ${c.maxWeightDiff.toExponential(2)} (${c.worstWeight}), ` +
        `${ratio.toExponential(2)} of cpu's largest weight movement, ${c.weightsOverStep} of ` +
        `${c.weightCount} weights off by more than lr: ${pass ? "match" : "MISMATCH"}`,
    );
    rows.push({
      ...row(b, r),
      vsCpu: { ...c, weightDiffVsMovement: ratio, fractionOverStep: frac, pass },
    });
  }
  return rows;
}

function parseList<T extends string>(v: string, allowed: readonly T[], flag: string): T[] {
  const items = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const i of items) {
    if (!allowed.includes(i as T)) {
      throw new Error(`--${flag}: unknown "${i}" (use ${allowed.join(", ")})`);
    }
  }
  if (items.length === 0) throw new Error(`--${flag}: empty list`);
  return items as T[];
}

function positive(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: "${v}" is not a positive number`);
  return n;
}

/**
 * The command line; returns the exit status (1 when a backend does not
 * match cpu, 2 for usage errors).
 *
 * @example
 * ```ts ignore
 * import { main } from "./parity.ts";
 * Deno.exit(await main(["--nets", "part1", "--backends", "cpu,wasm"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    values = parseCli(args, {
      nets: { type: "string", default: NET_IDS.join(",") },
      backends: { type: "string", default: "cpu,wasm,webgpu" },
      steps: { type: "string", default: "20" },
      batch: { type: "string" },
      seed: { type: "string", default: "1" },
      lr: { type: "string" },
      out: { type: "string", default: "runs/parity" },
      synthetic: { type: "boolean", default: false },
      "tol-loss": { type: "string", default: "1e-3" },
      "tol-weight": { type: "string", default: "1e-3" },
      "cpu-workers": { type: "string", default: "1" },
    }, USAGE).values;
  } catch (e) {
    if (!(e instanceof CliExit)) throw e;
    if (e.code === 0) console.log(e.message);
    else console.error(`error: ${e.message}`);
    return e.code;
  }
  try {
    const nets = parseList(values.nets!, NET_IDS, "nets");
    const backends = parseList(values.backends!, ["cpu", "wasm", "webgpu"] as const, "backends");
    const opts: ParityOptions = {
      backends,
      steps: positive(values.steps, "steps")!,
      batch: positive(values.batch, "batch"),
      seed: Number(values.seed),
      lr: positive(values.lr, "lr"),
      out: values.out!,
      synthetic: values.synthetic!,
      cpuWorkers: positive(values["cpu-workers"], "cpu-workers"),
      tolerances: {
        relLoss: positive(values["tol-loss"], "tol-loss")!,
        weightsOverStep: positive(values["tol-weight"], "tol-weight")!,
      },
    };
    if (!Number.isInteger(opts.seed)) throw new Error(`--seed: "${values.seed}" is not an integer`);
    await ensureDir(opts.out);
    let failed = 0;
    for (const id of nets) {
      const rows = await parityForNet(id, opts);
      failed += rows.filter((r) => r.vsCpu && !r.vsCpu.pass).length;
      // Merge into the report: replace this net's rows for the backends that ran.
      const path = `${opts.out}/parity.json`;
      const report: ParityReport = (await readJson<ParityReport>(path)) ??
        { tolerances: opts.tolerances, rows: [] };
      report.tolerances = opts.tolerances;
      report.rows = report.rows.filter((r) =>
        !(r.net === id && rows.some((n) => n.backend === r.backend))
      ).concat(rows);
      // Rows of this net measured with other settings than the new cpu reference are stale.
      const ref = rows.find((r) => r.backend === "cpu")!;
      report.rows = report.rows.filter((r) =>
        r.net !== id ||
        (r.batch === ref.batch && r.steps === ref.steps && r.seed === ref.seed && r.lr === ref.lr &&
          r.data === ref.data)
      );
      await writeFileAtomic(path, JSON.stringify(report, null, 2) + "\n");
      const md = `# Training parity vs the cpu backend\n\nA backend matches when its loss is ` +
        `within ${opts.tolerances.relLoss} (relative) of cpu's at every step and at most a ` +
        `fraction ${opts.tolerances.weightsOverStep} of the weight values end more than one ` +
        `Adam step (lr) away from cpu's.\n\n${markdownTable(report)}`;
      await writeFileAtomic(`${opts.out}/parity.md`, md);
    }
    const report = await readJson<ParityReport>(`${opts.out}/parity.json`);
    if (report) console.log("\n" + markdownTable(report));
    console.log(`wrote ${opts.out}/parity.json and ${opts.out}/parity.md`);
    return failed ? 1 : 0;
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
