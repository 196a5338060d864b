/**
 * The facekit command line.
 *
 * ```sh
 * deno run -A main.ts train part1|part2 [--data DIR] [--out DIR] [--epochs N] [--batch N] [--lr X] [--seed N] [--resume] [--backend auto|webgpu|wasm|cpu]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseBackend, setupBackend } from "./lib/backend.ts";
import { resolveImmDir, runImm } from "./lib/imm_task.ts";

const USAGE = `usage:
  main.ts train part1|part2 [options]
    --data DIR        IMM folder (default $FACEKIT_IMM or ../shared/data/imm_face_db)
    --out DIR         output folder (default runs/<part>)
    --epochs N        epochs (part1 25, part2 30)
    --batch N         batch size (8)
    --lr X            Adam learning rate (1e-3)
    --seed N          random seed (1)
    --resume          continue from <out>/last
    --augment / --no-augment   augmentation (part1 off, part2 on)
    --first-kernel K  part1: kernel size of the first two convs (3; the seed's variant is 5)
    --limit N         use only N train and N validation faces (quick runs)
    --backend B       auto | webgpu | wasm | cpu (auto)
    --quiet           no progress bar`;

async function trainCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      data: { type: "string" },
      out: { type: "string" },
      epochs: { type: "string" },
      batch: { type: "string" },
      lr: { type: "string" },
      seed: { type: "string" },
      resume: { type: "boolean", default: false },
      augment: { type: "boolean" },
      "no-augment": { type: "boolean" },
      "first-kernel": { type: "string" },
      limit: { type: "string" },
      backend: { type: "string", default: "auto" },
      quiet: { type: "boolean", default: false },
    },
  });
  const part = positionals[0];
  if (part !== "part1" && part !== "part2") {
    throw new Error(`train: unknown part "${part ?? ""}"\n${USAGE}`);
  }
  const num = (v: string | undefined, d: number, name: string): number => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: "${v}" is not a positive number`);
    return n;
  };
  const data = resolveImmDir(values.data);
  const backend = await setupBackend(parseBackend(values.backend!));
  console.log(`backend: ${backend.description}`);
  const summary = await runImm({
    part,
    data,
    out: values.out ?? `runs/${part}`,
    epochs: num(values.epochs, part === "part1" ? 25 : 30, "epochs"),
    batch: num(values.batch, 8, "batch"),
    lr: num(values.lr, 1e-3, "lr"),
    seed: num(values.seed, 1, "seed"),
    resume: values.resume!,
    augment: values["no-augment"] ? false : values.augment ?? part === "part2",
    firstKernel: values["first-kernel"] ? num(values["first-kernel"], 3, "first-kernel") : undefined,
    backend,
    limit: values.limit ? num(values.limit, 0, "limit") : undefined,
    quiet: values.quiet,
  });
  console.log(JSON.stringify(summary, null, 2));
}

/** Runs the CLI with the given arguments. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === "train") await trainCommand(rest);
    else {
      console.error(USAGE);
      return command === undefined || command === "help" ? 0 : 2;
    }
    return 0;
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
