/**
 * The comparison logic of `deno task parity` (tasks/parity.ts): which step
 * and which weight are worst, NaN handling, the "more than one Adam step"
 * count, and that the synthetic batches and hashes are deterministic.
 */
import assert from "node:assert/strict";
import { compareRuns, hashFloats, type StepRun, syntheticBatches } from "../tasks/parity.ts";

Deno.test("compareRuns finds the worst step and weight; NaN counts as a mismatch", () => {
  const init = [new Float32Array([0, 0]), new Float32Array([0])];
  const a: StepRun = {
    losses: [1, 0.5, 0.25],
    stepSeconds: [1, 1, 1],
    final: [new Float32Array([0.1, 0.2]), new Float32Array([0.3])],
  };
  const b: StepRun = {
    losses: [1, 0.6, 0.25],
    stepSeconds: [1, 1, 1],
    final: [new Float32Array([0.1, 0.2]), new Float32Array([0.35])],
  };
  const c = compareRuns(a, b, init, ["k", "b"], 0.01);
  assert.equal(c.weightsOverStep, 1);
  assert.equal(c.weightCount, 3);
  assert.equal(c.worstStep, 2);
  assert.ok(Math.abs(c.maxRelLossDiff - 0.2) < 1e-9);
  assert.equal(c.worstWeight, "b");
  assert.ok(Math.abs(c.maxWeightDiff - 0.05) < 1e-6);
  assert.ok(Math.abs(c.maxCpuMovement - 0.3) < 1e-6);
  const same = compareRuns(a, a, init, ["k", "b"], 0);
  assert.equal(same.maxRelLossDiff, 0);
  assert.equal(same.maxWeightDiff, 0);
  assert.equal(same.weightsOverStep, 0);
  const nan = compareRuns(
    a,
    { ...b, losses: [1, NaN, 0.25], final: [b.final[0], new Float32Array([NaN])] },
    init,
    ["k", "b"],
    0.01,
  );
  assert.equal(nan.maxRelLossDiff, Infinity);
  assert.equal(nan.maxWeightDiff, Infinity);
  assert.equal(nan.weightsOverStep, 1, "a NaN weight counts as off by more than a step");
  assert.throws(() => compareRuns(a, { ...b, losses: [1] }, init, ["k", "b"], 0.01));
});

Deno.test("synthetic batches and hashes are deterministic per seed", () => {
  const a = syntheticBatches([16, 20, 1], 4, 2, 3, 7);
  const b = syntheticBatches([16, 20, 1], 4, 2, 3, 7);
  const c = syntheticBatches([16, 20, 1], 4, 2, 3, 8);
  assert.equal(a.x.length, 2);
  assert.equal(a.x[0].length, 3 * 16 * 20);
  assert.equal(a.y[0].length, 3 * 4);
  assert.equal(hashFloats([...a.x, ...a.y]), hashFloats([...b.x, ...b.y]));
  assert.notEqual(hashFloats([...a.x, ...a.y]), hashFloats([...c.x, ...c.y]));
  const t = new Float32Array([1, 2, 3]);
  assert.notEqual(hashFloats([t]), hashFloats([t.subarray(0, 2), t.subarray(2)]));
});
