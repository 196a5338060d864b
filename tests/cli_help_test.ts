// Every command and subcommand answers --help / -h with its usage (exit 0)
// and an unknown option with the error and a usage hint (exit 2), before it
// does any work.
import assert from "node:assert/strict";
import { CliExit, parseCli, usageError } from "../lib/cli/args.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** Every command: [label, deno arguments before the option]. */
const COMMANDS: [string, string[]][] = [
  ["main.ts", ["main.ts"]],
  ["main.ts train", ["main.ts", "train"]],
  ["main.ts train part1", ["main.ts", "train", "part1"]],
  ["main.ts train part3", ["main.ts", "train", "part3"]],
  ["main.ts eval", ["main.ts", "eval"]],
  ["main.ts predict", ["main.ts", "predict"]],
  ["main.ts kaggle", ["main.ts", "kaggle"]],
  ["main.ts doctor", ["main.ts", "doctor"]],
  ["main.ts export", ["main.ts", "export"]],
  ["main.ts convert", ["main.ts", "convert"]],
  ["main.ts compare", ["main.ts", "compare"]],
  ["mod.ts predict", ["mod.ts", "predict"]],
  ["fixtures/300w/make_fixtures.ts", ["fixtures/300w/make_fixtures.ts"]],
];
for (const e of Deno.readDirSync(new URL("tasks/", `file://${ROOT}`))) {
  if (e.isFile && e.name.endsWith(".ts")) COMMANDS.push([`tasks/${e.name}`, [`tasks/${e.name}`]]);
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs `jobs` at most `n` at a time. */
async function pool<T>(jobs: (() => Promise<T>)[], n: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]();
      }
    }),
  );
  return results;
}

Deno.test("every command answers --help and -h with its usage and exit 0", async () => {
  const jobs = COMMANDS.flatMap(([label, args]) =>
    ["--help", "-h"].map((flag) => async () => ({ label, flag, ...(await run([...args, flag])) }))
  );
  for (const r of await pool(jobs, 4)) {
    assert.equal(r.code, 0, `${r.label} ${r.flag}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stdout, /^usage: /m, `${r.label} ${r.flag} printed no usage:\n${r.stdout}`);
  }
});

Deno.test("every command rejects an unknown option with a usage hint and exit 2", async () => {
  const jobs = COMMANDS.map(([label, args]) => async () => ({
    label,
    ...(await run([...args, "--no-such-option"])),
  }));
  for (const r of await pool(jobs, 4)) {
    assert.equal(r.code, 2, `${r.label}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /no-such-option/, `${r.label} did not name the option`);
    assert.match(r.stderr, /--help/, `${r.label} gave no usage hint`);
  }
});

Deno.test("train part3 rejects a bad choice value with a usage hint and exit 2", async () => {
  for (
    const bad of [["--aug", "wild"], ["--arch", "mlp"], ["--loss", "l3"], ["--teacher-flip"]]
  ) {
    const r = await run(["main.ts", "train", "part3", ...bad]);
    assert.equal(r.code, 2, `${bad.join(" ")}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${bad[0]}: use .*`), `${bad[0]} not named`);
    assert.match(r.stderr, /main\.ts train --help/);
  }
  for (const bad of ["1", "0", "x"]) {
    const r = await run(["main.ts", "train", "part3", "--ema", bad]);
    assert.equal(r.code, 2, `--ema ${bad}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`--ema: a decay between 0 and 1 .*got "${bad}"`));
  }
});

Deno.test("parseCli: values, positionals, help and usage errors", () => {
  const usage = "usage: tool sub IMAGE [--n N]";
  const { values, positionals } = parseCli(
    ["a.jpg", "--n", "2"],
    { n: { type: "string" } },
    usage,
    true,
  );
  assert.equal(values.n, "2");
  assert.deepEqual(positionals, ["a.jpg"]);
  assert.throws(() => parseCli(["-h"], {}, usage), (e) => e instanceof CliExit && e.code === 0);
  assert.throws(
    () => parseCli(["--n"], { n: { type: "string" } }, usage),
    (e) => e instanceof CliExit && e.code === 2 && /tool sub --help/.test(e.message),
  );
  assert.throws(() => parseCli(["stray"], {}, usage), (e) => e instanceof CliExit && e.code === 2);
  assert.match(usageError("bad", usage).message, /^bad\n\(run "tool sub --help" for usage\)$/);
});
