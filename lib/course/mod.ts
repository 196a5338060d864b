/**
 * The course project end to end: Parts 1 and 2 on IMM, Part 3 on 300-W, and the
 * Kaggle submission.
 *
 * @module
 */

export * from "./imm_task.ts";
export * from "./kaggle.ts";
export * from "./w300_task.ts";
export * from "./convert.ts";
