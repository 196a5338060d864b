/**
 * An optional native GEMM: OpenBLAS's `cblas_sgemm`, loaded with
 * `Deno.dlopen` when the library is installed (Debian:
 * `apt-get install libopenblas0-pthread`) and the process has `--allow-ffi`.
 * Without either, {@link nativeBlas} returns null and callers keep their
 * WebAssembly kernels, silently. OpenBLAS runs its own threads (one per
 * core by default), so a process that uses it should not also run
 * data-parallel replicas.
 *
 * Operands are addressed as byte offsets into a `WebAssembly.Memory` (the
 * tfjs wasm backend's heap), so nothing is copied on the way in or out.
 *
 * Set `FACEKIT_NATIVE=0` to turn it off; `FACEKIT_BLAS=/path/libopenblas.so`
 * picks a library.
 *
 * @module
 */

/** A loaded native BLAS. */
export interface NativeBlas {
  /** Library name and OpenBLAS build (`openblas_get_config`). */
  readonly description: string;
  /** Threads the library uses (now). */
  readonly threads: number;
  /**
   * Sets the library's threads for the whole process (OpenBLAS's
   * `openblas_set_num_threads`): 1 when data-parallel replicas fill the cores.
   */
  setThreads(n: number): void;
  /**
   * Row-major `C = alpha * op(A) * op(B) + beta * C`, with A, B and C given
   * as byte offsets into `memory`.
   */
  sgemm(
    memory: WebAssembly.Memory,
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    beta: number,
    c: number,
    ldc: number,
  ): void;
}

const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;
const CANDIDATES = ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"];

let loaded: NativeBlas | null | undefined;

function allowed(): boolean {
  try {
    if (typeof Deno.dlopen !== "function") return false;
    if (Deno.env.get("FACEKIT_NATIVE") === "0") return false;
  } catch {
    // No env permission: the switch cannot be read; still allowed.
  }
  try {
    return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}

function envLibrary(): string | undefined {
  try {
    return Deno.env.get("FACEKIT_BLAS") || undefined;
  } catch {
    return undefined;
  }
}

function open(path: string): NativeBlas | null {
  let lib;
  try {
    lib = Deno.dlopen(
      path,
      {
        cblas_sgemm: {
          parameters: [
            "i32",
            "i32",
            "i32",
            "i32",
            "i32",
            "i32",
            "f32",
            "pointer",
            "i32",
            "pointer",
            "i32",
            "f32",
            "pointer",
            "i32",
          ],
          result: "void",
        },
        openblas_get_config: { parameters: [], result: "pointer" },
        openblas_get_num_threads: { parameters: [], result: "i32" },
        openblas_set_num_threads: { parameters: ["i32"], result: "void" },
      } as const,
    );
  } catch {
    return null; // absent, or not OpenBLAS (reference BLAS is slower than our wasm)
  }
  const s = lib.symbols;
  const config = s.openblas_get_config();
  const description = `${path} (${config ? Deno.UnsafePointerView.getCString(config) : "?"})`;
  const bases = new WeakMap<ArrayBuffer, Deno.PointerValue>();
  const base = (memory: WebAssembly.Memory): Deno.PointerValue => {
    // A grown memory has a new buffer (and maybe a new address).
    const buf = memory.buffer as ArrayBuffer;
    let p = bases.get(buf);
    if (p === undefined) {
      p = Deno.UnsafePointer.of(new Uint8Array(buf));
      bases.set(buf, p);
    }
    return p;
  };
  return {
    description,
    get threads(): number {
      return s.openblas_get_num_threads();
    },
    setThreads(n: number): void {
      s.openblas_set_num_threads(n);
    },
    sgemm(memory, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
      const p = base(memory);
      s.cblas_sgemm(
        ROW_MAJOR,
        transA ? TRANS : NO_TRANS,
        transB ? TRANS : NO_TRANS,
        m,
        n,
        k,
        alpha,
        Deno.UnsafePointer.offset(p!, a),
        lda,
        Deno.UnsafePointer.offset(p!, b),
        ldb,
        beta,
        Deno.UnsafePointer.offset(p!, c),
        ldc,
      );
    },
  };
}

/**
 * The native BLAS, loaded on first call, or null (not installed, no
 * `--allow-ffi`, or `FACEKIT_NATIVE=0`).
 *
 * @example
 * ```ts
 * import { nativeBlas } from "./native_blas.ts";
 * const blas = nativeBlas();
 * console.log(blas === null || blas.threads >= 1); // true
 * ```
 */
export function nativeBlas(): NativeBlas | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (!allowed()) return null;
  const wanted = envLibrary();
  for (const path of wanted ? [wanted] : CANDIDATES) {
    loaded = open(path);
    if (loaded) break;
  }
  return loaded;
}
