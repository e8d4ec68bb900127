// The consumer end of a userspace ring, for the thread that submits: the
// main thread under the worker backend, or a worker thread that is a client
// of a scheme served by the main thread.
//
// It never blocks: it waits for the CQ tail with Atomics.waitAsync, and only
// after announcing it sleeps (CONSUMER_SLEEP) and finding the CQ empty, so a
// producer posting while we are awake pays no notify. A waitAsync does not
// keep Node alive, so an interval timer is ref'd exactly while ops are in
// flight (the executor calls ref()).
//
// The consumer can also post CQEs itself (the backlog): answers for a
// producer that died, or for a ring nobody serves any more. It takes the CQ
// lock like any producer, but never spins for long: what does not fit or
// cannot lock now goes out on the next reap().

import { availableParallelism } from 'node:os';
import { RingView, HostView, postCqes, CONSUMER_OWNER, lock, unlock, waitAsync } from './layout.js';

export interface ConsumerStats {
  /** Notifies we sent to sleeping producers. */
  producerWakes: number;
  /** Notifies producers sent us (they count in the ring). */
  consumerWakes: number;
  /** Times a producer found the CQ full and waited for us. */
  spaceWaits: number;
  /** Cancels that waited the full ack time for an op caught running (each stalled its producer). */
  ackTimeouts: number;
  /** Spins before sleeping that saw CQEs arrive (each saved a notify). */
  spinHits: number;
  /** Spins that saw nothing and ended in a sleep. */
  spinMisses: number;
  /** Arms with ops in flight that did not spin (after misses, or on one CPU). */
  spinSkips: number;
}

/**
 * Longest a consumer with ops in flight watches the CQ tail before it goes
 * to sleep, in microseconds. A producer that is awake answers a batch in a
 * few microseconds, but waking a consumer asleep in waitAsync costs the
 * producer a futex wake and the consumer a trip through the platform's task
 * queue and the event loop: tens of microseconds each way, more than the
 * work itself. Measured on W4 (64 in flight, 2 cores): 1.55M round trips/s
 * without the spin, 2.3M with 10-20 us, and less again from 40 us (the spin
 * then only delays the next submission). Never on one CPU, where spinning
 * would keep the producer from running. URING_CONSUMER_SPIN_US overrides.
 */
const SPIN_MAX_US = availableParallelism() > 1 ? spinLimit(process.env.URING_CONSUMER_SPIN_US) : 0;
/** Arms without a spin, after spins kept missing, before trying again. */
const SPIN_RETRY_ARMS = 8;

/** The spin limit from the environment: 0..1000 us, else the default (a NaN limit would never end a spin). */
function spinLimit(env: string | undefined): number {
  const us = env === undefined || env.trim() === '' ? NaN : Number(env);
  return Number.isFinite(us) && us >= 0 ? Math.min(Math.floor(us), 1000) : 20;
}

export class RingConsumer {
  producerWakes = 0;
  spinHits = 0;
  spinMisses = 0;
  spinSkips = 0;
  private onReady: (() => void) | null = null;
  private waiting = false;
  private destroyed = false;
  private readonly keepAlive: NodeJS.Timeout;
  private backlog = new Int32Array(64);
  private backlogN = 0;

  constructor(readonly v: RingView, private readonly host: HostView) {
    this.keepAlive = setInterval(() => {}, 1e9);
    this.keepAlive.unref();
  }

  start(onReady: () => void): void {
    this.onReady = onReady;
  }

  /** SQ head when waitForSpace last poked: a poke needs progress since. */
  private pokedHead = -1;

  /**
   * The executor has SQEs staged that did not fit (it submits 0 then). We
   * never block for room: the flag asks the next producer that claims to
   * notify the CQ tail, which wakes our waitAsync, and the executor submits
   * the rest from the event loop (S3 without stalling the main thread).
   * If room appeared before the flag was up, nobody will notify for it:
   * look now, but only once per head position, so a ring whose limit is
   * the CQ budget (not the SQ) never spins through microtasks.
   */
  waitForSpace(): void {
    const v = this.v;
    const i = v.i32;
    Atomics.store(i, v.sqSpaceWait, 1);
    const head = Atomics.load(i, v.sqHead);
    const used = (Atomics.load(i, v.sqTail) - head) >>> 0;
    if (used < v.layout.sqEntries && head !== this.pokedHead && Atomics.exchange(i, v.sqSpaceWait, 0) !== 0) {
      this.pokedHead = head;
      this.poke();
      return;
    }
    // A backstop, not the mechanism: if the producer's notify ever finds us
    // between waits, look again shortly anyway. (CI once saw a staged
    // backlog behind an 8-entry SQ stall until the test timed out; it did
    // not reproduce. Staged ops must never wait forever, S3.)
    this.retryLater();
  }

  /** After the SQ tail moved: wakes producers only if some sleep. */
  wake(count: number): void {
    const sleepers = this.v.sleepers();
    if (sleepers === 0) return;
    this.producerWakes++;
    this.host.wake(Math.max(1, Math.min(sleepers, count)));
  }

  /**
   * About to publish SQEs: say we are awake, so a producer that answers
   * before our next arm() sends no notify (a sleep flag left up by an idle
   * arm would cost one per batch: a futex wake on its side, a task through
   * the event loop on ours).
   */
  awake(): void {
    const i = this.v.i32;
    if (Atomics.load(i, this.v.consumerSleep) !== 0) Atomics.store(i, this.v.consumerSleep, 0);
  }

  /**
   * Going idle: lets producers that wait for CQ space go on, spins briefly
   * if ops are `inflight`, says we sleep, and returns true if CQEs arrived
   * meanwhile (the caller drains instead).
   */
  arm(inflight = false): boolean {
    const v = this.v;
    const i = v.i32;
    if (Atomics.load(i, v.cqSpaceWait) !== 0 && Atomics.exchange(i, v.cqSpaceWait, 0) !== 0) Atomics.notify(i, v.cqHead);
    if (this.backlogN > 0) this.flushBacklog();
    if (inflight && this.spin()) return true;
    Atomics.store(i, v.consumerSleep, 1);
    const tail = Atomics.load(i, v.cqTail);
    if (tail !== Atomics.load(i, v.cqHead)) return true;
    if (!this.waiting && !this.destroyed) {
      const w = waitAsync(i, v.cqTail, tail);
      if (!w.async) return true;
      this.waiting = true;
      void w.value.then(this.woken);
    }
    return this.backlogN > 0 && this.retryLater();
  }

  private readonly woken = (): void => {
    this.waiting = false;
    if (!this.destroyed) this.onReady?.();
  };

  private retryScheduled = false;

  /** The backlog could not go out now: try again shortly, from the loop. */
  private retryLater(): boolean {
    if (!this.retryScheduled) {
      this.retryScheduled = true;
      setTimeout(() => {
        this.retryScheduled = false;
        if (!this.destroyed) this.onReady?.();
      }, 1).unref();
    }
    return false;
  }

  /** Blocks this (non-main) thread until the CQ has entries, up to `ms`. */
  waitSync(ms: number): void {
    const v = this.v;
    const i = v.i32;
    Atomics.store(i, v.consumerSleep, 1);
    const tail = Atomics.load(i, v.cqTail);
    if (tail === Atomics.load(i, v.cqHead)) Atomics.wait(i, v.cqTail, tail, ms);
  }

  /** Spin budget now (us): halved by every miss, reset by a hit. */
  private spinUs = SPIN_MAX_US;
  private spinless = 0;

  /**
   * Watches the CQ tail for up to the spin budget, awake (so the producer
   * sends no notify); returns whether CQEs came. Slow ops (a scheme doing
   * real I/O) make spins miss, and then they shrink to nothing: a consumer
   * waiting on milliseconds-long ops pays four short spins (37 us) per 12
   * arms. A hiccup (a GC pause in the producer) costs fast ops 8 arms
   * without a spin.
   */
  private spin(): boolean {
    if (this.spinUs === 0) {
      if (SPIN_MAX_US === 0 || ++this.spinless < SPIN_RETRY_ARMS) {
        this.spinSkips++;
        return false;
      }
      this.spinless = 0;
      this.spinUs = SPIN_MAX_US;
    }
    const v = this.v;
    const i = v.i32;
    // Awake now: a producer that posts while we watch need not notify.
    this.awake();
    const head = Atomics.load(i, v.cqHead);
    const end = performance.now() + this.spinUs / 1000;
    for (let k = 1; ; k++) {
      if (Atomics.load(i, v.cqTail) !== head) {
        this.spinUs = SPIN_MAX_US;
        this.spinHits++;
        return true;
      }
      // performance.now() costs ten loads or more: look at the clock every 64th.
      if ((k & 63) === 0 && performance.now() > end) break;
    }
    this.spinUs = this.spinUs < 4 ? 0 : this.spinUs >> 1;
    this.spinMisses++;
    return false;
  }

  /** Has the executor drain soon (after CQEs of our own making). Never re-enters a flush. */
  poke(): void {
    queueMicrotask(() => {
      if (!this.destroyed) this.onReady?.();
    });
  }

  ref(on: boolean): void {
    if (on) this.keepAlive.ref();
    else this.keepAlive.unref();
  }

  /** Queues a CQE of our own making and tries to publish it now. */
  post(lo: number, hi: number, res: number, flags: number): void {
    if ((this.backlogN + 1) * 4 > this.backlog.length) {
      const grown = new Int32Array(this.backlog.length * 2);
      grown.set(this.backlog);
      this.backlog = grown;
    }
    const o = this.backlogN++ * 4;
    this.backlog[o] = lo;
    this.backlog[o + 1] = hi;
    this.backlog[o + 2] = res;
    this.backlog[o + 3] = flags;
  }

  /** Publishes as much of the backlog as fits; returns how many went out. */
  flushBacklog(): number {
    if (this.backlogN === 0) return 0;
    const k = postCqes(this.v, this.backlog, 0, this.backlogN, CONSUMER_OWNER, false);
    if (k > 0) {
      this.backlog.copyWithin(0, k * 4, this.backlogN * 4);
      this.backlogN -= k;
    }
    return k;
  }

  get pendingBacklog(): number {
    return this.backlogN;
  }

  /** Takes SQEs off the ring as a producer would, when no producer is left to. */
  claimAll(): number[] {
    const v = this.v;
    const i = v.i32;
    const out: number[] = [];
    if (!lock(i, v.claimLock, CONSUMER_OWNER, false, 1_000_000)) return out;
    const mask = v.layout.sqEntries - 1;
    let head = Atomics.load(i, v.sqHead) >>> 0;
    const tail = Atomics.load(i, v.sqTail) >>> 0;
    const n = Math.min((tail - head) >>> 0, v.layout.sqEntries);
    for (let k = 0; k < n; k++, head = (head + 1) >>> 0) {
      const idx = v.arrayBase >= 0 ? v.u32[v.arrayBase + (head & mask)]! & mask : head & mask;
      out.push(v.u32[(idx << 4) + 8]!, v.u32[(idx << 4) + 9]!);
    }
    Atomics.store(i, v.sqHead, head | 0);
    unlock(i, v.claimLock);
    return out;
  }

  stats(): ConsumerStats {
    const v = this.v;
    return {
      producerWakes: this.producerWakes,
      consumerWakes: Atomics.load(v.i32, v.statConsumerWakes),
      spaceWaits: Atomics.load(v.i32, v.statSpaceWaits),
      ackTimeouts: Atomics.load(v.i32, v.statAckTimeouts),
      spinHits: this.spinHits,
      spinMisses: this.spinMisses,
      spinSkips: this.spinSkips,
    };
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    clearInterval(this.keepAlive);
    // Release a pending waitAsync so nothing holds the ring's memory.
    Atomics.notify(this.v.i32, this.v.cqTail);
  }
}
