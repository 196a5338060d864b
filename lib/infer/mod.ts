/**
 * Inference: load a keypoint model and estimate the keypoints of every
 * face of a photo (found by `../detect/` or given as boxes), in image
 * pixels; draw the results.
 *
 * @module
 */

export * from "./draw_faces.ts";
export * from "./face_input.ts";
export * from "./image_input.ts";
export * from "./keypoint_estimator.ts";
export * from "./keypoint_net.ts";
export * from "./onnx_engine.ts";
export * from "./one_euro.ts";
export * from "./tracker.ts";
