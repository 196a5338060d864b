/**
 * Inference: load a keypoint model and estimate keypoints on faces of a photo, in
 * image pixels.
 *
 * @module
 */

export * from "./face_input.ts";
export * from "./keypoint_estimator.ts";
