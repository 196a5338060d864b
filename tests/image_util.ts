// Image helpers shared by tests.
import type { RgbaImage } from "../lib/image/rgba.ts";

/** `img` mirrored left-right. */
export function mirrorRgba(img: RgbaImage): RgbaImage {
  const data = new Uint8Array(img.data.length);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const s = (y * img.width + x) * 4, d = (y * img.width + img.width - 1 - x) * 4;
      data.set(img.data.subarray(s, s + 4), d);
    }
  }
  return { width: img.width, height: img.height, data };
}
