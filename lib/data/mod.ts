/**
 * Datasets and labels: IMM `.dat`/`.asf`, 300-W `.pts` and dlib XML, keypoint layouts
 * (58 and 68 points with names and flip maps), the labelled sample, and face boxes
 * from keypoints.
 *
 * @module
 */

export * from "./face_box.ts";
export * from "./imm.ts";
export * from "./layouts.ts";
export * from "./sample.ts";
export * from "./w300.ts";
export * from "./label_formats.ts";
export * from "./label_samples.ts";
