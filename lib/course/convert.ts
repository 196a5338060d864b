/**
 * `main.ts convert`: label files from one format to another (300-W `.pts`
 * folders, dlib XML, COCO keypoint JSON, CSV; see
 * `../data/label_formats.ts`). Image paths are rewritten relative to the
 * output; a `.pts` output folder gets one `.pts` per face with its image
 * copied beside it (`NAME_k.*` when a photo has several faces). Files are
 * written atomically.
 *
 * @module
 */

import { dirname, isAbsolute, join, relative } from "node:path";
import {
  formatLabels,
  formatPts,
  type LabelFormat,
  type LabelSet,
  readLabels,
} from "../data/label_formats.ts";
import { ensureDir, writeFileAtomic } from "../util/fs_util.ts";

/**
 * Converts `input` (format `from`) to `output` (format `to`); returns the
 * number of faces written.
 *
 * @example
 * ```ts ignore
 * import { convertLabels } from "./convert.ts";
 * await convertLabels("faces.xml", "dlib", "faces.json", "coco");
 * ```
 */
export async function convertLabels(
  input: string,
  from: LabelFormat,
  output: string,
  to: LabelFormat,
): Promise<number> {
  const set = await readLabels(input, from);
  const inDir = from === "pts" ? input : dirname(input);
  const outDir = to === "pts" ? output : dirname(output);
  const rebase = (image: string): string => {
    const abs = isAbsolute(image) ? image : join(inDir, image);
    return relative(outDir, abs) || image;
  };
  const faces = set.images.reduce((s, im) => s + im.faces.length, 0);
  if (to === "pts") {
    await ensureDir(output);
    for (const im of set.images) {
      const src = isAbsolute(im.image) ? im.image : join(inDir, im.image);
      const ext = im.image.match(/\.[^./]+$/)?.[0] ?? ".jpg";
      const stem = im.image.replace(/^.*\//, "").replace(/\.[^./]+$/, "");
      for (const [k, f] of im.faces.entries()) {
        const name = im.faces.length > 1 ? `${stem}_${k + 1}` : stem;
        await Deno.copyFile(src, join(output, `${name}${ext}`));
        await writeFileAtomic(join(output, `${name}.pts`), formatPts(f.points));
      }
    }
    return faces;
  }
  const rebased: LabelSet = {
    points: set.points,
    images: set.images.map((im) => ({ ...im, image: rebase(im.image) })),
  };
  await ensureDir(outDir);
  await writeFileAtomic(output, formatLabels(rebased, to));
  return faces;
}
