/**
 * Command-line parsing shared by every command and task: `--help` / `-h`
 * prints the command's usage and exits 0; an unknown or malformed option
 * prints the error and a one-line hint and exits 2 (the usual convention).
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";

/** A request to end the command with an exit code and a message. */
export class CliExit extends Error {
  /** The process exit code: 0 for `--help`, 2 for a usage error. */
  readonly code: number;

  /**
   * Makes an exit request.
   *
   * @example
   * ```ts
   * import { CliExit } from "./args.ts";
   * const e = new CliExit(2, "unknown option --x");
   * console.log(e.code); // 2
   * ```
   */
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** Options in `node:util` `parseArgs` form. */
export type CliOptions = NonNullable<ParseArgsConfig["options"]>;

/** What {@linkcode parseCli} returns for options `O`: typed values and positionals. */
export type ParsedCli<O extends CliOptions> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: boolean; strict: true }>
>;

/**
 * Parses `args` against `options`, strictly. `--help` or `-h` anywhere
 * throws a {@linkcode CliExit} with code 0 and `usage`; an unknown option, a
 * missing value or a stray positional throws one with code 2, the error and
 * a hint.
 *
 * @example
 * ```ts
 * import { CliExit, parseCli } from "./args.ts";
 * const { values } = parseCli(["--n", "3"], { n: { type: "string" } }, "usage: x [--n N]");
 * console.log(values.n); // "3"
 * try {
 *   parseCli(["--bad"], {}, "usage: x");
 * } catch (e) {
 *   console.log((e as CliExit).code); // 2
 * }
 * ```
 */
export function parseCli<const O extends CliOptions>(
  args: string[],
  options: O,
  usage: string,
  allowPositionals = false,
): ParsedCli<O> {
  if (args.includes("--help") || args.includes("-h")) throw new CliExit(0, usage);
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (e) {
    throw usageError((e as Error).message, usage);
  }
}

/**
 * A usage error (exit 2): the message, then a hint naming the usage's command.
 *
 * @example
 * ```ts
 * import { usageError } from "./args.ts";
 * console.log(usageError("--box is required", "usage: predict IMAGE").code); // 2
 * ```
 */
export function usageError(message: string, usage: string): CliExit {
  const words = usage.replace(/^usage:\s*/, "").split(/\s+/);
  const end = words.findIndex((w) => !/^(-A|--allow-[a-z]+|[a-z][\w.:/-]*)$/.test(w));
  const command = words.slice(0, end < 0 ? words.length : end).join(" ");
  return new CliExit(2, `${message}\n(run "${command} --help" for usage)`);
}

/**
 * Runs a command's body and turns its outcome into an exit code: a
 * {@linkcode CliExit} prints its message (usage on stdout for code 0, the
 * error on stderr otherwise); any other error prints `error: ...` and gives 1.
 *
 * @example
 * ```ts
 * import { runCli } from "./args.ts";
 * const code = await runCli(() => Promise.resolve(0));
 * console.log(code); // 0
 * ```
 */
export async function runCli(body: () => Promise<number | void>): Promise<number> {
  try {
    return (await body()) ?? 0;
  } catch (e) {
    if (e instanceof CliExit) {
      if (e.code === 0) console.log(e.message);
      else console.error(`error: ${e.message}`);
      return e.code;
    }
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

/**
 * {@linkcode parseCli} for scripts: on `--help` prints the usage and exits
 * 0, on a usage error prints it with a hint and exits 2.
 *
 * @example
 * ```ts
 * import { parseOrExit } from "./args.ts";
 * const { values } = parseOrExit([], { reps: { type: "string", default: "5" } }, "usage: bench");
 * console.log(values.reps); // "5"
 * ```
 */
export function parseOrExit<const O extends CliOptions>(
  args: string[],
  options: O,
  usage: string,
  allowPositionals = false,
): ParsedCli<O> {
  try {
    return parseCli(args, options, usage, allowPositionals);
  } catch (e) {
    if (!(e instanceof CliExit)) throw e;
    if (e.code === 0) console.log(e.message);
    else console.error(`error: ${e.message}`);
    Deno.exit(e.code);
  }
}
