/**
 * Small file helpers: atomic writes (temp file + rename) and messages that
 * name the exact permission flag a missing permission needs.
 *
 * @module
 */

/**
 * Writes bytes or text atomically: to `path.tmp-<random>` first, then
 * renamed over `path`, so readers never see half a file. Needs read and
 * write access to the file's folder (Deno's rename checks both).
 *
 * @example
 * ```ts ignore
 * import { writeFileAtomic } from "./fs_util.ts";
 * await writeFileAtomic("out.json", "{}");
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    // The temp file sits next to the target, so the folder needs write access.
    const dir = path.includes("/") ? path.replace(/\/[^/]*$/, "") || "/" : ".";
    throw explainFsError(e, path, "write", dir);
  }
}

/**
 * Turns a Deno file-system error into one that names the path and, for a
 * missing permission, the flag to add.
 *
 * @example
 * ```ts
 * import { explainFsError } from "./fs_util.ts";
 * const e = explainFsError(new Deno.errors.NotFound("x"), "a.txt", "read");
 * console.log(e.message); // a.txt: file not found
 * ```
 */
export function explainFsError(
  e: unknown,
  path: string,
  mode: "read" | "write",
  flagPath: string = path,
): Error {
  if (e instanceof Deno.errors.NotFound) {
    return new Error(`${path}: file not found`);
  }
  if (
    e instanceof Deno.errors.PermissionDenied ||
    (e instanceof Error && e.name === "NotCapable")
  ) {
    // Deno names the access it lacked ("Requires read access to ..."); an
    // atomic write's rename needs read access too.
    const needed = /requires (read|write) access/i.exec((e as Error).message)?.[1] ?? mode;
    return new Error(
      `${path}: no ${needed} permission: run deno with --allow-${needed}=${flagPath}`,
    );
  }
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * Reads a file, with errors that name the path (and permission flag).
 *
 * @example
 * ```ts ignore
 * import { readBytes } from "./fs_util.ts";
 * const bytes = await readBytes("fixtures/face.jpg");
 * ```
 */
export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw explainFsError(e, path, "read");
  }
}

/**
 * Creates a folder (and parents), with a clear error.
 *
 * @example
 * ```ts ignore
 * import { ensureDir } from "./fs_util.ts";
 * await ensureDir("runs/part1");
 * ```
 */
export async function ensureDir(path: string): Promise<void> {
  try {
    await Deno.mkdir(path, { recursive: true });
  } catch (e) {
    throw explainFsError(e, path, "write");
  }
}

/**
 * Finds a data folder: the `flag` value, then the environment variable,
 * then the default; a flag or variable naming a missing folder, or no
 * folder at all, is an error carrying `help` (where to get the data).
 *
 * @example
 * ```ts ignore
 * import { resolveDataDir } from "./fs_util.ts";
 * const dir = resolveDataDir(undefined, "FACEKIT_IMM", "../shared/data/imm_face_db", "IMM", "download it");
 * ```
 */
export function resolveDataDir(
  flag: string | undefined,
  envName: string,
  fallback: string,
  what: string,
  help: string,
): string {
  let env: string | undefined;
  try {
    env = Deno.env.get(envName);
  } catch {
    env = undefined; // no --allow-env: use the flag or the default
  }
  for (const [c, from] of [[flag, "--data"], [env, envName], [fallback, null]] as const) {
    if (!c) continue;
    try {
      if (Deno.statSync(c).isDirectory) return c;
    } catch {
      // not there
    }
    if (from) throw new Error(`${what} data folder ${c} (from ${from}) not found: ${help}`);
  }
  throw new Error(`no ${what} data folder (tried ${fallback}): ${help}`);
}
