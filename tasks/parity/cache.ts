/**
 * The cached cpu reference runs of the parity task (slow to make, checked by hashes
 * before reuse).
 *
 * @module
 */

import { writeFileAtomic } from "../../lib/util/fs_util.ts";
import { hashFloats, type NetId, type StepRun } from "./steps.ts";

/** The cached cpu reference of one net. */
export interface CpuCache {
  key: CacheKey;
  initHash: string;
  batchHash: string;
  finalHash: string;
  losses: number[];
  stepSeconds: number[];
  weightsFile: string;
  weightSizes: number[];
  created: string;
}

export interface CacheKey {
  net: NetId;
  batch: number;
  steps: number;
  seed: number;
  lr: number;
  data: string;
}

export async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch {
    return null;
  }
}

function concatBytes(arrays: Float32Array[]): Uint8Array {
  const total = arrays.reduce((s, a) => s + a.length, 0);
  const out = new Float32Array(total);
  let o = 0;
  for (const a of arrays) {
    out.set(a, o);
    o += a.length;
  }
  return new Uint8Array(out.buffer);
}

function splitFloats(bytes: Uint8Array, sizes: number[]): Float32Array[] {
  const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const out: Float32Array[] = [];
  let o = 0;
  for (const n of sizes) {
    out.push(all.slice(o, o + n));
    o += n;
  }
  if (o !== all.length) throw new Error(`weights file has ${all.length} values, expected ${o}`);
  return out;
}

export async function loadCpuCache(
  out: string,
  key: CacheKey,
  initHash: string,
  batchHash: string,
): Promise<StepRun | null> {
  const c = await readJson<CpuCache>(`${out}/${key.net}-cpu.json`);
  if (!c || JSON.stringify(c.key) !== JSON.stringify(key)) return null;
  if (c.initHash !== initHash || c.batchHash !== batchHash) {
    console.log(`${key.net}: cached cpu run has other initial weights or batches; recomputing`);
    return null;
  }
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(`${out}/${c.weightsFile}`);
  } catch {
    return null;
  }
  const final = splitFloats(bytes, c.weightSizes);
  if (hashFloats(final) !== c.finalHash) {
    console.log(`${key.net}: cached cpu weights do not match their hash; recomputing`);
    return null;
  }
  return { losses: c.losses, stepSeconds: c.stepSeconds, final };
}

export async function saveCpuCache(
  out: string,
  key: CacheKey,
  initHash: string,
  batchHash: string,
  run: StepRun,
): Promise<void> {
  const weightsFile = `${key.net}-cpu.weights.bin`;
  await writeFileAtomic(`${out}/${weightsFile}`, concatBytes(run.final));
  const c: CpuCache = {
    key,
    initHash,
    batchHash,
    finalHash: hashFloats(run.final),
    losses: run.losses,
    stepSeconds: run.stepSeconds,
    weightsFile,
    weightSizes: run.final.map((w) => w.length),
    created: new Date().toISOString(),
  };
  await writeFileAtomic(`${out}/${key.net}-cpu.json`, JSON.stringify(c, null, 2) + "\n");
}

export async function gitRevision(): Promise<string> {
  try {
    const out = await new Deno.Command("git", {
      args: ["describe", "--always", "--dirty"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : "unknown";
  } catch {
    return "unknown";
  }
}
