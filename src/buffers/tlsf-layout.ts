// The numbers TLSF is built on: the size classes (see the header of allocator.ts
// for how alloc() searches them) and the layout of a block record. Shared by the
// allocator and its invariant check; nothing here holds state. Hot code binds these
// to module-local consts instead of importing them by name: see allocator.ts.

export const SL_BITS = 5;
export const SL_COUNT = 1 << SL_BITS;
export const SL_MASK = SL_COUNT - 1;
// Blocks stay below 2^30 granules (see TLSF_MAX_CAPACITY), so the biggest has msb
// 30: first level 30 - SL_BITS + 1.
export const FL_COUNT = 30 - SL_BITS + 2;
export const CLASS_COUNT = FL_COUNT * SL_COUNT;

// Block record fields. A block is named by the index of its record's first word.
export const OFF = 0; // granules
export const SIZE = 1; // granules
export const PREV = 2; // physical neighbours
export const NEXT = 3;
export const FPREV = 4; // free-list neighbours, meaningful while free
export const FNEXT = 5;
export const STATE = 6;
export const STRIDE = 8;

export const NIL = -1;
export const STATE_UNUSED = 0;
export const STATE_FREE = 1;
export const STATE_USED = 2;

export function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`tlsf invariant violated: ${message}`);
}

export function ffs(bits: number): number {
  return 31 - Math.clz32(bits & -bits);
}

/** The class holding blocks of `granules` granules (1 <= granules < 2^31). */
export function classOf(granules: number): number {
  if (granules < SL_COUNT) return granules;
  const msb = 31 - Math.clz32(granules);
  const fl = msb - SL_BITS + 1;
  return (fl << SL_BITS) | ((granules >>> (msb - SL_BITS)) & SL_MASK);
}

/** The lowest class whose every block has at least `granules` granules. */
export function searchClassOf(granules: number): number {
  if (granules < SL_COUNT) return granules;
  const msb = 31 - Math.clz32(granules);
  return classOf(granules + (1 << (msb - SL_BITS)) - 1);
}

/** The smallest x >= off with (x + skew) a multiple of `align`; all in granules. */
export function alignUp(off: number, align: number, skew: number): number {
  const rem = (off + skew) & (align - 1);
  return rem === 0 ? off : off + align - rem;
}
