// The fd ledger: which file descriptors a scheme worker opened for the jobs
// it holds, so that a worker that dies mid-job leaks none of them (S7) and
// never takes one the client already owns.
//
// Fds are process-wide: one a worker opens outlives the worker. Workers are
// created with trackUnmanagedFds: false, or node would close, when a worker
// exits, every fd it opened and did not close, including fds whose openat
// CQE the client already reaped and now owns (and whose numbers the process
// may have reused since). Instead, each producer records here, per ledger
// entry, the fd it opened (openat, a pipe reader) or the file-table slot it
// filled (a direct descriptor), until the entry is released after its CQE
// is published. When the worker dies, the host reads the records of the
// dead worker's entries:
//
// - no CQE published yet: the client never learned the fd (its job fails
//   with ERR_URING_WORKER_DIED): close it, clear the table slot;
// - CQE published (the worker died between the CQ tail store and the
//   release): the client owns it: leave it.
//
// "Published" is exact: under the CQ lock, before the tail store, the
// producer writes the CQ position each recorded entry's CQE goes to. The
// CQE is published iff the CQ tail is past that position.
//
// Record layout, 4 Int32 words per ledger entry: fd (-1 none), file-table
// slot (-1 none), CQ position, position valid (0/1).

import { closeSync } from 'node:fs';
import { FileTable } from './files.js';

export const FD_WORDS = 4;
const NONE = -1;

/** A producer's side of its fd records (it is their only writer). */
export class FdLedger {
  /** Entries with a record, so release() costs nothing for the others. */
  private readonly has: Uint8Array;
  private pending = 0;

  constructor(private readonly rec: Int32Array) {
    this.has = new Uint8Array(rec.length / FD_WORDS);
    // A replacement worker starts clean: the host recovered the dead one's.
    initFdRecords(rec);
  }

  /** Whether any entry has a record (flush marks positions only then). */
  get active(): boolean {
    return this.pending > 0;
  }

  /** Entry `slot` opened `fd`; recorded before anything else can happen to it. */
  opened(slot: number, fd: number): void {
    const o = slot * FD_WORDS;
    if (!this.has[slot]) {
      this.has[slot] = 1;
      this.pending++;
    }
    Atomics.store(this.rec, o, fd);
  }

  /** The fd of entry `slot` now lives in file-table slot `index` (owned by the table). */
  installed(slot: number, index: number): void {
    const o = slot * FD_WORDS;
    if (!this.has[slot]) {
      this.has[slot] = 1;
      this.pending++;
    }
    // Table slot first: a death in between finds both and the table's copy
    // wins (clearing the slot closes the fd once).
    Atomics.store(this.rec, o + 1, index);
    Atomics.store(this.rec, o, NONE);
  }

  /**
   * Entry `slot` no longer holds its fd (closed, or about to be: forget
   * first, close after, so recovery can never close a number reused since).
   */
  forget(slot: number): void {
    if (!this.has[slot]) return;
    this.has[slot] = 0;
    this.pending--;
    const o = slot * FD_WORDS;
    Atomics.store(this.rec, o, NONE);
    Atomics.store(this.rec, o + 1, NONE);
    Atomics.store(this.rec, o + 3, 0);
  }

  /**
   * Under the CQ lock, before the tail store: the CQEs out[from, from + k)
   * (ledger entries in `slots`, -1 for none) go to CQ positions tail,
   * tail + 1, ...
   */
  mark(slots: Int32Array, from: number, k: number, tail: number): void {
    for (let j = 0; j < k; j++) {
      const s = slots[from + j]!;
      if (s < 0 || !this.has[s]) continue;
      const o = s * FD_WORDS;
      Atomics.store(this.rec, o + 2, (tail + j) | 0);
      Atomics.store(this.rec, o + 3, 1);
    }
  }
}

/** Empty records: no fd, no table slot, no position. */
export function initFdRecords(rec: Int32Array): void {
  for (let o = 0; o < rec.length; o += FD_WORDS) {
    rec[o] = rec[o + 1] = rec[o + 2] = NONE;
    rec[o + 3] = 0;
  }
}

/**
 * After a worker died: closes the fds, and clears the table slots, of its
 * entries whose CQE was never published. Returns how many it closed.
 */
export function recoverFds(rec: Int32Array, cqTail: number, files: FileTable | null): number {
  let closed = 0;
  for (let o = 0; o < rec.length; o += FD_WORDS) {
    const fd = Atomics.load(rec, o);
    const index = Atomics.load(rec, o + 1);
    if (fd === NONE && index === NONE) continue;
    const ahead = (cqTail - Atomics.load(rec, o + 2)) >>> 0;
    const published = Atomics.load(rec, o + 3) === 1 && ahead >= 1 && ahead < 0x80000000;
    rec[o] = rec[o + 1] = NONE;
    rec[o + 3] = 0;
    if (published) continue;
    if (index !== NONE && files && index < files.nr) {
      if (files.clear(index)) closed++;
    } else if (fd !== NONE) {
      try {
        closeSync(fd);
        closed++;
      } catch {
        // Closed already: nothing leaks.
      }
    }
  }
  return closed;
}
