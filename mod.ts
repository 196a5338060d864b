/**
 * facekit: face keypoints in TypeScript on Deno, with models trained by
 * this project (IMM nose tip and 58 points, 300-W 68 points).
 *
 * Importing this module performs no I/O. Estimating on image bytes needs no
 * permission; loading a model needs read access to its folder.
 *
 * ```ts ignore
 * import { createKeypointEstimator } from "jsr:@facekit/keypoints";
 *
 * const estimator = await createKeypointEstimator({ model: "part3" });
 * const bytes = await Deno.readFile("face.jpg");
 * const { keypoints } = await estimator.estimate(bytes);
 * console.log(keypoints.find((k) => k.name === "nose_bridge_3"));
 * estimator.dispose();
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
  createKeypointEstimator,
  type Detector,
  type DetectorOptions,
  type EstimateOptions,
  type FaceBox,
  type FaceEstimate,
  type ImageInput,
  type ImageTensor,
  type Keypoint,
  type KeypointEstimator,
  type KeypointEstimatorOptions,
} from "./lib/infer/mod.ts";
export type { ModelMeta } from "./lib/models/mod.ts";
export type { BackendName } from "./lib/backends/mod.ts";
export type { RgbaLike } from "./lib/image/mod.ts";

if (import.meta.main) {
  const { predictCli } = await import("./lib/cli/predict.ts");
  Deno.exit(await predictCli(Deno.args));
}
