/**
 * Training samples from label files of any format (`./label_formats.ts`):
 * one sample per labelled face holding its whole image, faces of one photo
 * in one group, and a deterministic split that keeps each photo on one
 * side.
 *
 * @module
 */

import { dirname, isAbsolute, join } from "node:path";
import { readImage } from "../image/decode.ts";
import { fromRgba } from "../image/raster.ts";
import { guessLabelFormat, readLabels } from "./label_formats.ts";
import type { Sample } from "./sample.ts";

/**
 * Whether `path` is a label file or a plain `.pts` folder rather than a
 * 300-W root (which holds the subset folders).
 *
 * @example
 * ```ts ignore
 * import { isLabelSource } from "./label_samples.ts";
 * console.log(await isLabelSource("faces.xml")); // true
 * ```
 */
export async function isLabelSource(path: string): Promise<boolean> {
  const st = await Deno.stat(path).catch(() => null);
  if (!st) return false;
  if (st.isFile) return /\.(xml|json|csv)$/i.test(path);
  for await (const e of Deno.readDir(path)) if (e.isFile && /\.pts$/i.test(e.name)) return true;
  return false;
}

/**
 * Loads every labelled face of a label file or `.pts` folder as samples
 * (images decoded once per photo).
 *
 * @example
 * ```ts ignore
 * import { labelSamples } from "./label_samples.ts";
 * const samples = await labelSamples("my_faces.json", 1);
 * ```
 */
export async function labelSamples(
  path: string,
  channels: 1 | 3,
  limit?: number,
): Promise<Sample[]> {
  const format = await guessLabelFormat(path);
  const set = await readLabels(path, format);
  const base = format === "pts" ? path : dirname(path);
  const out: Sample[] = [];
  for (const im of set.images) {
    if (limit !== undefined && out.length >= limit) break;
    const file = isAbsolute(im.image) ? im.image : join(base, im.image);
    const image = fromRgba(await readImage(file), channels);
    const stem = im.image.replace(/^.*\//, "").replace(/\.[^./]+$/, "");
    im.faces.forEach((f, k) =>
      out.push({
        name: im.faces.length > 1 ? `${stem}#${k}` : stem,
        group: file,
        image,
        points: f.points,
      })
    );
  }
  if (out.length === 0) throw new Error(`${path}: no labelled faces`);
  return out;
}

/**
 * Splits samples by group: about `fraction` of the photos (chosen by a hash
 * of the group, so the split is the same on every run) go to validation.
 *
 * @example
 * ```ts
 * import { splitByGroup } from "./label_samples.ts";
 * const s = (g: string) => ({ name: g, group: g, image: { data: new Float32Array(1), width: 1, height: 1, channels: 1 as const }, points: new Float32Array(2) });
 * const { train, val } = splitByGroup(Array.from({ length: 100 }, (_, i) => s(`p${i}`)), 0.1);
 * console.log(train.length + val.length, val.length > 0); // 100 true
 * ```
 */
export function splitByGroup(
  samples: Sample[],
  fraction = 0.1,
): { train: Sample[]; val: Sample[] } {
  const hash = (s: string): number => {
    let h = 2166136261;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
    return h / 2 ** 32;
  };
  const val = samples.filter((s) => hash(s.group) < fraction);
  const train = samples.filter((s) => hash(s.group) >= fraction);
  if (val.length === 0 || train.length === 0) {
    // Too few photos for the fraction: keep the last photo for validation.
    const last = samples[samples.length - 1].group;
    return {
      train: samples.filter((s) => s.group !== last),
      val: samples.filter((s) => s.group === last),
    };
  }
  return { train, val };
}
