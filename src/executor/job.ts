// A job: one op or one linked chain, from staging to its last CQE, with
// everything the executor needs to settle it exactly once. Its own file so
// that op code (ring methods, the fs layer) can subclass it without pulling
// in the executor's machinery; the executor re-exports it.

import { errnoError } from '../errors.js';

const EMPTY: number[] = [];
function noop(): void {}

export type JobDone = (job: Job) => unknown;

/** One op or one linked chain, from staging to its last CQE. */
export class Job {
  /** Tag slot of the first SQE; `more` holds the rest of a chain's, in order. */
  slot = -1;
  more: number[] | null = null;
  private n = 0;
  /** Raw results per SQE; SQEs skipped on success keep 0. Sized at commit. */
  res: number[] = EMPTY;
  /**
   * CQEs still expected: one per SQE not marked CQE_SKIP_SUCCESS. The job
   * finishes when the last of them arrives, whatever the order: a linked
   * timeout's CQE can arrive before the CQE of the op it cancelled.
   */
  left = 0;
  /** Resources the kernel may touch until the last CQE: kept reachable. */
  holds: unknown[] | null = null;
  /** Called at the last CQE, settled or not: frees, copies out, maps the result. */
  done: JobDone | null = null;
  syscall: string;
  path: string | undefined = undefined;
  dest: string | undefined = undefined;
  resolve: (v: unknown) => void = noop;
  reject: (e: Error) => void = noop;
  /** The promise was settled early (abort, close); the job still runs to its CQEs. */
  settled = false;
  committed = false;
  submitted = false;
  finished = false;
  /** A CQE said the scheme worker running it died (userspace rings only). */
  died = false;
  /** A soft-linked member failed: the kernel cancels the rest with CQEs. */
  broken = false;

  constructor(syscall: string) {
    this.syscall = syscall;
  }

  get size(): number {
    return this.n;
  }

  /** The tag slot of SQE k. */
  slotAt(k: number): number {
    return k === 0 ? this.slot : this.more![k - 1]!;
  }

  /** @internal */
  pushSlot(slot: number): void {
    if (this.n === 0) this.slot = slot;
    else (this.more ??= []).push(slot);
    this.n++;
  }

  hold(x: unknown): void {
    (this.holds ??= []).push(x);
  }
}

/**
 * The resolve and reject of the promise being built: commit() passes this
 * shared function to new Promise() instead of a closure per op (one less
 * allocation on the hottest path), then reads them from here.
 */
export const captured: { resolve: (v: unknown) => void; reject: (e: Error) => void } = { resolve: noop, reject: noop };
export function capture(resolve: (v: never) => void, reject: (e: Error) => void): void {
  captured.resolve = resolve as (v: unknown) => void;
  captured.reject = reject;
}

/** The result of a job without done(): its last SQE's res, or node's error for it. */
export function defaultDone(job: Job): number {
  const res = job.res[job.size - 1]!;
  if (res < 0) throw errnoError(res, job.syscall, job.path, job.dest);
  return res;
}

/** done() of a job that never ran (discarded, or rejected at close): it only frees. */
export function safeDone(job: Job): void {
  try {
    job.done!(job);
  } catch {
    // The job never ran; its done() only frees what it held.
  }
}

