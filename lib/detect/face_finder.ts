/**
 * The face-finder interface: anything that returns face boxes with scores
 * for an RGBA image can stand in front of the keypoint model, so a user can
 * plug in boxes from another detector.
 *
 * @module
 */

import type { RgbaLike } from "../image/raster.ts";

/** A face box in image pixels (continuous coordinates: `x` is the left edge). */
export interface FaceBox {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/** A named point in image pixels (top-left pixel centre = 0, 0). */
export interface NamedPoint {
  /** x in pixels. */
  x: number;
  /** y in pixels. */
  y: number;
  /** Point name, e.g. `"noseTip"`. */
  name: string;
}

/** One face a finder found. */
export interface FoundFace {
  /**
   * The face box. Finders of this package return it calibrated to the box
   * of the 68 landmarks (brows to chin, ear to ear of the jaw line), the box
   * the keypoint models were trained on.
   */
  box: FaceBox;
  /** Confidence in [0, 1]. */
  score: number;
  /** The finder's own few landmarks (BlazeFace: eyes, nose, mouth, ears), if any. */
  landmarks?: NamedPoint[];
}

/** Options of {@linkcode FaceFinder.findFaces}. */
export interface FindFacesOptions {
  /** Smallest score kept. */
  minScore?: number;
  /** At most this many faces, best first. */
  maxFaces?: number;
  /**
   * Smallest face side to look for, in image pixels; smaller values look
   * harder (more passes over tiles of the photo) and take longer.
   */
  minFaceSize?: number;
}

/** Finds faces: best first, boxes in image pixels. */
export interface FaceFinder {
  /** Finds the faces of an RGBA image. */
  findFaces(image: RgbaLike, options?: FindFacesOptions): Promise<FoundFace[]>;
  /** Frees the finder's memory. */
  dispose?(): void;
}
