/**
 * Head pose from the 68 keypoints: a rigid 3D mean face is fitted to the
 * points by a weak-perspective camera (least-squares affine fit, then the
 * nearest scaled rotation), and the rotation is read as yaw, pitch, roll.
 *
 * Sign conventions (degrees, 0 = facing the camera upright):
 *
 * ```
 *   yaw > 0: the nose turns toward the image's right (the subject looks to their left)
 *   pitch > 0: the nose turns up (looking up)
 *   roll > 0: the head tilts clockwise in the image (the eye line turns clockwise)
 *
 *            image x ->            pitch +        roll + (clockwise)
 *      y      .-----.                 ^             _
 *      |     ( o   o )  yaw + -->     |            / )
 *      v      \  ^  /                              v
 *              '---'
 * ```
 *
 * Mirroring the photo left-right negates yaw and roll and keeps pitch.
 *
 * The mean face ({@linkcode MEAN_FACE_3D}, millimetres): x and y are the
 * mean of 622 near-frontal 300-W training shapes (helen_trainset,
 * lfpw_trainset; outer eye corners 90 mm apart), made left-right
 * symmetric; depth follows published anthropometric values relative to
 * the nose tip (the widely used 6-point head model: eye outer corners 27 mm,
 * mouth corners 25 mm, chin 13 mm behind the nose tip) interpolated over
 * each region, with the jaw reaching about 95 mm behind the nose tip at the
 * ears.
 *
 * @module
 */

import type { XY } from "./regions.ts";

/** Yaw, pitch and roll in degrees (see the module doc for the signs). */
export interface HeadPose {
  /** Left-right turn: > 0 when the nose turns toward the image's right. */
  yaw: number;
  /** Up-down nod: > 0 when looking up. */
  pitch: number;
  /** In-plane tilt: > 0 clockwise in the image. */
  roll: number;
}

const XY_MM: readonly (readonly [number, number])[] = [
  [-71.8, 0.3],
  [-70.5, 19.4],
  [-68.0, 38.2],
  [-64.4, 56.6],
  [-57.5, 73.7],
  [-46.5, 88.7],
  [-32.8, 101.2],
  [-17.5, 111.2],
  [0.0, 114.0],
  [17.5, 111.2],
  [32.8, 101.2],
  [46.5, 88.7],
  [57.5, 73.7],
  [64.4, 56.6],
  [68.0, 38.2],
  [70.5, 19.4],
  [71.8, 0.3],
  [-60.1, -12.8],
  [-50.7, -20.7],
  [-38.0, -22.9],
  [-25.0, -21.0],
  [-12.5, -16.4],
  [12.5, -16.4],
  [25.0, -21.0],
  [38.0, -22.9],
  [50.7, -20.7],
  [60.1, -12.8],
  [0.0, -1.6],
  [0.0, 11.2],
  [0.0, 23.8],
  [0.0, 36.8],
  [-14.6, 43.9],
  [-7.5, 46.3],
  [0.0, 48.7],
  [7.5, 46.3],
  [14.6, 43.9],
  [-45.0, 0.0],
  [-37.1, -4.5],
  [-27.5, -4.2],
  [-19.7, 1.9],
  [-28.4, 3.7],
  [-37.8, 3.5],
  [19.7, 1.9],
  [27.5, -4.2],
  [37.1, -4.5],
  [45.0, 0.0],
  [37.8, 3.5],
  [28.4, 3.7],
  [-28.3, 66.6],
  [-18.0, 62.6],
  [-7.5, 60.5],
  [0.0, 62.4],
  [7.5, 60.5],
  [18.0, 62.6],
  [28.3, 66.6],
  [18.4, 76.8],
  [8.1, 81.2],
  [0.0, 82.0],
  [-8.1, 81.2],
  [-18.4, 76.8],
  [-24.0, 67.2],
  [-7.6, 66.7],
  [0.0, 67.5],
  [7.6, 66.7],
  [24.0, 67.2],
  [7.7, 71.8],
  [0.0, 72.8],
  [-7.7, 71.8],
];

/** Depth behind the nose tip (mm) of each point, by region. */
function depth(i: number): number {
  if (i <= 16) return 13 + 82 * (Math.abs(i - 8) / 8) ** 1.6; // jaw: chin 13, ears 95
  const brow = [38, 28, 22, 18, 16]; // outer to inner
  if (i <= 26) return brow[i <= 21 ? i - 17 : 26 - i];
  if (i <= 30) return [18, 12, 6, 0][i - 27]; // nose bridge to tip
  if (i <= 35) return [16, 10, 8, 10, 16][i - 31]; // nostrils
  // Subject's right eye 36-41: outer corner, upper lid x2, inner corner, lower lid x2;
  // the left eye 42-47 is its mirror image (42 inner, 45 outer).
  if (i <= 41) return [27, 21, 20, 20, 20, 21][i - 36];
  if (i <= 47) return [20, 20, 21, 27, 21, 20][i - 42];
  if (i <= 59) return [25, 17, 12, 11, 12, 17, 25, 18, 14, 13, 14, 18][i - 48];
  return [22, 14, 13, 14, 22, 15, 14, 15][i - 60];
}

/**
 * The rigid 68-point mean face, millimetres: x right, y down (as in the
 * image), z away from the camera (the nose tip is nearest).
 */
export const MEAN_FACE_3D: readonly (readonly [number, number, number])[] = XY_MM.map((
  [x, y],
  i,
) => [x, y, depth(i)] as const);

type M3 = [number, number, number, number, number, number, number, number, number];

function mul(a: M3, b: M3): M3 {
  const o = new Array(9).fill(0) as M3;
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      for (let k = 0; k < 3; k++) o[r * 3 + c] += a[r * 3 + k] * b[k * 3 + c];
    }
  }
  return o;
}

/**
 * The rotation matrix (row-major 3x3) of a pose: `Rz(roll) Ry(-yaw)
 * Rx(-pitch)` in the x-right, y-down, z-away frame of {@linkcode MEAN_FACE_3D}.
 *
 * @example
 * ```ts
 * import { poseRotation } from "./head_pose.ts";
 * console.log(poseRotation({ yaw: 0, pitch: 0, roll: 0 })); // [1, 0, 0, 0, 1, 0, 0, 0, 1]
 * ```
 */
export function poseRotation(pose: HeadPose): number[] {
  const r = Math.PI / 180;
  const [a, b, g] = [-pose.pitch * r, -pose.yaw * r, pose.roll * r];
  const rx: M3 = [1, 0, 0, 0, Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a)];
  const ry: M3 = [Math.cos(b), 0, Math.sin(b), 0, 1, 0, -Math.sin(b), 0, Math.cos(b)];
  const rz: M3 = [Math.cos(g), -Math.sin(g), 0, Math.sin(g), Math.cos(g), 0, 0, 0, 1];
  return mul(rz, mul(ry, rx)).map((v) => (Math.abs(v) < 1e-15 ? 0 : v));
}

/**
 * Projects the mean face with a pose, scale (pixels per mm) and centre:
 * the 68 image points a face in that pose would have (weak perspective).
 *
 * @example
 * ```ts
 * import { projectMeanFace } from "./head_pose.ts";
 * const pts = projectMeanFace({ yaw: 0, pitch: 0, roll: 0 }, 1, { x: 0, y: 0 });
 * console.log(pts[45].x - pts[36].x); // 90
 * ```
 */
export function projectMeanFace(pose: HeadPose, scale: number, centre: XY): XY[] {
  const R = poseRotation(pose);
  return MEAN_FACE_3D.map(([x, y, z]) => ({
    x: centre.x + scale * (R[0] * x + R[1] * y + R[2] * z),
    y: centre.y + scale * (R[3] * x + R[4] * y + R[5] * z),
  }));
}

/** Inverse of a symmetric 3x3 matrix (row-major). */
function inv3(m: number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    A / det,
    -(b * i - c * h) / det,
    (b * f - c * e) / det,
    B / det,
    (a * i - c * g) / det,
    -(a * f - c * d) / det,
    C / det,
    -(a * h - b * g) / det,
    (a * e - b * d) / det,
  ];
}

/**
 * Head pose of a face from its 68 keypoints (image pixels).
 *
 * @example A face projected in a known pose gives that pose back
 * ```ts
 * import { headPose, projectMeanFace } from "./head_pose.ts";
 * const pts = projectMeanFace({ yaw: 30, pitch: -10, roll: 5 }, 2, { x: 200, y: 200 });
 * const p = headPose(pts);
 * console.log(Math.round(p.yaw), Math.round(p.pitch), Math.round(p.roll)); // 30 -10 5
 * ```
 */
export function headPose(points: readonly XY[]): HeadPose {
  if (points.length !== 68) {
    throw new Error(`headPose: needs the 68 points of the iBUG layout, got ${points.length}`);
  }
  // Centre both point sets.
  const n = 68;
  const X = MEAN_FACE_3D;
  const mx = [0, 0, 0], mp = [0, 0];
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 3; k++) mx[k] += X[i][k] / n;
    mp[0] += points[i].x / n;
    mp[1] += points[i].y / n;
  }
  // Affine camera M (2x3) = (P Xc^T) (Xc Xc^T)^-1.
  const xx = new Array(9).fill(0), px = new Array(6).fill(0);
  for (let i = 0; i < n; i++) {
    const c = [X[i][0] - mx[0], X[i][1] - mx[1], X[i][2] - mx[2]];
    const p = [points[i].x - mp[0], points[i].y - mp[1]];
    for (let r = 0; r < 3; r++) for (let s = 0; s < 3; s++) xx[r * 3 + s] += c[r] * c[s];
    for (let r = 0; r < 2; r++) for (let s = 0; s < 3; s++) px[r * 3 + s] += p[r] * c[s];
  }
  const xi = inv3(xx);
  const M = [0, 1].map((r) =>
    [0, 1, 2].map((s) => px[r * 3] * xi[s] + px[r * 3 + 1] * xi[3 + s] + px[r * 3 + 2] * xi[6 + s])
  );
  // Nearest matrix with orthonormal rows: (M M^T)^(-1/2) M.
  const a = M[0].reduce((s, v, k) => s + v * M[0][k], 0);
  const b = M[0].reduce((s, v, k) => s + v * M[1][k], 0);
  const d = M[1].reduce((s, v, k) => s + v * M[1][k], 0);
  const tr = a + d, det = a * d - b * b;
  const sq = Math.sqrt(Math.max(det, 1e-30)); // sqrt of the 2x2 matrix: (S + sqrt(det) I) / t
  const t = Math.sqrt(tr + 2 * sq);
  const s11 = (a + sq) / t, s12 = b / t, s22 = (d + sq) / t; // S^(1/2)
  const sdet = s11 * s22 - s12 * s12;
  const i11 = s22 / sdet, i12 = -s12 / sdet, i22 = s11 / sdet; // S^(-1/2)
  const r1 = [0, 1, 2].map((k) => i11 * M[0][k] + i12 * M[1][k]);
  const r2 = [0, 1, 2].map((k) => i12 * M[0][k] + i22 * M[1][k]);
  const r3 = [
    r1[1] * r2[2] - r1[2] * r2[1],
    r1[2] * r2[0] - r1[0] * r2[2],
    r1[0] * r2[1] - r1[1] * r2[0],
  ];
  // R = Rz(g) Ry(b) Rx(a): R20 = -sin b, R21 = cos b sin a, R22 = cos b cos a, R10 = sin g cos b.
  const deg = 180 / Math.PI;
  const beta = Math.asin(Math.max(-1, Math.min(1, -r3[0])));
  const alpha = Math.atan2(r3[1], r3[2]);
  const gamma = Math.atan2(r2[0], r1[0]);
  return { yaw: -beta * deg, pitch: -alpha * deg, roll: gamma * deg };
}
