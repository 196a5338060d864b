// node:zlib is not in browsers; the page decodes photos with the browser
// itself, so facekit's own PNG codec (which needs zlib) is never called.
const missing = () => {
  throw new Error(
    "PNG encoding/decoding by facekit needs node:zlib (Deno); the page uses the browser's decoder",
  );
};
export const deflateSync = missing;
export const inflateSync = missing;
