/**
 * The command line: shared argument parsing (`--help`, exit 2 on usage errors) and
 * `predict`.
 *
 * @module
 */

export * from "./args.ts";
export * from "./predict.ts";
