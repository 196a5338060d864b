/**
 * Faces through a sequence of frames (video): each track's next crop comes
 * from its previous keypoints, and the face finder runs only on the first
 * frame, every `detectEvery` frames, or when every track is lost. Tracks
 * keep stable ids; keypoints are smoothed by a One-Euro filter per track
 * (on by default here, off in `estimate`). A track ends when its face
 * leaves the frame, its keypoints lose confidence, or two finder passes in
 * a row find no face where it is (a crop that lost its face, say to a fast
 * move or an empty part of the frame, can still look face-like to the
 * keypoint model; the finder is the judge of faces).
 *
 * @module
 */

import type { Box } from "../data/face_box.ts";
import type { RgbaLike } from "../image/raster.ts";
import { iou } from "../metrics/detection.ts";
import type { EstimateOptions, Face, KeypointEstimator } from "./keypoint_estimator.ts";
import { fromFaceBox, refinedBox, toFaceBox } from "./keypoint_net.ts";
import { createOneEuro, type OneEuroFilter, type OneEuroOptions } from "./one_euro.ts";

/** A face of a frame with the id of its track. */
export interface TrackedFace extends Face {
  /** Track id: the same face keeps its id across frames. */
  id: number;
}

/** Options of {@linkcode createTracker}. */
export interface TrackerOptions {
  /** Run the face finder every N frames to pick up new faces (default 10). */
  detectEvery?: number;
  /** One-Euro smoothing of the keypoints, or `false` (default: the filter's defaults). */
  smoothing?: OneEuroOptions | false;
  /** Frame rate used when `track` gets no timestamp (default 30). */
  fps?: number;
  /** A track ends when its mean keypoint score falls below this (default 0.15). */
  minKeypointScore?: number;
  /** Options for the face finder and the estimator (`maxFaces`, `minScore`, ...). */
  estimate?: EstimateOptions;
}

/** A face tracker over a frame sequence. */
export interface Tracker {
  /** The faces of the next frame; `time` in seconds (default frame count / fps). */
  track(frame: RgbaLike, time?: number): Promise<TrackedFace[]>;
  /** How many frames ran the face finder so far. */
  readonly detections: number;
  /** Forgets every track. */
  reset(): void;
}

interface Track {
  id: number;
  box: Box;
  filter?: OneEuroFilter;
  /** Finder passes in a row that found no face where this track is. */
  misses?: number;
}

/** Whether most of `box` lies outside a `w` x `h` frame. */
function leftFrame(box: Box, w: number, h: number): boolean {
  const ix = Math.max(0, Math.min(w, box.x + box.w) - Math.max(0, box.x));
  const iy = Math.max(0, Math.min(h, box.y + box.h) - Math.max(0, box.y));
  return ix * iy < 0.5 * box.w * box.h;
}

/**
 * Creates a tracker that uses `estimator` (and its face finder).
 *
 * @example
 * ```ts ignore
 * import { createKeypointEstimator, createTracker } from "../../mod.ts";
 * const tracker = createTracker(await createKeypointEstimator());
 * for (const frame of frames) console.log((await tracker.track(frame)).map((f) => f.id));
 * ```
 */
export function createTracker(estimator: KeypointEstimator, options: TrackerOptions = {}): Tracker {
  const every = Math.max(1, options.detectEvery ?? 10);
  const fps = options.fps ?? 30;
  const minKp = options.minKeypointScore ?? 0.15;
  const eo = options.estimate ?? {};
  let tracks: Track[] = [];
  let nextId = 1, frameNo = 0, detections = 0;
  const newFilter = (): OneEuroFilter | undefined =>
    options.smoothing === false ? undefined : createOneEuro(options.smoothing ?? {});
  return {
    get detections() {
      return detections;
    },
    reset() {
      tracks = [];
      frameNo = 0;
    },
    async track(frame, time) {
      const t = time ?? frameNo / fps;
      // A track whose last box is mostly outside this frame has ended.
      tracks = tracks.filter((tr) => !leftFrame(tr.box, frame.width, frame.height));
      const detect = tracks.length === 0 || frameNo % every === 0;
      frameNo++;
      // Tracked faces first: their boxes come from the previous keypoints.
      const faces: Face[] = tracks.length
        ? await estimator.estimate(frame, { ...eo, boxes: tracks.map((tr) => toFaceBox(tr.box)) })
        : [];
      let kept: { track: Track; face: Face }[] = [];
      faces.forEach((face, i) => { // given boxes come back in track order
        const mean = face.keypoints.reduce((s, k) => s + (k.score ?? 1), 0) / face.keypoints.length;
        const box = keypointBox(face.keypoints);
        if (mean < minKp || leftFrame(box, frame.width, frame.height)) return; // the track ends
        kept.push({ track: tracks[i], face: { ...face, score: mean } });
      });
      if (detect) {
        detections++;
        const found = await estimator.estimate(frame, { ...eo, box: undefined, boxes: undefined });
        // A found face overlapping a track's keypoints is that track's face;
        // a track where two finder passes in a row see none ends, and the
        // other faces start tracks.
        const tracked = kept.map((k) => toFaceBox(keypointBox(k.face.keypoints)));
        const match = found.map((f) => tracked.findIndex((b) => iou(b, f.box) > 0.3));
        kept = kept.filter((k, i) => {
          k.track = { ...k.track, misses: match.includes(i) ? 0 : (k.track.misses ?? 0) + 1 };
          return k.track.misses! < 2; // one miss is forgiven: the finder is not perfect
        });
        const unmatched = found.filter((_, j) => match[j] < 0);
        for (const f of unmatched) {
          kept.push({
            track: { id: nextId++, box: fromFaceBox(f.box), filter: newFilter() },
            face: f,
          });
        }
      }
      const out: TrackedFace[] = [];
      tracks = kept.map(({ track, face }) => {
        let keypoints = face.keypoints;
        if (track.filter) {
          const s = track.filter.filter(keypoints.flatMap((k) => [k.x, k.y]), t);
          keypoints = keypoints.map((k, j) => ({ ...k, x: s[2 * j], y: s[2 * j + 1] }));
        }
        const box = keypointBox(keypoints);
        out.push({ ...face, keypoints, id: track.id });
        return { ...track, box };
      });
      return out.sort((a, b) => a.id - b.id);
    },
  };
}

/** The box around keypoints: the next frame's crop box. */
function keypointBox(keypoints: { x: number; y: number }[]): Box {
  return refinedBox(Float32Array.from(keypoints.flatMap((k) => [k.x, k.y])));
}
