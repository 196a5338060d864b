/**
 * Networks: the course CNNs, ResNets, the heatmap U-Net, and the model folder format
 * (`model.json` + `weights.bin` + facekit metadata).
 *
 * @module
 */

export * from "./checkpoint.ts";
export * from "./course_cnn.ts";
export * from "./resnet.ts";
export * from "./unet.ts";
export * from "./lite_heatmap_net.ts";
export * from "./location.ts";
export * from "./ensemble.ts";
