/**
 * Which square regions of a photo the face finder looks at: the whole
 * photo, plus pyramid levels of overlapping tiles for faces too small for
 * the whole-photo pass (`minFaceSize`), and which detections a tile keeps.
 *
 * @module
 */

import type { Detection } from "./nms.ts";

/** A square region of the image, in image pixels, that is fed to the model. */
export interface Tile {
  /** Left edge (may be negative: the outside is padded black). */
  x: number;
  /** Top edge (may be negative). */
  y: number;
  /** Side. */
  size: number;
  /**
   * Largest detector-box side (image pixels) kept from this tile; bigger
   * faces belong to a coarser level, and bigger boxes here are mostly parts
   * of a face cut by the tile. Undefined: no limit (the whole-image pass).
   */
  maxFace?: number;
}

/** Constants of {@link planTiles}. */
export interface TilingParams {
  /**
   * Smallest detector box, in model-input pixels, that the model finds
   * reliably. Measured on helen_testset faces shrunk into a 256 canvas
   * (see `size_range.ts`).
   */
  minBoxInput: number;
  /**
   * Side of the whole-image pass as a multiple of the longer image side
   * (1.25: faces filling the photo are still found; see `eval_helen.ts`).
   */
  wholePad: number;
  /** Side ratio between successive pyramid levels. */
  levelRatio: number;
  /** Overlap between neighbouring tiles, as a multiple of the largest face a level must catch. */
  overlapFactor: number;
  /**
   * A tile keeps detections up to this multiple of the largest face its
   * level must catch ({@link Tile.maxFace}).
   */
  maxFaceFactor: number;
  /**
   * A tile drops a detection whose box crosses one of its edges that lies
   * inside the image by more than this fraction of the box side (a face
   * cut by the tile; the neighbouring tile sees it whole).
   */
  edgeSlack: number;
}

/** Default {@link TilingParams}. */
export const DEFAULT_TILING: TilingParams = {
  minBoxInput: 20,
  wholePad: 1.25,
  levelRatio: 3,
  overlapFactor: 1.25,
  maxFaceFactor: 2,
  edgeSlack: 0.15,
};

function axisStarts(length: number, size: number, overlap: number): number[] {
  if (length <= size) return [(length - size) / 2];
  const n = Math.ceil((length - overlap) / (size - overlap));
  const step = (length - size) / (n - 1);
  return Array.from({ length: n }, (_, i) => i * step);
}

/**
 * The regions searched for a `width` x `height` image: always the whole
 * image, centred in a black square of side `wholePad * max(width, height)`
 * (aspect ratio kept; the margin lets faces that fill the photo be found,
 * and it catches faces of detector-box side `>= minBoxInput * wholePad *
 * max(width, height) / inputSize`), plus, when `minFaceSize` is smaller
 * than that, pyramid levels of overlapping square tiles whose side is
 * `minFaceSize * inputSize / minBoxInput` times powers of `levelRatio`.
 * Tiles of one level overlap by `overlapFactor` times the largest face that
 * level is responsible for, so each such face lies whole inside some tile.
 *
 * @param width Image width.
 * @param height Image height.
 * @param minFaceSize Smallest face wanted (detector-box side, pixels); `0`
 *   or undefined means the whole-image pass only.
 * @param inputSize Model input side.
 * @param params Tiling constants.
 * @example
 * ```ts
 * import { planTiles } from "./tiles.ts";
 * console.log(planTiles(1024, 768).length); // 1
 * console.log(planTiles(1024, 768, 48).length); // 5
 * ```
 */
export function planTiles(
  width: number,
  height: number,
  minFaceSize?: number,
  inputSize: number = 256,
  params: TilingParams = DEFAULT_TILING,
): Tile[] {
  const side = Math.max(width, height) * params.wholePad;
  const whole: Tile = { x: (width - side) / 2, y: (height - side) / 2, size: side };
  const tiles: Tile[] = [];
  if (minFaceSize && minFaceSize > 0) {
    let size = minFaceSize * inputSize / params.minBoxInput;
    while (size * 1.05 < side) {
      const next = Math.min(side, size * params.levelRatio);
      // Faces this level must catch: up to the smallest the next level finds.
      const biggest = params.minBoxInput * next / inputSize;
      const overlap = Math.min(size / 2, biggest * params.overlapFactor);
      const maxFace = biggest * params.maxFaceFactor;
      for (const y of axisStarts(height, size, overlap)) {
        for (const x of axisStarts(width, size, overlap)) tiles.push({ x, y, size, maxFace });
      }
      size = next;
    }
  }
  tiles.push(whole);
  return tiles;
}

/**
 * Whether a detection (image pixels) found in `tile` is kept: always for a
 * tile without {@link Tile.maxFace}; otherwise its side must be at most
 * `maxFace` and it must not cross an edge of the tile that lies inside the
 * image by more than `edgeSlack` times its side.
 *
 * @example
 * ```ts
 * import { keepFromTile } from "./tiles.ts";
 * const tile = { x: 0, y: 0, size: 100, maxFace: 50 };
 * const d = { x1: 90, y1: 10, x2: 130, y2: 50, score: 1, keypoints: [] };
 * console.log(keepFromTile(d, tile, 300, 300, 0.15)); // false: cut by the right edge
 * ```
 */
export function keepFromTile(
  d: Detection,
  tile: Tile,
  width: number,
  height: number,
  edgeSlack: number,
): boolean {
  if (tile.maxFace === undefined) return true;
  const side = Math.max(d.x2 - d.x1, d.y2 - d.y1);
  if (side > tile.maxFace) return false;
  const slack = edgeSlack * side;
  const x2 = tile.x + tile.size;
  const y2 = tile.y + tile.size;
  if (tile.x > 0 && d.x1 < tile.x - slack) return false;
  if (tile.y > 0 && d.y1 < tile.y - slack) return false;
  if (x2 < width && d.x2 > x2 + slack) return false;
  if (y2 < height && d.y2 > y2 + slack) return false;
  return true;
}
