/**
 * A one-line progress bar on stderr (redrawn in place on a terminal, one
 * line per call otherwise).
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * Renders a bar such as `[#####.....] 50%`.
 *
 * @example
 * ```ts
 * import { bar } from "./progress.ts";
 * console.log(bar(1, 2, 10)); // [#####.....]  50%
 * ```
 */
export function bar(done: number, total: number, width = 24): string {
  const f = total > 0 ? Math.min(1, done / total) : 1;
  const n = Math.round(f * width);
  return `[${"#".repeat(n)}${".".repeat(width - n)}] ${String(Math.round(f * 100)).padStart(3)}%`;
}

/** Draws progress lines; `finish()` ends the line. */
export interface Progress {
  /** Redraws with a new state. */
  update(done: number, total: number, text: string): void;
  /** Ends the current line with a final message. */
  finish(text: string): void;
}

/**
 * Creates a progress writer on stderr.
 *
 * @example
 * ```ts ignore
 * import { createProgress } from "./progress.ts";
 * const p = createProgress("epoch 1");
 * p.update(1, 10, "loss 0.1");
 * p.finish("done");
 * ```
 */
export function createProgress(label: string): Progress {
  const tty = Deno.stderr.isTerminal();
  let last = 0;
  return {
    update(done, total, text) {
      const now = performance.now();
      if (!tty || (now - last < 100 && done < total)) return;
      last = now;
      Deno.stderr.writeSync(
        encoder.encode(`\r${label} ${bar(done, total)} ${text}\x1b[K`),
      );
    },
    finish(text) {
      Deno.stderr.writeSync(
        encoder.encode(
          `${tty ? "\r" : ""}${label} ${text}${tty ? "\x1b[K" : ""}\n`,
        ),
      );
    },
  };
}
