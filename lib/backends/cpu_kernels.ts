/**
 * Corrections to tfjs's cpu backend, which is this project's reference for
 * checking the other backends, so it has to be right.
 *
 * - `ResizeNearestNeighborGrad` (the gradient of nearest up-sampling, used
 *   by the U-Net decoder): tfjs-backend-cpu 4.22 reads `dy` with the input
 *   image's batch stride, so every image after the first gets a wrong
 *   gradient (measured: max error 4.5 on a 3x5x5x2 input against the
 *   gradient computed by hand, while wasm and WebGPU are exact). The
 *   replacement maps every output pixel to its source pixel with the
 *   forward kernel's own formula (align-corners and half-pixel centres
 *   included) and adds `dy` there.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

type CpuBackend = tf.KernelBackend & {
  data: { get(id: unknown): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
};

/**
 * The source index of output index `o` for nearest-neighbour resizing from
 * `inSize` to `outSize` (the rule of tfjs's forward kernel).
 *
 * @example
 * ```ts
 * import { nearestSource } from "./cpu_kernels.ts";
 * console.log(nearestSource(5, 4, 8, false, false)); // 2
 * ```
 */
export function nearestSource(
  o: number,
  inSize: number,
  outSize: number,
  alignCorners: boolean,
  halfPixelCenters: boolean,
): number {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effIn / effOut;
  const frac = halfPixelCenters ? ratio * (o + 0.5) : ratio * o;
  let s = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
  if (halfPixelCenters) s = Math.max(0, s);
  return s;
}

function resizeNearestNeighborGrad(
  args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap },
): tf.TensorInfo {
  const backend = args.backend as CpuBackend;
  const images = args.inputs.images as tf.TensorInfo;
  const dy = args.inputs.dy as tf.TensorInfo;
  const alignCorners = Boolean(args.attrs?.alignCorners);
  const halfPixelCenters = Boolean(args.attrs?.halfPixelCenters);
  const [batch, inH, inW, depth] = images.shape;
  const [, outH, outW] = dy.shape;
  const g = backend.data.get(dy.dataId).values;
  const acc = new Float64Array(batch * inH * inW * depth);
  const rows = Array.from(
    { length: outH },
    (_, r) => nearestSource(r, inH, outH, alignCorners, halfPixelCenters),
  );
  const cols = Array.from(
    { length: outW },
    (_, c) => nearestSource(c, inW, outW, alignCorners, halfPixelCenters),
  );
  let k = 0;
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < outH; r++) {
      const rowBase = (b * inH + rows[r]) * inW;
      for (let c = 0; c < outW; c++) {
        const base = (rowBase + cols[c]) * depth;
        for (let d = 0; d < depth; d++) acc[base + d] += g[k++];
      }
    }
  }
  return backend.makeTensorInfo(images.shape, "float32", Float32Array.from(acc));
}

let registered = false;

/**
 * Replaces the cpu backend's wrong kernels (idempotent).
 *
 * @example
 * ```ts
 * import { registerCpuKernelFixes } from "./cpu_kernels.ts";
 * registerCpuKernelFixes();
 * ```
 */
export function registerCpuKernelFixes(): void {
  if (registered) return;
  registered = true;
  if (tf.getKernel("ResizeNearestNeighborGrad", "cpu")) {
    tf.unregisterKernel("ResizeNearestNeighborGrad", "cpu");
  }
  tf.registerKernel({
    kernelName: "ResizeNearestNeighborGrad",
    backendName: "cpu",
    kernelFunc: resizeNearestNeighborGrad as unknown as tf.KernelFunc,
  });
}
