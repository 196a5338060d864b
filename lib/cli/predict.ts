/**
 * `predict`: keypoints of one face photo as JSON, optionally drawn into a
 * PNG. Used by `mod.ts` and `main.ts`.
 *
 * @module
 */

import { parseCli, runCli, usageError } from "./args.ts";
import { createKeypointEstimator, type FaceBox } from "../infer/keypoint_estimator.ts";
import { drawDot } from "../image/draw.ts";
import { writeFileAtomic } from "../util/fs_util.ts";
import { readImage } from "../image/decode.ts";
import { encodePng } from "../image/png.ts";

const USAGE =
  `usage: predict IMAGE [--box x,y,w,h] [--model part3|part3-fast|part2|part1|DIR|URL] [--out annotated.png] [--json] [--backend wasm|cpu|webgpu]
  Without --box the whole image is the face box: pass a face crop, or give --box.`;

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
 * Runs `predict` with command-line arguments; returns the exit code.
 *
 * @example
 * ```ts ignore
 * import { predictCli } from "./predict.ts";
 * Deno.exit(await predictCli(["predict", "face.jpg", "--json"]));
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
      },
      USAGE,
      true,
    );
    const [command, path] = positionals;
    if (command !== "predict" || !path || positionals.length > 2) {
      throw usageError("predict: give one IMAGE", USAGE);
    }
    const t0 = performance.now();
    const estimator = await createKeypointEstimator({
      model: values.model,
      backend: values.backend as "wasm" | "cpu" | "webgpu",
    });
    const rgba = await readImage(path, { upright: true });
    const box = values.box ? parseBox(values.box) : undefined;
    if (!box) {
      console.error(
        `no --box: using the whole ${rgba.width}x${rgba.height} image as the face box (a face crop)`,
      );
    }
    const face = await estimator.estimate(rgba, { box });
    estimator.dispose();
    const ms = performance.now() - t0;
    if (values.out) {
      const r = Math.max(2, Math.round(Math.max(rgba.width, rgba.height) / 250));
      const img = {
        data: new Uint8ClampedArray(rgba.data),
        width: rgba.width,
        height: rgba.height,
      };
      for (const k of face.keypoints) drawDot(img, k.x, k.y, r, [255, 40, 40]);
      await writeFileAtomic(values.out, encodePng(img));
    }
    if (values.json) console.log(JSON.stringify(face));
    else {
      console.log(
        `${path}: ${face.keypoints.length} keypoints (${estimator.meta.task}) in ${
          ms.toFixed(0)
        } ms`,
      );
      for (const k of face.keypoints) {
        console.log(
          `  ${k.name.padEnd(16)} ${k.x.toFixed(1).padStart(8)} ${k.y.toFixed(1).padStart(8)}`,
        );
      }
      if (values.out) console.log(`wrote ${values.out}`);
    }
    return 0;
  });
}
