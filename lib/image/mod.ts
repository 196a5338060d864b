/**
 * Images: the RGBA type, JPEG/PNG decoding (with EXIF orientation), the PNG codec,
 * float rasters with affine warps, and drawing.
 *
 * @module
 */

export * from "./affine.ts";
export * from "./decode.ts";
export * from "./draw.ts";
export * from "./png.ts";
export * from "./raster.ts";
export * from "./rgba.ts";
export * from "./exif.ts";
