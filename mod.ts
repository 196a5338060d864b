/**
 * facekit: faces and their keypoints in photos, in TypeScript on Deno. A
 * face finder (MediaPipe BlazeFace, shipped) finds every face; models
 * trained by this project place the keypoints (300-W 68 points, IMM 58
 * points and nose tip).
 *
 * Importing this module performs no I/O. Estimating on image bytes needs no
 * permission; loading a model needs read access to its folder (the shipped
 * ones are in `models/`).
 *
 * ```ts ignore
 * import { createKeypointEstimator } from "jsr:@facekit/keypoints";
 *
 * const estimator = await createKeypointEstimator({ model: "part3" });
 * const faces = await estimator.estimate(await Deno.readFile("group.jpg"));
 * for (const { box, score, keypoints } of faces) {
 *   console.log(score.toFixed(2), box, keypoints.find((k) => k.name === "nose_bridge_3"));
 * }
 * estimator.dispose();
 * ```
 *
 * Results are in pixels of the upright photo (JPEG EXIF orientation
 * applied): `[{ box: { x, y, width, height }, score, keypoints: [{ x, y,
 * name, score }] }]`, best face first. Pass `box` or `boxes` to skip finding
 * (for boxes from another detector), or a `faceFinder` of your own.
 *
 * As a command (JSON Lines, one line per image):
 *
 * ```sh
 * deno run --allow-read mod.ts predict photo.jpg more_photos/ [--model part3|part3-fast|DIR] [--box x,y,w,h]
 * deno run --allow-read --allow-write=out mod.ts predict photos/ --out out
 * ```
 *
 * @module
 */

export {
  createDetector,
  createKeypointEstimator,
  createOneEuro,
  createTracker,
  type Detector,
  type DetectorOptions,
  drawFaces,
  type DrawFacesOptions,
  type EstimateOptions,
  type Face,
  type FaceBox,
  type FaceEstimate,
  type ImageInput,
  type ImageTensor,
  type Keypoint,
  type KeypointEstimator,
  type KeypointEstimatorOptions,
  type OneEuroFilter,
  type OneEuroOptions,
  type TrackedFace,
  type Tracker,
  type TrackerOptions,
} from "./lib/infer/mod.ts";
export {
  type BlazeFaceOptions,
  type BoxCalibration,
  createFaceDetector,
  type FaceDetector,
  type FaceDetectorOptions,
  type FaceFinder,
  type FindFacesOptions,
  type FoundFace,
  type NamedPoint,
  type Tile,
} from "./lib/detect/mod.ts";
export {
  alignFace,
  alignmentMatrix,
  type AlignOptions,
  eyeAspectRatio,
  eyeCentres,
  type HeadPose,
  headPose,
  interOcularDistance,
  MEAN_FACE_3D,
  mouthAspectRatio,
  poseRotation,
  projectMeanFace,
  type RegionName,
  regions,
  REGIONS_68,
  type XY,
} from "./lib/analyze/mod.ts";
export {
  formatLabels,
  formatPts,
  LABEL_FORMATS,
  type LabelFormat,
  type LabelledFace,
  type LabelledImage,
  type LabelSet,
  parseLabels,
  readLabels,
  readPtsFolder,
} from "./lib/data/label_formats.ts";
export type { ModelMeta } from "./lib/models/mod.ts";
export type { BackendName } from "./lib/backends/mod.ts";
export type { WeightStorage } from "./lib/onnx/compress.ts";
export type { Affine, RgbaImage, RgbaLike } from "./lib/image/mod.ts";

if (import.meta.main) {
  const { predictCli } = await import("./lib/cli/predict.ts");
  Deno.exit(await predictCli(Deno.args));
}
