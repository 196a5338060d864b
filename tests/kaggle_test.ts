import assert from "node:assert/strict";
import { createKeypointEstimator } from "../mod.ts";
import { kaggleCsv, writeKaggle } from "../lib/course/kaggle.ts";
import { readImage } from "../lib/image/decode.ts";

const XML = new URL("../fixtures/300w/dlib/labels.xml", import.meta.url).pathname;

Deno.test("kaggleCsv numbers rows per coordinate: face, point, x then y", () => {
  assert.equal(
    kaggleCsv([new Float32Array([1, 2, 3, 4]), new Float32Array([5, 6, 7, 8])]),
    "Id,Predicted\n0,1\n1,2\n2,3\n3,4\n4,5\n5,6\n6,7\n7,8\n",
  );
});

Deno.test("writeKaggle predicts every non-ignored XML box in original-image pixels", async () => {
  const estimator = await createKeypointEstimator({ model: "part3" });
  const out = await Deno.makeTempFile({ suffix: ".csv" });
  try {
    const n = await writeKaggle(estimator, XML, out);
    assert.equal(
      n,
      3,
      "two faces in the first image, one in the second; the ignored box is skipped",
    );
    const rows = (await Deno.readTextFile(out)).trim().split("\n");
    assert.equal(rows.length, 1 + 3 * 136);
    // The first face's rows equal a direct estimate with the XML box (top 2, left 2, 28x32).
    const img = await readImage(XML.replace(/labels\.xml$/, "images/4000_1.jpg"));
    const est = await estimator.estimateFace(img, { x: 2, y: 2, width: 28, height: 32 });
    const first = rows.slice(1, 137).map((r) => Number(r.split(",")[1]));
    est.keypoints.forEach((k, i) => {
      assert.ok(Math.abs(first[2 * i] - k.x) < 1e-3 && Math.abs(first[2 * i + 1] - k.y) < 1e-3);
    });
  } finally {
    estimator.dispose();
    await Deno.remove(out);
  }
});
