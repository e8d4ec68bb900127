// Chain: a linked chain of SQEs. It only records ops and replays them into an
// SqeWriter on submit(), so its op methods are generated from CHAIN_OPS rather
// than written out: their signatures come from SqeWriter's, and a name SqeWriter
// lacks fails at load.

import type { Job } from '../executor/executor.js';
import { uringError } from '../errors.js';
import { SqeWriter, type WriterHost } from './writer.js';

/** The ops a chain can hold: SqeWriter's, each returning the chain. */
const CHAIN_OPS = [
  'flags', 'nop', 'read', 'write', 'readv', 'writev', 'read_fixed', 'write_fixed', 'fsync', 'sync_file_range',
  'openat', 'openat_direct', 'openat2', 'close', 'close_direct', 'statx', 'fallocate', 'fadvise', 'madvise',
  'unlinkat', 'renameat', 'mkdirat', 'symlinkat', 'linkat', 'ftruncate', 'splice', 'tee', 'timeout',
  'timeout_remove', 'link_timeout', 'cancel', 'cancel_fd', 'poll_add', 'poll_remove', 'files_update',
] as const;
type ChainOp = (typeof CHAIN_OPS)[number];
type ChainOps = { [K in ChainOp]: SqeWriter[K] extends (...a: infer A) => unknown ? (...a: A) => Chain : never };

/**
 * A linked chain under construction. It only records the ops: nothing is
 * staged until submit(), so a chain that is never submitted costs nothing
 * and other ops on the ring may be queued while it is being built. The ops
 * run in order; a failure cancels the rest (-ECANCELED) unless hard-linked.
 */
export interface Chain extends ChainOps {}
export class Chain {
  private readonly calls: [ChainOp, unknown[]][] = [];
  private submitted = false;

  /** @internal */
  constructor(private readonly ring: WriterHost) {}

  /** Submits the chain; resolves with each member's value (a result, or -errno). */
  submit(opts: { hard?: boolean } = {}): Promise<unknown[]> {
    if (this.submitted) return Promise.reject(uringError('ERR_INVALID_STATE', 'this chain was already submitted'));
    if (this.calls.length === 0) return Promise.reject(uringError('ERR_INVALID_STATE', 'an empty chain has nothing to submit'));
    this.submitted = true;
    const ex = this.ring.executor;
    let job: Job;
    try {
      job = ex.begin('chain');
    } catch (e) {
      return Promise.reject(e);
    }
    const w = new SqeWriter(this.ring);
    w.job = job;
    const after = w.after;
    // Set before writing: if an op throws, discard() runs it to free what
    // the earlier ops allocated.
    job.done = (j) => j.res.map((res, k) => (after[k] ? after[k]!(res, j.settled) : res));
    try {
      for (const [name, args] of this.calls) (w[name] as (...a: unknown[]) => unknown).apply(w, args);
    } catch (e) {
      ex.discard(job);
      return Promise.reject(e);
    }
    return ex.commit<unknown[]>(job, opts.hard ?? false);
  }
}

for (const name of CHAIN_OPS) {
  if (typeof SqeWriter.prototype[name] !== 'function') throw new Error(`uring: SqeWriter lacks ${name}`);
  (Chain.prototype as unknown as Record<string, unknown>)[name] = function (this: { calls: unknown[] }, ...args: unknown[]) {
    this.calls.push([name, args]);
    return this;
  };
}
