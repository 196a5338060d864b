/**
 * `predict`: the faces and keypoints of photos and folders of photos, as
 * JSON Lines (one line per image), optionally drawn into annotated PNGs.
 * Used by `mod.ts` and `main.ts`.
 *
 * @module
 */

import { createKeypointEstimator, type EstimateOptions, type FaceBox } from "../infer/mod.ts";
import { drawFaces } from "../infer/draw_faces.ts";
import { createTracker } from "../infer/tracker.ts";
import { readImage } from "../image/decode.ts";
import { encodePng } from "../image/png.ts";
import { ensureDir, writeFileAtomic } from "../util/fs_util.ts";
import { createProgress } from "../util/progress.ts";
import { alignFace } from "../analyze/align.ts";
import { headPose } from "../analyze/head_pose.ts";
import { parseCli, runCli, usageError } from "./args.ts";

const USAGE =
  `usage: predict IMAGE|DIR... [--model part3|part3-fast|part2|part1|DIR|URL] [--box x,y,w,h]
    [--max-faces N] [--min-score X] [--min-face-size PX] [--refine] [--flip] [--out DIR|FILE.png]
    [--aligned DIR] [--backend wasm|cpu|webgpu] [--engine tfjs|onnxruntime] [--sequence DIR]
  Finds every face in each photo (JPEG/PNG; folders are searched for them) and prints one JSON
  line per image: {"image": PATH, "faces": [{"box", "score", "keypoints": [{x, y, name, score}]}]}
  (pixels of the upright photo, best face first; 68-point faces add "pose": {yaw, pitch, roll}
  in degrees). An unreadable image gives
  {"image": PATH, "error": "..."} on its line; the others still run and the exit code is 1.
    --box x,y,w,h       use this face box instead of finding faces (one image)
    --max-faces N       at most N faces per image (default 20)
    --min-score X       smallest face score kept (default: the face finder's, see --help of mod.ts)
    --min-face-size PX  look for faces down to PX pixels (slower when small)
    --refine            a second keypoint pass from a box around the first pass's points
    --flip              average with the mirrored crop (more accurate, twice the keypoint time)
    --out DIR           write DIR/<image name>.png with boxes, scores and points
                        (a FILE.png path when there is one image)
    --draw pose         with --out, also draw each face's head axes (red right-left, green down,
                        blue facing)
    --aligned DIR       write DIR/<image name>_face<k>.png: 112x112 eye-aligned crops
    --sequence DIR      the images of DIR are frames of a video, in name order: faces are tracked
                        (finder every 10 frames, One-Euro smoothing); lines add "frame" and each
                        face an "id" that stays with it
    --engine onnxruntime  keypoints by onnxruntime-node (much faster; needs --allow-ffi)
    --onnx-weights W      with --engine onnxruntime: float32 (model.onnx), float16 or int8
    --json              accepted for compatibility (the output is always JSON Lines)`;

const IMAGE_EXT = /\.(jpe?g|png)$/i;

/**
 * Parses `x,y,w,h`.
 *
 * @example
 * ```ts
 * import { parseBox } from "./predict.ts";
 * console.log(parseBox("1,2,30,40")); // { x: 1, y: 2, width: 30, height: 40 }
 * ```
 */
export function parseBox(text: string): FaceBox {
  const v = text.split(",").map(Number);
  if (v.length !== 4 || v.some((n) => !Number.isFinite(n)) || v[2] <= 0 || v[3] <= 0) {
    throw new Error(
      `--box: expected x,y,width,height with positive width and height, got "${text}"`,
    );
  }
  return { x: v[0], y: v[1], width: v[2], height: v[3] };
}

/**
 * Expands the command's paths: files stay as given, folders become their
 * JPEG and PNG files (searched recursively, sorted by path). A path that
 * does not exist stays, so that its line reports the error.
 *
 * @example
 * ```ts ignore
 * import { expandImagePaths } from "./predict.ts";
 * console.log(await expandImagePaths(["photos/", "a.jpg"]));
 * ```
 */
export async function expandImagePaths(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = (await Deno.stat(p)).isDirectory;
    } catch {
      // missing or unreadable: reported on the image's line
    }
    if (!isDir) {
      out.push(p);
      continue;
    }
    const found: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for await (const e of Deno.readDir(dir)) {
        const path = `${dir.replace(/\/$/, "")}/${e.name}`;
        if (e.isDirectory) await walk(path);
        else if (e.isFile && IMAGE_EXT.test(e.name)) found.push(path);
      }
    };
    await walk(p);
    out.push(...found.sort());
  }
  return out;
}

function positiveNumber(v: string | undefined, flag: string, usage: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw usageError(`${flag}: "${v}" is not a number >= 0`, usage);
  return n;
}

/** `DIR/<name without extension>.png`, made unique within one run. */
function pngPath(dir: string, image: string, used: Set<string>): string {
  const base = image.replace(/^.*\//, "").replace(/\.[^.]*$/, "") || "image";
  let path = `${dir}/${base}.png`;
  for (let i = 2; used.has(path); i++) path = `${dir}/${base}_${i}.png`;
  used.add(path);
  return path;
}

/**
 * Runs `predict` with command-line arguments (`["predict", ...paths,
 * ...options]`); returns the exit code (0, 1 when an image failed, 2 for
 * usage errors).
 *
 * @example
 * ```ts ignore
 * import { predictCli } from "./predict.ts";
 * Deno.exit(await predictCli(["predict", "photos/", "--out", "runs/annotated"]));
 * ```
 */
export function predictCli(args: string[]): Promise<number> {
  return runCli(async () => {
    const { values, positionals } = parseCli(
      args,
      {
        box: { type: "string" },
        model: { type: "string", default: "part3" },
        out: { type: "string" },
        json: { type: "boolean", default: false },
        backend: { type: "string", default: "wasm" },
        "max-faces": { type: "string" },
        "min-score": { type: "string" },
        "min-face-size": { type: "string" },
        refine: { type: "boolean", default: false },
        aligned: { type: "string" },
        flip: { type: "boolean", default: false },
        engine: { type: "string", default: "tfjs" },
        "onnx-weights": { type: "string", default: "float32" },
        sequence: { type: "string" },
        draw: { type: "string" },
      },
      USAGE,
      true,
    );
    const [command, ...rest] = positionals;
    const given = values.sequence ? [values.sequence, ...rest] : rest;
    if (command !== "predict" || given.length === 0) {
      throw usageError("predict: give at least one IMAGE or DIR", USAGE);
    }
    if (!["wasm", "cpu", "webgpu"].includes(values.backend)) {
      throw usageError(`--backend: use wasm, cpu or webgpu`, USAGE);
    }
    const options: EstimateOptions = {
      box: values.box ? parseBox(values.box) : undefined,
      maxFaces: positiveNumber(values["max-faces"], "--max-faces", USAGE) ?? 20,
      minScore: positiveNumber(values["min-score"], "--min-score", USAGE),
      minFaceSize: positiveNumber(values["min-face-size"], "--min-face-size", USAGE),
      refine: values.refine,
      flip: values.flip,
    };
    const paths = await expandImagePaths(given);
    if (paths.length === 0) throw new Error(`no JPEG or PNG images in ${given.join(", ")}`);
    if (options.box && paths.length > 1) {
      throw usageError("--box applies to one image; give one IMAGE", USAGE);
    }
    const outFile = values.out && /\.png$/i.test(values.out) && paths.length === 1
      ? values.out
      : undefined;
    if (values.out && !outFile) await ensureDir(values.out);
    if (values.aligned) await ensureDir(values.aligned);
    if (values.draw !== undefined && values.draw !== "pose") {
      throw usageError(`--draw: only "pose" (head axes) can be added`, USAGE);
    }
    if (values.engine !== "tfjs" && values.engine !== "onnxruntime") {
      throw usageError(`--engine: use tfjs or onnxruntime`, USAGE);
    }
    const onnxWeights = values["onnx-weights"];
    if (onnxWeights !== "float32" && onnxWeights !== "float16" && onnxWeights !== "int8") {
      throw usageError(`--onnx-weights: use float32, float16 or int8`, USAGE);
    }
    const estimator = await createKeypointEstimator({
      model: values.model,
      engine: values.engine,
      onnxWeights,
      backend: values.backend as "wasm" | "cpu" | "webgpu",
    });
    const tracker = values.sequence
      ? createTracker(estimator, { estimate: { ...options, box: undefined } })
      : undefined;
    const progress = paths.length > 1 ? createProgress("predict") : undefined;
    const used = new Set<string>();
    let failed = 0;
    try {
      for (const [i, path] of paths.entries()) {
        progress?.update(i, paths.length, path);
        try {
          const rgba = await readImage(path, { upright: true });
          const faces = tracker
            ? await tracker.track(rgba, i / 30)
            : await estimator.estimate(rgba, options);
          if (values.out) {
            const file = outFile ?? pngPath(values.out, path, used);
            await writeFileAtomic(
              file,
              encodePng(drawFaces(rgba, faces, { pose: values.draw === "pose" })),
            );
          }
          if (values.aligned) {
            for (const [k, f] of faces.entries()) {
              if (f.keypoints.length !== 68) break;
              const file = pngPath(
                values.aligned,
                `${path.replace(/\.[^./]*$/, "")}_face${k}`,
                used,
              );
              await writeFileAtomic(file, encodePng(alignFace(rgba, f.keypoints)));
            }
          }
          const withPose = faces.map((f) =>
            f.keypoints.length === 68 ? { ...f, pose: headPose(f.keypoints) } : f
          );
          console.log(
            JSON.stringify(
              tracker
                ? { image: path, frame: i, faces: withPose }
                : { image: path, faces: withPose },
            ),
          );
        } catch (e) {
          failed++;
          const message = e instanceof Error ? e.message : String(e);
          console.log(JSON.stringify({ image: path, error: message }));
          console.error(`error: ${message}`);
        }
      }
    } finally {
      estimator.dispose();
    }
    progress?.finish(
      `${paths.length} images, ${failed} failed${values.out ? `, pictures in ${values.out}` : ""}`,
    );
    return failed > 0 ? 1 : 0;
  });
}
