/**
 * 300-W (iBUG 300 Faces In-the-Wild) 68-point data: the `.pts` label
 * format, dlib's `labels_ibug_300W_*.xml` files, photo-id groups, the
 * course's split and loaders.
 *
 * Coordinates are 0-based pixel centres (top-left pixel centre = (0, 0)),
 * the project's convention; `.pts` values are used as stored.
 *
 * Download: "300 Faces In-the-Wild Challenge" (C. Sagonas et al., ICCV
 * Workshops 2013), iBUG, Imperial College London; research use only, no
 * commercial use.
 *
 * @module
 */

import type { Box } from "./face_box.ts";
import { resolveDataDir } from "../util/fs_util.ts";
import { readImage } from "../image/decode.ts";
import { type FloatImage, fromRgba } from "../image/raster.ts";
import { checkPoints, type Sample } from "./sample.ts";

/** Number of iBUG 300-W keypoints. */
export const W300_POINTS = 68;

/** Where to get 300-W, for error messages. */
export const W300_HELP =
  "get the 300-W data (iBUG 300 Faces In-the-Wild, https://ibug.doc.ic.ac.uk/resources/300-W/, " +
  "research use only): folders of NAME.jpg|png + NAME.pts (helen_trainset, helen_testset, " +
  "lfpw_trainset, afw), and pass the parent folder with --data or FACEKIT_300W";

/** The course's split of the 300-W subsets: folder names under the data root. */
export const W300_SPLIT: { train: string[]; val: string[] } = {
  train: ["helen_trainset", "lfpw_trainset", "afw"],
  val: ["helen_testset"],
};

/**
 * Parses a 300-W `.pts` file:
 *
 * ```text
 * version: 1
 * n_points: 68
 * {
 * x y      (68 lines)
 * }
 * ```
 *
 * Tolerates extra spaces, tabs, CRLF line ends, a byte-order mark and blank
 * lines. Errors name `source` and the line: a missing header, a point count
 * other than `expected` or than the number of point lines, a value that is
 * not a number, a NaN, or a missing closing brace (truncated file).
 *
 * @param text File contents.
 * @param source File name for error messages.
 * @param expected Required point count (default 68); `null` accepts the header's count.
 * @returns Pixel-centre points `[x0, y0, ...]`.
 * @throws {Error} For a malformed file.
 *
 * @example
 * ```ts
 * import { parsePts } from "./w300.ts";
 * const text = "version: 1\nn_points: 2\n{\n1.5 2\n3 4\n}\n";
 * console.log(parsePts(text, "a.pts", 2)); // Float32Array [1.5, 2, 3, 4]
 * ```
 */
export function parsePts(
  text: string,
  source: string,
  expected: number | null = W300_POINTS,
): Float32Array {
  const rows = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/).map((l, i) => ({
    l: l.trim(),
    n: i + 1,
  })).filter((r) => r.l !== "");
  if (rows.length === 0) throw new Error(`${source}: empty .pts file`);
  let k = 0;
  if (/^version\s*:/i.test(rows[k].l)) k++;
  else {
    throw new Error(
      `${source}: line ${rows[0].n}: missing header: expected "version: 1", got "${
        clip(rows[0].l)
      }"`,
    );
  }
  const nm = k < rows.length ? /^n_points\s*:\s*(\S+)$/i.exec(rows[k].l) : null;
  if (!nm) {
    throw new Error(
      `${source}: missing header: expected "n_points: N" after "version"${
        k < rows.length ? `, got "${clip(rows[k].l)}" on line ${rows[k].n}` : ""
      }`,
    );
  }
  const declared = Number(nm[1]);
  if (!Number.isInteger(declared) || declared < 1) {
    throw new Error(`${source}: line ${rows[k].n}: bad n_points "${nm[1]}"`);
  }
  if (expected !== null && declared !== expected) {
    throw new Error(`${source}: n_points is ${declared}, expected ${expected}`);
  }
  k++;
  if (k >= rows.length || rows[k].l !== "{") {
    throw new Error(
      `${source}: missing "{" after the header${
        k < rows.length ? ` (line ${rows[k].n}: "${clip(rows[k].l)}")` : ""
      }`,
    );
  }
  k++;
  const close = rows.findIndex((r, i) => i >= k && r.l === "}");
  if (close < 0) {
    const found = rows.length - k;
    throw new Error(
      `${source}: truncated: no closing "}" (found ${found} of ${declared} point lines)`,
    );
  }
  const body = rows.slice(k, close);
  if (body.length !== declared) {
    throw new Error(
      `${source}: n_points is ${declared} but ${body.length} point lines are between "{" and "}"`,
    );
  }
  const extra = rows.slice(close + 1);
  if (extra.length) {
    throw new Error(
      `${source}: line ${extra[0].n}: unexpected text after "}": "${clip(extra[0].l)}"`,
    );
  }
  const pts = new Float32Array(declared * 2);
  body.forEach((r, i) => {
    const cols = r.l.split(/[\s,]+/);
    if (cols.length !== 2) {
      throw new Error(`${source}: line ${r.n}: expected "x y", got "${clip(r.l)}"`);
    }
    for (let c = 0; c < 2; c++) {
      const v = parseNumber(cols[c]);
      if (v === undefined) {
        throw new Error(`${source}: line ${r.n}: "${clip(cols[c])}" is not a number`);
      }
      if (!Number.isFinite(v)) {
        throw new Error(
          `${source}: line ${r.n}: point ${i + 1} has a non-finite ${c ? "y" : "x"} (${cols[c]})`,
        );
      }
      pts[2 * i + c] = v;
    }
  });
  checkPoints(pts, declared, source);
  return pts;
}

/** A number, NaN for the literal "nan", or undefined for anything else. */
function parseNumber(token: string): number | undefined {
  if (/^[+-]?nan$/i.test(token)) return NaN;
  if (/^[+-]?inf(inity)?$/i.test(token)) return token.startsWith("-") ? -Infinity : Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(token)) return undefined;
  return Number(token);
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * The photo a 300-W face comes from, used as its split group so that faces
 * of one photo never land in different splits: HELEN/AFW/iBUG
 * `<photo>_<n>` -> `<photo>`; LFPW `image_NNNN` -> itself; any other name
 * -> itself. Directories and extensions are ignored.
 *
 * @param name File name, path or stem.
 * @returns The group id.
 *
 * @example
 * ```ts
 * import { w300Group } from "./w300.ts";
 * console.log(w300Group("helen/100032540_1.jpg"), w300Group("image_0042.pts")); // 100032540 image_0042
 * ```
 */
export function w300Group(name: string): string {
  const stem = name.replace(/^.*[\\/]/, "").replace(/\.[^.]*$/, "");
  if (/^image_\d+$/i.test(stem)) return stem;
  const m = /^(.+)_\d+$/.exec(stem);
  return m ? m[1] : stem;
}

// ---------------------------------------------------------------------------
// dlib XML
// ---------------------------------------------------------------------------

/** One face box of a dlib landmark XML file. */
export interface DlibFace {
  /** The image path as written in the XML (relative to the XML's folder). */
  file: string;
  /** The box; dlib's `left/top/width/height` are continuous coordinates as they stand. */
  box: Box;
  /** Pixel-centre points ordered by part name (`00`..`67`), or null for a box without parts. */
  points: Float32Array | null;
  /** Whether the box carries dlib's `ignore='1'`. */
  ignore: boolean;
}

interface Tag {
  name: string;
  attrs: Map<string, string>;
  kind: "open" | "close" | "empty";
  line: number;
}

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

function unescapeXml(s: string, where: () => string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (_, e: string) => {
    if (e[0] === "#") {
      const code = e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1));
      return String.fromCodePoint(code);
    }
    const v = ENTITIES[e.toLowerCase()];
    if (v === undefined) throw new Error(`${where()}: unknown entity &${e};`);
    return v;
  });
}

/** Scans the tags of an XML text (comments, `<?...?>` and `<!...>` skipped). */
function* scanTags(text: string, source: string): Generator<Tag> {
  let pos = 0;
  let line = 1;
  const advance = (to: number): void => {
    for (let i = pos; i < to; i++) if (text.charCodeAt(i) === 10) line++;
    pos = to;
  };
  const fail = (msg: string): never => {
    throw new Error(`${source}: bad XML at line ${line}: ${msg}`);
  };
  while (true) {
    const lt = text.indexOf("<", pos);
    if (lt < 0) return;
    advance(lt);
    if (text.startsWith("<!--", pos)) {
      const end = text.indexOf("-->", pos + 4);
      if (end < 0) fail("unterminated comment");
      advance(end + 3);
      continue;
    }
    if (text.startsWith("<?", pos)) {
      const end = text.indexOf("?>", pos + 2);
      if (end < 0) fail("unterminated <?...?>");
      advance(end + 2);
      continue;
    }
    if (text.startsWith("<![CDATA[", pos)) {
      const end = text.indexOf("]]>", pos);
      if (end < 0) fail("unterminated CDATA section");
      advance(end + 3);
      continue;
    }
    if (text.startsWith("<!", pos)) {
      const end = text.indexOf(">", pos);
      if (end < 0) fail("unterminated <!...>");
      advance(end + 1);
      continue;
    }
    const startLine = line;
    let i = pos + 1;
    const closing = text[i] === "/";
    if (closing) i++;
    const nameMatch = /^[A-Za-z_][\w.:-]*/.exec(text.slice(i, i + 200));
    if (!nameMatch) fail(`expected a tag name after "<"`);
    const name = nameMatch![0];
    i += name.length;
    const attrs = new Map<string, string>();
    let kind: Tag["kind"] = closing ? "close" : "open";
    const skipSpace = (): void => {
      while (i < text.length && /\s/.test(text[i])) i++;
      if (i >= text.length) {
        advance(i);
        fail(`truncated: <${name}> tag is not closed with ">"`);
      }
    };
    while (true) {
      skipSpace();
      const c = text[i];
      if (c === ">") {
        i++;
        break;
      }
      if (c === "/" && text[i + 1] === ">" && !closing) {
        kind = "empty";
        i += 2;
        break;
      }
      if (closing) fail(`unexpected "${c}" in </${name}>`);
      const an = /^[A-Za-z_][\w.:-]*/.exec(text.slice(i, i + 200));
      if (!an) fail(`bad attribute in <${name}> near "${clip(text.slice(i, i + 20))}"`);
      const attr = an![0];
      i += attr.length;
      skipSpace();
      if (text[i] !== "=") fail(`attribute ${attr} of <${name}> has no "=value"`);
      i++;
      skipSpace();
      const q = text[i];
      if (q !== "'" && q !== '"') fail(`attribute ${attr} of <${name}> is not quoted`);
      const end = text.indexOf(q, i + 1);
      if (end < 0) {
        advance(text.length);
        fail(`truncated: unterminated quote in attribute ${attr} of <${name}>`);
      }
      const raw = text.slice(i + 1, end);
      if (raw.includes("<")) fail(`"<" inside attribute ${attr} of <${name}>`);
      if (attrs.has(attr)) fail(`attribute ${attr} repeated in <${name}>`);
      attrs.set(attr, unescapeXml(raw, () => `${source}: line ${startLine}`));
      i = end + 1;
    }
    advance(i);
    yield { name, attrs, kind, line: startLine };
  }
}

function numAttr(tag: Tag, attr: string, source: string): number {
  const raw = tag.attrs.get(attr);
  if (raw === undefined) {
    throw new Error(`${source}: line ${tag.line}: <${tag.name}> has no ${attr} attribute`);
  }
  const v = parseNumber(raw.trim());
  if (v === undefined || !Number.isFinite(v)) {
    throw new Error(
      `${source}: line ${tag.line}: <${tag.name}> ${attr}="${clip(raw)}" is not a finite number`,
    );
  }
  return v;
}

/**
 * Parses a dlib landmark XML file (`imglab` format, as in dlib's
 * `labels_ibug_300W_train.xml`):
 *
 * ```xml
 * <dataset><images>
 *   <image file='helen/trainset/100032540_1.jpg'>
 *     <box top='78' left='74' width='138' height='140'>
 *       <part name='00' x='55' y='141'/> ...
 *     </box>
 *   </image>
 * </images></dataset>
 * ```
 *
 * Returns one entry per box, in file order, with its points ordered by
 * part name; a box without parts has `points: null`. Either quote
 * character, comments, `<?...?>` and other elements are accepted. Errors
 * name `source` and the line: malformed or unbalanced tags, a truncated
 * file, a missing or non-numeric attribute, a box outside an image, parts
 * that are not exactly `00`..`nPoints-1`.
 *
 * @param text File contents.
 * @param source File name for error messages.
 * @param nPoints Parts per labelled box (default 68).
 * @returns The boxes.
 * @throws {Error} For malformed XML or labels.
 *
 * @example
 * ```ts
 * import { parseDlibXml } from "./w300.ts";
 * const xml = `<dataset><images><image file="a.jpg">
 *   <box top='1' left='2' width='3' height='4'><part name='00' x='5' y='6'/></box>
 * </image></images></dataset>`;
 * const [face] = parseDlibXml(xml, "x.xml", 1);
 * console.log(face.file, face.box, face.points); // a.jpg { x: 2, y: 1, w: 3, h: 4 } Float32Array [5, 6]
 * ```
 */
export function parseDlibXml(
  text: string,
  source: string,
  nPoints: number = W300_POINTS,
): DlibFace[] {
  const faces: DlibFace[] = [];
  const stack: Tag[] = [];
  let file: string | undefined;
  let box: { tag: Tag; box: Box; ignore: boolean; parts: Map<number, [number, number]> } | null =
    null;
  let sawDataset = false;
  const finishBox = (): void => {
    if (!box) return;
    let points: Float32Array | null = null;
    if (box.parts.size > 0) {
      points = new Float32Array(nPoints * 2);
      for (let p = 0; p < nPoints; p++) {
        const xy = box.parts.get(p);
        if (!xy) {
          throw new Error(
            `${source}: line ${box.tag.line}: box in ${file} has ${box.parts.size} parts, ` +
              `part ${String(p).padStart(2, "0")} is missing (expected ${nPoints})`,
          );
        }
        points[2 * p] = xy[0];
        points[2 * p + 1] = xy[1];
      }
    }
    faces.push({ file: file!, box: box.box, points, ignore: box.ignore });
    box = null;
  };
  for (const tag of scanTags(text, source)) {
    const at = `${source}: line ${tag.line}`;
    if (tag.kind === "close") {
      const open = stack.pop();
      if (!open || open.name !== tag.name) {
        throw new Error(
          `${at}: bad XML: </${tag.name}> ${
            open ? `closes <${open.name}> opened on line ${open.line}` : "has no opening tag"
          }`,
        );
      }
      if (tag.name === "box") finishBox();
      if (tag.name === "image") file = undefined;
      continue;
    }
    if (tag.name === "dataset") sawDataset = true;
    if (tag.name === "image") {
      if (file !== undefined) throw new Error(`${at}: <image> inside another <image>`);
      const f = tag.attrs.get("file");
      if (!f) throw new Error(`${at}: <image> has no file attribute`);
      file = f;
    } else if (tag.name === "box") {
      if (file === undefined) throw new Error(`${at}: <box> outside an <image>`);
      if (box) throw new Error(`${at}: <box> inside another <box>`);
      const b: Box = {
        x: numAttr(tag, "left", source),
        y: numAttr(tag, "top", source),
        w: numAttr(tag, "width", source),
        h: numAttr(tag, "height", source),
      };
      const ign = tag.attrs.get("ignore");
      box = { tag, box: b, ignore: ign !== undefined && ign.trim() !== "0", parts: new Map() };
    } else if (tag.name === "part") {
      if (!box) throw new Error(`${at}: <part> outside a <box>`);
      const nameAttr = tag.attrs.get("name");
      if (nameAttr === undefined) throw new Error(`${at}: <part> has no name attribute`);
      const idx = /^\s*\d+\s*$/.test(nameAttr) ? Number(nameAttr) : NaN;
      if (!(idx >= 0 && idx < nPoints)) {
        throw new Error(
          `${at}: part name "${clip(nameAttr)}" is not a number in 00..${nPoints - 1}`,
        );
      }
      if (box.parts.has(idx)) throw new Error(`${at}: part ${nameAttr} repeated in one box`);
      box.parts.set(idx, [numAttr(tag, "x", source), numAttr(tag, "y", source)]);
    }
    if (tag.kind === "open") stack.push(tag);
    else if (tag.name === "box") finishBox();
    else if (tag.name === "image") file = undefined;
  }
  if (stack.length) {
    const open = stack[stack.length - 1];
    throw new Error(
      `${source}: bad XML: truncated: <${open.name}> opened on line ${open.line} is never closed`,
    );
  }
  if (!sawDataset && faces.length === 0) {
    throw new Error(`${source}: not a dlib landmark XML file (no <dataset> or <image> elements)`);
  }
  return faces;
}

// ---------------------------------------------------------------------------
// Loaders
// ---------------------------------------------------------------------------

function dirName(path: string): string {
  const i = path.replace(/[\\/]+$/, "").search(/[\\/][^\\/]*$/);
  return i < 0 ? "." : path.slice(0, i) || "/";
}

function joinPath(dir: string, rel: string): string {
  if (/^([\\/]|[A-Za-z]:[\\/])/.test(rel)) return rel;
  return `${dir.replace(/[\\/]+$/, "")}/${rel}`;
}

async function readImageFor(
  imagePath: string,
  labelPath: string,
  channels: 1 | 3,
): Promise<FloatImage> {
  try {
    return fromRgba(await readImage(imagePath), channels);
  } catch (e) {
    if (e instanceof Error && /file not found/.test(e.message)) {
      throw new Error(`${labelPath}: its image ${imagePath} is missing`, { cause: e });
    }
    throw e;
  }
}

/** Options of {@linkcode load300w}. */
export interface Load300wOptions {
  /** 1 (grayscale) or 3 (RGB) channels. */
  channels: 1 | 3;
  /** Read at most this many faces per folder (for quick runs). */
  limit?: number;
}

/**
 * Loads every labelled face in the given folders: each `NAME.pts` with its
 * image `NAME.jpg`, `NAME.jpeg` or `NAME.png` (the README layout of
 * `../shared/data/300w`). Sample names are the file stems, groups the photo
 * ids ({@linkcode w300Group}). Points may lie outside the image (faces cut
 * by the photo border). Fails with a message naming the file on a missing
 * folder, a folder without `.pts` files, a bad label or a missing or
 * corrupt image.
 *
 * @param dirs Folders to read, in order (files sorted by name within each).
 * @param opts Channels and an optional per-folder limit.
 * @returns The samples.
 * @throws {Error} For any missing or bad file.
 *
 * @example
 * ```ts ignore
 * import { load300w, W300_SPLIT } from "./w300.ts";
 * const val = await load300w(W300_SPLIT.val.map((d) => `../shared/data/300w/${d}`), { channels: 3 });
 * console.log(val.length); // 330
 * ```
 */
export async function load300w(
  dirs: string[],
  opts: Load300wOptions,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (const dir of dirs) {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new Error(`300-W data folder ${dir} not found: ${W300_HELP}`, { cause: e });
      }
      throw e;
    }
    const files = new Map<string, string>();
    for (const e of entries) if (e.isFile) files.set(e.name.toLowerCase(), e.name);
    let labels = entries.filter((e) => e.isFile && /\.pts$/i.test(e.name)).map((e) => e.name)
      .sort();
    if (labels.length === 0) {
      throw new Error(`${dir}: no .pts label files: ${W300_HELP}`);
    }
    if (opts.limit !== undefined) labels = labels.slice(0, opts.limit);
    for (const label of labels) {
      const stem = label.replace(/\.pts$/i, "");
      const labelPath = joinPath(dir, label);
      const points = parsePts(await Deno.readTextFile(labelPath), labelPath);
      const imageName = ["jpg", "jpeg", "png"].map((x) => files.get(`${stem}.${x}`.toLowerCase()))
        .find((n) => n !== undefined);
      if (!imageName) {
        throw new Error(`${labelPath}: its image ${joinPath(dir, stem)}.jpg (or .png) is missing`);
      }
      const image = await readImageFor(joinPath(dir, imageName), labelPath, opts.channels);
      samples.push({ name: stem, group: w300Group(stem), image, points });
    }
  }
  return samples;
}

/**
 * Loads the labelled faces of a dlib landmark XML file, resolving image
 * paths relative to the XML's folder and decoding each image once. Boxes
 * without parts and boxes marked `ignore` are skipped. Samples hold the
 * whole image (crop them with `./face_box.ts`); names are the image stem,
 * plus `#k` when the image has several labelled boxes; groups are photo
 * ids ({@linkcode w300Group}).
 *
 * @param xmlPath The XML file.
 * @param channels 1 (grayscale) or 3 (RGB).
 * @returns The samples and their boxes, in file order.
 * @throws {Error} For a missing or bad XML file or image.
 *
 * @example
 * ```ts ignore
 * import { loadDlibXml } from "./w300.ts";
 * const faces = await loadDlibXml("ibug_300W_large_face_landmark_dataset/labels_ibug_300W_test.xml", 1);
 * console.log(faces[0].box);
 * ```
 */
export async function loadDlibXml(
  xmlPath: string,
  channels: 1 | 3 = 3,
): Promise<(Sample & { box: Box })[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(xmlPath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`${xmlPath}: file not found: ${W300_HELP}`, { cause: e });
    }
    throw e;
  }
  const faces = parseDlibXml(text, xmlPath).filter((f) => f.points && !f.ignore);
  const perFile = new Map<string, number>();
  for (const f of faces) perFile.set(f.file, (perFile.get(f.file) ?? 0) + 1);
  const dir = dirName(xmlPath);
  const images = new Map<string, FloatImage>();
  const seen = new Map<string, number>();
  const out: (Sample & { box: Box })[] = [];
  for (const f of faces) {
    let image = images.get(f.file);
    if (!image) {
      image = await readImageFor(joinPath(dir, f.file), xmlPath, channels);
      images.set(f.file, image);
    }
    const stem = f.file.replace(/^.*[\\/]/, "").replace(/\.[^.]*$/, "");
    const k = seen.get(f.file) ?? 0;
    seen.set(f.file, k + 1);
    out.push({
      name: perFile.get(f.file)! > 1 ? `${stem}#${k}` : stem,
      group: w300Group(f.file),
      image,
      points: f.points!,
      box: f.box,
    });
  }
  return out;
}

/**
 * The 300-W data root: the `flag` if given, else `$FACEKIT_300W`, else
 * `../shared/data/300w`. A given folder that does not exist, or no folder
 * at all, is an error that says where to get 300-W.
 *
 * @param flag Value of `--data`, if any.
 * @returns An existing folder.
 * @throws {Error} When no folder is found.
 *
 * @example
 * ```ts ignore
 * import { resolve300wDir } from "./w300.ts";
 * console.log(resolve300wDir(undefined)); // ../shared/data/300w
 * ```
 */
export function resolve300wDir(flag: string | undefined): string {
  return resolveDataDir(flag, "FACEKIT_300W", "../shared/data/300w", "300-W", W300_HELP);
}
