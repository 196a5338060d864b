/**
 * What the keypoints tell: head pose (yaw, pitch, roll), eye-aligned face
 * crops, the regions of the 68-point layout, and eye / mouth aspect ratios.
 *
 * @module
 */

export * from "./align.ts";
export * from "./head_pose.ts";
export * from "./regions.ts";
