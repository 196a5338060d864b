/**
 * Augmentation (random affine, flip with re-pairing, colour jitter) and the one place
 * images and keypoints become network inputs and back.
 *
 * @module
 */

export * from "./augment.ts";
export * from "./degrade.ts";
export * from "./flip_average.ts";
export * from "./hand_occlusion.ts";
export * from "./preprocess.ts";
