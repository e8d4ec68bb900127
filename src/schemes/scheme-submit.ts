// Writing scheme SQEs and submitting them through an executor: shared by
// Scheme (worker-served) and SchemeClient (main-thread-served).

import type { Executor, ExecutorStats, Job } from '../executor/executor.js';
import { prep_rw, sqe_set_flags, setU64 } from '../abi/prep.js';
import { uringError } from '../errors.js';

/** The SQE fields a scheme op may set (all default to 0). */
export interface SchemeSqe {
  fd?: number;
  off?: number;
  addr?: number;
  len?: number;
  opFlags?: number;
  /** IOSQE_* flags; links are set by chain(). */
  flags?: number;
  ioprio?: number;
  bufIndex?: number;
  fileIndex?: number;
  addr3?: number;
}

/** Writes one scheme SQE at word `at` of `s`. */
export function prepSchemeSqe(s: Uint32Array, at: number, opcode: number, q: SchemeSqe): void {
  prep_rw(s, at, opcode & 0xff, q.fd ?? 0, q.addr ?? 0, q.len ?? 0, q.off ?? 0);
  s[at + 7] = q.opFlags ?? 0;
  if (q.flags) sqe_set_flags(s, at, q.flags);
  if (q.ioprio) s[at] = (s[at]! & 0xffff) | ((q.ioprio & 0xffff) << 16);
  s[at + 10] = (q.bufIndex ?? 0) & 0xffff;
  s[at + 11] = q.fileIndex ?? 0;
  if (q.addr3) setU64(s, at + 12, q.addr3);
}

function checkOpcode(opcode: number): void {
  if (!Number.isInteger(opcode) || opcode < 0 || opcode > 255) {
    throw uringError('ERR_OUT_OF_RANGE', `opcode must be an integer in 0..255, got ${opcode}`);
  }
}

const chainDone = (job: Job) => job.res.slice();

/** The syscall name errors carry, per opcode: made once, not per op. */
const SYSCALLS: string[] = Array.from({ length: 256 }, (_, op) => `scheme op ${op}`);

/** Submits scheme ops through an executor; shared by Scheme and SchemeClient. */
export class SchemeSubmitter {
  constructor(readonly executor: Executor) {}

  /** Submits one op; resolves with its result, rejects with a Node-style error for -errno. */
  call(opcode: number, sqe: SchemeSqe = {}): Promise<number> {
    try {
      checkOpcode(opcode);
    } catch (e) {
      return Promise.reject(e);
    }
    const ex = this.executor;
    const job = ex.begin(SYSCALLS[opcode]!);
    const at = ex.add(job); // before reading ex.sqes: add() may move the staging array
    prepSchemeSqe(ex.sqes, at, opcode, sqe);
    return ex.commit<number>(job);
  }

  /** Submits a linked chain; resolves with every member's result (-errno included). */
  chain(ops: ReadonlyArray<readonly [opcode: number, sqe?: SchemeSqe]>, opts: { hard?: boolean } = {}): Promise<number[]> {
    if (ops.length === 0) return Promise.reject(uringError('ERR_INVALID_ARG_VALUE', 'a chain needs at least one op'));
    try {
      for (const [op] of ops) checkOpcode(op);
    } catch (e) {
      return Promise.reject(e);
    }
    const ex = this.executor;
    const job = ex.begin('scheme chain');
    for (const [op, sqe] of ops) {
      const at = ex.add(job);
      prepSchemeSqe(ex.sqes, at, op, sqe ?? {});
    }
    job.done = chainDone;
    return ex.commit<number[]>(job, opts.hard ?? false);
  }

  stats(): ExecutorStats {
    return this.executor.stats();
  }

  close(): Promise<void> {
    return this.executor.close();
  }
}

