// Submission and completion queues over typed arrays. The memory is either
// kernel-mapped (the kernel backend) or a SharedArrayBuffer (the worker
// backend); the protocol is the same: the producer of an index stores it
// with release semantics (Atomics.store), the consumer loads it with acquire
// semantics (Atomics.load). Indices are free-running u32 and wrap; only
// `index & mask` addresses an entry.

import { assert } from '../abi/assert.js';
import { SQE, CQE } from '../abi/abi.js';

/** Byte offsets of the SQ ring fields, as io_sqring_offsets gives them. */
export interface SqOffsets {
  head: number;
  tail: number;
  ring_mask: number;
  ring_entries: number;
  flags: number;
  dropped: number;
  /** -1 when the ring has no index array (IORING_SETUP_NO_SQARRAY). */
  array: number;
}

/** Byte offsets of the CQ ring fields, as io_cqring_offsets gives them. */
export interface CqOffsets {
  head: number;
  tail: number;
  ring_mask: number;
  ring_entries: number;
  overflow: number;
  cqes: number;
  flags: number;
}

const SQE_WORDS = SQE.size / 4;

export class SubmissionQueue {
  readonly entries: number;
  readonly mask: number;
  /** The SQE array as u32 words: SQE i starts at word i * 16. */
  readonly sqes: Uint32Array;
  private readonly ring: Uint32Array;
  private readonly headIdx: number;
  private readonly tailIdx: number;
  private readonly flagsIdx: number;
  /** Our copy of the tail: we are its only writer. */
  private tail: number;

  constructor(ring: ArrayBufferLike, off: SqOffsets, sqes: ArrayBufferLike, sqeSize = SQE.size) {
    this.ring = new Uint32Array(ring);
    this.headIdx = off.head >>> 2;
    this.tailIdx = off.tail >>> 2;
    this.flagsIdx = off.flags >>> 2;
    this.entries = this.ring[off.ring_entries >>> 2]!;
    this.mask = this.ring[off.ring_mask >>> 2]!;
    assert(this.entries > 0 && (this.entries & this.mask) === 0 && this.mask === this.entries - 1, 'bad SQ geometry');
    assert(sqeSize === SQE.size, 'SQE128 rings are not supported');
    this.sqes = new Uint32Array(sqes, 0, this.entries * SQE_WORDS);
    this.tail = Atomics.load(this.ring, this.tailIdx);
    if (off.array >= 0) {
      // Identity-map the index array once, so publishing never touches it.
      const array = new Uint32Array(ring, off.array, this.entries);
      for (let i = 0; i < this.entries; i++) array[i] = i;
    }
  }

  /** Free SQE slots: entries minus those the consumer has not taken yet. */
  space(): number {
    return this.entries - ((this.tail - Atomics.load(this.ring, this.headIdx)) >>> 0);
  }

  /** SQEs published but not yet consumed (matters with SQPOLL). */
  pending(): number {
    return (this.tail - Atomics.load(this.ring, this.headIdx)) >>> 0;
  }

  /**
   * Copies `count` SQEs from `src` (starting at SQE `from`) into the ring and
   * publishes them with one release store of the tail. The caller checked
   * space(); the copy takes at most two bulk moves because of wrap-around.
   */
  push(src: Uint32Array, from: number, count: number): void {
    assert(count <= this.space(), 'SQ overrun');
    let done = 0;
    while (done < count) {
      const at = (this.tail + done) & this.mask;
      const run = Math.min(count - done, this.entries - at);
      const s = (from + done) * SQE_WORDS;
      this.sqes.set(src.subarray(s, s + run * SQE_WORDS), at * SQE_WORDS);
      done += run;
    }
    this.tail = (this.tail + count) >>> 0;
    Atomics.store(this.ring, this.tailIdx, this.tail);
  }

  /** sq_ring->flags: NEED_WAKEUP, CQ_OVERFLOW, TASKRUN. */
  flags(): number {
    return Atomics.load(this.ring, this.flagsIdx);
  }

  /** The consumer's view of the head: used by a scheme that consumes SQEs. */
  get headIndex(): number {
    return this.headIdx;
  }
  get tailIndex(): number {
    return this.tailIdx;
  }
  get words(): Uint32Array {
    return this.ring;
  }
}

export class CompletionQueue {
  readonly entries: number;
  readonly mask: number;
  /** CQEs as i32 words: CQE i starts at word cqesBase + i * 4. */
  readonly cqes: Int32Array;
  readonly cqesBase: number;
  private readonly ring: Uint32Array;
  private readonly headIdx: number;
  private readonly tailIdx: number;
  private readonly overflowIdx: number;
  private readonly flagsIdx: number;

  constructor(ring: ArrayBufferLike, off: CqOffsets, cqeSize = CQE.size) {
    this.ring = new Uint32Array(ring);
    this.headIdx = off.head >>> 2;
    this.tailIdx = off.tail >>> 2;
    this.overflowIdx = off.overflow >>> 2;
    this.flagsIdx = off.flags >>> 2;
    this.entries = this.ring[off.ring_entries >>> 2]!;
    this.mask = this.ring[off.ring_mask >>> 2]!;
    assert(this.entries > 0 && this.mask === this.entries - 1, 'bad CQ geometry');
    assert(cqeSize === CQE.size, 'CQE32 rings are not supported');
    this.cqes = new Int32Array(ring);
    this.cqesBase = off.cqes >>> 2;
  }

  /** The producer's tail (acquire). */
  tail(): number {
    return Atomics.load(this.ring, this.tailIdx);
  }

  /** Our head. We are its only writer, so a plain read is enough. */
  head(): number {
    return this.ring[this.headIdx]!;
  }

  /** Word index of CQE number `index` (free-running). */
  at(index: number): number {
    return this.cqesBase + ((index & this.mask) << 2);
  }

  /** Releases entries up to `head` back to the producer. */
  advance(head: number): void {
    Atomics.store(this.ring, this.headIdx, head >>> 0);
  }

  /** cq_ring->flags, which we own: IORING_CQ_EVENTFD_DISABLED. */
  setFlags(flags: number): void {
    Atomics.store(this.ring, this.flagsIdx, flags);
  }

  /** CQEs the kernel dropped (only without IORING_FEAT_NODROP). */
  overflow(): number {
    return Atomics.load(this.ring, this.overflowIdx);
  }
}

