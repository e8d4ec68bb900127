// The live-block hash: granule offset -> block record, because free() and sizeOf()
// get only an offset. Open addressing with linear probing over (key, record) pairs
// stored side by side in one Int32Array; deletion shifts entries back rather than
// leaving tombstones, so probe paths never fill up with dead slots. A slot is the
// index of its key word; the record index sits in the word after.
//
// Free functions over the table rather than a class: Tlsf keeps the table and its
// shift in its own fields, so free() reaches the table in one load, not two.

import * as layout from './tlsf-layout.js';

// Local copies, not imported bindings, for speed: see the imports of allocator.ts.
const NIL = layout.NIL;
const invariant: typeof layout.invariant = layout.invariant;

export const HASH_EMPTY = -1;
const HASH_MULTIPLIER = 0x9e3779b1 | 0;

// Fibonacci hashing: the product's top bits are its best mixed, so they pick the slot
// (a table of 2^(32 - shift) slots).
function home(key: number, shift: number): number {
  return (Math.imul(key, HASH_MULTIPLIER) >>> shift) << 1;
}

/** The slot holding `key`, or NIL. */
export function hashFind(table: Int32Array, shift: number, key: number): number {
  const mask = table.length - 1;
  for (let slot = home(key, shift); ; slot = (slot + 2) & mask) {
    const k = table[slot]!;
    if (k === key) return slot;
    if (k === HASH_EMPTY) return NIL;
  }
}

/** Adds `key` -> `b`; the caller has made room and counts the entry. */
export function hashInsert(table: Int32Array, shift: number, key: number, b: number): void {
  const mask = table.length - 1;
  let slot = home(key, shift);
  while (table[slot] !== HASH_EMPTY) {
    invariant(table[slot] !== key, 'a live offset is handed out once');
    slot = (slot + 2) & mask;
  }
  table[slot] = key;
  table[slot + 1] = b;
}

/** Empties `slot`, moving later entries of its cluster back so that all stay reachable. */
export function hashDelete(table: Int32Array, shift: number, slot: number): void {
  const mask = table.length - 1;
  let hole = slot;
  for (let j = (hole + 2) & mask; table[j] !== HASH_EMPTY; j = (j + 2) & mask) {
    // An entry may fill the hole only if the hole lies on its probe path.
    const k = table[j]!;
    if (((j - home(k, shift)) & mask) >= ((j - hole) & mask)) {
      table[hole] = k;
      table[hole + 1] = table[j + 1]!;
      hole = j;
    }
  }
  table[hole] = HASH_EMPTY;
}

/** A table of twice as many slots holding `old`'s entries; `shift` is for the new size. */
export function hashGrown(old: Int32Array, shift: number): Int32Array {
  const table = new Int32Array(old.length * 2).fill(HASH_EMPTY);
  for (let i = 0; i < old.length; i += 2) {
    if (old[i] !== HASH_EMPTY) hashInsert(table, shift, old[i]!, old[i + 1]!);
  }
  return table;
}
