// The registered file table of a userspace ring, shared by the consumer and
// every producer: one Int32 per slot, -1 when empty. The kernel holds a file
// reference per slot; here a slot holds an fd number, and OWNED marks fds
// the scheme opened itself (direct descriptors: openat with file_index),
// which it must close when the slot is replaced, cleared or unregistered
// (S7). Fds the user registered stay the user's to close.

import { closeSync } from 'node:fs';

export const SLOT_EMPTY = -1;
export const SLOT_OWNED = 0x40000000;
/**
 * Marks a slot the scheme filled with a regular file (it looked once, at
 * open): reads at the file position then need no fstat per read to rule
 * out a pipe (see fs-scheme.ts).
 */
export const SLOT_REGULAR = 0x20000000;
const FD_MASK = ~(SLOT_OWNED | SLOT_REGULAR);

export class FileTable {
  readonly slots: Int32Array;

  constructor(readonly sab: SharedArrayBuffer) {
    this.slots = new Int32Array(sab);
  }

  static create(nr: number): FileTable {
    const t = new FileTable(new SharedArrayBuffer(Math.max(nr, 1) * 4));
    t.slots.fill(SLOT_EMPTY);
    return t;
  }

  get nr(): number {
    return this.slots.length;
  }

  /** The fd in `slot`, or -1. */
  fd(slot: number): number {
    const v = Atomics.load(this.slots, slot);
    return v < 0 ? -1 : v & FD_MASK;
  }

  /** Whether `slot` holds a file the scheme opened and found regular. */
  regular(slot: number): boolean {
    return (Atomics.load(this.slots, slot) & SLOT_REGULAR) !== 0;
  }

  /** Puts `value` in `slot`; closes what the slot owned before. */
  install(slot: number, value: number): void {
    closeOwned(Atomics.exchange(this.slots, slot, value));
  }

  /** The lowest empty slot, now holding `value`; -1 when the table is full. */
  alloc(value: number): number {
    for (let s = 0; s < this.slots.length; s++) {
      if (Atomics.load(this.slots, s) === SLOT_EMPTY && Atomics.compareExchange(this.slots, s, SLOT_EMPTY, value) === SLOT_EMPTY) return s;
    }
    return -1;
  }

  /** Empties `slot`; returns false if it was empty already. */
  clear(slot: number): boolean {
    const old = Atomics.exchange(this.slots, slot, SLOT_EMPTY);
    closeOwned(old);
    return old !== SLOT_EMPTY;
  }

  /** Closes every fd the table owns (unregister, ring teardown). */
  clearAll(): void {
    for (let s = 0; s < this.slots.length; s++) this.clear(s);
  }
}

function closeOwned(v: number): void {
  if (v >= 0 && v & SLOT_OWNED) {
    try {
      closeSync(v & FD_MASK);
    } catch {
      // Already closed behind our back: nothing leaks.
    }
  }
}
