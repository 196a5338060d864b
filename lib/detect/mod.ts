/**
 * The face finder: MediaPipe BlazeFace (shipped weights), our anchor
 * decoding, NMS and tiling for small faces, and the calibration of its boxes
 * to the 68-landmark box; plus the {@linkcode FaceFinder} interface any
 * other detector can implement.
 *
 * @module
 */

export * from "./anchors.ts";
export * from "./blazeface.ts";
export * from "./calibration.ts";
export * from "./decode.ts";
export * from "./face_detector.ts";
export * from "./face_finder.ts";
export * from "./nms.ts";
export * from "./tiles.ts";
export * from "./tile_input.ts";
