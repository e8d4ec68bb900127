// The producer end of a userspace ring: what a scheme worker (or the main
// thread serving a scheme) runs for each ring it serves. It claims SQEs,
// executes them through an opcode table, and posts CQEs.
//
// Claiming. Several producers consume one SQ. A producer takes the claim
// lock, copies whole chains (never splitting a linked chain, so a chain runs
// in order on one thread) into its ledger, then advances the SQ head and
// lets go. Copying before the head moves is what makes the copy valid: the
// consumer only rewrites slots the head has passed. The lock (rather than a
// bare compareExchange on the head) is what lets the consumer recover a
// producer that died mid-claim: CLAIM_HEAD/CLAIM_N say exactly which copies
// became real (see reconcile in host.ts).
//
// Posting. Completed CQEs collect in a local buffer and go out in one
// critical section under the CQ lock with one tail store, then the consumer
// is woken only if it said it sleeps. A ledger entry is freed only after its
// CQE is published, so a crash never loses an answer.
//
// Ops that wait park (waits.ts); cancellation goes through the shared
// ledgers (cancel.ts).

import * as abi from '../../abi/abi.js';
import {
  RingView, HostView, type RingLayout, lock, unlock, postCqes, wakeConsumer,
  L_FREE, L_TENTATIVE, L_QUEUED, L_RUNNING, L_PARKED, L_CANCEL_REQ, L_CANCEL_DONE, L_LINKED, L_POSTING, PENDING,
} from './layout.js';
import { URING_CQE_F_EXTENDED, URING_CQE_F_EXTENDED_HI } from '../../abi/cqe-flags.js';
import type { FileTable } from './files.js';
import { coreOps } from './core-ops.js';
import { Waits, Parked, type ParkSpec } from './waits.js';
import { ack, answered, type Entry } from './cancel.js';
import { errnoOf } from './errno.js';
import { FdLedger } from './fds.js';
import { PoolAccess, EFAULT_ERROR } from './pool-access.js';

export { PENDING, errnoOf, Parked, type ParkSpec };
/** Executes the SQE at word `at` of `p.sqes` (ledger entry `slot`): the result, -errno, or PENDING. */
export type OpHandler = (p: Producer, at: number, slot: number) => number;

/**
 * What a scheme gives the transport: its handlers, and the opcodes it
 * advertises (supports() says true for these; a scheme may serve an opcode
 * it does not advertise, as the fs scheme's partial FALLOCATE). A module
 * served by worker threads exports `opTable(worker)` returning one.
 */
export interface OpTable {
  readonly ops: ReadonlyArray<readonly [number, OpHandler]>;
  readonly advertised: readonly number[];
}

/** The export a worker thread looks for in each scheme module it loads. */
export type OpTableModule = { opTable(worker: number): OpTable | Promise<OpTable> };

const EINVAL = 22;
const EIO = 5;
const ECANCELED = 125;
const ETIME = 62;
const TWO_32 = 4294967296;
const LINKS = abi.IOSQE_IO_LINK | abi.IOSQE_IO_HARDLINK;

export { EFAULT_ERROR };

export class Chain {
  pos = 0;
  constructor(readonly slots: number[]) {}
}

/** One producer's ledger in a ring: entry states, cancel acks, SQE copies. */
export interface Ledger {
  states: Int32Array;
  acks: Int32Array;
  sqes: Uint32Array;
}

export interface ProducerInit {
  sab: SharedArrayBuffer;
  layout: RingLayout;
  /** Which ledger and sleep flag are ours. */
  index: number;
  /** Worker threads may block in Atomics.wait; the main thread never does. */
  canBlock: boolean;
  /** The words shared by every producer thread of our host (see HostView). */
  host: HostView;
  /** The host's CONTROL_EPOCH as last drained; `control` moves it. Shared by a thread's producers. */
  epoch: { seen: number };
  /** Drains control messages (regions, file tables) for every ring of the thread. */
  control: () => void;
  /** Called when a parked async op settles, to wake a waiting driver. */
  onSettled?: () => void;
}

export class Producer extends PoolAccess {
  readonly v: RingView;
  readonly host: HostView;
  readonly index: number;
  readonly canBlock: boolean;
  /** Every producer's ledger (cancellation searches them all); ours is `ledgers[index]`. */
  readonly ledgers: Ledger[] = [];
  readonly sqes: Uint32Array;
  readonly states: Int32Array;
  readonly handlers: (OpHandler | undefined)[] = new Array(256);
  files: FileTable | null = null;
  /** Registered buffers as [addr, len] pairs; null when none are registered. */
  buffers: number[] | null = null;
  /** Set by a read/write handler whose transfer was short (breaks IO_LINK). */
  short = false;
  /** SQEs executed, for tests and stats. */
  executed = 0;
  readonly waits: Waits;
  /** Fds opened for the entries we hold, for recovery if we die (fds.ts). */
  readonly fds: FdLedger;

  private readonly i32: Int32Array;
  private readonly owner: number;
  private readonly acks: Int32Array;
  private readonly control: () => void;
  private readonly epoch: { seen: number };
  private readonly free: Int32Array;
  private freeTop = 0;
  /** CQ tail when each TIMEOUT SQE was claimed: its count starts there. */
  private readonly claimTail: Uint32Array;
  private readonly out: Int32Array;
  private readonly outSlots: Int32Array;
  private outN = 0;
  private readonly published: Array<() => void> = [];
  private readonly fresh: Chain[] = [];
  private seenCancel: number;
  /** The op executing now, for park(). */
  private current = -1;
  private runningChain: Chain | null = null;
  private lastParked: Parked | null = null;
  /** Ops the current one (a cancel) answers, right after its own CQE. */
  private answers: Entry[] | null = null;

  constructor(init: ProducerInit) {
    super();
    const L = init.layout;
    this.v = new RingView(init.sab, L);
    this.host = init.host;
    this.epoch = init.epoch;
    this.i32 = this.v.i32;
    this.index = init.index;
    this.owner = init.index + 1;
    this.canBlock = init.canBlock;
    this.control = init.control;
    for (let p = 0; p < L.producers; p++) {
      this.ledgers.push({ states: this.v.ledgerStates(p), acks: this.v.ledgerAcks(p), sqes: this.v.ledgerSqes(p) });
    }
    ({ states: this.states, acks: this.acks, sqes: this.sqes } = this.ledgers[init.index]!);
    this.claimTail = new Uint32Array(L.ledgerCap);
    this.free = new Int32Array(L.ledgerCap);
    // A replacement for a dead producer starts from a clean ledger: the
    // consumer answered for everything the old one held.
    for (let s = L.ledgerCap - 1; s >= 0; s--) {
      Atomics.store(this.states, s, L_FREE);
      this.free[this.freeTop++] = s;
    }
    this.out = new Int32Array(L.ledgerCap * 8);
    this.outSlots = new Int32Array(L.ledgerCap * 2);
    this.seenCancel = Atomics.load(this.i32, this.v.cancelSeq);
    this.waits = new Waits(this, init.onSettled ?? (() => {}));
    this.fds = new FdLedger(this.v.ledgerFds(init.index));
    for (const [op, h] of coreOps) this.handlers[op] = h;
  }

  /** The chain whose member is executing now (for handlers). */
  get chain(): Chain | null {
    return this.runningChain;
  }

  get asyncPending(): number {
    return this.waits.asyncPending;
  }

  /**
   * One pass: control messages, cancel announcements, claims, settled async
   * ops, timers, and posting. Returns whether anything happened.
   */
  turn(): boolean {
    const i = this.i32;
    const v = this.v;
    let did = false;
    if (this.controlPending()) this.drainControl();
    if (Atomics.load(i, v.cancelSeq) !== this.seenCancel) {
      this.seenCancel = Atomics.load(i, v.cancelSeq);
      did = this.waits.takeCancels() || did;
    }
    if (this.claim() > 0) {
      did = true;
      // Messages sent before the SQEs we just took (a new region) are visible now.
      if (this.controlPending()) this.drainControl();
      for (let c = 0; c < this.fresh.length; c++) this.run(this.fresh[c]!);
      this.fresh.length = 0;
    }
    did = this.waits.takeSettled() || did;
    if (this.waits.size > 0) did = this.waits.timers() || did;
    if (this.outN > 0 || this.published.length > 0) {
      this.flush();
      did = true;
    }
    return did;
  }

  /** Whether a turn would find something to do (checked before sleeping). */
  hasWork(): boolean {
    const i = this.i32;
    const v = this.v;
    return (
      Atomics.load(i, v.sqTail) !== Atomics.load(i, v.sqHead) ||
      Atomics.load(i, v.cancelSeq) !== this.seenCancel ||
      this.controlPending() ||
      this.waits.settledPending ||
      this.outN > 0 ||
      (this.waits.countRecs > 0 && Atomics.load(i, v.cqTail) >>> 0 !== this.waits.seenCqTail)
    );
  }

  timeToNext(): number {
    return this.waits.timeToNext();
  }

  private controlPending(): boolean {
    return Atomics.load(this.host.i32, this.host.controlEpoch) !== this.epoch.seen;
  }

  drainControl(): void {
    this.epoch.seen = Atomics.load(this.host.i32, this.host.controlEpoch);
    this.control();
  }

  // ---- claiming ----------------------------------------------------------

  private claim(): number {
    const i = this.i32;
    const v = this.v;
    if (Atomics.load(i, v.sqTail) === Atomics.load(i, v.sqHead)) return 0;
    if (!lock(i, v.claimLock, this.owner, this.canBlock, this.canBlock ? Infinity : 1000)) return 0;
    const L = v.layout;
    const mask = L.sqEntries - 1;
    const head = Atomics.load(i, v.sqHead) >>> 0;
    const avail = (Atomics.load(i, v.sqTail) - head) >>> 0;
    if (avail === 0 || avail > L.sqEntries) {
      // avail > entries: the consumer published an impossible tail. Take
      // nothing; a real consumer never does this.
      unlock(i, v.claimLock);
      return 0;
    }
    // Split the backlog among producers so slow ops spread out; each takes
    // its share in one go (one lock, one head store). A full SQ holds the
    // consumer's staged SQEs back, so then take it all and let it go on.
    const full = avail === L.sqEntries || Atomics.load(i, v.sqSpaceWait) !== 0;
    const limit = full ? avail : Math.max(1, Math.ceil(avail / L.producers));
    const ring = v.u32;
    const arr = v.arrayBase;
    Atomics.store(i, v.claimHead, head | 0);
    let n = 0;
    while (n < avail) {
      let len = 1;
      while (n + len < avail && ((ring[sqeIndex(ring, arr, head + n + len - 1, mask) << 4]! >>> 8) & LINKS)) len++;
      if ((n > 0 && n + len > limit) || this.freeTop < len) break;
      const slots = new Array<number>(len);
      for (let k = 0; k < len; k++) {
        const slot = this.free[--this.freeTop]!;
        const src = sqeIndex(ring, arr, head + n + k, mask) << 4;
        const dst = slot << 4;
        for (let w = 0; w < 16; w++) this.sqes[dst + w] = ring[src + w]!;
        // Claims follow SQ order, as the kernel issues: a count timeout
        // counts the completions posted from here on.
        if ((ring[src]! & 0xff) === abi.IORING_OP_TIMEOUT) this.claimTail[slot] = Atomics.load(i, v.cqTail);
        Atomics.store(this.acks, slot, 0);
        Atomics.store(this.states, slot, L_TENTATIVE);
        slots[k] = slot;
      }
      this.fresh.push(new Chain(slots));
      n += len;
    }
    if (n > 0) {
      Atomics.store(i, v.claimN, n);
      Atomics.store(i, v.sqHead, (head + n) | 0);
      for (const ch of this.fresh) {
        for (let k = 0; k < ch.slots.length; k++) Atomics.store(this.states, ch.slots[k]!, k === 0 ? L_QUEUED : L_LINKED);
      }
      Atomics.store(i, v.claimN, 0);
    }
    unlock(i, v.claimLock);
    // The consumer has more SQEs than fit: tell it there is room now.
    if (n > 0 && Atomics.load(i, v.sqSpaceWait) !== 0 && Atomics.exchange(i, v.sqSpaceWait, 0) !== 0) {
      Atomics.notify(i, v.cqTail); // the consumer waits for the CQ tail (waitAsync)
    }
    return n;
  }

  // ---- running chains -----------------------------------------------------

  private run(ch: Chain): void {
    const s = this.sqes;
    while (ch.pos < ch.slots.length) {
      const slot = ch.slots[ch.pos]!;
      const at = slot << 4;
      const expect = Atomics.load(this.states, slot) === L_LINKED ? L_LINKED : L_QUEUED;
      const was = Atomics.compareExchange(this.states, slot, expect, L_RUNNING);
      if (was !== expect) {
        // Cancelled while it waited its turn: the canceller answers it.
        if (was !== L_CANCEL_DONE) return this.suspend(ch, slot);
        this.settle(ch, -ECANCELED, -ECANCELED, true);
        continue;
      }
      // A LINK_TIMEOUT right after a linked op guards that op.
      const next = ch.pos + 1 < ch.slots.length ? ch.slots[ch.pos + 1]! : -1;
      const guarded = next >= 0 && (s[next << 4]! & 0xff) === abi.IORING_OP_LINK_TIMEOUT && ((s[at]! >>> 8) & LINKS) !== 0;
      this.current = slot;
      this.runningChain = ch;
      this.short = false;
      this.executed++;
      const h = this.handlers[s[at]! & 0xff];
      let res: number;
      try {
        res = h ? h(this, at, slot) : -EINVAL;
      } catch (e) {
        res = errnoOf(e, -EIO);
      }
      this.current = -1;
      if (res !== PENDING) {
        if (Atomics.load(this.states, slot) === L_CANCEL_REQ) ack(this.acks, slot, false);
        // The op finished before its link timeout could matter: the timeout is cancelled.
        this.settle(ch, res, guarded ? -ECANCELED : 0);
        if (this.answers) this.postAnswers();
        continue;
      }
      const rec = this.lastParked!;
      this.lastParked = null;
      if (guarded) {
        const ms = this.timespecMs(next << 4);
        rec.ltDeadline = performance.now() + Math.max(ms, 0);
        this.waits.deadlineAt(rec.ltDeadline);
      }
      // A cancel that came while it ran: say it waits now, and leave it to the
      // canceller; park plainly if the canceller gave up meanwhile.
      while (Atomics.compareExchange(this.states, slot, L_RUNNING, L_PARKED) !== L_RUNNING) {
        ack(this.acks, slot, true);
        if (Atomics.load(this.states, slot) !== L_RUNNING) break;
      }
      return;
    }
  }

  /** Parks a member that was cancelled before it ran, until its cancel is announced. */
  private suspend(ch: Chain, slot: number): void {
    this.current = slot;
    this.runningChain = ch;
    this.park(slot, {});
    this.lastParked = null;
    this.current = -1;
  }

  /** After a parked member ended (waits.ts): post it (unless its canceller did) and run the rest of its chain. */
  finishParked(ch: Chain, res: number, ltRes: number, answered: boolean): void {
    this.short = false;
    this.settle(ch, res, ltRes, answered);
    this.run(ch);
  }

  /** Called by a cancel handler: these entries' -ECANCELED go out right after its own CQE. */
  answerAfterCurrent(entries: Entry[]): void {
    (this.answers ??= []).push(...entries);
  }

  private postAnswers(): void {
    const list = this.answers!;
    this.answers = null;
    for (const [owner, slot] of list) {
      const sq = this.ledgers[owner]!.sqes;
      this.push(sq[(slot << 4) + 8]! | 0, sq[(slot << 4) + 9]! | 0, -ECANCELED, 0, -1);
    }
    this.afterPublish(() => answered(this, list));
  }

  /**
   * Posts the result of the chain's current member (and of the link timeout
   * right after it, when `ltRes` < 0 and one is there), then cancels the
   * rest of the chain if the member failed under IOSQE_IO_LINK.
   */
  private settle(ch: Chain, res: number, ltRes: number, answered = false): void {
    const slot = ch.slots[ch.pos++]!;
    const at = slot << 4;
    const word = this.sqes[at]!;
    const flags = (word >>> 8) & 0xff;
    const timeoutOk = (word & 0xff) === abi.IORING_OP_TIMEOUT && res === -ETIME && (this.sqes[at + 7]! & abi.IORING_TIMEOUT_ETIME_SUCCESS) !== 0;
    const failed = res < 0 ? !timeoutOk : this.short;
    // A member its canceller answered has its CQE out already.
    this.emit(slot, res, answered || ((flags & abi.IOSQE_CQE_SKIP_SUCCESS) !== 0 && !failed));
    if (ltRes < 0 && ch.pos < ch.slots.length && (this.sqes[ch.slots[ch.pos]! << 4]! & 0xff) === abi.IORING_OP_LINK_TIMEOUT) {
      this.emit(ch.slots[ch.pos++]!, ltRes, false);
    }
    if (failed && (flags & LINKS) === abi.IOSQE_IO_LINK) {
      // As the kernel (REQ_F_SKIP_LINK_CQES): a failed skip-on-success
      // member's cancelled followers post no CQEs either.
      const quiet = (flags & abi.IOSQE_CQE_SKIP_SUCCESS) !== 0;
      while (ch.pos < ch.slots.length) this.emit(ch.slots[ch.pos++]!, -ECANCELED, quiet);
    }
  }

  /** Called by a handler that returns PENDING: the op waits as `spec` says. */
  park(slot: number, spec: ParkSpec): Parked {
    // Handlers only ever park the SQE they are executing.
    if (slot !== this.current || !this.runningChain) throw new Error('uring: park() outside the running op');
    const rec = new Parked(slot, this.runningChain, spec);
    this.waits.add(rec, this.claimTail[slot]!);
    this.lastParked = rec;
    return rec;
  }

  /** Parks `slot` until `promise` settles (async handlers). */
  parkAsync(slot: number, promise: PromiseLike<number>, dispose: ((cancelled: boolean) => void) | null): void {
    this.waits.follow(this.park(slot, { dispose }), promise);
  }

  // ---- posting ------------------------------------------------------------

  private emit(slot: number, res: number, skip: boolean): void {
    if (skip) {
      this.release(slot);
      return;
    }
    // Done, not yet published: no longer cancellable. A cancel flagged just
    // now is told the op finished, so it does not wait for an ack.
    if (Atomics.exchange(this.states, slot, L_POSTING) === L_CANCEL_REQ) ack(this.acks, slot, false);
    const at = slot << 4;
    const lo = this.sqes[at + 8]! | 0;
    const hi = this.sqes[at + 9]! | 0;
    if (res === (res | 0)) {
      this.push(lo, hi, res, 0, slot);
      return;
    }
    // Wider than 32 bits: an extended pair (see cqe-flags.ts).
    this.push(lo, hi, res >>> 0, URING_CQE_F_EXTENDED, -1);
    this.push(lo, hi, Math.floor(res / TWO_32) | 0, URING_CQE_F_EXTENDED_HI, slot);
  }

  private push(lo: number, hi: number, res: number, flags: number, slot: number): void {
    const o = this.outN * 4;
    const out = this.out;
    out[o] = lo;
    out[o + 1] = hi;
    out[o + 2] = res;
    out[o + 3] = flags;
    this.outSlots[this.outN++] = slot;
  }

  private release(slot: number): void {
    this.fds.forget(slot);
    Atomics.store(this.states, slot, L_FREE);
    this.free[this.freeTop++] = slot;
  }

  /** Runs `fn` once every CQE buffered so far is published. */
  afterPublish(fn: () => void): void {
    this.published.push(fn);
  }

  private readonly markFds = (from: number, k: number, tail: number): void => this.fds.mark(this.outSlots, from, k, tail);

  /** Publishes buffered CQEs; waits for CQ space if the consumer is behind. */
  flush(): void {
    const v = this.v;
    const i = this.i32;
    let done = 0;
    while (done < this.outN) {
      const k = postCqes(v, this.out, done, this.outN - done, this.owner, this.canBlock, this.fds.active ? this.markFds : null);
      for (let j = done; j < done + k; j++) if (this.outSlots[j]! >= 0) this.release(this.outSlots[j]!);
      done += k;
      if (k > 0) {
        wakeConsumer(v);
        continue;
      }
      if (!this.canBlock) break; // the main thread retries on its next turn
      // The CQ is full: sleep until the consumer moves its head.
      const head = Atomics.load(i, v.cqHead);
      Atomics.store(i, v.cqSpaceWait, 1);
      Atomics.add(i, v.statSpaceWaits, 1);
      wakeConsumer(v);
      if (Atomics.load(i, v.cqHead) === head) Atomics.wait(i, v.cqHead, head, 10);
    }
    if (done < this.outN) {
      this.out.copyWithin(0, done * 4, this.outN * 4);
      this.outSlots.copyWithin(0, done, this.outN);
    }
    this.outN -= done;
    if (this.outN === 0) for (const fn of this.published.splice(0)) fn();
    // Count timeouts elsewhere wait for completions: let them look.
    if (done > 0 && Atomics.load(i, v.countWaiters) > 0) this.host.wake();
  }
}

function sqeIndex(ring: Uint32Array, arrayBase: number, pos: number, mask: number): number {
  return arrayBase >= 0 ? ring[arrayBase + (pos & mask)]! & mask : pos & mask;
}

