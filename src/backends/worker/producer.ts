// The producer end of a userspace ring: what a scheme worker (or the main
// thread serving a scheme) runs. It claims SQEs, executes them through an
// opcode table, and posts CQEs.
//
// Claiming. Several producers consume one SQ. A producer takes the claim
// lock, copies whole chains (never splitting a linked chain, so a chain runs
// in order on one thread) into its ledger, then advances the SQ head and
// lets go. Copying before the head moves is what makes the copy valid: the
// consumer only rewrites slots the head has passed. The lock (rather than a
// bare compareExchange on the head) is what lets the consumer recover a
// producer that died mid-claim: CLAIM_HEAD/CLAIM_N say exactly which copies
// became real (see reconcile in pool.ts).
//
// Posting. Completed CQEs collect in a local buffer and go out in one
// critical section under the CQ lock with one tail store, then the consumer
// is woken only if it said it sleeps. A ledger entry is freed only after its
// CQE is published, so a crash never loses an answer.
//
// Waiting ops (timeouts, async handlers, pipes with no data) park: the
// thread keeps serving other SQEs and comes back on a deadline, a settled
// promise, or a cancel request another producer left in the shared ledger.

import * as abi from '../../ring/abi.js';
import { constants as osConstants } from 'node:os';
import {
  RingView, type RingLayout, lock, unlock, postCqes, wakeConsumer,
  L_FREE, L_TENTATIVE, L_QUEUED, L_RUNNING, L_PARKED, L_CANCEL_REQ, L_LINKED, PENDING,
} from './layout.js';
import { URING_CQE_F_EXTENDED, URING_CQE_F_EXTENDED_HI } from './cqe-flags.js';
import type { FileTable } from './files.js';
import { coreOps } from './core-ops.js';

export { PENDING };
/** Executes the SQE at word `at` of `p.sqes` (ledger entry `slot`): the result, -errno, or PENDING. */
export type OpHandler = (p: Producer, at: number, slot: number) => number;

const EINVAL = 22;
const EIO = 5;
const ECANCELED = 125;
const EFAULT = 14;
const ENAMETOOLONG = 36;
const ETIME = 62;
const TWO_32 = 4294967296;
const REGION_SHIFT = 2 ** 40;
const LINKS = abi.IOSQE_IO_LINK | abi.IOSQE_IO_HARDLINK;
const errnos = osConstants.errno as Record<string, number>;

/** A thrown value a handler can use for -EFAULT without allocating. */
export const EFAULT_ERROR = Object.freeze({ errno: -EFAULT });

export class Chain {
  pos = 0;
  constructor(readonly slots: number[]) {}
}

/** What a parked op waits for. */
export interface ParkSpec {
  /** performance.now() time at which `fire` runs (Infinity: none). */
  deadline?: number;
  /** Runs at the deadline: the result, or PENDING after moving `rec.deadline`. */
  fire?: ((rec: Parked) => number) | null;
  /** Releases what the wait holds; runs exactly once when it ends (`cancelled`: by a cancel or a link timeout). */
  dispose?: ((cancelled: boolean) => void) | null;
  /** Complete with 0 once this many CQEs were posted after parking. */
  count?: number;
}

export class Parked {
  deadline: number;
  fire: ((rec: Parked) => number) | null;
  dispose: ((cancelled: boolean) => void) | null;
  count: number;
  countBase = 0;
  /** The LINK_TIMEOUT guarding this op: its ledger slot and deadline. */
  ltSlot = -1;
  ltDeadline = Infinity;
  isAsync = false;
  done = false;
  constructor(readonly slot: number, readonly chain: Chain, spec: ParkSpec) {
    this.deadline = spec.deadline ?? Infinity;
    this.fire = spec.fire ?? null;
    this.dispose = spec.dispose ?? null;
    this.count = spec.count ?? 0;
  }
}

export interface ProducerInit {
  sab: SharedArrayBuffer;
  layout: RingLayout;
  /** Which ledger and sleep flag are ours. */
  index: number;
  /** Worker threads may block in Atomics.wait; the main thread never does. */
  canBlock: boolean;
  /** Drains control messages (regions, file tables); called when CONTROL_EPOCH moves. */
  control: () => void;
  /** Called when a parked async op settles, to wake a waiting driver. */
  onSettled?: () => void;
}

export class Producer {
  readonly v: RingView;
  readonly index: number;
  readonly sqes: Uint32Array;
  readonly states: Int32Array;
  readonly handlers: (OpHandler | undefined)[] = new Array(256);
  /** Pool regions by id, as zero-copy Buffers over their SharedArrayBuffers. */
  readonly regions: (Buffer | undefined)[] = [];
  files: FileTable | null = null;
  /** Registered buffers as [addr, len] pairs; null when none are registered. */
  buffers: number[] | null = null;
  /** Set by a read/write handler whose transfer was short (breaks IO_LINK). */
  short = false;
  /** Ledger slot of the SQE executing now. */
  current = -1;
  /** SQEs executed, for tests and stats. */
  executed = 0;

  private readonly i32: Int32Array;
  private readonly owner: number;
  private readonly canBlock: boolean;
  private readonly control: () => void;
  private readonly onSettled: () => void;
  private readonly allStates: Int32Array[] = [];
  private readonly allSqes: Uint32Array[] = [];
  private readonly free: Int32Array;
  private freeTop = 0;
  private readonly out: Int32Array;
  private readonly outSlots: Int32Array;
  private outN = 0;
  private readonly fresh: Chain[] = [];
  readonly parked = new Set<Parked>();
  private nextDeadline = Infinity;
  private countRecs = 0;
  asyncPending = 0;
  private readonly settledQ: Array<[Parked, number]> = [];
  private seenEpoch = -1;
  private seenCancel = 0;
  private seenCqTail = 0;

  constructor(init: ProducerInit) {
    this.v = new RingView(init.sab, init.layout);
    this.i32 = this.v.i32;
    this.index = init.index;
    this.owner = init.index + 1;
    this.canBlock = init.canBlock;
    this.control = init.control;
    this.onSettled = init.onSettled ?? (() => {});
    const L = init.layout;
    for (let p = 0; p < L.producers; p++) {
      this.allStates.push(this.v.ledgerStates(p));
      this.allSqes.push(this.v.ledgerSqes(p));
    }
    this.states = this.allStates[init.index]!;
    this.sqes = this.allSqes[init.index]!;
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
    for (const [op, h] of coreOps) this.handlers[op] = h;
  }

  /**
   * One pass: control messages, cancel requests, claims, settled async ops,
   * timers, and posting. Returns whether anything happened.
   */
  turn(): boolean {
    const i = this.i32;
    const v = this.v;
    let did = false;
    if (Atomics.load(i, v.controlEpoch) !== this.seenEpoch) this.drainControl();
    if (Atomics.load(i, v.cancelSeq) !== this.seenCancel) did = this.takeCancels() || did;
    if (this.claim() > 0) {
      did = true;
      // Messages sent before the SQEs we just took (a new region) are visible now.
      if (Atomics.load(i, v.controlEpoch) !== this.seenEpoch) this.drainControl();
      for (let c = 0; c < this.fresh.length; c++) this.run(this.fresh[c]!);
      this.fresh.length = 0;
    }
    if (this.settledQ.length > 0) {
      did = true;
      for (const [rec, res] of this.settledQ.splice(0)) if (!rec.done) this.resume(rec, res, -ECANCELED);
    }
    if (this.parked.size > 0) did = this.timers() || did;
    if (this.outN > 0) {
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
      Atomics.load(i, v.controlEpoch) !== this.seenEpoch ||
      this.settledQ.length > 0 ||
      this.outN > 0 ||
      (this.countRecs > 0 && Atomics.load(i, v.cqTail) !== this.seenCqTail)
    );
  }

  /** Milliseconds until the next deadline (Infinity: none). */
  timeToNext(): number {
    if (this.nextDeadline === Infinity) return Infinity;
    return Math.max(0, this.nextDeadline - performance.now());
  }

  drainControl(): void {
    this.seenEpoch = Atomics.load(this.i32, this.v.controlEpoch);
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
    // Split the backlog among producers so slow ops spread out, but take a
    // whole batch of cheap ones in one go.
    const limit = Math.min(64, Math.max(1, Math.ceil(avail / L.producers)));
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
        this.sqes.set(ring.subarray(src, src + 16), slot << 4);
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
    return n;
  }

  // ---- running chains -----------------------------------------------------

  private run(ch: Chain): void {
    const s = this.sqes;
    while (ch.pos < ch.slots.length) {
      const slot = ch.slots[ch.pos]!;
      const at = slot << 4;
      const expect = Atomics.load(this.states, slot) === L_LINKED ? L_LINKED : L_QUEUED;
      if (Atomics.compareExchange(this.states, slot, expect, L_RUNNING) !== expect) {
        // Cancelled while it waited its turn.
        this.settle(ch, -ECANCELED, -ECANCELED);
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
      if (res === PENDING) {
        const rec = this.lastParked!;
        this.lastParked = null;
        Atomics.store(this.states, slot, L_PARKED);
        if (guarded) {
          const ms = this.timespecMs(next << 4);
          rec.ltSlot = next;
          rec.ltDeadline = ms < 0 ? performance.now() : performance.now() + ms;
          if (rec.ltDeadline < this.nextDeadline) this.nextDeadline = rec.ltDeadline;
        }
        return;
      }
      // The op finished before its link timeout could matter: the timeout is cancelled.
      this.settle(ch, res, guarded ? -ECANCELED : 0);
    }
  }

  /**
   * Posts the result of the chain's current member (and of the link timeout
   * right after it, when `ltRes` < 0 and one is there), then cancels the
   * rest of the chain if the member failed under IOSQE_IO_LINK.
   */
  private settle(ch: Chain, res: number, ltRes: number): void {
    const slot = ch.slots[ch.pos++]!;
    const at = slot << 4;
    const word = this.sqes[at]!;
    const flags = (word >>> 8) & 0xff;
    const op = word & 0xff;
    const failed = res < 0 ? !(op === abi.IORING_OP_TIMEOUT && res === -ETIME && this.sqes[at + 7]! & abi.IORING_TIMEOUT_ETIME_SUCCESS) : this.short;
    this.emit(slot, res, (flags & abi.IOSQE_CQE_SKIP_SUCCESS) !== 0 && !failed);
    if (ltRes < 0 && ch.pos < ch.slots.length && (this.sqes[ch.slots[ch.pos]! << 4]! & 0xff) === abi.IORING_OP_LINK_TIMEOUT) {
      this.emit(ch.slots[ch.pos++]!, ltRes, false);
    }
    if (failed && (flags & LINKS) === abi.IOSQE_IO_LINK) {
      while (ch.pos < ch.slots.length) this.emit(ch.slots[ch.pos++]!, -ECANCELED, false);
    }
  }

  private lastParked: Parked | null = null;

  /** Called by a handler that returns PENDING: the op waits as `spec` says. */
  park(slot: number, spec: ParkSpec): Parked {
    const ch = this.chainOf(slot);
    const rec = new Parked(slot, ch, spec);
    if (rec.count > 0) {
      rec.countBase = Atomics.load(this.i32, this.v.cqTail) >>> 0;
      this.seenCqTail = rec.countBase;
      this.countRecs++;
      Atomics.add(this.i32, this.v.countBase + this.index, 1);
      Atomics.add(this.i32, this.v.countWaiters, 1);
    }
    if (rec.deadline < this.nextDeadline) this.nextDeadline = rec.deadline;
    this.parked.add(rec);
    this.lastParked = rec;
    return rec;
  }

  /** Parks `slot` until `promise` settles (async handlers). */
  parkAsync(slot: number, promise: PromiseLike<number>, dispose: ((cancelled: boolean) => void) | null): void {
    const rec = this.park(slot, { dispose });
    rec.isAsync = true;
    this.asyncPending++;
    promise.then(
      (r) => this.settledAsync(rec, typeof r === 'number' ? r : -EINVAL),
      (e: unknown) => this.settledAsync(rec, errnoOf(e, -EIO)),
    );
  }

  private settledAsync(rec: Parked, res: number): void {
    if (rec.done) return;
    this.settledQ.push([rec, res]);
    this.onSettled();
  }

  private chainOf(slot: number): Chain {
    // Handlers only ever park the SQE they are executing.
    if (slot !== this.current || !this.runningChain) throw new Error('uring: park() outside the running op');
    return this.runningChain;
  }

  private runningChain: Chain | null = null;

  /** Ends a parked op with `res` (its link timeout, if any, with `ltRes`) and runs the rest of its chain. */
  resume(rec: Parked, res: number, ltRes: number): void {
    if (rec.done) return;
    rec.done = true;
    this.parked.delete(rec);
    if (rec.count > 0) {
      this.countRecs--;
      Atomics.sub(this.i32, this.v.countBase + this.index, 1);
      Atomics.sub(this.i32, this.v.countWaiters, 1);
    }
    if (rec.isAsync) this.asyncPending--;
    // A cancel request that raced the natural end wins.
    if (Atomics.compareExchange(this.states, rec.slot, L_PARKED, L_RUNNING) === L_CANCEL_REQ) {
      res = -ECANCELED;
      ltRes = -ECANCELED;
    }
    rec.dispose?.(res === -ECANCELED);
    this.short = false;
    this.settle(rec.chain, res, ltRes);
    this.run(rec.chain);
  }

  private timers(): boolean {
    let did = false;
    if (this.countRecs > 0) {
      const tail = Atomics.load(this.i32, this.v.cqTail) >>> 0;
      if (tail !== this.seenCqTail) {
        this.seenCqTail = tail;
        for (const rec of [...this.parked]) {
          if (rec.count > 0 && ((tail - rec.countBase) >>> 0) >= rec.count) {
            this.resume(rec, 0, -ECANCELED);
            did = true;
          }
        }
      }
    }
    const now = performance.now();
    if (now < this.nextDeadline) return did;
    let next = Infinity;
    for (const rec of [...this.parked]) {
      if (rec.done) continue;
      if (rec.ltDeadline <= now) {
        // The guard fired first: the op is cancelled, the timeout reports -ETIME.
        this.resume(rec, -ECANCELED, -ETIME);
        did = true;
        continue;
      }
      if (rec.deadline <= now) {
        const r = rec.fire ? rec.fire(rec) : -ETIME;
        if (r !== PENDING) {
          this.resume(rec, r, -ECANCELED);
          did = true;
          continue;
        }
      }
      next = Math.min(next, rec.deadline, rec.ltDeadline);
    }
    this.nextDeadline = next;
    return did;
  }

  /** Answers -ECANCELED for parked ops another producer (or we) asked to cancel. */
  private takeCancels(): boolean {
    this.seenCancel = Atomics.load(this.i32, this.v.cancelSeq);
    let did = false;
    for (const rec of [...this.parked]) {
      if (!rec.done && Atomics.load(this.states, rec.slot) === L_CANCEL_REQ) {
        this.resume(rec, -ECANCELED, -ECANCELED);
        did = true;
      }
    }
    return did;
  }

  // ---- posting ------------------------------------------------------------

  private emit(slot: number, res: number, skip: boolean): void {
    if (skip) {
      this.release(slot);
      return;
    }
    const at = slot << 4;
    const lo = this.sqes[at + 8]! | 0;
    const hi = this.sqes[at + 9]! | 0;
    let o = this.outN * 4;
    if (res === (res | 0)) {
      this.push(o, lo, hi, res, 0, slot);
      return;
    }
    // Wider than 32 bits: an extended pair (see cqe-flags.ts).
    this.push(o, lo, hi, res >>> 0, URING_CQE_F_EXTENDED, -1);
    o += 4;
    this.push(o, lo, hi, Math.floor(res / TWO_32) | 0, URING_CQE_F_EXTENDED_HI, slot);
  }

  private push(o: number, lo: number, hi: number, res: number, flags: number, slot: number): void {
    const out = this.out;
    out[o] = lo;
    out[o + 1] = hi;
    out[o + 2] = res;
    out[o + 3] = flags;
    this.outSlots[this.outN++] = slot;
  }

  private release(slot: number): void {
    Atomics.store(this.states, slot, L_FREE);
    this.free[this.freeTop++] = slot;
  }

  /** Publishes buffered CQEs; waits for CQ space if the consumer is behind. */
  flush(): void {
    const v = this.v;
    const i = this.i32;
    let done = 0;
    while (done < this.outN) {
      const k = postCqes(v, this.out, done, this.outN - done, this.owner, this.canBlock);
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
    // Count timeouts elsewhere wait for completions: let them look.
    if (done > 0 && Atomics.load(i, v.countWaiters) > 0) v.wakeProducers();
  }

  // ---- helpers for handlers -----------------------------------------------

  /** Zero-copy view of pool memory [addr, addr + len); throws EFAULT outside any region. */
  mem(addr: number, len: number): Buffer {
    const id = Math.floor(addr / REGION_SHIFT) - 1;
    const off = addr - (id + 1) * REGION_SHIFT;
    let r = this.regions[id];
    if (!r && id >= 0) {
      this.drainControl();
      r = this.regions[id];
    }
    if (!r || !(len >= 0) || off + len > r.length) throw EFAULT_ERROR;
    return r.subarray(off, off + len);
  }

  /** The NUL-terminated bytes at `addr` (without the NUL), as a path for node:fs. */
  cstr(addr: number): Buffer {
    const id = Math.floor(addr / REGION_SHIFT) - 1;
    const off = addr - (id + 1) * REGION_SHIFT;
    let r = this.regions[id];
    if (!r && id >= 0) {
      this.drainControl();
      r = this.regions[id];
    }
    if (!r || off >= r.length) throw EFAULT_ERROR;
    const end = r.indexOf(0, off);
    if (end < 0) throw EFAULT_ERROR;
    if (end - off >= 4096) throw { errno: -ENAMETOOLONG };
    return r.subarray(off, end);
  }

  /** A u64 SQE field (two words) as a number; all ones reads as -1. */
  u64(at: number): number {
    const lo = this.sqes[at]!;
    const hi = this.sqes[at + 1]!;
    if (hi === 0xffffffff && lo === 0xffffffff) return -1;
    return hi * TWO_32 + lo;
  }

  /** The __kernel_timespec at the SQE's addr, in milliseconds; -1 if unreadable. */
  timespecMs(at: number): number {
    try {
      const b = this.mem(this.u64(at + 4), abi.TIMESPEC.size);
      const sec = b.readUInt32LE(0) + b.readUInt32LE(4) * TWO_32;
      const nsec = b.readUInt32LE(8) + b.readUInt32LE(12) * TWO_32;
      return sec * 1000 + nsec / 1e6;
    } catch {
      return -1;
    }
  }

  /** Scans every producer's ledger; `claim` decides per entry. */
  forEachEntry(fn: (states: Int32Array, sqes: Uint32Array, slot: number, state: number, mine: boolean) => boolean): void {
    const cap = this.v.layout.ledgerCap;
    for (let p = 0; p < this.allStates.length; p++) {
      const st = this.allStates[p]!;
      const sq = this.allSqes[p]!;
      for (let slot = 0; slot < cap; slot++) {
        const s = Atomics.load(st, slot);
        if (s < L_QUEUED || s === L_LINKED) continue;
        if (fn(st, sq, slot, s, p === this.index)) return;
      }
    }
  }

  /** Tells every producer (us included) to look for cancel requests. */
  announceCancels(): void {
    Atomics.add(this.i32, this.v.cancelSeq, 1);
    this.v.wakeProducers();
  }
}

function sqeIndex(ring: Uint32Array, arrayBase: number, pos: number, mask: number): number {
  return arrayBase >= 0 ? ring[arrayBase + (pos & mask)]! & mask : pos & mask;
}

/** A thrown value as -errno: node's err.errno, an errno code name, else `fallback`. */
export function errnoOf(e: unknown, fallback: number): number {
  if (e !== null && typeof e === 'object') {
    const n = (e as { errno?: unknown }).errno;
    if (typeof n === 'number' && Number.isInteger(n) && n !== 0) return n > 0 ? -n : n;
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string' && typeof errnos[c] === 'number') return -errnos[c]!;
  }
  return fallback;
}

export { L_FREE, L_QUEUED, L_RUNNING, L_PARKED, L_CANCEL_REQ };
