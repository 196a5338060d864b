/**
 * Entry point of a data-parallel worker replica (see `data_parallel.ts`).
 *
 * @module
 */

import "../models/checkpoint.ts"; // registers the custom layers a topology may use
import { setupBackend } from "../backends/backend.ts";
import { runWorkerReplica } from "./data_parallel.ts";

// Each replica is one thread of several; the main thread has set the native
// GEMM (one library shared by the process) to one thread per call.

runWorkerReplica(
  self as unknown as Parameters<typeof runWorkerReplica>[0],
  (backend) => setupBackend(backend),
);
