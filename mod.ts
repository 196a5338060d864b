/**
 * facekit: face keypoints in TypeScript on Deno, with models trained by
 * this project (IMM nose tip and 58 points, 300-W 68 points).
 *
 * Importing this module performs no I/O. Estimating on image bytes needs no
 * permission; loading a model needs read access to its folder.
 *
 * ```ts ignore
 * import { createDetector } from "jsr:@facekit/keypoints";
 *
 * const detector = await createDetector({ model: "part3" });
 * const bytes = await Deno.readFile("face.jpg");
 * const { keypoints } = await detector.estimate(bytes);
 * console.log(keypoints.find((k) => k.name === "nose_bridge_3"));
 * detector.dispose();
 * ```
 *
 * As a command:
 *
 * ```sh
 * deno run --allow-read mod.ts predict face.jpg [--box x,y,w,h] [--model part3|part2|part1|DIR] [--json]
 * deno run --allow-read --allow-write=out.png mod.ts predict face.jpg --out out.png
 * ```
 *
 * @module
 */

export {
  createDetector,
  type Detector,
  type DetectorOptions,
  type EstimateOptions,
  type FaceBox,
  type FaceEstimate,
  type ImageInput,
  type ImageTensor,
  type Keypoint,
} from "./lib/detector.ts";
export type { ModelMeta } from "./lib/checkpoint.ts";
export type { BackendName } from "./lib/backend.ts";
export type { RgbaLike } from "./lib/raster.ts";

if (import.meta.main) {
  const { predictCli } = await import("./lib/predict_cli.ts");
  Deno.exit(await predictCli(Deno.args));
}
