// TLSF (two-level segregated fit) over one range of offsets [0, capacity).
//
// The buffer pool creates one of these per registered memory region. It deals only
// in offsets and never touches the memory, so block metadata lives outside the
// managed range. That has two consequences worth knowing:
//
// - There are no in-band headers, so a split can leave a remainder as small as one
//   granule. Internal fragmentation is therefore only the rounding of a request up
//   to the 16-byte granule: a block handed out is at most 15 bytes larger than asked
//   (sizeOf(off) - max(size, 1) < 16). Alignment padding is never charged to the
//   block; the leading gap goes back to the free lists.
// - Each block is a 32-byte record in one Int32Array, and the free lists are
//   intrusive doubly-linked lists through those records. A JS object per block would
//   put every block on the GC's plate; separate arrays per field would spread one
//   block over seven cache lines and cost a bounds-checked array load per field.
//
// Size classes: sizes are counted in granules. Below 32 granules (512 B) every size
// has its own class. Above, each power of two is cut into 32 classes, so a class
// spans at most 1/32 of its lower bound. alloc() rounds the request up to the next
// class boundary, which makes the head of any class it finds big enough: the search
// is two find-first-set operations on the bitmaps, O(1) whatever the heap looks like.
// The price of rounding is that a free block in the request's own class but smaller
// than the boundary is not seen by that search; a bounded probe (FALLBACK_PROBES
// list entries) covers that case so that, for example, alloc(capacity) on an empty
// allocator and alloc(largestFree()) always succeed, and the worst case stays O(1).
//
// Costs: alloc is O(1) worst case (bitmap search, at most FALLBACK_PROBES list
// entries, a constant number of splits). free is O(1) expected: it has only an offset
// to go on, so it finds the block through a hash. Metadata growth (records, hash)
// doubles and is amortized; it happens before any state changes, never mid-split.
// Nothing shrinks: metadata stays sized for the peak number of blocks.
//
// Alignment is of offsets relative to the start of the region, shifted by an optional
// `skew`: alloc(size, align, skew) returns an offset with (offset + skew) % align == 0.
// The pool passes the region's base address modulo `align` as the skew, so what is
// aligned is the final address, even for alignments above the base's own (a region
// base is only guaranteed page aligned). Alignments up to 16 cost nothing extra;
// larger ones search for size + align - 16 bytes so that any block found has room
// after its aligned start, and the leading gap stays free.

import { checkTlsf } from './tlsf-check.js';
import * as hash from './tlsf-hash.js';
import * as layout from './tlsf-layout.js';

// Module-local copies on purpose: V8 reads an imported binding through its module
// cell, with a TDZ check, on every use, before it can fold a constant or inline a
// function. Importing these directly measured about 20% fewer alloc+free pairs per
// second (bench/alloc.ts); these copies measure the same as the old literals.
const {
  CLASS_COUNT, FL_COUNT, FNEXT, FPREV, NEXT, NIL, OFF, PREV, SIZE, SL_BITS, SL_MASK, STATE,
  STATE_FREE, STATE_UNUSED, STATE_USED, STRIDE, alignUp, classOf, ffs, searchClassOf,
} = layout;
const { HASH_EMPTY, hashDelete, hashFind, hashGrown, hashInsert } = hash;
// An assertion function needs its type spelled out to narrow at call sites.
const invariant: typeof layout.invariant = layout.invariant;

const GRANULE_SHIFT = 4;
/** Every block is a multiple of this many bytes, and at least this big. */
export const TLSF_GRANULE = 1 << GRANULE_SHIFT;

// Sizes and offsets in granules stay below 2^30, so every sum the allocator forms
// (size + alignment padding + class rounding) is still a non-negative int32 and V8
// keeps all of it in integer registers. The kernel caps one registered buffer at
// 1 GiB anyway, so 16 GiB per region is not the limit anyone will hit.
/** Largest region one allocator manages: 16 GiB. */
export const TLSF_MAX_CAPACITY = 2 ** 34;
/** Largest alignment alloc() accepts: 2 GiB. */
export const TLSF_MAX_ALIGN = 2 ** 31;

// Enough to find a fit among a few near-misses, small enough to stay O(1).
const FALLBACK_PROBES = 32;

function badFree(offset: unknown): Error & { code: string } {
  const shown = typeof offset === 'number' ? String(offset) : `(${typeof offset})`;
  const err = new Error(
    `free(${shown}): not the start of a live allocation ` +
      '(double free, an offset inside a block, or one this allocator never returned)',
  ) as Error & { code: string };
  err.code = 'ERR_URING_BAD_FREE';
  return err;
}

function checkSize(size: number): void {
  if ((size >>> 0) === size) return; // the common case, in one compare
  if (typeof size !== 'number') {
    throw new TypeError(`alloc: size must be a number, got ${typeof size}`);
  }
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`alloc: size must be a non-negative integer, got ${size}`);
  }
}

function checkAlign(align: number): void {
  if ((align | 0) === align && align > 0 && (align & (align - 1)) === 0) return;
  if (typeof align !== 'number') {
    throw new TypeError(`alloc: align must be a number, got ${typeof align}`);
  }
  if (align !== TLSF_MAX_ALIGN) {
    throw new RangeError(
      `alloc: align must be a power of two from 1 to ${TLSF_MAX_ALIGN}, got ${align}`,
    );
  }
}

/** `skew` reduced modulo `align`; both in bytes. */
function checkSkew(skew: number, align: number): number {
  if (!Number.isSafeInteger(skew) || skew < 0 || skew % TLSF_GRANULE !== 0) {
    throw new RangeError(`alloc: skew must be a non-negative multiple of ${TLSF_GRANULE}, got ${skew}`);
  }
  // Below the granule every offset is aligned whatever the skew.
  return align <= TLSF_GRANULE ? 0 : skew % align;
}

export class Tlsf {
  private readonly granules: number;
  private readonly bytes: number;

  private rec: Int32Array;
  private spare: Int32Array; // stack of unused record indices
  private spareTop = 0;

  private flBitmap = 0;
  private readonly slBitmap = new Int32Array(FL_COUNT);
  private readonly heads = new Int32Array(CLASS_COUNT).fill(NIL);

  // free() gets only an offset, so live blocks are found through an open-addressing
  // hash of (granule offset, record) pairs stored side by side. Measured against a
  // Map<offset, record> in the same spot: about 25% more alloc+free pairs per second.
  // Free blocks never need finding by offset, so only live ones are in it.
  private table: Int32Array;
  private hashShift: number;
  private hashCount = 0;

  private usedGranules = 0;

  constructor(capacity: number) {
    if (typeof capacity !== 'number') {
      throw new TypeError(`Tlsf: capacity must be a number, got ${typeof capacity}`);
    }
    if (!Number.isInteger(capacity) || capacity < TLSF_GRANULE || capacity > TLSF_MAX_CAPACITY) {
      throw new RangeError(
        `Tlsf: capacity must be an integer from ${TLSF_GRANULE} to ${TLSF_MAX_CAPACITY}, ` +
          `got ${capacity}`,
      );
    }
    // A tail shorter than a granule cannot hold a block; it is simply not managed.
    this.granules = Math.floor(capacity / TLSF_GRANULE);
    this.bytes = this.granules * TLSF_GRANULE;

    this.rec = new Int32Array(0);
    this.spare = new Int32Array(0);
    this.growRecords(64);
    const slots = 128;
    this.table = new Int32Array(slots * 2).fill(HASH_EMPTY);
    this.hashShift = 32 - Math.log2(slots);

    const b = this.newRecord();
    invariant(b === 0, 'the block at offset 0 is record 0');
    const rec = this.rec;
    rec[b + OFF] = 0;
    rec[b + SIZE] = this.granules;
    rec[b + PREV] = NIL;
    rec[b + NEXT] = NIL;
    this.link(b);
  }

  /** Managed bytes: the constructor's capacity rounded down to the granule. */
  get capacity(): number {
    return this.bytes;
  }

  /** Bytes in live blocks (granule-rounded, so >= the sum of requested sizes). */
  get used(): number {
    return this.usedGranules * TLSF_GRANULE;
  }

  get freeBytes(): number {
    return (this.granules - this.usedGranules) * TLSF_GRANULE;
  }

  get liveCount(): number {
    return this.hashCount;
  }

  /**
   * The size of a free block in the highest non-empty size class, read from the
   * bitmaps in O(1). It is a real free block, so alloc(largestFree()) succeeds; it is
   * exact below 512 B and otherwise at most 1/32 below the true largest free block.
   * 0 when nothing is free.
   */
  largestFree(): number {
    if (this.flBitmap === 0) return 0;
    const fl = 31 - Math.clz32(this.flBitmap);
    const sl = 31 - Math.clz32(this.slBitmap[fl]!);
    return this.rec[this.heads[(fl << SL_BITS) | sl]! + SIZE]! * TLSF_GRANULE;
  }

  /**
   * Offset of a block of at least `size` bytes (at least one granule) such that
   * offset + skew is a multiple of `align`, or -1 if no free block can hold it.
   * `skew` must be a multiple of the granule (only its value modulo `align` counts).
   */
  alloc(size: number, align = 16, skew = 0): number {
    checkSize(size);
    checkAlign(align);
    if (skew !== 0) skew = checkSkew(skew, align);
    if (size > this.bytes || align > this.bytes) return -1;
    // Reserve everything this call may need up front so that growth can never
    // interrupt a half-done split.
    this.reserve();
    const granules = size === 0 ? 1 : (size + TLSF_GRANULE - 1) / TLSF_GRANULE | 0;
    const b = align <= TLSF_GRANULE
      ? this.takeFit(granules)
      : this.takeAligned(granules, align >>> GRANULE_SHIFT, skew >>> GRANULE_SHIFT);
    return b === NIL ? -1 : this.rec[b + OFF]! * TLSF_GRANULE;
  }

  /** Returns a live block to the free lists, merging it with free neighbours. */
  free(offset: number): void {
    const slot = this.slotOf(offset);
    if (slot === NIL) throw badFree(offset);
    const rec = this.rec;
    const b = this.table[slot + 1]!;
    invariant(rec[b + STATE] === STATE_USED, 'the hash maps only live blocks');
    hashDelete(this.table, this.hashShift, slot);
    this.hashCount--;
    this.usedGranules -= rec[b + SIZE]!;

    let merged = b;
    const next = rec[b + NEXT]!;
    if (next !== NIL && rec[next + STATE] === STATE_FREE) {
      this.unlink(next);
      this.absorbNext(b, next);
    }
    const prev = rec[b + PREV]!;
    if (prev !== NIL && rec[prev + STATE] === STATE_FREE) {
      this.unlink(prev);
      this.absorbNext(prev, b);
      merged = prev;
    }
    this.link(merged);
  }

  /** Usable bytes of the live allocation at `offset`, or -1 if there is none. */
  sizeOf(offset: number): number {
    const slot = this.slotOf(offset);
    return slot === NIL ? -1 : this.rec[this.table[slot + 1]! + SIZE]! * TLSF_GRANULE;
  }

  private takeFit(granules: number): number {
    let b = this.findFree(searchClassOf(granules));
    if (b === NIL) b = this.probe(granules, 1, 0);
    if (b === NIL) return NIL;
    this.unlink(b);
    this.splitTail(b, granules);
    this.markUsed(b);
    return b;
  }

  private takeAligned(granules: number, align: number, skew: number): number {
    // Any block of size + align - 1 granules has an aligned start with room after it.
    let b = this.findFree(searchClassOf(granules + align - 1));
    if (b === NIL) b = this.probe(granules, align, skew);
    if (b === NIL) return NIL;
    this.unlink(b);
    const off = this.rec[b + OFF]!;
    const gap = alignUp(off, align, skew) - off;
    if (gap > 0) b = this.splitGap(b, gap);
    this.splitTail(b, granules);
    this.markUsed(b);
    return b;
  }

  /** Head of the first non-empty class at or above `cls`, or NIL. */
  private findFree(cls: number): number {
    const c = this.nextNonEmptyClass(cls);
    return c === NIL ? NIL : this.heads[c]!;
  }

  private nextNonEmptyClass(cls: number): number {
    let fl = cls >>> SL_BITS;
    if (fl >= FL_COUNT) return NIL;
    let slMap = this.slBitmap[fl]! & (~0 << (cls & SL_MASK));
    if (slMap === 0) {
      const flMap = this.flBitmap & (~0 << (fl + 1));
      if (flMap === 0) return NIL;
      fl = ffs(flMap);
      slMap = this.slBitmap[fl]!;
    }
    return (fl << SL_BITS) | ffs(slMap);
  }

  /**
   * The good-fit search skips blocks in the request's own class (and, when aligning,
   * blocks that fit only because their start happens to be aligned). Look at a
   * bounded number of those, smallest class first, checking the exact fit.
   */
  private probe(granules: number, align: number, skew: number): number {
    const rec = this.rec;
    let budget = FALLBACK_PROBES;
    let cls = classOf(granules);
    for (;;) {
      cls = this.nextNonEmptyClass(cls);
      if (cls === NIL) return NIL;
      for (let b = this.heads[cls]!; b !== NIL; b = rec[b + FNEXT]!) {
        const off = rec[b + OFF]!;
        if (alignUp(off, align, skew) + granules <= off + rec[b + SIZE]!) return b;
        if (--budget === 0) return NIL;
      }
      cls++;
    }
  }

  /** Cuts the first `gap` granules of unlinked block `b` off as a free block. */
  private splitGap(b: number, gap: number): number {
    const rest = this.splitAfter(b, gap);
    // The block was free, so its physical predecessor is used: nothing to merge.
    this.link(b);
    return rest;
  }

  /** Keeps `granules` in unlinked block `b` and frees the remainder, if any. */
  private splitTail(b: number, granules: number): void {
    if (this.rec[b + SIZE] === granules) return;
    // The block was free, so its physical successor is used: nothing to merge.
    this.link(this.splitAfter(b, granules));
  }

  /** Splits block `b` after `keep` granules; returns the second part. */
  private splitAfter(b: number, keep: number): number {
    const tail = this.newRecord();
    const rec = this.rec;
    const size = rec[b + SIZE]!;
    invariant(keep > 0 && keep < size, 'splits fall inside the block');
    const next = rec[b + NEXT]!;
    rec[tail + OFF] = rec[b + OFF]! + keep;
    rec[tail + SIZE] = size - keep;
    rec[tail + PREV] = b;
    rec[tail + NEXT] = next;
    if (next !== NIL) rec[next + PREV] = tail;
    rec[b + NEXT] = tail;
    rec[b + SIZE] = keep;
    return tail;
  }

  /** Merges `next` (already off any list) into its physical predecessor `b`. */
  private absorbNext(b: number, next: number): void {
    const rec = this.rec;
    const after = rec[next + NEXT]!;
    rec[b + SIZE] = rec[b + SIZE]! + rec[next + SIZE]!;
    rec[b + NEXT] = after;
    if (after !== NIL) rec[after + PREV] = b;
    this.releaseRecord(next);
  }

  private markUsed(b: number): void {
    const rec = this.rec;
    rec[b + STATE] = STATE_USED;
    this.usedGranules += rec[b + SIZE]!;
    hashInsert(this.table, this.hashShift, rec[b + OFF]!, b);
    this.hashCount++;
  }

  private link(b: number): void {
    const rec = this.rec;
    const cls = classOf(rec[b + SIZE]!);
    const head = this.heads[cls]!;
    rec[b + STATE] = STATE_FREE;
    rec[b + FPREV] = NIL;
    rec[b + FNEXT] = head;
    if (head !== NIL) rec[head + FPREV] = b;
    this.heads[cls] = b;
    const fl = cls >>> SL_BITS;
    this.slBitmap[fl] = this.slBitmap[fl]! | (1 << (cls & SL_MASK));
    this.flBitmap |= 1 << fl;
  }

  private unlink(b: number): void {
    const rec = this.rec;
    const prev = rec[b + FPREV]!;
    const next = rec[b + FNEXT]!;
    if (next !== NIL) rec[next + FPREV] = prev;
    if (prev !== NIL) {
      rec[prev + FNEXT] = next;
      return;
    }
    const cls = classOf(rec[b + SIZE]!);
    invariant(this.heads[cls] === b, 'a free block without a predecessor heads its list');
    this.heads[cls] = next;
    if (next !== NIL) return;
    const fl = cls >>> SL_BITS;
    const slMap = this.slBitmap[fl]! & ~(1 << (cls & SL_MASK));
    this.slBitmap[fl] = slMap;
    if (slMap === 0) this.flBitmap &= ~(1 << fl);
  }

  // ---- records ----

  /** Ensures one alloc() can take the records and hash slot it needs without growing. */
  private reserve(): void {
    if (this.spareTop < 2) this.growRecords(this.rec.length / STRIDE);
    // Linear probing with backward-shift deletion scans to the end of a cluster on
    // every free; at most 1/4 full keeps clusters short (measured: about 15% more
    // alloc+free pairs per second than 1/2) for 32-64 bytes per live block.
    if ((this.hashCount + 1) * 8 > this.table.length) this.growHash();
  }

  private newRecord(): number {
    invariant(this.spareTop > 0, 'records are reserved before use');
    return this.spare[--this.spareTop]!;
  }

  private releaseRecord(b: number): void {
    this.rec[b + STATE] = STATE_UNUSED;
    this.spare[this.spareTop++] = b;
  }

  private growRecords(more: number): void {
    const old = this.rec.length / STRIDE;
    const count = old + more;
    const rec = new Int32Array(count * STRIDE);
    rec.set(this.rec);
    const spare = new Int32Array(count);
    spare.set(this.spare.subarray(0, this.spareTop));
    // Push in reverse so low records, which sit together in memory, go out first.
    for (let i = count - 1; i >= old; i--) spare[this.spareTop++] = i * STRIDE;
    this.rec = rec;
    this.spare = spare;
  }

  /** Hash slot of the live block starting at byte `offset`, or NIL. */
  private slotOf(offset: number): number {
    if (typeof offset !== 'number' || !(offset >= 0 && offset < this.bytes)) return NIL;
    const key = offset / TLSF_GRANULE;
    if ((key | 0) !== key) return NIL;
    return hashFind(this.table, this.hashShift, key);
  }

  private growHash(): void {
    this.hashShift--;
    this.table = hashGrown(this.table, this.hashShift);
  }

  // ---- debug ----

  /** Walks every structure and throws if any invariant does not hold. O(n). */
  check(): void {
    checkTlsf({
      granules: this.granules,
      usedGranules: this.usedGranules,
      rec: this.rec,
      spare: this.spare,
      spareTop: this.spareTop,
      flBitmap: this.flBitmap,
      slBitmap: this.slBitmap,
      heads: this.heads,
      table: this.table,
      hashShift: this.hashShift,
      hashCount: this.hashCount,
    });
  }
}
