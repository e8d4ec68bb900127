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

const SL_BITS = 5;
const SL_COUNT = 1 << SL_BITS;
const SL_MASK = SL_COUNT - 1;
// The biggest block, 2^30 granules, has msb 30: first level 30 - SL_BITS + 1.
const FL_COUNT = 30 - SL_BITS + 2;
const CLASS_COUNT = FL_COUNT * SL_COUNT;

// Enough to find a fit among a few near-misses, small enough to stay O(1).
const FALLBACK_PROBES = 32;

// Block record fields. A block is named by the index of its record's first word.
const OFF = 0; // granules
const SIZE = 1; // granules
const PREV = 2; // physical neighbours
const NEXT = 3;
const FPREV = 4; // free-list neighbours, meaningful while free
const FNEXT = 5;
const STATE = 6;
const STRIDE = 8;

const NIL = -1;
const STATE_UNUSED = 0;
const STATE_FREE = 1;
const STATE_USED = 2;

const HASH_EMPTY = -1;
const HASH_MULTIPLIER = 0x9e3779b1 | 0;

function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`tlsf invariant violated: ${message}`);
}

function badFree(offset: unknown): Error & { code: string } {
  const shown = typeof offset === 'number' ? String(offset) : `(${typeof offset})`;
  const err = new Error(
    `free(${shown}): not the start of a live allocation ` +
      '(double free, an offset inside a block, or one this allocator never returned)',
  ) as Error & { code: string };
  err.code = 'ERR_URING_BAD_FREE';
  return err;
}

function ffs(bits: number): number {
  return 31 - Math.clz32(bits & -bits);
}

/** The class holding blocks of `granules` granules (1 <= granules < 2^31). */
function classOf(granules: number): number {
  if (granules < SL_COUNT) return granules;
  const msb = 31 - Math.clz32(granules);
  const fl = msb - SL_BITS + 1;
  return (fl << SL_BITS) | ((granules >>> (msb - SL_BITS)) & SL_MASK);
}

/** The lowest class whose every block has at least `granules` granules. */
function searchClassOf(granules: number): number {
  if (granules < SL_COUNT) return granules;
  const msb = 31 - Math.clz32(granules);
  return classOf(granules + (1 << (msb - SL_BITS)) - 1);
}

/** The smallest x >= off with (x + skew) a multiple of `align`; all in granules. */
function alignUp(off: number, align: number, skew: number): number {
  const rem = (off + skew) & (align - 1);
  return rem === 0 ? off : off + align - rem;
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
    this.hashDelete(slot);
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
    this.hashInsert(rec[b + OFF]!, b);
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

  // ---- live-block hash: linear probing, backward-shift deletion (no tombstones) ----
  // A slot is the index of its key word; the record index sits in the word after.

  private home(key: number): number {
    return (Math.imul(key, HASH_MULTIPLIER) >>> this.hashShift) << 1;
  }

  /** Hash slot of the live block starting at byte `offset`, or NIL. */
  private slotOf(offset: number): number {
    if (typeof offset !== 'number' || !(offset >= 0 && offset < this.bytes)) return NIL;
    const key = offset / TLSF_GRANULE;
    if ((key | 0) !== key) return NIL;
    const table = this.table;
    const mask = table.length - 1;
    for (let slot = this.home(key); ; slot = (slot + 2) & mask) {
      const k = table[slot]!;
      if (k === key) return slot;
      if (k === HASH_EMPTY) return NIL;
    }
  }

  private hashInsert(key: number, b: number): void {
    const table = this.table;
    const mask = table.length - 1;
    let slot = this.home(key);
    while (table[slot] !== HASH_EMPTY) {
      invariant(table[slot] !== key, 'a live offset is handed out once');
      slot = (slot + 2) & mask;
    }
    table[slot] = key;
    table[slot + 1] = b;
    this.hashCount++;
  }

  private hashDelete(slot: number): void {
    const table = this.table;
    const mask = table.length - 1;
    let hole = slot;
    for (let j = (hole + 2) & mask; table[j] !== HASH_EMPTY; j = (j + 2) & mask) {
      // An entry may fill the hole only if the hole lies on its probe path.
      const k = table[j]!;
      if (((j - this.home(k)) & mask) >= ((j - hole) & mask)) {
        table[hole] = k;
        table[hole + 1] = table[j + 1]!;
        hole = j;
      }
    }
    table[hole] = HASH_EMPTY;
    this.hashCount--;
  }

  private growHash(): void {
    const old = this.table;
    this.table = new Int32Array(old.length * 2).fill(HASH_EMPTY);
    this.hashShift--;
    this.hashCount = 0;
    for (let i = 0; i < old.length; i += 2) {
      if (old[i] !== HASH_EMPTY) this.hashInsert(old[i]!, old[i + 1]!);
    }
  }

  // ---- debug ----

  /** Walks every structure and throws if any invariant does not hold. O(n). */
  check(): void {
    const { freeBlocks, usedBlocks, usedGranules } = this.checkTiling();
    invariant(usedGranules === this.usedGranules, 'used matches the live blocks');
    invariant(usedBlocks === this.hashCount, 'every live block is in the hash');
    invariant(this.checkFreeLists() === freeBlocks, 'every free block is on its list');
    this.checkHash();
    const records = this.rec.length / STRIDE;
    invariant(this.spareTop + freeBlocks + usedBlocks === records, 'records are blocks or spare');
    for (let i = 0; i < this.spareTop; i++) {
      invariant(this.rec[this.spare[i]! + STATE] === STATE_UNUSED, 'spare records are unused');
    }
  }

  private checkTiling(): { freeBlocks: number; usedBlocks: number; usedGranules: number } {
    const rec = this.rec;
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
    invariant(expectedOff === this.granules, 'blocks cover the whole capacity');
    return { freeBlocks, usedBlocks, usedGranules };
  }

  private checkFreeLists(): number {
    let listed = 0;
    for (let fl = 0; fl < FL_COUNT; fl++) {
      const slMap = this.slBitmap[fl]!;
      invariant(((this.flBitmap >>> fl) & 1) === (slMap !== 0 ? 1 : 0), 'fl bit iff sl bits');
      for (let sl = 0; sl < SL_COUNT; sl++) {
        const cls = (fl << SL_BITS) | sl;
        const head = this.heads[cls]!;
        invariant(((slMap >>> sl) & 1) === (head !== NIL ? 1 : 0), 'sl bit iff list');
        listed += this.checkList(cls, head);
      }
    }
    return listed;
  }

  private checkList(cls: number, head: number): number {
    const rec = this.rec;
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

  private checkHash(): void {
    const table = this.table;
    let count = 0;
    for (let slot = 0; slot < table.length; slot += 2) {
      const key = table[slot]!;
      if (key === HASH_EMPTY) continue;
      count++;
      const b = table[slot + 1]!;
      invariant(this.rec[b + STATE] === STATE_USED && this.rec[b + OFF] === key, 'hash is accurate');
      invariant(this.slotOf(key * TLSF_GRANULE) === slot, 'hash entries are reachable');
    }
    invariant(count === this.hashCount, 'hash count');
  }
}
