// Leases: pool memory handed to users, for zero-copy read_fixed/write_fixed.
//
// The danger is aliasing: pool regions are SharedArrayBuffers, which can
// never be detached, so a plain view would keep reading and writing the
// chunk after release(), when it may belong to someone else. Two modes:
//
// - detach (the native addon is loaded; kernel and worker backends alike):
//   the user's Buffer sits on an external, non-shared ArrayBuffer that the
//   addon creates over the chunk's own bytes (napi_create_external_arraybuffer).
//   release() detaches it (napi_detach_arraybuffer): every Buffer and typed
//   array over it drops to byteLength 0 at once. Zero copies. Transfers are
//   harmless on Node 20, whose structuredClone/postMessage copy external
//   buffers instead of moving them (tested). ArrayBuffer.prototype.transfer()
//   (Node 21+) does move the memory into a new ArrayBuffer we cannot reach, so
//   release() checks whether the buffer was detached behind our back and, if
//   so, quarantines the chunk (never reused) instead of freeing it.
// - copy (no addon: a failed build, or a platform without one): the user's
//   Buffer sits on a private ArrayBuffer; fixed ops copy it into the chunk at
//   submit (writes) and out at completion (reads), and release() detaches it
//   with a transferring structuredClone. Safe, but one copy per op: the
//   weaker alternative, a getter that throws after release, would leave
//   every view taken before release aliasing the chunk.
//
// A lease dropped without release() is reclaimed when its ArrayBuffer is
// collected (a FinalizationRegistry; by then nothing can see the memory),
// except in detach mode on runtimes with ArrayBuffer.prototype.transfer,
// where a moved copy could still be alive: there the chunk is quarantined.
//
// In flight: release() takes effect for the user at once (the view dies),
// and the chunk itself goes back to the pool only after the last completion
// of an op using it (the pin in chunk.ts). An op abandoned mid-flight may
// still write into a leased chunk until its completion, as any zero-copy
// buffer does; release the lease if that matters.

import { Chunk, badFreeError, releasedError, nativeMemory as mem } from './chunk.js';

/** How leases protect released memory in this process. */
export const LEASE_MODE: 'detach' | 'copy' = mem ? 'detach' : 'copy';

/** Whether an ArrayBuffer's memory can be moved to a buffer we cannot see. */
const canMove = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';

/** Where a lease's chunk goes when it is given up. */
export interface LeaseOwner {
  free(c: Chunk): void;
  quarantine(c: Chunk): void;
  /** @internal */ leaseEnded(): void;
}

const EMPTY = Buffer.alloc(0);

interface Dropped {
  owner: LeaseOwner;
  chunk: Chunk;
  quarantine: boolean;
}

const dropped = new FinalizationRegistry<Dropped>((d) => {
  d.owner.leaseEnded();
  if (d.quarantine) d.owner.quarantine(d.chunk);
  else d.owner.free(d.chunk);
});

let chunkOfLease: (l: Lease) => Chunk | null;

export class Lease {
  /** The length asked for; `bytes.length` until released. */
  readonly byteLength: number;
  #chunk: Chunk | null;
  #ab: ArrayBuffer | null;
  #bytes: Buffer;
  readonly #owner: LeaseOwner;
  readonly #copy: boolean;

  static {
    chunkOfLease = (l) => l.#chunk;
  }

  /** @internal Use pool.alloc(size, { align }). */
  constructor(owner: LeaseOwner, chunk: Chunk, size: number) {
    this.#owner = owner;
    this.#chunk = chunk;
    this.byteLength = size;
    this.#copy = mem === null;
    if (size === 0) {
      this.#ab = null;
      this.#bytes = EMPTY;
    } else if (mem) {
      const ab = mem.view(chunk.region.bytes, chunk.offset, size);
      if (typeof ab === 'number') throw new Error(`uring: native view() failed (${ab})`);
      this.#ab = ab;
      this.#bytes = Buffer.from(ab, 0, size);
    } else {
      this.#ab = new ArrayBuffer(size);
      this.#bytes = Buffer.from(this.#ab, 0, size);
    }
    if (this.#ab) dropped.register(this.#ab, { owner, chunk, quarantine: !this.#copy && canMove }, this);
  }

  /** The leased bytes. Throws ERR_URING_RELEASED after release(). */
  get bytes(): Buffer {
    if (!this.#chunk) throw releasedError('lease.bytes after release()');
    return this.#bytes;
  }

  get released(): boolean {
    return this.#chunk === null;
  }

  /**
   * Gives the memory back. Every view of it becomes empty now; the chunk
   * returns to the pool once no op is using it. Twice: ERR_URING_BAD_FREE.
   */
  release(): void {
    const chunk = this.#chunk;
    if (!chunk) throw badFreeError('lease released twice');
    this.#chunk = null;
    const ab = this.#ab;
    this.#ab = null;
    this.#bytes = EMPTY;
    this.#owner.leaseEnded();
    if (!ab) return this.#owner.free(chunk);
    dropped.unregister(this);
    // Someone detached our buffer: with transfer() its memory may live on
    // in a buffer we cannot reach, so this chunk must never be reused.
    const movedAway = ab.byteLength === 0;
    if (this.#copy) {
      if (!movedAway) structuredClone(ab, { transfer: [ab] });
      return this.#owner.free(chunk);
    }
    if (movedAway) return this.#owner.quarantine(chunk);
    const ret = mem!.detach(ab);
    if (ret !== 0) {
      // Not detachable after all: do not let the memory be reused.
      return this.#owner.quarantine(chunk);
    }
    this.#owner.free(chunk);
  }

  /** @internal Copy mode: the user's bytes into the chunk before a write. */
  copyIn(chunk: Chunk, len: number): void {
    if (this.#copy && len > 0) chunk.view(len).set(this.#bytes.subarray(0, len));
  }

  /** @internal Copy mode: a read's bytes out of the chunk at completion. */
  copyOut(chunk: Chunk, res: number): void {
    if (!this.#copy || res <= 0 || !this.#chunk) return;
    const n = Math.min(res, this.#bytes.length);
    if (n > 0) this.#bytes.set(chunk.region.bytes.subarray(chunk.offset, chunk.offset + n));
  }
}

/** Memory a fixed op can use: a pool chunk or a user's lease. */
export type FixedBuffer = Chunk | Lease;

/** The chunk behind `buf`; ERR_URING_RELEASED if it was released. No side effects. */
export function fixedChunk(buf: FixedBuffer): Chunk {
  const c = buf instanceof Lease ? chunkOfLease(buf) : buf;
  if (!c || c.released) throw releasedError('a released buffer cannot be used by a new operation');
  return c;
}

/** How many bytes a fixed op of `len` may touch in `buf`. */
export function fixedLength(buf: FixedBuffer, len: number): number {
  const cap = buf instanceof Lease ? buf.byteLength : buf.size;
  return Math.max(0, Math.min(len, cap));
}

/**
 * Pins `chunk` (fixedChunk(buf)) for one SQE touching `len` bytes: it cannot
 * be reused until unpinFixed(). For writes from a copy-mode lease, copies
 * the user's bytes in. Call it last before writing the SQE.
 */
export function pinFixed(buf: FixedBuffer, chunk: Chunk, len: number, write: boolean): void {
  chunk.pin();
  if (write && buf instanceof Lease) buf.copyIn(chunk, len);
}

/** The SQE's completion was reaped (res = its result). */
export function unpinFixed(buf: FixedBuffer, chunk: Chunk, res: number, write: boolean, abandoned: boolean): void {
  if (!write && !abandoned && buf instanceof Lease) buf.copyOut(chunk, res);
  chunk.unpin();
}
