/**
 * Serves the repository on 127.0.0.1 so that `web/index.html` can load the
 * shipped models over HTTP (build the page's script first: `deno task
 * build:web`; `deno task web` does both).
 *
 * ```sh
 * deno task web [--port 8000]
 * ```
 *
 * @module
 */

import { parseOrExit } from "../lib/cli/args.ts";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
};

/** A running static server and how to stop it. */
export interface StaticServer {
  /** The server's base URL, e.g. `http://127.0.0.1:8000/`. */
  url: string;
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * Serves the files under `root` on 127.0.0.1 (port 0: any free port); GET
 * only, no path may leave `root`.
 *
 * @example
 * ```ts ignore
 * import { serveStatic } from "./serve_web.ts";
 * const server = serveStatic(".", 0);
 * console.log(server.url);
 * await server.close();
 * ```
 */
export function serveStatic(root: string, port: number): StaticServer {
  const base = new URL(`file://${Deno.realPathSync(root)}/`);
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (req.method !== "GET" || path.includes("..")) return new Response("no", { status: 403 });
    const file = new URL(`.${path.endsWith("/") ? `${path}index.html` : path}`, base);
    try {
      const body = await Deno.readFile(file);
      const ext = file.pathname.replace(/^.*\./, "").toLowerCase();
      return new Response(body, {
        headers: { "content-type": TYPES[ext] ?? "application/octet-stream" },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const addr = server.addr as Deno.NetAddr;
  return { url: `http://127.0.0.1:${addr.port}/`, close: () => server.shutdown() };
}

if (import.meta.main) {
  const { values } = parseOrExit(
    Deno.args,
    { port: { type: "string", default: "8000" } },
    `usage: deno task web [--port 8000]
  serve the repository on 127.0.0.1; open http://127.0.0.1:PORT/web/`,
  );
  const server = serveStatic(new URL("../", import.meta.url).pathname, Number(values.port));
  console.log(`open ${server.url}web/`);
}
