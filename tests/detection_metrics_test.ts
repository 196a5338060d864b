// The match rule between found and labelled faces, and recall / precision.
import assert from "node:assert/strict";
import { detectionCounts, iou, matchFaces } from "../lib/metrics/detection.ts";

Deno.test("matchFaces: IoU >= 0.3 or the centre inside; best score first; one to one", () => {
  const truth = [{ x: 0, y: 0, width: 10, height: 10 }, { x: 100, y: 0, width: 10, height: 10 }];
  const f = (x: number, w: number, score: number) => ({
    box: { x, y: 0, width: w, height: w },
    score,
  });
  // A big box that holds face 0's centre (IoU < 0.3) matches; the better-scored exact box wins.
  assert.deepEqual(matchFaces(truth, [f(-20, 50, 0.5), f(1, 10, 0.9)]), [1, -1]);
  assert.deepEqual(matchFaces(truth, [f(-20, 50, 0.5)]), [0, -1]);
  // Two boxes on one face: only one match.
  assert.deepEqual(matchFaces(truth, [f(0, 10, 0.9), f(0, 10, 0.8)]), [0, -1]);
  // Far away: no match.
  assert.deepEqual(matchFaces(truth, [f(300, 10, 0.9)]), [-1, -1]);
  assert.ok(Math.abs(iou(truth[0], { x: 5, y: 0, width: 10, height: 10 }) - 1 / 3) < 1e-12);
  const c = detectionCounts(4, 5, 3);
  assert.deepEqual([c.recall, c.precision], [0.75, 0.6]);
});
