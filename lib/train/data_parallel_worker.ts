/**
 * Entry point of a data-parallel worker replica (see `data_parallel.ts`).
 *
 * @module
 */

import "../models/checkpoint.ts"; // registers the custom layers a topology may use
import { setupBackend } from "../backends/backend.ts";
import { runWorkerReplica } from "./data_parallel.ts";
import { setNativeEnabled } from "../backends/native_conv.ts";

// Each replica is one thread of several; no native GEMM threads on top.
setNativeEnabled(false);

runWorkerReplica(
  self as unknown as Parameters<typeof runWorkerReplica>[0],
  (backend) => setupBackend(backend),
);
