// The userspace ring: one SharedArrayBuffer with the kernel's SQE (64 B) and
// CQE (16 B) layouts, so the executor, SubmissionQueue and CompletionQueue
// work on it unchanged.
//
//   [0, sq*64)      SQEs (SubmissionQueue wants them at offset 0)
//   ctrl            control block: every index that two threads write sits
//                   on its own 64-byte line, so a producer bumping the CQ
//                   tail never invalidates the line the consumer's SQ tail
//                   lives on
//   cqes            cq * 16 bytes
//   array           optional indirect SQ index array (sq * 4)
//   ledgers         one per producer: a state word and a copy of every SQE
//                   the producer has claimed but not yet answered, and the
//                   fds it opened for them (fds.ts). It is
//                   what lets the consumer answer for a producer that died
//                   (S3), and what cancellation searches (ASYNC_CANCEL).
//
// Naming follows the Redox scheme rings: the consumer (the side that
// submits) publishes SQEs by the SQ tail and reaps CQEs up to the CQ tail;
// producers (scheme workers) claim SQEs by the SQ head and publish CQEs by
// the CQ tail. Indices are free-running u32 stored in Int32 words (Atomics
// wait/notify need Int32Array); only `index & mask` addresses an entry.

import { SQE, CQE } from '../../abi/abi.js';
import type { SqOffsets, CqOffsets } from '../../queues/queue.js';
import { URING_CQE_F_EXTENDED } from '../../abi/cqe-flags.js';
import { FD_WORDS, initFdRecords } from './fds.js';

const LINE = 64;
/** Word offsets inside the control block, one cache line (16 words) apart where two sides write. */
const C = {
  SQ_HEAD: 0, // producers (under the claim lock)
  SQ_TAIL: 16, // consumer
  CQ_HEAD: 32, // consumer
  CQ_TAIL: 48, // producers (under the CQ lock)
  CQ_LOCK: 64,
  CLAIM_LOCK: 80, CLAIM_HEAD: 81, CLAIM_N: 82, // claim in progress, for crash recovery
  CONSUMER_SLEEP: 96, // 1 while the consumer waits for the CQ tail
  SQ_SPACE_WAIT: 97, // 1 while the consumer has SQEs staged that did not fit
  CQ_SPACE_WAIT: 112, // 1 while a producer waits for CQ space
  CANCEL_SEQ: 144, COUNT_WAITERS: 145,
  SQ_MASK: 160, SQ_ENTRIES: 161, CQ_MASK: 162, CQ_ENTRIES: 163, SQ_FLAGS: 164, SQ_DROPPED: 165, CQ_OVERFLOW: 166, CQ_FLAGS: 167,
  STAT_CONSUMER_WAKES: 176, STAT_PRODUCER_WAKES: 177, STAT_SPACE_WAITS: 178, STAT_ACK_TIMEOUTS: 179,
  SLEEP: 192, // one word per producer: 1 while it sleeps on EVENT_SEQ; then
  // one word per producer: its share of COUNT_WAITERS, so a dead one's can be taken back
} as const;

/** Ledger entry states. A claimed SQE goes QUEUED → RUNNING → (PARKED →) POSTING → FREE. */
export const L_FREE = 0;
/** Copied out under the claim lock, head not yet advanced (see reconcileClaim). */
export const L_TENTATIVE = 1;
export const L_QUEUED = 2;
export const L_RUNNING = 3;
/** Waiting (a timer, an async handler, a pipe): cancellable. */
export const L_PARKED = 4;
/** A canceller asked for it; the owner answers -ECANCELED. */
export const L_CANCEL_REQ = 5;

/** A chain member behind the one running: like the kernel, not found by cancel. */
export const L_LINKED = 6;
/** Its answer (-ECANCELED) is published by the canceller: the owner only cleans up. */
export const L_CANCEL_DONE = 7;
/**
 * Finished: its CQE waits in the owner's buffer for the next publication.
 * Not cancellable (the kernel's cancel finds a completed request no more),
 * and never RUNNING: a canceller would wait for an ack that never comes.
 */
export const L_POSTING = 8;
/**
 * L_CANCEL_GO + canceller index: a canceller committed to answer it and has
 * not published yet (the index lets a dead canceller's promises be kept).
 */
export const L_CANCEL_GO = 16;
export const isCancelGo = (st: number): boolean => st >= L_CANCEL_GO;
/** Ack of a cancel flagged on a RUNNING op: it went on to wait and was cancelled. */
export const ACK_CANCELLED = 1;
/** ... or it finished on its own. */
export const ACK_FINISHED = 2;

/** A handler's answer meaning "parked; the result comes later". */
export const PENDING = Number.MIN_SAFE_INTEGER;

type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
/** Atomics.waitAsync (Node >= 16; missing from the ES2022 lib typings). */
export const waitAsync = (Atomics as unknown as { waitAsync: (a: Int32Array, i: number, v: number, t?: number) => WaitAsyncResult }).waitAsync;

/** Lock owner id of the consumer side (producers use index + 1). */
export const CONSUMER_OWNER = 0x10000;
export const MAX_PRODUCERS = 64;

export interface RingLayout {
  sqEntries: number;
  cqEntries: number;
  producers: number;
  /** SQEs one producer may hold: every op in flight, at most. */
  ledgerCap: number;
  byteLength: number;
  ctrl: number;
  cqes: number;
  /** -1 without the indirect array (IORING_SETUP_NO_SQARRAY). */
  array: number;
  ledgers: number;
  ledgerStride: number;
}

const align = (n: number, to: number) => Math.ceil(n / to) * to;

export function ringLayout(sqEntries: number, cqEntries: number, producers: number, sqArray: boolean): RingLayout {
  const ctrl = sqEntries * SQE.size;
  const ctrlBytes = (C.SLEEP + 2 * align(producers, 16)) * 4;
  const cqes = align(ctrl + ctrlBytes, LINE);
  let end = cqes + cqEntries * CQE.size;
  const array = sqArray ? end : -1;
  if (sqArray) end = align(end + sqEntries * 4, LINE);
  const ledgerCap = cqEntries;
  const ledgerStride = 2 * align(ledgerCap * 4, LINE) + ledgerCap * SQE.size + ledgerCap * FD_WORDS * 4;
  return { sqEntries, cqEntries, producers, ledgerCap, byteLength: end + producers * ledgerStride, ctrl, cqes, array, ledgers: end, ledgerStride };
}

/** A fresh ring. `start` seeds all four indices (tests use it to cross 2^32). */
export function createRing(layout: RingLayout, start = 0): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(layout.byteLength);
  const v = new RingView(sab, layout);
  const i = v.i32;
  i[v.sqMask] = layout.sqEntries - 1;
  i[v.sqEntries] = layout.sqEntries;
  i[v.cqMask] = layout.cqEntries - 1;
  i[v.cqEntries] = layout.cqEntries;
  for (const k of [v.sqHead, v.sqTail, v.cqHead, v.cqTail]) i[k] = start | 0;
  // No fd records yet: zeros would read as "fd 0 and table slot 0" to a
  // recovery that runs before a producer started (fds.ts).
  for (let p = 0; p < layout.producers; p++) initFdRecords(v.ledgerFds(p));
  return sab;
}

/** Absolute word indices of every control word, computed once per thread. */
export class RingView {
  readonly i32: Int32Array;
  readonly u32: Uint32Array;
  readonly sqHead: number;
  readonly sqTail: number;
  readonly cqHead: number;
  readonly cqTail: number;
  readonly cqLock: number;
  readonly claimLock: number;
  readonly claimHead: number;
  readonly claimN: number;
  readonly consumerSleep: number;
  readonly sqSpaceWait: number;
  readonly cqSpaceWait: number;
  readonly cancelSeq: number;
  readonly countWaiters: number;
  readonly sqMask: number;
  readonly sqEntries: number;
  readonly cqMask: number;
  readonly cqEntries: number;
  readonly statConsumerWakes: number;
  readonly statProducerWakes: number;
  readonly statSpaceWaits: number;
  /** Cancels that gave up waiting for a running op's ack (a slow op, or a bug: see L_POSTING). */
  readonly statAckTimeouts: number;
  readonly sleepBase: number;
  readonly countBase: number;
  /** Word index of CQE 0. */
  readonly cqesBase: number;
  /** Word index of the indirect array, or -1. */
  readonly arrayBase: number;
  private readonly base: number;

  constructor(readonly sab: SharedArrayBuffer, readonly layout: RingLayout) {
    this.i32 = new Int32Array(sab);
    this.u32 = new Uint32Array(sab);
    const b = layout.ctrl >>> 2;
    this.base = b;
    this.sqHead = b + C.SQ_HEAD;
    this.sqTail = b + C.SQ_TAIL;
    this.cqHead = b + C.CQ_HEAD;
    this.cqTail = b + C.CQ_TAIL;
    this.cqLock = b + C.CQ_LOCK;
    this.claimLock = b + C.CLAIM_LOCK;
    this.claimHead = b + C.CLAIM_HEAD;
    this.claimN = b + C.CLAIM_N;
    this.consumerSleep = b + C.CONSUMER_SLEEP;
    this.sqSpaceWait = b + C.SQ_SPACE_WAIT;
    this.cqSpaceWait = b + C.CQ_SPACE_WAIT;
    this.cancelSeq = b + C.CANCEL_SEQ;
    this.countWaiters = b + C.COUNT_WAITERS;
    this.sqMask = b + C.SQ_MASK;
    this.sqEntries = b + C.SQ_ENTRIES;
    this.cqMask = b + C.CQ_MASK;
    this.cqEntries = b + C.CQ_ENTRIES;
    this.statConsumerWakes = b + C.STAT_CONSUMER_WAKES;
    this.statProducerWakes = b + C.STAT_PRODUCER_WAKES;
    this.statSpaceWaits = b + C.STAT_SPACE_WAITS;
    this.statAckTimeouts = b + C.STAT_ACK_TIMEOUTS;
    this.sleepBase = b + C.SLEEP;
    this.countBase = this.sleepBase + align(layout.producers, 16);
    this.cqesBase = layout.cqes >>> 2;
    this.arrayBase = layout.array >= 0 ? layout.array >>> 2 : -1;
  }

  /** Offsets in the shape io_uring_params gives them, for SubmissionQueue. */
  sqOffsets(): SqOffsets {
    const w = (i: number) => i * 4;
    return {
      head: w(this.sqHead), tail: w(this.sqTail), ring_mask: w(this.sqMask), ring_entries: w(this.sqEntries),
      flags: w(this.base + C.SQ_FLAGS), dropped: w(this.base + C.SQ_DROPPED), array: this.layout.array,
    };
  }

  cqOffsets(): CqOffsets {
    const w = (i: number) => i * 4;
    return {
      head: w(this.cqHead), tail: w(this.cqTail), ring_mask: w(this.cqMask), ring_entries: w(this.cqEntries),
      overflow: w(this.base + C.CQ_OVERFLOW), cqes: this.layout.cqes, flags: w(this.base + C.CQ_FLAGS),
    };
  }

  ledgerStates(p: number): Int32Array {
    const L = this.layout;
    return new Int32Array(this.sab, L.ledgers + p * L.ledgerStride, L.ledgerCap);
  }

  /**
   * Per entry: how a cancel flagged while the op ran ended (ACK_*), so the
   * canceller can answer 0 or -EALREADY as the kernel would.
   */
  ledgerAcks(p: number): Int32Array {
    const L = this.layout;
    return new Int32Array(this.sab, L.ledgers + p * L.ledgerStride + align(L.ledgerCap * 4, LINE), L.ledgerCap);
  }

  ledgerSqes(p: number): Uint32Array {
    const L = this.layout;
    return new Uint32Array(this.sab, L.ledgers + p * L.ledgerStride + 2 * align(L.ledgerCap * 4, LINE), L.ledgerCap * 16);
  }

  /** Per entry: the fds the producer opened for it (see fds.ts). */
  ledgerFds(p: number): Int32Array {
    const L = this.layout;
    return new Int32Array(this.sab, L.ledgers + p * L.ledgerStride + 2 * align(L.ledgerCap * 4, LINE) + L.ledgerCap * SQE.size, L.ledgerCap * FD_WORDS);
  }

  /** Producers currently asleep (their sleep flags). */
  sleepers(): number {
    let n = 0;
    for (let p = 0; p < this.layout.producers; p++) n += Atomics.load(this.i32, this.sleepBase + p);
    return n;
  }
}

/**
 * The words a group of producer threads (a worker host) shares across all
 * the rings it serves: they sleep on one EVENT_SEQ, so a consumer of any
 * ring can wake any of them, and read control messages when CONTROL_EPOCH
 * moves. Each on its own line.
 */
export class HostView {
  static readonly BYTES = 2 * LINE;
  readonly i32: Int32Array;
  readonly eventSeq = 0;
  readonly controlEpoch = 16;

  constructor(readonly sab: SharedArrayBuffer) {
    this.i32 = new Int32Array(sab);
  }

  /** Wakes up to `count` sleeping producers (after changing what they check). */
  wake(count = Infinity): number {
    Atomics.add(this.i32, this.eventSeq, 1);
    return Atomics.notify(this.i32, this.eventSeq, count);
  }

  /** Tells producers a control message waits for them, and wakes them to read it. */
  bumpControl(): void {
    Atomics.add(this.i32, this.controlEpoch, 1);
    this.wake();
  }
}

/**
 * Takes a spinlock word. Critical sections are a few dozen stores, so
 * spinning wins; a producer thread naps after a while (its holder may have
 * been descheduled), the consumer's event loop must not, so it gives up
 * after `maxSpins` and returns false.
 */
export function lock(i32: Int32Array, idx: number, owner: number, canBlock: boolean, maxSpins = Infinity): boolean {
  for (let spin = 0; spin < maxSpins; spin++) {
    const cur = Atomics.compareExchange(i32, idx, 0, owner);
    if (cur === 0) return true;
    if (canBlock && spin > 100) Atomics.wait(i32, idx, cur, 0.05);
  }
  return false;
}

export function unlock(i32: Int32Array, idx: number): void {
  Atomics.store(i32, idx, 0);
}

/**
 * Posts CQEs src[from .. from+n) (4 words each) under the CQ lock and
 * publishes them with one tail store. Returns how many fit; an extended
 * pair is never split. The caller holds nothing and wakes the consumer.
 */
export function postCqes(
  v: RingView, src: Int32Array, from: number, n: number, owner: number, canBlock: boolean,
  mark: ((from: number, k: number, tail: number) => void) | null = null,
): number {
  const i = v.i32;
  if (!lock(i, v.cqLock, owner, canBlock, canBlock ? Infinity : 1_000_000)) return 0;
  const mask = v.layout.cqEntries - 1;
  const head = Atomics.load(i, v.cqHead) >>> 0;
  let tail = Atomics.load(i, v.cqTail) >>> 0;
  const used = (tail - head) >>> 0;
  // A consumer head ahead of our tail is corrupt: treat the ring as full
  // rather than overwrite entries it may still be reading.
  let space = used > v.layout.cqEntries ? 0 : v.layout.cqEntries - used;
  let k = 0;
  while (k < n) {
    const s = (from + k) * 4;
    const need = src[s + 3]! & URING_CQE_F_EXTENDED ? 2 : 1;
    if (need > space) break;
    for (let j = 0; j < need; j++) {
      const d = v.cqesBase + (((tail + j) & mask) << 2);
      const q = s + j * 4;
      i[d] = src[q]!;
      i[d + 1] = src[q + 1]!;
      i[d + 2] = src[q + 2]!;
      i[d + 3] = src[q + 3]!;
    }
    tail = (tail + need) >>> 0;
    space -= need;
    k += need;
  }
  if (k > 0) {
    // Which CQ position each CQE took, recorded before it is published (fds.ts).
    if (mark) mark(from, k, (tail - k) >>> 0);
    Atomics.store(i, v.cqTail, tail | 0);
  }
  unlock(i, v.cqLock);
  return k;
}

/** Wakes the consumer if it said it sleeps; at most one notify per sleep. */
export function wakeConsumer(v: RingView): void {
  const i = v.i32;
  if (Atomics.load(i, v.consumerSleep) !== 0 && Atomics.exchange(i, v.consumerSleep, 0) !== 0) {
    Atomics.add(i, v.statConsumerWakes, 1);
    Atomics.notify(i, v.cqTail);
  }
}
