/**
 * Minimal raster charts drawn with `../image/draw.ts`: line charts of value
 * sequences (e.g. loss per epoch, optionally on a log scale) and x/y curves
 * (e.g. the cumulative error distribution of a keypoint model). The result is
 * an {@linkcode RgbaImage}; write it with `encodePng` from `../image/png.ts`.
 *
 * @module
 */

import type { RgbaImage } from "../image/rgba.ts";
import {
  blank,
  blit,
  drawDot,
  drawLine,
  drawText,
  fillRect,
  type Rgb,
  textHeight,
  textWidth,
} from "../image/draw.ts";

/** One line of a {@linkcode lineChart}: `values[i]` is plotted at x = xStart + i. */
export interface LineSeries {
  /** Name shown in the legend. */
  name: string;
  /** Y values; NaN, infinite (and, on a log axis, non-positive) ones leave gaps. */
  values: number[];
  /** Line colour. */
  color: Rgb;
}

/** One curve of a {@linkcode curveChart}: points (x[i], y[i]), drawn in order. */
export interface CurveSeries {
  /** Name shown in the legend. */
  name: string;
  /** X coordinates. */
  x: number[];
  /** Y coordinates (same length as `x`). */
  y: number[];
  /** Line colour. */
  color: Rgb;
}

/** Options shared by {@linkcode lineChart} and {@linkcode curveChart}. */
export interface ChartOptions {
  /** Title drawn centred above the plot. */
  title?: string;
  /** Logarithmic y axis with decade ticks; non-positive values are skipped. */
  logY?: boolean;
  /** Image width in pixels (default 640). */
  width?: number;
  /** Image height in pixels (default 400). */
  height?: number;
  /** Label under the x axis. */
  xLabel?: string;
  /** Label left of the y axis (drawn rotated). */
  yLabel?: string;
  /** Fixed x range instead of the data's extent; data outside is clipped. */
  xRange?: [number, number];
  /** Fixed y range instead of a rounded data extent; data outside is clipped. */
  yRange?: [number, number];
  /**
   * Legend corner (default `"top-right"` for line charts, `"bottom-right"`
   * for curve charts, where rising CED curves leave that corner free).
   */
  legend?: "top-right" | "top-left" | "bottom-right" | "bottom-left" | "none";
  /** Line width in pixels (default 2). */
  lineWidth?: number;
}

/** Extra option of {@linkcode lineChart}. */
export interface LineChartOptions extends ChartOptions {
  /** X value of the first element of each series (default 0). */
  xStart?: number;
}

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];
const MINOR_GRID: Rgb = [242, 242, 242];
const FRAME: Rgb = [60, 60, 60];

interface Tick {
  value: number;
  label?: string;
}

interface Axis {
  min: number;
  max: number;
  ticks: Tick[];
  minor: number[];
  log: boolean;
}

/** 1, 2 or 5 times a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function formatNumber(v: number, step: number): string {
  if (v === 0) return "0";
  const av = Math.abs(v);
  if (av >= 1e6 || av < 1e-4) {
    const e = v.toExponential(2).replace(/\.?0+e/, "e").replace("e+", "e");
    return e;
  }
  const decimals = Math.max(
    0,
    Math.min(6, -Math.floor(Math.log10(step) + 1e-9)),
  );
  const s = v.toFixed(decimals);
  return s === "-0" ? "0" : s;
}

function formatDecade(k: number): string {
  if (k >= 0 && k <= 4) return String(10 ** k);
  if (k < 0 && k >= -3) return (10 ** k).toFixed(-k);
  return `1e${k}`;
}

function linearAxis(
  lo: number,
  hi: number,
  target: number,
  fixed: boolean,
  integer: boolean,
): Axis {
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  let step = niceStep((hi - lo) / Math.max(1, target));
  if (integer) step = Math.max(1, step);
  let min = lo, max = hi;
  if (!fixed) {
    min = Math.floor(lo / step + 1e-9) * step;
    max = Math.ceil(hi / step - 1e-9) * step;
  }
  const ticks: Tick[] = [];
  const first = Math.ceil(min / step - 1e-9);
  const last = Math.floor(max / step + 1e-9);
  for (let i = first; i <= last && ticks.length < 100; i++) {
    const value = i * step;
    ticks.push({ value, label: formatNumber(value, step) });
  }
  return { min, max, ticks, minor: [], log: false };
}

function logAxis(
  lo: number,
  hi: number,
  fixed: boolean,
  maxLabels: number,
): Axis {
  if (!(lo > 0)) lo = hi > 0 ? hi / 10 : 1;
  if (!(hi > lo)) hi = lo * 10;
  let kLo = Math.floor(Math.log10(lo) + 1e-9);
  let kHi = Math.ceil(Math.log10(hi) - 1e-9);
  if (kHi === kLo) kHi++;
  const min = fixed ? Math.log10(lo) : kLo;
  const max = fixed ? Math.log10(hi) : kHi;
  if (fixed) {
    kLo = Math.ceil(min - 1e-9);
    kHi = Math.floor(max + 1e-9);
  }
  const every = Math.max(
    1,
    Math.ceil((kHi - kLo + 1) / Math.max(1, maxLabels)),
  );
  const ticks: Tick[] = [];
  const minor: number[] = [];
  for (let k = Math.floor(min) - 1; k <= Math.ceil(max); k++) {
    if (k >= kLo && k <= kHi) {
      ticks.push({
        value: k,
        label: (k - kLo) % every === 0 ? formatDecade(k) : undefined,
      });
    }
    if (every === 1) {
      for (let m = 2; m <= 9; m++) {
        const v = k + Math.log10(m);
        if (v > min && v < max) minor.push(v);
      }
    }
  }
  return { min, max, ticks, minor, log: true };
}

/** Rotates an image 90 degrees counter-clockwise. */
function rotateLeft(img: RgbaImage): RgbaImage {
  const out = blank(img.height, img.width);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const s = (y * img.width + x) * 4;
      const d = ((img.width - 1 - x) * img.height + y) * 4;
      for (let c = 0; c < 4; c++) out.data[d + c] = img.data[s + c];
    }
  }
  return out;
}

/** Clips segment to the rectangle (Liang-Barsky); returns null when outside. */
function clipSegment(
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  xmin: number,
  ymin: number,
  xmax: number,
  ymax: number,
): [number, number, number, number] | null {
  let t0 = 0, t1 = 1;
  const dx = x1 - x0, dy = y1 - y0;
  const checks: [number, number][] = [
    [-dx, x0 - xmin],
    [dx, xmax - x0],
    [-dy, y0 - ymin],
    [dy, ymax - y0],
  ];
  for (const [p, q] of checks) {
    if (p === 0) {
      if (q < 0) return null;
    } else {
      const r = q / p;
      if (p < 0) {
        if (r > t1) return null;
        if (r > t0) t0 = r;
      } else {
        if (r < t0) return null;
        if (r < t1) t1 = r;
      }
    }
  }
  return [x0 + t0 * dx, y0 + t0 * dy, x0 + t1 * dx, y0 + t1 * dy];
}

interface XYSeries {
  name: string;
  x: number[];
  y: number[];
  color: Rgb;
}

function renderChart(
  series: XYSeries[],
  opts: ChartOptions,
  defaultLegend: NonNullable<ChartOptions["legend"]>,
  integerX: boolean,
): RgbaImage {
  const width = Math.round(opts.width ?? 640);
  const height = Math.round(opts.height ?? 400);
  if (!(width >= 120 && height >= 80)) {
    throw new RangeError(
      `chart size ${width}x${height} is too small (min 120x80)`,
    );
  }
  const logY = opts.logY ?? false;
  const s = width >= 1000 && height >= 600 ? 2 : 1; // text scale
  const img = blank(width, height, WHITE);

  // Data extent over finite (and, for log, positive) points.
  let xlo = Infinity, xhi = -Infinity, ylo = Infinity, yhi = -Infinity;
  const usable = (x: number, y: number): boolean =>
    Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0);
  for (const sr of series) {
    const n = Math.min(sr.x.length, sr.y.length);
    for (let i = 0; i < n; i++) {
      const x = sr.x[i], y = sr.y[i];
      if (!usable(x, y)) continue;
      xlo = Math.min(xlo, x);
      xhi = Math.max(xhi, x);
      ylo = Math.min(ylo, y);
      yhi = Math.max(yhi, y);
    }
  }
  if (xlo > xhi) {
    xlo = 0;
    xhi = 1;
  }
  if (ylo > yhi) {
    ylo = logY ? 0.1 : 0;
    yhi = 1;
  }
  if (opts.xRange) [xlo, xhi] = opts.xRange;
  if (opts.yRange) [ylo, yhi] = opts.yRange;

  // Layout: title on top, y tick labels on the left, x tick labels below.
  const titleScale = s + 1;
  const top = opts.title ? textHeight(opts.title, titleScale) + 14 : 12;
  const bottomGuess = textHeight("0", s) + 12 +
    (opts.xLabel ? textHeight(opts.xLabel, s) + 8 : 0);
  const plotHeightGuess = height - top - bottomGuess;
  const yAxis = logY
    ? logAxis(
      ylo,
      yhi,
      opts.yRange !== undefined,
      Math.floor(plotHeightGuess / (14 * s)),
    )
    : linearAxis(
      ylo,
      yhi,
      Math.max(2, Math.floor(plotHeightGuess / (40 * s))),
      opts.yRange !== undefined,
      false,
    );
  const yLabelWidth = Math.max(
    0,
    ...yAxis.ticks.map((t) => t.label ? textWidth(t.label, s) : 0),
  );
  const left = 8 + (opts.yLabel ? textHeight(opts.yLabel, s) + 8 : 0) +
    yLabelWidth + 8;
  const right = width - 16;
  const bottom = height - bottomGuess;
  const plotW = right - left, plotH = bottom - top;
  if (plotW < 20 || plotH < 20) {
    throw new RangeError(
      `chart size ${width}x${height} leaves no room for the plot`,
    );
  }
  const xAxis = linearAxis(
    xlo,
    xhi,
    Math.max(2, Math.floor(plotW / (70 * s))),
    true,
    integerX,
  );

  const sx = (x: number): number => left + (x - xAxis.min) / (xAxis.max - xAxis.min) * plotW;
  const sy = (y: number): number => {
    const t = logY ? Math.log10(y) : y;
    return bottom - (t - yAxis.min) / (yAxis.max - yAxis.min) * plotH;
  };
  const syAxis = (v: number): number => bottom - (v - yAxis.min) / (yAxis.max - yAxis.min) * plotH;

  // Grid.
  for (const v of yAxis.minor) {
    const py = Math.round(syAxis(v));
    drawLine(img, left, py, right, py, MINOR_GRID);
  }
  for (const t of yAxis.ticks) {
    const py = Math.round(syAxis(t.value));
    drawLine(img, left, py, right, py, GRID);
  }
  for (const t of xAxis.ticks) {
    const px = Math.round(sx(t.value));
    drawLine(img, px, top, px, bottom, GRID);
  }

  // Series, clipped to the plot area.
  const lw = Math.max(1, Math.round(opts.lineWidth ?? 2));
  for (const sr of series) {
    const n = Math.min(sr.x.length, sr.y.length);
    let prev: [number, number] | null = null;
    let drawn = 0;
    for (let i = 0; i < n; i++) {
      if (!usable(sr.x[i], sr.y[i])) {
        prev = null;
        continue;
      }
      const p: [number, number] = [sx(sr.x[i]), sy(sr.y[i])];
      if (prev !== null) {
        const c = clipSegment(
          prev[0],
          prev[1],
          p[0],
          p[1],
          left,
          top,
          right,
          bottom,
        );
        if (c) drawLine(img, c[0], c[1], c[2], c[3], sr.color, lw);
        drawn++;
      }
      prev = p;
    }
    if (drawn === 0 && prev !== null) {
      // A single point: show it as a dot when inside the plot.
      if (
        prev[0] >= left && prev[0] <= right && prev[1] >= top &&
        prev[1] <= bottom
      ) {
        drawDot(img, prev[0], prev[1], lw + 1, sr.color);
      }
    }
  }

  // Frame, ticks and tick labels.
  drawLine(img, left, top, right, top, FRAME);
  drawLine(img, left, bottom, right, bottom, FRAME);
  drawLine(img, left, top, left, bottom, FRAME);
  drawLine(img, right, top, right, bottom, FRAME);
  const charH = textHeight("0", s);
  for (const v of yAxis.minor) {
    const py = Math.round(syAxis(v));
    drawLine(img, left - 2, py, left, py, FRAME);
  }
  for (const t of yAxis.ticks) {
    const py = Math.round(syAxis(t.value));
    drawLine(img, left - 5, py, left, py, FRAME);
    if (t.label) {
      drawText(
        img,
        left - 8 - textWidth(t.label, s),
        py - Math.floor(charH / 2),
        t.label,
        BLACK,
        s,
      );
    }
  }
  for (const t of xAxis.ticks) {
    const px = Math.round(sx(t.value));
    drawLine(img, px, bottom, px, bottom + 5, FRAME);
    if (t.label) {
      const w = textWidth(t.label, s);
      const x = Math.min(width - w - 1, Math.max(0, px - Math.floor(w / 2)));
      drawText(img, x, bottom + 8, t.label, BLACK, s);
    }
  }

  // Title and axis labels.
  if (opts.title) {
    const w = textWidth(opts.title, titleScale);
    drawText(
      img,
      Math.max(2, Math.floor((width - w) / 2)),
      7,
      opts.title,
      BLACK,
      titleScale,
    );
  }
  if (opts.xLabel) {
    const w = textWidth(opts.xLabel, s);
    drawText(
      img,
      Math.max(2, Math.floor(left + (plotW - w) / 2)),
      bottom + 8 + charH + 8,
      opts.xLabel,
      BLACK,
      s,
    );
  }
  if (opts.yLabel) {
    const w = textWidth(opts.yLabel, s), h = textHeight(opts.yLabel, s);
    const label = blank(w + 2, h + 2, WHITE);
    drawText(label, 1, 1, opts.yLabel, BLACK, s);
    const rotated = rotateLeft(label);
    blit(
      img,
      rotated,
      7,
      Math.max(0, Math.floor(top + (plotH - rotated.height) / 2)),
    );
  }

  // Legend.
  const corner = opts.legend ?? defaultLegend;
  const named = series.filter((sr) => sr.name !== "");
  if (corner !== "none" && named.length > 0) {
    const swatch = 18 * s;
    const rowH = charH + 6 * s;
    const boxW = Math.max(...named.map((sr) => textWidth(sr.name, s))) +
      swatch + 18 * s;
    const boxH = named.length * rowH + 8 * s;
    const bx = corner.endsWith("right") ? right - boxW - 8 : left + 8;
    const by = corner.startsWith("top") ? top + 8 : bottom - boxH - 8;
    fillRect(img, bx, by, boxW, boxH, WHITE);
    drawLine(img, bx, by, bx + boxW - 1, by, FRAME);
    drawLine(img, bx, by + boxH - 1, bx + boxW - 1, by + boxH - 1, FRAME);
    drawLine(img, bx, by, bx, by + boxH - 1, FRAME);
    drawLine(img, bx + boxW - 1, by, bx + boxW - 1, by + boxH - 1, FRAME);
    named.forEach((sr, i) => {
      const ry = by + 4 * s + i * rowH + 3 * s;
      const mid = ry + Math.floor(charH / 2);
      drawLine(
        img,
        bx + 6 * s,
        mid,
        bx + 6 * s + swatch,
        mid,
        sr.color,
        Math.max(2, lw),
      );
      drawText(img, bx + 12 * s + swatch, ry, sr.name, BLACK, s);
    });
  }
  return img;
}

/**
 * Draws value sequences as lines against their index (x = `xStart + i`):
 * framed axes with grid, "nice" (1/2/5) tick labels, decade ticks with
 * minor ticks when `logY`, an optional title and axis labels, and a legend.
 *
 * @param series Lines to draw; names appear in the legend (empty names are left out).
 * @param opts Title, axis labels, log scale, size (default 640x400) and more.
 * @returns The chart as an opaque RGBA image of exactly `width` x `height`.
 * @throws {RangeError} When the requested size is below 120x80.
 *
 * @example Training loss on a log scale
 * ```ts
 * import { lineChart } from "./plot.ts";
 * import { encodePng } from "../image/png.ts";
 *
 * const chart = lineChart([
 *   { name: "train", values: [1, 0.5, 0.2, 0.1, 0.05], color: [31, 119, 180] },
 *   { name: "val", values: [1.1, 0.6, 0.3, 0.2, 0.18], color: [255, 127, 14] },
 * ], { title: "Loss", logY: true, xLabel: "epoch", yLabel: "loss" });
 * const png = encodePng(chart);
 * console.log(chart.width, chart.height, png.length > 0); // 640 400 true
 * ```
 */
export function lineChart(
  series: LineSeries[],
  opts: LineChartOptions = {},
): RgbaImage {
  const x0 = opts.xStart ?? 0;
  const xy = series.map((sr) => ({
    name: sr.name,
    color: sr.color,
    y: sr.values,
    x: sr.values.map((_, i) => x0 + i),
  }));
  const integerX = Number.isInteger(x0);
  return renderChart(xy, opts, "top-right", integerX);
}

/**
 * Draws x/y curves, e.g. a cumulative error distribution (x = error
 * threshold, y = fraction of images below it). Same look and options as
 * {@linkcode lineChart}; the legend defaults to the bottom-right corner, and
 * `xRange` / `yRange` fix the axes (e.g. `[0, 0.08]` and `[0, 1]`).
 *
 * @param series Curves to draw; points are joined in the given order.
 * @param opts Title, axis labels, ranges, log scale, size and more.
 * @returns The chart as an opaque RGBA image of exactly `width` x `height`.
 * @throws {RangeError} When the requested size is below 120x80.
 *
 * @example Cumulative error distribution of two models
 * ```ts
 * import { curveChart } from "./plot.ts";
 *
 * const x = [0, 0.02, 0.04, 0.06, 0.08];
 * const chart = curveChart([
 *   { name: "ours", x, y: [0, 0.4, 0.8, 0.95, 0.99], color: [214, 39, 40] },
 *   { name: "baseline", x, y: [0, 0.2, 0.6, 0.85, 0.93], color: [44, 160, 44] },
 * ], { title: "CED", xLabel: "NME", yLabel: "fraction", xRange: [0, 0.08], yRange: [0, 1] });
 * console.log(chart.width); // 640
 * ```
 */
export function curveChart(
  series: CurveSeries[],
  opts: ChartOptions = {},
): RgbaImage {
  for (const sr of series) {
    if (sr.x.length !== sr.y.length) {
      throw new RangeError(
        `curveChart: series "${sr.name}" has ${sr.x.length} x values but ${sr.y.length} y values`,
      );
    }
  }
  return renderChart(series, opts, "bottom-right", false);
}
