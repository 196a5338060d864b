import assert from "node:assert/strict";
import { compileWat, listWasmModules, relaxMaddWat } from "../tasks/build_wasm.ts";

const g = (name: string) => `(local.get $${name})`;
const add = (a: string, b: string) => `(f32x4.add ${a} ${b})`;
const mul = (a: string, b: string) => `(f32x4.mul ${a} ${b})`;
const madd = (x: string, y: string, a: string) => `(f32x4.relaxed_madd ${x} ${y} ${a})`;

Deno.test("relaxMaddWat fuses both operand orders", () => {
  assert.equal(relaxMaddWat(add(g("a"), mul(g("x"), g("y")))), madd(g("x"), g("y"), g("a")));
  assert.equal(relaxMaddWat(add(mul(g("x"), g("y")), g("a"))), madd(g("x"), g("y"), g("a")));
  // The documented example, with the text around it kept.
  assert.equal(
    relaxMaddWat(
      "(local.set $a (f32x4.add (local.get $a) (f32x4.mul (local.get $x) (local.get $y))))",
    ),
    "(local.set $a (f32x4.relaxed_madd (local.get $x) (local.get $y) (local.get $a)))",
  );
  // Loads are reads: the accumulator may move after the product.
  const load = "(v128.load offset=16 align=4 (i32.add (local.get $p) (local.get $j)))";
  assert.equal(relaxMaddWat(add(load, mul(g("s"), load))), madd(g("s"), load, load));
});

Deno.test("relaxMaddWat: nested adds, inner expressions first", () => {
  // A chain of accumulations becomes a chain of fused ones.
  const chain = add(add(g("a"), mul(g("b"), g("c"))), mul(g("d"), g("e")));
  assert.equal(relaxMaddWat(chain), madd(g("d"), g("e"), madd(g("b"), g("c"), g("a"))));
  // Two products: the first is fused, the second stays a product.
  assert.equal(
    relaxMaddWat(add(mul(g("a"), g("b")), mul(g("c"), g("d")))),
    madd(g("a"), g("b"), mul(g("c"), g("d"))),
  );
  // The matmul kernel's tree: sums of pairs of products under an accumulation.
  const tree = add(
    g("y"),
    add(add(mul(g("s0"), g("b0")), mul(g("s1"), g("b1"))), add(mul(g("s2"), g("b2")), g("z"))),
  );
  assert.equal(
    relaxMaddWat(tree),
    add(
      g("y"),
      add(madd(g("s0"), g("b0"), mul(g("s1"), g("b1"))), madd(g("s2"), g("b2"), g("z"))),
    ),
  );
  // Inside a product's operands, and deep inside other instructions.
  assert.equal(
    relaxMaddWat(`(v128.store (local.get $p) ${mul(add(g("a"), mul(g("b"), g("c"))), g("d"))})`),
    `(v128.store (local.get $p) ${mul(madd(g("b"), g("c"), g("a")), g("d"))})`,
  );
  // An accumulator that is itself a fused product of a product.
  assert.equal(
    relaxMaddWat(add(mul(mul(g("a"), g("b")), g("c")), g("d"))),
    madd(mul(g("a"), g("b")), g("c"), g("d")),
  );
});

Deno.test("relaxMaddWat keeps comments and strings out of the way", () => {
  const inner = add(g("a"), mul(g("x"), g("y")));
  // Text in comments and strings is not code.
  for (
    const text of [
      `;; ${inner}\n`,
      `(; ${inner} ;)`,
      `(; outer (; nested ;) ${inner} ;)`,
      `(export "${inner}" (func 0))`,
      `(data "\\"${inner}\\\\" "x")`,
    ]
  ) {
    assert.equal(relaxMaddWat(text), text);
  }
  // A comment right after the head, a block comment with ")" in it, and a
  // line comment with "(" in it.
  const text = "(local.set $a (f32x4.add ;; acc (\n" +
    "    (local.get $a) (; the ) product ;) (f32x4.mul (local.get $x)\n" +
    "      (local.get $y))))";
  assert.equal(
    relaxMaddWat(text),
    "(local.set $a (f32x4.relaxed_madd ;; acc (\n" +
      "    (local.get $x)\n" +
      "      (local.get $y) (; the ) product ;) (local.get $a)))",
  );
  // Layout: line breaks between operands are kept where they were.
  assert.equal(
    relaxMaddWat("(f32x4.add (local.get $a)\n  (f32x4.mul (local.get $s) (local.get $d)))"),
    "(f32x4.relaxed_madd (local.get $s) (local.get $d)\n  (local.get $a))",
  );
  assert.equal(
    relaxMaddWat("(f32x4.add\n  (f32x4.mul (local.get $s)\n    (local.get $d))\n  (local.get $a))"),
    "(f32x4.relaxed_madd (local.get $s)\n    (local.get $d)\n  (local.get $a))",
  );
});

Deno.test("relaxMaddWat changes nothing else", () => {
  const keep = [
    // Other instructions and shapes.
    `(f32x4.sub ${g("a")} ${mul(g("x"), g("y"))})`,
    `(f64x2.add ${g("a")} (f64x2.mul ${g("x")} ${g("y")}))`,
    `(f32.add ${g("a")} (f32.mul ${g("x")} ${g("y")}))`,
    `(f32x4.add ${g("a")} ${g("b")})`,
    // Partly folded: an operand comes from the stack.
    `(f32x4.add (f32x4.mul ${g("x")}))`,
    `(f32x4.add ${mul(g("x"), g("y"))})`,
    `(f32x4.add ${g("a")} (f32x4.mul ${g("x")}))`,
    // Unfolded (stack) code.
    "local.get $x\nlocal.get $y\nf32x4.mul\nlocal.get $a\nf32x4.add\n",
    // The accumulator would move after effects, or past reads of what it writes.
    add("(local.tee $a (local.get $b))", mul(g("a"), g("y"))),
    add(g("a"), mul("(call $f)", g("y"))),
    add("(v128.load (local.get $p))", mul(g("x"), "(block (result v128) (local.get $y))")),
    // Identifiers and numbers that look like the instructions.
    "(func $f32x4.add (param $f32x4.mul v128))",
    "",
    "  \n(module)\n;; end",
  ];
  for (const text of keep) assert.equal(relaxMaddWat(text), text, text);
  // With the product first the order of evaluation is kept, so effects are fine.
  assert.equal(
    relaxMaddWat(add(mul("(local.tee $x (local.get $b))", g("y")), "(call $f)")),
    madd("(local.tee $x (local.get $b))", g("y"), "(call $f)"),
  );
  // Text around and between rewritten expressions is kept byte for byte.
  const around = "(module ;; m\n  (func (; f ;) (param $a v128)\t(result v128)\r\n" +
    `    ${add(g("a"), mul(g("a"), g("a")))}  ;; one\n` +
    `    ${add(mul(g("a"), g("a")), g("a"))}))  \n`;
  assert.equal(
    relaxMaddWat(around),
    "(module ;; m\n  (func (; f ;) (param $a v128)\t(result v128)\r\n" +
      `    ${madd(g("a"), g("a"), g("a"))}  ;; one\n` +
      `    ${madd(g("a"), g("a"), g("a"))}))  \n`,
  );
});

Deno.test("relaxMaddWat rejects malformed text", () => {
  for (const text of ["(module", "(module))", '(export "f', "(; open", "(f32x4.add ; x)"]) {
    assert.throws(() => relaxMaddWat(text), /wat line/, text);
  }
});

/** The atoms of WebAssembly text, comments dropped, with how often each occurs. */
function atomCounts(text: string): Map<string, number> {
  const bare = text.replace(/\(;[\s\S]*?;\)/g, " ").replace(/;;[^\n]*/g, " ");
  const counts = new Map<string, number>();
  for (const atom of bare.split(/[\s()]+/).filter((a) => a !== "")) {
    counts.set(atom, (counts.get(atom) ?? 0) + 1);
  }
  return counts;
}

Deno.test("relaxMaddWat on our modules: only adds and products become fused, idempotent, compiles", async () => {
  for (const m of await listWasmModules()) {
    const text = await Deno.readTextFile(new URL(`../${m.watPath}`, import.meta.url));
    const relaxed = relaxMaddWat(text);
    assert.equal(relaxMaddWat(relaxed), relaxed, `${m.name}: idempotent`);
    const before = atomCounts(text);
    const after = atomCounts(relaxed);
    const fused = after.get("f32x4.relaxed_madd") ?? 0;
    assert.equal(before.get("f32x4.relaxed_madd"), undefined);
    // Every fusion removes one add and one product and nothing else.
    for (const [atom, n] of before) {
      const removed = atom === "f32x4.add" || atom === "f32x4.mul" ? fused : 0;
      assert.equal(after.get(atom) ?? 0, n - removed, `${m.name}: ${atom}`);
    }
    for (const atom of after.keys()) {
      assert.ok(before.has(atom) || atom === "f32x4.relaxed_madd", `${m.name}: new ${atom}`);
    }
    if (m.name === "simd_kernels") {
      // Every vector accumulation of convFilterGrad's row sums and of the
      // matmul rows; 6 products stay (second products of a pair).
      assert.equal(fused, 32, "simd_kernels: fused multiply-adds");
      assert.equal(after.get("f32x4.mul"), 6, "simd_kernels: products left");
      assert.equal(text.includes("(f32x4.add (local.get $a0)\n"), true);
      assert.equal(relaxed.includes("(f32x4.add (local.get $a0)\n"), false);
    }
    if (m.name === "im2col") assert.equal(relaxed, text, "im2col: no products");
    if (fused > 0) {
      // Relaxed SIMD is needed for the rewritten text, and enough.
      await assert.rejects(() => compileWat(relaxed, m.watPath), /relaxed_madd/);
      const bytes = await compileWat(relaxed, m.watPath, { relaxed: true });
      assert.ok(WebAssembly.validate(bytes), `${m.name}: valid`);
    }
  }
});
