/**
 * Requesting a WebGPU adapter quietly. On machines without a desktop
 * session, Mesa's window-system code prints
 * `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` to
 * stderr when the first adapter is requested, although compute needs no
 * window system. Users read "error" and think the run failed, so before the
 * first request we point an unset `XDG_RUNTIME_DIR` at a private directory
 * (mode 0700, as the XDG spec asks) when the permissions allow it.
 *
 * @module
 */

let prepared = false;

/**
 * Sets `XDG_RUNTIME_DIR` to a private directory under the temp folder when
 * it is unset and env and write permissions allow; otherwise does nothing.
 * Returns the directory used, or `undefined`.
 *
 * @example
 * ```ts ignore
 * import { quietRuntimeDir } from "./gpu_adapter.ts";
 * console.log(quietRuntimeDir()); // e.g. "/tmp/facekit-xdg-runtime-root"
 * ```
 */
export function quietRuntimeDir(): string | undefined {
  try {
    if (Deno.env.get("XDG_RUNTIME_DIR")) return undefined;
    const tmp = Deno.env.get("TMPDIR") || "/tmp";
    const dir = `${tmp}/facekit-xdg-runtime-${Deno.env.get("USER") ?? "user"}`;
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = Deno.statSync(dir);
    if (!st.isDirectory || ((st.mode ?? 0) & 0o777) !== 0o700) return undefined;
    Deno.env.set("XDG_RUNTIME_DIR", dir);
    return dir;
  } catch {
    return undefined; // no permission: the warning may show, nothing else changes
  }
}

/**
 * `navigator.gpu.requestAdapter()` without Mesa's spurious warning; `null`
 * when there is no WebGPU or no adapter.
 *
 * @example
 * ```ts ignore
 * import { requestGpuAdapter } from "./gpu_adapter.ts";
 * const adapter = await requestGpuAdapter();
 * console.log(adapter !== null);
 * ```
 */
export async function requestGpuAdapter(): Promise<GPUAdapter | null> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return null;
  if (!prepared) {
    prepared = true;
    quietRuntimeDir();
  }
  return await gpu.requestAdapter();
}
