// Tlsf.check(): an O(n) walk over every structure that throws on the first broken
// invariant. Tests call it after each step; the allocator never does.

import { HASH_EMPTY, hashFind } from './tlsf-hash.js';
import {
  FL_COUNT, FNEXT, FPREV, NEXT, NIL, OFF, PREV, SIZE, SL_BITS, SL_COUNT, STATE, STATE_FREE,
  STATE_UNUSED, STATE_USED, STRIDE, classOf, invariant,
} from './tlsf-layout.js';

/** Tlsf's fields, handed over as they are because they are private to the class. */
export interface TlsfState {
  granules: number;
  usedGranules: number;
  rec: Int32Array;
  spare: Int32Array;
  spareTop: number;
  flBitmap: number;
  slBitmap: Int32Array;
  heads: Int32Array;
  table: Int32Array;
  hashShift: number;
  hashCount: number;
}

export function checkTlsf(s: TlsfState): void {
  const { freeBlocks, usedBlocks, usedGranules } = checkTiling(s);
  invariant(usedGranules === s.usedGranules, 'used matches the live blocks');
  invariant(usedBlocks === s.hashCount, 'every live block is in the hash');
  invariant(checkFreeLists(s) === freeBlocks, 'every free block is on its list');
  checkHash(s);
  const records = s.rec.length / STRIDE;
  invariant(s.spareTop + freeBlocks + usedBlocks === records, 'records are blocks or spare');
  for (let i = 0; i < s.spareTop; i++) {
    invariant(s.rec[s.spare[i]! + STATE] === STATE_UNUSED, 'spare records are unused');
  }
}

function checkTiling(s: TlsfState): { freeBlocks: number; usedBlocks: number; usedGranules: number } {
  const rec = s.rec;
  let freeBlocks = 0;
  let usedBlocks = 0;
  let usedGranules = 0;
  let expectedOff = 0;
  let prev = NIL;
  for (let b = 0; b !== NIL; prev = b, b = rec[b + NEXT]!) {
    invariant((freeBlocks + usedBlocks) * STRIDE < rec.length, 'the block chain ends');
    const state = rec[b + STATE]!;
    invariant(state === STATE_FREE || state === STATE_USED, 'chained blocks are live');
    invariant(rec[b + PREV] === prev, 'physical links are symmetric');
    invariant(rec[b + OFF] === expectedOff, 'blocks tile without gap or overlap');
    invariant(rec[b + SIZE]! > 0, 'blocks are not empty');
    if (state === STATE_FREE) {
      invariant(prev === NIL || rec[prev + STATE] !== STATE_FREE, 'free blocks coalesce');
      freeBlocks++;
    } else {
      usedBlocks++;
      usedGranules += rec[b + SIZE]!;
    }
    expectedOff += rec[b + SIZE]!;
  }
  invariant(expectedOff === s.granules, 'blocks cover the whole capacity');
  return { freeBlocks, usedBlocks, usedGranules };
}

function checkFreeLists(s: TlsfState): number {
  let listed = 0;
  for (let fl = 0; fl < FL_COUNT; fl++) {
    const slMap = s.slBitmap[fl]!;
    invariant(((s.flBitmap >>> fl) & 1) === (slMap !== 0 ? 1 : 0), 'fl bit iff sl bits');
    for (let sl = 0; sl < SL_COUNT; sl++) {
      const cls = (fl << SL_BITS) | sl;
      const head = s.heads[cls]!;
      invariant(((slMap >>> sl) & 1) === (head !== NIL ? 1 : 0), 'sl bit iff list');
      listed += checkList(s.rec, cls, head);
    }
  }
  return listed;
}

function checkList(rec: Int32Array, cls: number, head: number): number {
  let count = 0;
  let prev = NIL;
  for (let b = head; b !== NIL; prev = b, b = rec[b + FNEXT]!) {
    invariant(++count * STRIDE <= rec.length, 'free lists end');
    invariant(rec[b + STATE] === STATE_FREE, 'listed blocks are free');
    invariant(rec[b + FPREV] === prev, 'free links are symmetric');
    invariant(classOf(rec[b + SIZE]!) === cls, 'free blocks sit in their class');
  }
  return count;
}

function checkHash(s: TlsfState): void {
  const table = s.table;
  let count = 0;
  for (let slot = 0; slot < table.length; slot += 2) {
    const key = table[slot]!;
    if (key === HASH_EMPTY) continue;
    count++;
    const b = table[slot + 1]!;
    invariant(s.rec[b + STATE] === STATE_USED && s.rec[b + OFF] === key, 'hash is accurate');
    invariant(hashFind(table, s.hashShift, key) === slot, 'hash entries are reachable');
  }
  invariant(count === s.hashCount, 'hash count');
}
