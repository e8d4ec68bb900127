// Cancellation across producers, through the shared ledgers.
//
// 1. The canceller (an ASYNC_CANCEL or TIMEOUT_REMOVE running on any
//    producer) flags each matching entry CANCEL_REQ with a compareExchange
//    from QUEUED, PARKED or RUNNING (a lost exchange looks again: the owner
//    may have moved it from RUNNING to PARKED meanwhile).
// 2. An entry caught RUNNING is a synchronous call in progress that cannot
//    be interrupted. Its owner acks when the call returns: ACK_CANCELLED if
//    the op went on to wait (it is then cancelled, as the kernel would have
//    found it waiting), ACK_FINISHED if it completed. The canceller waits
//    for the ack, briefly.
// 3. The canceller commits to each found entry (CANCEL_REQ to CANCEL_GO +
//    its index, unless the owner took it back to report a result it already
//    had) and answers it itself: the cancelled ops' -ECANCELED CQEs go out
//    right after its own, in the same publication, as the kernel posts them
//    in one go. A caller awaiting the cancel sees it and everything it
//    cancelled in one drain. Once published, the entries become CANCEL_DONE
//    and CANCEL_SEQ moves: the owners clean up and run the rest of their
//    chains, posting nothing for the cancelled SQE.

import {
  L_QUEUED, L_RUNNING, L_PARKED, L_CANCEL_REQ, L_CANCEL_GO, L_CANCEL_DONE, L_LINKED, L_POSTING, ACK_CANCELLED, ACK_FINISHED, isCancelGo,
} from './layout.js';
import type { Producer } from './producer.js';

/** How long a canceller waits for a running op to say how it ended. */
const ACK_WAIT_MS = 100;

/**
 * Flags a ledger entry CANCEL_REQ; returns the state it replaced, or the
 * state that left it alone (FREE, LINKED, already flagged, ...).
 */
export function flag(states: Int32Array, slot: number): number {
  for (;;) {
    const st = Atomics.load(states, slot);
    if (st !== L_QUEUED && st !== L_PARKED && st !== L_RUNNING) return st;
    if (Atomics.compareExchange(states, slot, st, L_CANCEL_REQ) === st) return st;
  }
}

export type Entry = readonly [owner: number, slot: number];

/** Calls `fn` for each live entry of every producer's ledger until it returns true. */
export function scan(p: Producer, fn: (owner: number, slot: number, sqes: Uint32Array) => boolean): void {
  const cap = p.v.layout.ledgerCap;
  for (let o = 0; o < p.ledgers.length; o++) {
    const { states, sqes } = p.ledgers[o]!;
    for (let slot = 0; slot < cap; slot++) {
      const st = Atomics.load(states, slot);
      if (st < L_QUEUED || st === L_LINKED || st === L_POSTING || st === L_CANCEL_DONE || isCancelGo(st)) continue;
      if (fn(o, slot, sqes)) return;
    }
  }
}

/**
 * After flagging an entry caught RUNNING: true if its op went on to wait
 * and is now cancelled; false if it finished (or we could not wait: the
 * main thread never blocks), in which case the flag is taken back.
 */
export function settleRunning(p: Producer, owner: number, slot: number): boolean {
  const { states, acks } = p.ledgers[owner]!;
  if (p.canBlock) {
    const until = performance.now() + ACK_WAIT_MS;
    for (let left = ACK_WAIT_MS; left > 0; left = until - performance.now()) {
      const a = Atomics.load(acks, slot);
      if (a !== 0) return a === ACK_CANCELLED;
      Atomics.wait(acks, slot, 0, left);
    }
  }
  if (p.canBlock) Atomics.add(p.v.i32, p.v.statAckTimeouts, 1);
  // Still running: take the flag back, unless the owner acked meanwhile (if
  // it acks just after, it sees the flag gone and parks as usual).
  if (Atomics.load(acks, slot) === ACK_CANCELLED) return true;
  if (Atomics.compareExchange(states, slot, L_CANCEL_REQ, L_RUNNING) === L_CANCEL_REQ) return false;
  return Atomics.load(acks, slot) === ACK_CANCELLED;
}

/** The owner's side of step 2. */
export function ack(acks: Int32Array, slot: number, cancelled: boolean): void {
  Atomics.store(acks, slot, cancelled ? ACK_CANCELLED : ACK_FINISHED);
  Atomics.notify(acks, slot);
}

/**
 * Step 3: commits to the entries found (returns how many it kept) and has
 * the producer post their answers right after the current op's CQE.
 */
export function answer(p: Producer, entries: Entry[]): number {
  const go = L_CANCEL_GO + p.index;
  const kept = entries.filter(([owner, slot]) => Atomics.compareExchange(p.ledgers[owner]!.states, slot, L_CANCEL_REQ, go) === L_CANCEL_REQ);
  if (kept.length > 0) p.answerAfterCurrent(kept);
  return kept.length;
}

/** After the answers are published: the owners may clean up. */
export function answered(p: Producer, entries: readonly Entry[]): void {
  const go = L_CANCEL_GO + p.index;
  for (const [owner, slot] of entries) Atomics.compareExchange(p.ledgers[owner]!.states, slot, go, L_CANCEL_DONE);
  Atomics.add(p.v.i32, p.v.cancelSeq, 1);
  p.host.wake();
}
