// The module graph of the public entry points, the CLI and the tasks (from
// `deno info --json`) has no import cycle; no module in lib/ imports from
// tasks/, tests/ or main.ts; and the lib/ folders import each other only
// downwards in the order ARCHITECTURE.md gives (no folder-level cycle).
import assert, { deepEqual, equal } from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const ROOT_PATH = ROOT.pathname;

/** The order of ARCHITECTURE.md: a folder may import only folders before it. */
const LAYERS = [
  "util",
  "image",
  "data",
  "augment",
  "head",
  "models",
  "backends",
  "train",
  "metrics",
  "report",
  "onnx",
  "detect",
  "analyze",
  "infer",
  "cli",
  "course",
];

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
}

async function graphOf(entry: string): Promise<Map<string, string[]>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT_PATH,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, `deno info ${entry}: ${new TextDecoder().decode(out.stderr)}`);
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
  const graph = new Map<string, string[]>();
  for (const m of info.modules) {
    if (!m.specifier.startsWith(ROOT.href)) continue;
    const deps = (m.dependencies ?? [])
      .flatMap((d) => [d.code?.specifier, d.type?.specifier])
      .filter((s): s is string => !!s && s.startsWith(ROOT.href) && s.endsWith(".ts"));
    graph.set(rel(m.specifier), [...new Set(deps.map(rel))]);
  }
  return graph;
}

function rel(specifier: string): string {
  return specifier.slice(ROOT.href.length);
}

/** Every cycle found by a depth-first walk, as a path that ends where it starts. */
function findCycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const s = state.get(next);
      if (s === "open") cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (s === undefined) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

async function wholeGraph(): Promise<Map<string, string[]>> {
  // Each folder's mod.ts re-exports all its modules; the worker is started by URL.
  const entries = ["mod.ts", "main.ts", "lib/train/data_parallel_worker.ts"];
  for await (const e of Deno.readDir(new URL("tasks/", ROOT))) {
    if (e.isFile && e.name.endsWith(".ts")) entries.push(`tasks/${e.name}`);
  }
  for await (const d of Deno.readDir(new URL("lib/", ROOT))) {
    if (!d.isDirectory) continue;
    entries.push(`lib/${d.name}/mod.ts`);
  }
  const graph = new Map<string, string[]>();
  const graphs = await Promise.all(entries.sort().map(graphOf));
  for (const g of graphs) for (const [k, v] of g) graph.set(k, v);
  return graph;
}

const graph = await wholeGraph();

Deno.test("the module graph of mod.ts, main.ts, tasks/ and lib/ has no import cycle", () => {
  assert(graph.size > 50, `only ${graph.size} modules found`);
  deepEqual(findCycles(graph).map((c) => c.join(" -> ")), []);
});

Deno.test("no module in lib/ imports from tasks/, tests/ or main.ts", () => {
  const bad: string[] = [];
  for (const [mod, deps] of graph) {
    if (!mod.startsWith("lib/")) continue;
    for (const d of deps) {
      if (/^(tasks|tests)\//.test(d) || d === "main.ts") bad.push(`${mod} -> ${d}`);
    }
  }
  deepEqual(bad, []);
});

Deno.test("lib/ folders import only the folders before them in ARCHITECTURE.md's order", () => {
  const bad: string[] = [];
  for (const [mod, deps] of graph) {
    const from = mod.match(/^lib\/([^/]+)\//)?.[1];
    if (!from) continue;
    assert(LAYERS.includes(from), `lib/${from}/ is not in the layer list (and ARCHITECTURE.md)`);
    for (const d of deps) {
      const to = d.match(/^lib\/([^/]+)\//)?.[1];
      if (to && to !== from && LAYERS.indexOf(to) > LAYERS.indexOf(from)) {
        bad.push(`${mod} -> ${d}`);
      }
    }
  }
  deepEqual(bad, []);
});

Deno.test("every lib/ folder has a mod.ts and ARCHITECTURE.md names it", async () => {
  const arch = await Deno.readTextFile(new URL("ARCHITECTURE.md", ROOT));
  for await (const d of Deno.readDir(new URL("lib/", ROOT))) {
    if (!d.isDirectory) continue;
    const st = await Deno.stat(new URL(`lib/${d.name}/mod.ts`, ROOT));
    equal(st.isFile, true);
    assert(arch.includes(`lib/${d.name}/`), `ARCHITECTURE.md does not mention lib/${d.name}/`);
  }
});

Deno.test("findCycles finds a planted cycle", () => {
  const g = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
  deepEqual(findCycles(g), [["a", "b", "c", "a"]]);
});
