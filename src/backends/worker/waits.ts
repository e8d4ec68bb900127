// Ops that wait: a producer parks them and keeps serving other SQEs, and
// comes back on a deadline (TIMEOUT, LINK_TIMEOUT, a pipe retry), a count of
// completions (TIMEOUT with count), a settled promise (async handlers), or a
// cancel request (see cancel.ts for the protocol).
//
// Who wins a race between a natural end and a cancel: a natural end that
// did nothing observable (a timer, a count) yields to a pending cancel; one
// that already did the work (data read from a pipe, an async handler's
// result) is reported as it happened.

import { L_PARKED, L_RUNNING, L_CANCEL_REQ, L_CANCEL_DONE, PENDING } from './layout.js';
import type { Chain, Producer } from './producer.js';
import { errnoOf } from './errno.js';

const ECANCELED = 125;
const ETIME = 62;
const EINVAL = 22;
const EIO = 5;

/** What a parked op waits for. */
export interface ParkSpec {
  /** performance.now() time at which `fire` runs (Infinity: none). */
  deadline?: number;
  /** Runs at the deadline: the result, or PENDING after moving `rec.deadline`. */
  fire?: ((rec: Parked) => number) | null;
  /** Releases what the wait holds; runs exactly once when it ends (`cancelled`: by a cancel or a link timeout). */
  dispose?: ((cancelled: boolean) => void) | null;
  /** Complete with 0 once this many CQEs were posted after the SQE was claimed. */
  count?: number;
}

export class Parked {
  deadline: number;
  fire: ((rec: Parked) => number) | null;
  dispose: ((cancelled: boolean) => void) | null;
  count: number;
  countBase = 0;
  /** The LINK_TIMEOUT guarding this op: its deadline (its slot follows the op in the chain). */
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

export class Waits {
  readonly parked = new Set<Parked>();
  asyncPending = 0;
  countRecs = 0;
  seenCqTail = 0;
  private nextDeadline = Infinity;
  private readonly settledQ: Array<[Parked, number]> = [];

  constructor(private readonly p: Producer, private readonly onSettled: () => void) {}

  get size(): number {
    return this.parked.size;
  }

  get settledPending(): boolean {
    return this.settledQ.length > 0;
  }

  add(rec: Parked, countBase: number): void {
    const p = this.p;
    if (rec.count > 0) {
      rec.countBase = countBase;
      this.seenCqTail = countBase;
      this.countRecs++;
      Atomics.add(p.v.i32, p.v.countBase + p.index, 1);
      Atomics.add(p.v.i32, p.v.countWaiters, 1);
    }
    this.deadlineAt(rec.deadline);
    this.parked.add(rec);
  }

  deadlineAt(t: number): void {
    if (t < this.nextDeadline) this.nextDeadline = t;
  }

  /** Milliseconds until the next deadline (Infinity: none). */
  timeToNext(): number {
    return this.nextDeadline === Infinity ? Infinity : Math.max(0, this.nextDeadline - performance.now());
  }

  /** Waits for `promise` (an async handler's result) on behalf of `rec`. */
  follow(rec: Parked, promise: PromiseLike<number>): void {
    rec.isAsync = true;
    this.asyncPending++;
    const done = (res: number) => {
      if (rec.done) return;
      this.settledQ.push([rec, res]);
      this.onSettled();
    };
    promise.then(
      (r) => done(typeof r === 'number' ? r : -EINVAL),
      (e: unknown) => done(errnoOf(e, -EIO)),
    );
  }

  /** Async results that arrived since the last turn. */
  takeSettled(): boolean {
    if (this.settledQ.length === 0) return false;
    for (const [rec, res] of this.settledQ.splice(0)) this.resume(rec, res, -ECANCELED, true);
    return true;
  }

  /** Our parked ops whose cancellers have answered them (CANCEL_DONE): cleaned up, chains go on. */
  takeCancels(): boolean {
    let did = false;
    for (const rec of [...this.parked]) {
      if (!rec.done && Atomics.load(this.p.states, rec.slot) === L_CANCEL_DONE) {
        this.resume(rec, -ECANCELED, -ECANCELED, false);
        did = true;
      }
    }
    return did;
  }

  /** Deadlines and completion counts that came due. */
  timers(): boolean {
    const p = this.p;
    let did = false;
    if (this.countRecs > 0) {
      const tail = Atomics.load(p.v.i32, p.v.cqTail) >>> 0;
      if (tail !== this.seenCqTail) {
        this.seenCqTail = tail;
        for (const rec of [...this.parked]) {
          if (rec.count > 0 && ((tail - rec.countBase) >>> 0) >= rec.count && this.free(rec)) {
            this.resume(rec, 0, -ECANCELED, false);
            did = true;
          }
        }
      }
    }
    const now = performance.now();
    if (now < this.nextDeadline) return did;
    // Ops parked while we go (a resumed chain's next member) lower it through add().
    this.nextDeadline = Infinity;
    let next = Infinity;
    for (const rec of [...this.parked]) {
      if (rec.done) continue;
      if (this.free(rec)) {
        if (rec.ltDeadline <= now) {
          // The guard fired first: the op is cancelled, the timeout reports -ETIME.
          this.resume(rec, -ECANCELED, -ETIME, false);
          did = true;
          continue;
        }
        if (rec.deadline <= now) {
          const r = rec.fire ? rec.fire(rec) : -ETIME;
          if (r !== PENDING) {
            this.resume(rec, r, -ECANCELED, rec.fire !== null);
            did = true;
            continue;
          }
        }
      }
      next = Math.min(next, rec.deadline, rec.ltDeadline);
    }
    this.nextDeadline = Math.min(this.nextDeadline, next);
    return did;
  }

  /** No cancel is pending on it: a natural end may go ahead. */
  private free(rec: Parked): boolean {
    return Atomics.load(this.p.states, rec.slot) === L_PARKED;
  }

  /**
   * Ends a parked op with `res` (the link timeout after it, if any, with
   * `ltRes`) and runs the rest of its chain. `real`: the op's work already
   * happened, so its result stands even against a cancel.
   */
  resume(rec: Parked, res: number, ltRes: number, real: boolean): void {
    if (rec.done) return;
    const p = this.p;
    let st = Atomics.compareExchange(p.states, rec.slot, L_PARKED, L_RUNNING);
    // A result already had wins over a cancel not yet committed to...
    if (st === L_CANCEL_REQ && real) st = Atomics.compareExchange(p.states, rec.slot, L_CANCEL_REQ, L_RUNNING);
    const answered = st === L_CANCEL_DONE;
    // ...otherwise the canceller answers; until its answer is out, wait.
    if (st !== L_PARKED && st !== L_CANCEL_REQ && !answered) return;
    if (st === L_CANCEL_REQ && !real) return;
    if (answered) {
      res = -ECANCELED;
      ltRes = -ECANCELED;
    }
    rec.done = true;
    this.parked.delete(rec);
    if (rec.count > 0) {
      this.countRecs--;
      Atomics.sub(p.v.i32, p.v.countBase + p.index, 1);
      Atomics.sub(p.v.i32, p.v.countWaiters, 1);
    }
    if (rec.isAsync) this.asyncPending--;
    rec.dispose?.(res === -ECANCELED);
    p.finishParked(rec.chain, res, ltRes, answered);
  }
}

