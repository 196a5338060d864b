/**
 * Keypoint label files in and out: 300-W `.pts` folders, dlib imglab XML
 * (`<image file><box><part/></box></image>`), COCO-style keypoint JSON and
 * a plain CSV, all through one in-memory form ({@linkcode LabelSet}), so
 * any format converts to any other (`main.ts convert`).
 *
 * Coordinates: points are pixel centres (top-left pixel centre = 0, 0) as in
 * `.pts` and dlib; COCO keypoints are written as they stand with visibility
 * 2. Boxes are `{x, y, width, height}` in continuous coordinates (dlib's
 * `left/top/width/height`, COCO's `bbox`).
 *
 * CSV columns: `image,box_x,box_y,box_w,box_h,x0,y0,x1,y1,...` (one row per
 * face; empty box cells when there is no box).
 *
 * @module
 */

import { boxFromPoints } from "./face_box.ts";
import { parseDlibXml, parsePts } from "./w300.ts";

/** One labelled face. */
export interface LabelledFace {
  /** The face box, when the source has one. */
  box?: { x: number; y: number; width: number; height: number };
  /** Interleaved pixel-centre points `[x0, y0, ...]`. */
  points: Float32Array;
}

/** The labelled faces of one image. */
export interface LabelledImage {
  /** Image path, relative to the label file's folder (or absolute). */
  image: string;
  /** Its faces. */
  faces: LabelledFace[];
}

/** A set of labelled images with a common point count. */
export interface LabelSet {
  /** Points per face. */
  points: number;
  /** The images. */
  images: LabelledImage[];
}

/** The label formats. */
export type LabelFormat = "pts" | "dlib" | "coco" | "csv";

/** All label formats. */
export const LABEL_FORMATS: readonly LabelFormat[] = ["pts", "dlib", "coco", "csv"];

function checkCount(set: LabelSet, source: string): LabelSet {
  for (const im of set.images) {
    for (const f of im.faces) {
      if (f.points.length !== 2 * set.points || f.points.some((v) => !Number.isFinite(v))) {
        throw new Error(
          `${source}: ${im.image}: a face has ${
            f.points.length / 2
          } points (or a non-finite one); expected ${set.points}`,
        );
      }
    }
  }
  return set;
}

/**
 * Parses label text of `format` (for `pts` use {@linkcode readPtsFolder}).
 *
 * @example
 * ```ts
 * import { parseLabels } from "./label_formats.ts";
 * const set = parseLabels("image,box_x,box_y,box_w,box_h,x0,y0\na.jpg,,,,,1,2\n", "csv", "a.csv");
 * console.log(set.points, set.images[0].faces[0].points); // 1 Float32Array [1, 2]
 * ```
 */
export function parseLabels(
  text: string,
  format: Exclude<LabelFormat, "pts">,
  source: string,
): LabelSet {
  if (format === "dlib") {
    // The point count: the parts of the first box that has any.
    const first = [...text.matchAll(/<box\b[^>]*>([\s\S]*?)<\/box>/g)].find((m) =>
      m[1].includes("<part")
    );
    const n = first ? (first[1].match(/<part\b/g) ?? []).length : 68;
    const faces = parseDlibXml(text, source, n).filter((f) => f.points);
    const byFile = new Map<string, LabelledFace[]>();
    for (const f of faces) {
      const list = byFile.get(f.file) ?? [];
      list.push({
        box: { x: f.box.x, y: f.box.y, width: f.box.w, height: f.box.h },
        points: f.points!,
      });
      byFile.set(f.file, list);
    }
    const points = faces.length ? faces[0].points!.length / 2 : 0;
    return checkCount(
      { points, images: [...byFile].map(([image, faces]) => ({ image, faces })) },
      source,
    );
  }
  if (format === "coco") {
    let j: {
      images?: { id: number; file_name: string }[];
      annotations?: { image_id: number; bbox?: number[]; keypoints?: number[] }[];
    };
    try {
      j = JSON.parse(text);
    } catch (e) {
      throw new Error(`${source}: not JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(j.images) || !Array.isArray(j.annotations)) {
      throw new Error(`${source}: COCO keypoint JSON needs "images" and "annotations" arrays`);
    }
    const byId = new Map(
      j.images.map((im) => [im.id, { image: im.file_name, faces: [] as LabelledFace[] }]),
    );
    let points = 0;
    for (const a of j.annotations) {
      const im = byId.get(a.image_id);
      if (!im || !a.keypoints) {
        throw new Error(`${source}: annotation for unknown image ${a.image_id}`);
      }
      if (a.keypoints.length % 3) throw new Error(`${source}: keypoints must be x, y, v triples`);
      points = a.keypoints.length / 3;
      const pts = new Float32Array(2 * points);
      for (let i = 0; i < points; i++) {
        [pts[2 * i], pts[2 * i + 1]] = [a.keypoints[3 * i], a.keypoints[3 * i + 1]];
      }
      const [x, y, width, height] = a.bbox ?? [];
      im.faces.push(a.bbox ? { box: { x, y, width, height }, points: pts } : { points: pts });
    }
    return checkCount({ points, images: [...byId.values()].filter((i) => i.faces.length) }, source);
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim());
  const head = lines.shift()?.split(",") ?? [];
  if (head[0] !== "image" || head[1] !== "box_x" || (head.length - 5) % 2) {
    throw new Error(`${source}: CSV header must be image,box_x,box_y,box_w,box_h,x0,y0,...`);
  }
  const points = (head.length - 5) / 2;
  const byImage = new Map<string, LabelledFace[]>();
  lines.forEach((line, n) => {
    const c = line.split(",");
    if (c.length !== head.length) {
      throw new Error(`${source}: line ${n + 2} has ${c.length} cells, not ${head.length}`);
    }
    const box = c[1] === "" ? undefined : { x: +c[1], y: +c[2], width: +c[3], height: +c[4] };
    const face = { ...(box ? { box } : {}), points: Float32Array.from(c.slice(5), Number) };
    byImage.set(c[0], [...(byImage.get(c[0]) ?? []), face]);
  });
  return checkCount(
    { points, images: [...byImage].map(([image, faces]) => ({ image, faces })) },
    source,
  );
}

/**
 * Reads a folder of `.pts` files, each beside its image (`NAME.jpg` or
 * `.png`); one face per file, images relative to the folder.
 *
 * @example
 * ```ts ignore
 * import { readPtsFolder } from "./label_formats.ts";
 * const set = await readPtsFolder("../shared/data/300w/helen_testset");
 * ```
 */
export async function readPtsFolder(dir: string): Promise<LabelSet> {
  const names = [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) => e.name).sort();
  const lower = new Map(names.map((n) => [n.toLowerCase(), n]));
  const images: LabelledImage[] = [];
  let points = 0;
  for (const label of names.filter((n) => /\.pts$/i.test(n))) {
    const stem = label.replace(/\.pts$/i, "");
    const image = ["jpg", "jpeg", "png"].map((x) => lower.get(`${stem}.${x}`.toLowerCase())).find((
      n,
    ) => n);
    if (!image) throw new Error(`${dir}/${label}: its image (${stem}.jpg or .png) is missing`);
    const pts = parsePts(await Deno.readTextFile(`${dir}/${label}`), `${dir}/${label}`, null);
    points = pts.length / 2;
    images.push({ image, faces: [{ points: pts }] });
  }
  if (!images.length) throw new Error(`${dir}: no .pts files`);
  return checkCount({ points, images }, dir);
}

const num = (v: number): string => String(Math.round(v * 1000) / 1000);

/**
 * Label text of `format` for a set (for `pts` use {@linkcode writePtsFolder}).
 *
 * @example
 * ```ts
 * import { formatLabels } from "./label_formats.ts";
 * const set = { points: 1, images: [{ image: "a.jpg", faces: [{ points: new Float32Array([1, 2]) }] }] };
 * console.log(formatLabels(set, "csv")); // image,box_x,box_y,box_w,box_h,x0,y0\na.jpg,,,,,1,2\n
 * ```
 */
export function formatLabels(set: LabelSet, format: Exclude<LabelFormat, "pts">): string {
  const boxOf = (f: LabelledFace): NonNullable<LabelledFace["box"]> => {
    if (f.box) return f.box;
    const b = boxFromPoints(f.points); // the points' box
    return { x: b.x, y: b.y, width: b.w, height: b.h };
  };
  if (format === "dlib") {
    const esc = (s: string): string =>
      s.replace(/&/g, "&amp;").replace(/'/g, "&apos;").replace(/</g, "&lt;");
    const out = ["<?xml version='1.0' encoding='UTF-8'?>", "<dataset>", "<images>"];
    for (const im of set.images) {
      out.push(`  <image file='${esc(im.image)}'>`);
      for (const f of im.faces) {
        const b = boxOf(f);
        out.push(
          `    <box top='${Math.round(b.y)}' left='${Math.round(b.x)}' width='${
            Math.round(b.width)
          }' height='${Math.round(b.height)}'>`,
        );
        for (let i = 0; i < set.points; i++) {
          const name = String(i).padStart(2, "0");
          out.push(
            `      <part name='${name}' x='${num(f.points[2 * i])}' y='${
              num(f.points[2 * i + 1])
            }'/>`,
          );
        }
        out.push("    </box>");
      }
      out.push("  </image>");
    }
    out.push("</images>", "</dataset>");
    return out.join("\n") + "\n";
  }
  if (format === "coco") {
    const images = set.images.map((im, i) => ({ id: i + 1, file_name: im.image }));
    let id = 0;
    const annotations = set.images.flatMap((im, i) =>
      im.faces.map((f) => {
        const b = boxOf(f);
        const keypoints: number[] = [];
        for (let k = 0; k < set.points; k++) {
          keypoints.push(+num(f.points[2 * k]), +num(f.points[2 * k + 1]), 2);
        }
        return {
          id: ++id,
          image_id: i + 1,
          category_id: 1,
          bbox: [b.x, b.y, b.width, b.height].map((v) => +num(v)),
          area: +num(b.width * b.height),
          iscrowd: 0,
          num_keypoints: set.points,
          keypoints,
        };
      })
    );
    const categories = [{
      id: 1,
      name: "face",
      keypoints: Array.from({ length: set.points }, (_, k) => `p${k}`),
      skeleton: [],
    }];
    return JSON.stringify({ images, annotations, categories }, null, 1) + "\n";
  }
  const head = ["image", "box_x", "box_y", "box_w", "box_h"];
  for (let i = 0; i < set.points; i++) head.push(`x${i}`, `y${i}`);
  const rows = set.images.flatMap((im) =>
    im.faces.map((f) => {
      const b = f.box ? [f.box.x, f.box.y, f.box.width, f.box.height].map(num) : ["", "", "", ""];
      return [im.image, ...b, ...Array.from(f.points, num)].join(",");
    })
  );
  return [head.join(","), ...rows].join("\n") + "\n";
}

/**
 * `.pts` text of one face (300-W form).
 *
 * @example
 * ```ts
 * import { formatPts } from "./label_formats.ts";
 * console.log(formatPts(new Float32Array([1, 2]))); // version: 1\nn_points: 1\n{\n1 2\n}\n
 * ```
 */
export function formatPts(points: Float32Array): string {
  const rows: string[] = [];
  for (let i = 0; i < points.length; i += 2) rows.push(`${num(points[i])} ${num(points[i + 1])}`);
  return `version: 1\nn_points: ${points.length / 2}\n{\n${rows.join("\n")}\n}\n`;
}

/**
 * Reads labels of any format: `pts` from a folder, the others from a file.
 *
 * @example
 * ```ts ignore
 * import { readLabels } from "./label_formats.ts";
 * const set = await readLabels("../shared/data/300w_photos/afw/faces.xml", "dlib");
 * ```
 */
export async function readLabels(path: string, format: LabelFormat): Promise<LabelSet> {
  if (format === "pts") return await readPtsFolder(path);
  return parseLabels(await Deno.readTextFile(path), format, path);
}

/**
 * Guesses a label format from a path: a folder is `pts`, then by extension
 * (`.xml` dlib, `.json` coco, `.csv` csv).
 *
 * @example
 * ```ts ignore
 * import { guessLabelFormat } from "./label_formats.ts";
 * console.log(await guessLabelFormat("faces.xml")); // dlib
 * ```
 */
export async function guessLabelFormat(path: string): Promise<LabelFormat> {
  try {
    if ((await Deno.stat(path)).isDirectory) return "pts";
  } catch {
    // an output that does not exist yet: go by the name
  }
  if (/\.xml$/i.test(path)) return "dlib";
  if (/\.json$/i.test(path)) return "coco";
  if (/\.csv$/i.test(path)) return "csv";
  if (!/\.[a-z]+$/i.test(path)) return "pts";
  throw new Error(
    `${path}: cannot tell the label format; pass --from / --to (pts, dlib, coco, csv)`,
  );
}
