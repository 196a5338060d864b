/**
 * Compiles every WebAssembly text module `lib/backends/wasm/NAME.wat` (our
 * own kernels, with SIMD) with the npm package `wabt` and writes its binary,
 * base64, to `lib/backends/wasm_NAME_binary.ts` as `WASM_NAME_BASE64` (NAME
 * in upper case). When a module asks for it ({@link RELAXED_VARIANT_MARK})
 * and {@link relaxMaddWat} finds multiply-adds to fuse, a second binary with them as `f32x4.relaxed_madd` (relaxed
 * SIMD) goes to the same file as `WASM_NAME_RELAXED_BASE64`; the runtime
 * picks it where `WebAssembly.validate` accepts it. Re-run after editing a
 * `.wat`; tests (`tests/wasm_adam_test.ts`, `tests/wasm_simd_kernels_test.ts`)
 * fail when a generated file is stale. Only this generator and those tests
 * use `wabt`; the runtime reads the generated files.
 *
 * ```sh
 * deno task build:wasm
 * # or: deno run --allow-read=lib --allow-write=lib tasks/build_wasm.ts
 * ```
 *
 * @module
 */

import wabtInit from "wabt";
import { encodeBase64Chunks } from "../lib/backends/wasm_source.ts";
import { parseOrExit } from "../lib/cli/args.ts";

if (import.meta.main) {
  parseOrExit(
    Deno.args,
    {},
    "usage: deno task build:wasm\n  compile lib/backends/wasm/*.wat into lib/backends/wasm_*_binary.ts",
  );
}

/** The folder of the WebAssembly text sources, relative to the repository root. */
export const WAT_DIR = "lib/backends/wasm";

const ROOT = new URL("../", import.meta.url);

/** What is generated from one `.wat` file. */
export interface WasmModuleFiles {
  /** Module name: the `.wat` file name without extension. */
  name: string;
  /** The text source, relative to the repository root. */
  watPath: string;
  /** The generated TypeScript file, relative to the repository root. */
  binaryPath: string;
  /** The exported constant holding the base64 chunks. */
  constName: string;
  /**
   * The exported constant holding the relaxed-SIMD variant's base64 chunks
   * (written only for modules that ask for one and have multiply-adds to fuse).
   */
  relaxedConstName: string;
}

/**
 * The generated file names for module `name` (`lib/wasm/NAME.wat`).
 *
 * @example
 * ```ts
 * import { wasmModuleFiles } from "./build_wasm.ts";
 * console.log(wasmModuleFiles("adam").binaryPath); // lib/backends/wasm_adam_binary.ts
 * ```
 */
export function wasmModuleFiles(name: string): WasmModuleFiles {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) {
    throw new Error(`${WAT_DIR}/${name}.wat: use lower-case letters, digits and _ in names`);
  }
  return {
    name,
    watPath: `${WAT_DIR}/${name}.wat`,
    binaryPath: `lib/backends/wasm_${name}_binary.ts`,
    constName: `WASM_${name.toUpperCase()}_BASE64`,
    relaxedConstName: `WASM_${name.toUpperCase()}_RELAXED_BASE64`,
  };
}

/**
 * Every `lib/backends/wasm/*.wat` module, sorted by name.
 *
 * @example
 * ```ts ignore
 * import { listWasmModules } from "./build_wasm.ts";
 * console.log((await listWasmModules()).map((m) => m.name)); // [ "adam", "simd_kernels" ]
 * ```
 */
export async function listWasmModules(): Promise<WasmModuleFiles[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(new URL(`${WAT_DIR}/`, ROOT))) {
    if (entry.isFile && entry.name.endsWith(".wat")) names.push(entry.name.slice(0, -4));
  }
  return names.sort().map(wasmModuleFiles);
}

/**
 * Compiles WebAssembly text (SIMD and bulk memory enabled, and relaxed SIMD
 * with `relaxed: true`) to a validated binary.
 *
 * @example
 * ```ts ignore
 * import { compileWat } from "./build_wasm.ts";
 * const bytes = await compileWat("(module)", "empty.wat");
 * console.log(bytes.length); // 8
 * ```
 */
export async function compileWat(
  text: string,
  filename: string,
  options: { relaxed?: boolean } = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const wabt = await wabtInit();
  const features = { simd: true, bulk_memory: true, relaxed_simd: options.relaxed === true };
  const mod = wabt.parseWat(filename, text, features);
  try {
    mod.resolveNames();
    mod.validate();
    const { buffer } = mod.toBinary({ log: false, write_debug_names: false });
    return new Uint8Array(buffer);
  } finally {
    mod.destroy();
  }
}

// ---------------------------------------------------------------------------
// Fusing multiply-adds: a small s-expression rewriter for WebAssembly text.

/** An atom (keyword, id, number) or string of WebAssembly text. */
interface WatAtom {
  kind: "atom";
  /** The source text, verbatim (strings keep their quotes and escapes). */
  text: string;
}

/** A parenthesised list; `gaps[i]` is the whitespace and comments before `items[i]`. */
interface WatList {
  kind: "list";
  items: WatNode[];
  /** `items.length + 1` runs of trivia; the last one precedes the `)`. */
  gaps: string[];
}

type WatNode = WatAtom | WatList;

/** Parses WebAssembly text into lists and atoms, keeping every character. */
function parseWatTree(text: string): WatList {
  const root: WatList = { kind: "list", items: [], gaps: [] };
  const stack: WatList[] = [root];
  let gapStart = 0;
  let i = 0;
  const fail = (what: string, at: number): never => {
    const line = text.slice(0, at).split("\n").length;
    throw new Error(`wat line ${line}: ${what}`);
  };
  const push = (node: WatNode, start: number): void => {
    const top = stack[stack.length - 1];
    top.gaps.push(text.slice(gapStart, start));
    top.items.push(node);
  };
  while (i < text.length) {
    const ch = text[i];
    if (ch === " " || ch === "\t" || ch === "\n" || ch === "\r") {
      i++;
    } else if (ch === ";" && text[i + 1] === ";") {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? text.length : nl;
    } else if (ch === "(" && text[i + 1] === ";") {
      // Block comments nest.
      const start = i;
      let depth = 1;
      i += 2;
      while (depth > 0) {
        if (i >= text.length) fail("unterminated block comment", start);
        if (text[i] === "(" && text[i + 1] === ";") {
          depth++;
          i += 2;
        } else if (text[i] === ";" && text[i + 1] === ")") {
          depth--;
          i += 2;
        } else {
          i++;
        }
      }
    } else if (ch === "(") {
      const list: WatList = { kind: "list", items: [], gaps: [] };
      push(list, i);
      stack.push(list);
      i++;
      gapStart = i;
    } else if (ch === ")") {
      if (stack.length === 1) fail("unbalanced )", i);
      stack.pop()!.gaps.push(text.slice(gapStart, i));
      i++;
      gapStart = i;
    } else {
      const start = i;
      if (ch === '"') {
        i++;
        while (text[i] !== '"') {
          if (i >= text.length) fail("unterminated string", start);
          i += text[i] === "\\" ? 2 : 1;
        }
        i++;
      } else {
        while (i < text.length && !/[\s()";]/.test(text[i])) i++;
        if (i === start) fail(`unexpected ${JSON.stringify(ch)}`, i);
      }
      push({ kind: "atom", text: text.slice(start, i) }, start);
      gapStart = i;
    }
  }
  if (stack.length > 1) fail("unbalanced (", text.length);
  root.gaps.push(text.slice(gapStart));
  return root;
}

/** The text of a node (or of the root's contents, without parentheses). */
function printWat(node: WatNode, root = false): string {
  if (node.kind === "atom") return node.text;
  let out = root ? "" : "(";
  for (const [i, item] of node.items.entries()) out += node.gaps[i] + printWat(item);
  return out + node.gaps[node.items.length] + (root ? "" : ")");
}

/** `(OP (...) (...))`: instruction `op` folded with exactly two operand expressions. */
function isBinary(node: WatNode, op: string): node is WatList {
  return node.kind === "list" && node.items.length === 3 && node.items[0].kind === "atom" &&
    node.items[0].text === op && node.items[1].kind === "list" && node.items[2].kind === "list";
}

/** Instructions with effects (writes, calls, control flow) that evaluation order matters for. */
const EFFECTS =
  /^(call.*|return.*|local\.(set|tee)|global\.set|table\..*|memory\.(grow|fill|copy|init)|(data|elem)\.drop|.*store.*|.*atomic.*|block|loop|if|try.*|br.*|unreachable|throw.*|rethrow|delegate|drop)$/;

/** Whether `node` can be evaluated at another time: only reads and arithmetic. */
function isPure(node: WatNode): boolean {
  if (node.kind === "atom") return true;
  const head = node.items[0];
  if (head?.kind === "atom" && EFFECTS.test(head.text)) return false;
  return node.items.every(isPure);
}

/**
 * The trivia between two operands that used to be separated by `parts`:
 * the parts with comments (each with its own whitespace), in order, or
 * else the last non-empty whitespace.
 */
function mergeGaps(...parts: string[]): string {
  const comments = parts.filter((p) => /\S/.test(p));
  if (comments.length > 0) return comments.join("");
  return parts.findLast((p) => p !== "") ?? "";
}

/** Rewrites `node`'s operands, then `node` itself (bottom-up). */
function relaxNode(node: WatNode): WatNode {
  if (node.kind === "atom") return node;
  const list: WatList = { kind: "list", items: node.items.map(relaxNode), gaps: node.gaps };
  if (!isBinary(list, "f32x4.add")) return list;
  const [, first, second] = list.items as [WatAtom, WatList, WatList];
  let mul: WatList;
  let acc: WatList;
  if (isBinary(first, "f32x4.mul")) {
    // X, Y, A: the order of evaluation is kept.
    [mul, acc] = [first, second];
  } else if (isBinary(second, "f32x4.mul") && isPure(first) && isPure(second)) {
    // A moves after X and Y, which is the same when they only read.
    [mul, acc] = [second, first];
  } else {
    return list;
  }
  const g = list.gaps;
  const h = mul.gaps;
  // Head-X, X-Y, Y-A, A-close: every comment stays, in source order.
  const gaps = [
    g[0],
    mergeGaps(g[1], h[0], h[1]) || " ",
    h[2],
    mergeGaps(h[3], g[2]) || " ",
    g[3],
  ];
  return {
    kind: "list",
    items: [{ kind: "atom", text: "f32x4.relaxed_madd" }, mul.items[1], mul.items[2], acc],
    gaps,
  };
}

/**
 * Fuses the multiply-adds of WebAssembly text: every folded
 * `(f32x4.add A (f32x4.mul X Y))` and `(f32x4.add (f32x4.mul X Y) A)`
 * becomes `(f32x4.relaxed_madd X Y A)` (relaxed SIMD: `X*Y + A`, fused or
 * not as the engine likes), inner expressions first, so a chain of adds
 * becomes a chain of fused ones. When both operands are products the first
 * is fused. The second form keeps the order of evaluation; the first form
 * moves A after X and Y, so it is rewritten only when A, X and Y have no
 * effects (no stores, sets, tees, calls or control flow; which of two
 * trapping operands traps first is not kept). Comments
 * (`;;` and nested `(; ;)`) and strings are tokens of their own, so text
 * in them is never rewritten; comments between the rewritten operands are
 * kept in order. Everything outside the rewritten expressions is left
 * byte for byte as it was; instructions written unfolded (on the stack)
 * are not rewritten. Throws on unbalanced parentheses or unterminated
 * strings or block comments.
 *
 * @example
 * ```ts
 * import { relaxMaddWat } from "./build_wasm.ts";
 * const text = "(local.set $a (f32x4.add (local.get $a) (f32x4.mul (local.get $x) (local.get $y))))";
 * console.log(relaxMaddWat(text));
 * // (local.set $a (f32x4.relaxed_madd (local.get $x) (local.get $y) (local.get $a)))
 * ```
 */
export function relaxMaddWat(text: string): string {
  return printWat(relaxNode(parseWatTree(text)), true);
}

/**
 * The text of the generated file of a compiled module: its binary and, if
 * given, its relaxed-SIMD variant.
 *
 * @example
 * ```ts ignore
 * import { binaryModuleSource, wasmModuleFiles } from "./build_wasm.ts";
 * console.log(binaryModuleSource(wasmModuleFiles("adam"), new Uint8Array([0, 97, 115, 109])));
 * ```
 */
export function binaryModuleSource(
  files: WasmModuleFiles,
  bytes: Uint8Array,
  relaxed: Uint8Array | null = null,
): string {
  const sizes = relaxed === null
    ? `${bytes.length} bytes of wasm`
    : `${bytes.length} and ${relaxed.length} bytes of wasm`;
  const lines = [
    `// Generated from ${files.watPath} by \`deno task build:wasm\``,
    `// (tasks/build_wasm.ts; wabt, SIMD enabled; ${sizes}). Do not edit.`,
    "",
    `/** The WebAssembly module compiled from ${files.watPath}, base64 in chunks. */`,
    `export const ${files.constName}: string[] = [`,
    ...encodeBase64Chunks(bytes, 80).map((c) => `  "${c}",`),
    "];",
    "",
  ];
  if (relaxed !== null) {
    lines.push(
      "/**",
      ` * As {@link ${files.constName}}, with the multiply-adds fused into`,
      " * `f32x4.relaxed_madd` (relaxed SIMD; use where `WebAssembly.validate` accepts it).",
      " */",
      `export const ${files.relaxedConstName}: string[] = [`,
      ...encodeBase64Chunks(relaxed, 80).map((c) => `  "${c}",`),
      "];",
      "",
    );
  }
  return lines.join("\n");
}

/**
 * The line a `.wat` carries to ask for a relaxed-SIMD variant. Modules
 * without it get none: Adam's update must stay bit-identical to tfjs's.
 */
export const RELAXED_VARIANT_MARK = ";; build: relaxed-madd variant";

/**
 * Compiles `lib/backends/wasm/NAME.wat` (and, when it carries
 * {@link RELAXED_VARIANT_MARK} and {@link relaxMaddWat} changes it, its
 * relaxed-SIMD variant) and returns the text its generated file should hold.
 *
 * @example
 * ```ts ignore
 * import { expectedBinarySource, wasmModuleFiles } from "./build_wasm.ts";
 * console.log((await expectedBinarySource(wasmModuleFiles("adam"))).length);
 * ```
 */
export async function expectedBinarySource(files: WasmModuleFiles): Promise<string> {
  const text = await Deno.readTextFile(new URL(files.watPath, ROOT));
  const bytes = await compileWat(text, files.watPath);
  const relaxedText = text.includes(RELAXED_VARIANT_MARK) ? relaxMaddWat(text) : text;
  const relaxed = relaxedText === text
    ? null
    : await compileWat(relaxedText, `${files.watPath} (relaxed)`, { relaxed: true });
  return binaryModuleSource(files, bytes, relaxed);
}

async function main(): Promise<void> {
  for (const files of await listWasmModules()) {
    const source = await expectedBinarySource(files);
    const out = new URL(files.binaryPath, ROOT);
    const tmp = new URL(`${files.binaryPath}.tmp`, ROOT);
    await Deno.writeTextFile(tmp, source);
    await Deno.rename(tmp, out);
    console.log(`${files.binaryPath}: written from ${files.watPath}`);
  }
}

if (import.meta.main) {
  await main();
}
