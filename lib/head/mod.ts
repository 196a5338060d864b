/**
 * Keypoint heads and their losses: the soft-argmax heatmap head, coordinate losses
 * and the training loss as plain data.
 *
 * @module
 */

export * from "./heatmap.ts";
export * from "./losses.ts";
export * from "./training_loss.ts";
