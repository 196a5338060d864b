/**
 * The course's Kaggle submission: predictions for every face box of a dlib
 * landmark XML (e.g. `labels_ibug_300W_test_parts.xml`, whose boxes may
 * carry no parts), written as CSV `Id,Predicted` with one row per point
 * coordinate in original-image pixels: for face `f` (in XML order), point
 * `k` and axis `a` (0 = x, 1 = y), `Id = f * 2K + 2k + a`.
 *
 * @module
 */

import type { KeypointEstimator } from "../infer/keypoint_estimator.ts";
import { writeFileAtomic } from "../util/fs_util.ts";
import { readImage, type RgbaImage } from "../image/decode.ts";
import { parseDlibXml } from "../data/w300.ts";

/**
 * Formats predictions (one interleaved array per face) as the Kaggle CSV.
 *
 * @example
 * ```ts
 * import { kaggleCsv } from "./kaggle.ts";
 * console.log(kaggleCsv([new Float32Array([1.5, 2])])); // "Id,Predicted\n0,1.5\n1,2\n"
 * ```
 */
export function kaggleCsv(faces: ArrayLike<number>[]): string {
  const rows = ["Id,Predicted"];
  let id = 0;
  for (const f of faces) {
    for (let i = 0; i < f.length; i++) rows.push(`${id++},${+f[i].toFixed(4)}`);
  }
  return rows.join("\n") + "\n";
}

/**
 * Predicts every non-ignored box of a dlib XML with a estimator and writes
 * the CSV atomically; returns the number of faces.
 *
 * @example
 * ```ts ignore
 * import { createKeypointEstimator } from "../infer/keypoint_estimator.ts";
 * import { writeKaggle } from "./kaggle.ts";
 * const n = await writeKaggle(await createKeypointEstimator({ model: "part3" }), "labels_test.xml", "submission.csv");
 * ```
 */
export async function writeKaggle(
  estimator: KeypointEstimator,
  xmlPath: string,
  outPath: string,
): Promise<number> {
  const faces = parseDlibXml(await Deno.readTextFile(xmlPath), xmlPath).filter((f) => !f.ignore);
  const dir = xmlPath.includes("/") ? xmlPath.replace(/\/[^/]*$/, "") : ".";
  const images = new Map<string, RgbaImage>();
  const preds: Float32Array[] = [];
  for (const f of faces) {
    let img = images.get(f.file);
    if (!img) {
      img = await readImage(f.file.startsWith("/") ? f.file : `${dir}/${f.file}`);
      images.clear(); // consecutive boxes share an image; keep memory flat
      images.set(f.file, img);
    }
    const est = await estimator.estimateFace(img, {
      x: f.box.x,
      y: f.box.y,
      width: f.box.w,
      height: f.box.h,
    });
    preds.push(Float32Array.from(est.keypoints.flatMap((k) => [k.x, k.y])));
  }
  await writeFileAtomic(outPath, kaggleCsv(preds));
  return faces.length;
}
