/**
 * The shipped face finder: MediaPipe's BlazeFace (back-camera model, from
 * `models/blazeface/`) behind the {@linkcode FaceFinder} interface, with
 * boxes calibrated to the 68-landmark box the keypoint models expect.
 *
 * @module
 */

import { type BackendName, setupBackend } from "../backends/backend.ts";
import type { RgbaLike } from "../image/raster.ts";
import { type BlazeFaceOptions, findFaces, KEYPOINT_NAMES, loadBlazeFace } from "./blazeface.ts";
import { BLAZEFACE_TO_68PT, type BoxCalibration, calibrateBox } from "./calibration.ts";
import type { FaceFinder, FoundFace } from "./face_finder.ts";

/** Options of {@link createFaceDetector}. */
export interface FaceDetectorOptions {
  /** Model folder, URL or built-in name (default `"blazeface"`, shipped in `models/`). */
  model?: string | URL;
  /** tfjs backend (default `"wasm"`). */
  backend?: BackendName;
  /**
   * Box mapping applied to every detector box (default
   * {@link BLAZEFACE_TO_68PT}, fitted on 300-W training faces); `null`
   * returns BlazeFace's own boxes (which also cover the forehead).
   */
  calibration?: BoxCalibration | null;
  /** Defaults for every `findFaces` call (the call's options win). */
  defaults?: BlazeFaceOptions;
}

/** The BlazeFace finder: {@linkcode FaceFinder} with BlazeFace's own options. */
export interface FaceDetector extends FaceFinder {
  /** Finds the faces of an RGBA image, best first. */
  findFaces(image: RgbaLike, options?: BlazeFaceOptions): Promise<FoundFace[]>;
  /** Frees the model. */
  dispose(): void;
}

/**
 * Loads BlazeFace and returns a face detector.
 *
 * @example
 * ```ts ignore
 * import { createFaceDetector } from "./face_detector.ts";
 * import { readImage } from "../image/decode.ts";
 * const detector = await createFaceDetector();
 * const faces = await detector.findFaces(await readImage("photo.jpg", { upright: true }));
 * console.log(faces[0]?.box, faces[0]?.landmarks?.[2]); // landmark-style box, nose tip
 * detector.dispose();
 * ```
 */
export async function createFaceDetector(opts: FaceDetectorOptions = {}): Promise<FaceDetector> {
  await setupBackend(opts.backend ?? "wasm");
  const model = await loadBlazeFace(opts.model);
  const cal = opts.calibration === undefined ? BLAZEFACE_TO_68PT : opts.calibration;
  return {
    async findFaces(image, options = {}) {
      const merged: BlazeFaceOptions = { ...opts.defaults };
      for (const [k, v] of Object.entries(options)) {
        if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
      }
      const faces = await findFaces(model, image, merged);
      return faces.map((f) => ({
        box: cal ? calibrateBox(f.box, cal) : f.box,
        score: f.score,
        landmarks: f.landmarks.map((p, i) => ({ x: p.x, y: p.y, name: KEYPOINT_NAMES[i] })),
      }));
    },
    dispose() {
      model.graph.dispose();
    },
  };
}
