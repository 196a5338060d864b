/// <reference lib="dom" />
/**
 * The browser page's script: loads the shipped 68-point model and the face
 * finder over HTTP, finds the faces of a photo the person picks (or a
 * webcam frame) and draws boxes and keypoints on a canvas. Built into
 * `web/app.js` by `deno task build:web`.
 *
 * The estimate path (decode by the browser, crop, model, keypoints) uses no
 * Deno-only API.
 *
 * @module
 */

import { createFaceDetector, createKeypointEstimator, type Face } from "../mod.ts";

const modelsUrl = new URL("../models/", location.href);
const status = document.getElementById("status")!;
const canvas = document.getElementById("canvas") as HTMLCanvasElement;
const ctx = canvas.getContext("2d")!;

status.textContent = "loading models...";
const detector = await createFaceDetector({ model: new URL("blazeface/", modelsUrl) });
const estimator = await createKeypointEstimator({
  model: new URL("part3/", modelsUrl),
  faceFinder: detector,
});
status.textContent = "ready: pick a photo";

/** Draws `source` and the faces found in it; returns the faces. */
async function run(source: CanvasImageSource, width: number, height: number): Promise<Face[]> {
  canvas.width = width;
  canvas.height = height;
  ctx.drawImage(source, 0, 0);
  const pixels = ctx.getImageData(0, 0, width, height);
  const t0 = performance.now();
  const faces = await estimator.estimate(pixels);
  const ms = performance.now() - t0;
  ctx.lineWidth = Math.max(1, width / 500);
  for (const f of faces) {
    ctx.strokeStyle = "#28dc5a";
    ctx.strokeRect(f.box.x, f.box.y, f.box.width, f.box.height);
    ctx.fillStyle = "#ff2828";
    const r = Math.max(1, Math.min(width / 300, f.box.width / 45));
    for (const k of f.keypoints) {
      ctx.beginPath();
      ctx.arc(k.x + 0.5, k.y + 0.5, r, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
  status.textContent = `${faces.length} face(s) in ${ms.toFixed(0)} ms`;
  (globalThis as unknown as { facekitResult: Face[] }).facekitResult = faces;
  return faces;
}

async function fromUrl(url: string): Promise<Face[]> {
  const img = new Image();
  img.src = url;
  await img.decode();
  return await run(img, img.naturalWidth, img.naturalHeight);
}

(document.getElementById("file") as HTMLInputElement).addEventListener("change", (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (file) void fromUrl(URL.createObjectURL(file));
});

document.getElementById("webcam")!.addEventListener("click", async () => {
  const video = document.createElement("video");
  video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true });
  await video.play();
  const loop = async (): Promise<void> => {
    await run(video, video.videoWidth, video.videoHeight);
    requestAnimationFrame(() => void loop());
  };
  void loop();
});

// For tests and links: ?image=URL runs on that photo at once.
const given = new URLSearchParams(location.search).get("image");
if (given) await fromUrl(given);
(globalThis as unknown as { facekitReady: boolean }).facekitReady = true;
