/**
 * Error measures: per-point errors and the face-alignment metrics of the 300-W
 * literature (NME, failure rate, CED, AUC).
 *
 * @module
 */

export * from "./face_alignment.ts";
export * from "./point_errors.ts";
export * from "./detection.ts";
