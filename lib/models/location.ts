/**
 * Where models live and how their bytes are read: built-in names resolve to
 * `models/NAME/` next to this package, other strings are folder paths, URLs
 * stay URLs; reading a file needs `--allow-read` of it, a URL `--allow-net`.
 *
 * @module
 */

/** Names of the models that ship in `models/`. */
export const BUILT_IN_MODELS: readonly string[] = [
  "part1",
  "part2",
  "part3",
  "part3-fast",
  "blazeface",
];

/**
 * Where a model name points: built-in names resolve next to this module
 * (`models/NAME/`), other strings are folder paths, URLs stay URLs.
 *
 * @example
 * ```ts
 * import { resolveModelLocation } from "./location.ts";
 * console.log(resolveModelLocation("part3").href.endsWith("/models/part3/")); // true
 * ```
 */
export function resolveModelLocation(model: string | URL): URL {
  if (model instanceof URL) return model.href.endsWith("/") ? model : new URL(`${model.href}/`);
  if (BUILT_IN_MODELS.includes(model)) return new URL(`../../models/${model}/`, import.meta.url);
  if (/^(https?|file):\/\//.test(model)) {
    return new URL(model.endsWith("/") ? model : `${model}/`);
  }
  const abs = model.startsWith("/") ? model : `${Deno.cwd()}/${model}`;
  return new URL(`file://${abs.endsWith("/") ? abs : `${abs}/`}`);
}

/**
 * Reads a file URL (with a message naming the `--allow-read` it needs) or
 * fetches an http(s) URL (naming the `--allow-net` it needs).
 *
 * @example
 * ```ts ignore
 * import { fetchBytes, resolveModelLocation } from "./location.ts";
 * const json = await fetchBytes(new URL("model.json", resolveModelLocation("part3")));
 * ```
 */
export async function fetchBytes(url: URL): Promise<Uint8Array> {
  if (url.protocol === "file:") {
    const path = decodeURIComponent(url.pathname);
    try {
      return await Deno.readFile(path);
    } catch (e) {
      const dir = path.replace(/\/[^/]*$/, "");
      if (e instanceof Deno.errors.NotFound) throw new Error(`${path}: file not found`);
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
        throw new Error(`${path}: no read permission: run deno with --allow-read=${dir}`);
      }
      throw e;
    }
  }
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new Error(`${url.href}: no net permission: run deno with --allow-net=${url.host}`);
    }
    throw new Error(`${url.href}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new Error(`${url.href}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}
