/**
 * The IMM face database: `.dat` labels (58 lines `index x y`, integer
 * pixels) and the original `.asf` shape files (relative coordinates), the
 * course's person split and a loader.
 *
 * Download: "The IMM Face Database - An Annotated Dataset of 240 Face
 * Images", M. M. Nordstrøm et al., DTU Informatics, 2004 (DTU IMM dataset
 * page); research and educational use only.
 *
 * @module
 */

import { checkPoints, type Sample } from "./sample.ts";
import { fromRgba } from "../image/raster.ts";
import { readImage } from "../image/decode.ts";

/** Number of IMM keypoints. */
export const IMM_POINTS = 58;

function parseNumber(token: string, source: string, line: number): number {
  const v = Number(token);
  if (token === "" || Number.isNaN(v)) {
    throw new Error(`${source}: line ${line}: "${token}" is not a number`);
  }
  return v;
}

/**
 * Parses a `.dat` label file: one line `index x y` per point, indices
 * 1..58 in order. Returns pixel-centre coordinates.
 *
 * @example
 * ```ts
 * import { parseDat } from "./imm.ts";
 * const text = Array.from({ length: 58 }, (_, i) => `${i + 1} ${i} ${2 * i}`).join("\n");
 * console.log(parseDat(text, "x.dat").slice(0, 4)); // Float32Array [0, 0, 1, 2]
 * ```
 */
export function parseDat(
  text: string,
  source: string,
  count = IMM_POINTS,
): Float32Array {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  if (lines.length !== count) {
    throw new Error(
      `${source}: expected ${count} lines "index x y", found ${lines.length}`,
    );
  }
  const pts = new Float32Array(count * 2);
  lines.forEach((line, i) => {
    const cols = line.split(/\s+/);
    if (cols.length !== 3) {
      throw new Error(
        `${source}: line ${i + 1}: expected "index x y", got "${line}"`,
      );
    }
    const index = parseNumber(cols[0], source, i + 1);
    if (index !== i + 1) {
      throw new Error(
        `${source}: line ${i + 1}: point index ${index}, expected ${i + 1}`,
      );
    }
    pts[2 * i] = parseNumber(cols[1], source, i + 1);
    pts[2 * i + 1] = parseNumber(cols[2], source, i + 1);
  });
  checkPoints(pts, count, source);
  return pts;
}

/** A parsed IMM `.asf` shape file. */
export interface AsfShape {
  /** Pixel-centre coordinates `[x0, y0, ...]` in a `width` x `height` image. */
  points: Float32Array;
  /** The host image file name written at the end of the file, if any. */
  hostImage?: string;
  /** Path number of each point (column 1). */
  paths: number[];
}

/**
 * Parses an original IMM `.asf` file: `#` comments, the point count, then
 * one row per point `path type xrel yrel point# from to ...`, then the host
 * image name. Relative coordinates are scaled by the image size
 * (640x480 for IMM).
 *
 * @example
 * ```ts
 * import { parseAsf } from "./imm.ts";
 * const asf = "# c\n1\n0 0 0.5 0.25 0 0 0\nimg.jpg\n";
 * console.log(parseAsf(asf, "a.asf", 1).points); // Float32Array [320, 120]
 * ```
 */
export function parseAsf(
  text: string,
  source: string,
  count = IMM_POINTS,
  width = 640,
  height = 480,
): AsfShape {
  const rows = text.split(/\r?\n/).map((l, i) => ({ l: l.trim(), n: i + 1 }))
    .filter((r) => r.l !== "" && !r.l.startsWith("#"));
  if (rows.length === 0) throw new Error(`${source}: empty .asf file`);
  const declared = parseNumber(rows[0].l, source, rows[0].n);
  if (declared !== count) {
    throw new Error(
      `${source}: declares ${declared} points, expected ${count}`,
    );
  }
  const pointRows = rows.slice(1, 1 + declared);
  if (pointRows.length < declared) {
    throw new Error(
      `${source}: truncated: ${pointRows.length} of ${declared} point rows`,
    );
  }
  const points = new Float32Array(declared * 2);
  const paths: number[] = [];
  pointRows.forEach((r, i) => {
    const cols = r.l.split(/\s+/);
    if (cols.length < 7) {
      throw new Error(
        `${source}: line ${r.n}: expected at least 7 columns, got ${cols.length}`,
      );
    }
    const pointNo = parseNumber(cols[4], source, r.n);
    if (pointNo !== i) {
      throw new Error(
        `${source}: line ${r.n}: point number ${pointNo}, expected ${i}`,
      );
    }
    paths.push(parseNumber(cols[0], source, r.n));
    points[2 * i] = parseNumber(cols[2], source, r.n) * width;
    points[2 * i + 1] = parseNumber(cols[3], source, r.n) * height;
  });
  checkPoints(points, count, source);
  const rest = rows.slice(1 + declared);
  return { points, paths, hostImage: rest.length ? rest[0].l : undefined };
}

/**
 * Person number from an IMM file name `NN-Vg.*` (e.g. `"07-3m"` -> 7).
 *
 * @example
 * ```ts
 * import { immPerson } from "./imm.ts";
 * console.log(immPerson("33-1f.jpg")); // 33
 * ```
 */
export function immPerson(name: string): number {
  const m = /^(\d+)-/.exec(name.replace(/^.*[\\/]/, ""));
  if (!m) throw new Error(`${name}: not an IMM file name (NN-Vg)`);
  return Number(m[1]);
}

/**
 * The course's split by person: persons 1-32 train, 33-40 validation.
 *
 * @example
 * ```ts
 * import { immSplit } from "./imm.ts";
 * console.log(immSplit("32-6m"), immSplit("33-1m")); // train val
 * ```
 */
export function immSplit(name: string): "train" | "val" {
  return immPerson(name) <= 32 ? "train" : "val";
}

/** Where to get IMM, for error messages. */
export const IMM_HELP =
  "download the IMM Face Database (240 images with .asf or .dat labels) from DTU " +
  "(search 'IMM face database DTU') and pass its folder with --data or FACEKIT_IMM";

/**
 * Loads every labelled IMM image in a folder (`NAME.dat` or `NAME.asf` next
 * to `NAME.jpg`), decoding each image once. Fails with a clear message
 * naming the file on any missing or bad file.
 *
 * @example
 * ```ts ignore
 * import { loadImm } from "./imm.ts";
 * const faces = await loadImm("../shared/data/imm_face_db", 1);
 * console.log(faces.length); // 240
 * ```
 */
export async function loadImm(
  dir: string,
  channels: 1 | 3 = 1,
): Promise<Sample[]> {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`IMM data folder ${dir} not found: ${IMM_HELP}`);
    }
    throw e;
  }
  const labels = entries.filter((e) => e.isFile && /\.(dat|asf)$/i.test(e.name))
    .map((e) => e.name).sort();
  if (labels.length === 0) {
    throw new Error(`${dir}: no .dat or .asf label files: ${IMM_HELP}`);
  }
  const seen = new Set<string>();
  const samples: Sample[] = [];
  for (const label of labels) {
    const stem = label.replace(/\.(dat|asf)$/i, "");
    if (seen.has(stem)) continue; // both .dat and .asf: the first (.asf) wins
    seen.add(stem);
    const labelPath = `${dir}/${label}`;
    const text = await Deno.readTextFile(labelPath);
    const isAsf = /\.asf$/i.test(label);
    const asf = isAsf ? parseAsf(text, labelPath) : undefined;
    const imagePath = `${dir}/${stem}.jpg`;
    let rgba;
    try {
      rgba = await readImage(imagePath);
    } catch (e) {
      if (e instanceof Error && /not found/i.test(e.message)) {
        throw new Error(
          `${labelPath}: its image ${imagePath} is missing`,
        );
      }
      throw e;
    }
    let points = asf ? asf.points : parseDat(text, labelPath);
    if (asf && (rgba.width !== 640 || rgba.height !== 480)) {
      points = parseAsf(text, labelPath, IMM_POINTS, rgba.width, rgba.height)
        .points;
    }
    samples.push({
      name: stem,
      group: String(immPerson(stem)),
      image: fromRgba(rgba, channels),
      points,
    });
  }
  return samples;
}
