// Regions and chunks: the units of pool memory, and the guard that keeps a
// chunk alive while an op may still touch it (S1).
//
// A chunk counts the SQEs that reference it (`inflight`). Whoever writes an
// SQE pointing into a chunk pins it first and unpins it when that SQE's
// completion has been reaped; the ring's fixed ops do this through
// pinFixed/unpinFixed (lease.ts). Freeing a pinned chunk does not fail and
// does not free: it marks the chunk FREEING and the last unpin reclaims it.
// So "free" means "I am done with it", never "the kernel is done with it".

import type { Tlsf } from './allocator.js';
import { assert } from '../abi/assert.js';
import { uringError, type UringError } from '../errors.js';
import { native } from '../native.js';

/** The addon's calls over pool memory: external views of it, and detaching them. */
export interface NativeMemory {
  view(source: Uint8Array, offset: number, length: number): ArrayBuffer | number;
  detach(ab: ArrayBuffer): number;
}

// URING_LEASE_MODE=copy forgoes them (tests, and a way out should a runtime
// refuse external buffers): leases copy, and regions have no plain alias.
export const nativeMemory: NativeMemory | null =
  process.env.URING_LEASE_MODE !== 'copy' && native && typeof (native as unknown as Partial<NativeMemory>).view === 'function'
    ? (native as unknown as NativeMemory)
    : null;

/** Alignment of a region's first usable byte: enough for O_DIRECT. */
export const REGION_ALIGN = 4096;
/** Synthetic address of region `id` (worker backend): (id + 1) * 2^40 + offset. */
export const SYNTHETIC_SHIFT = 2 ** 40;

/** Region.slot values that are not kernel buffer-table slots. */
export const SLOT_UNTRIED = -1; // not registered yet; may be on first fixed use
export const SLOT_NONE = -2; // will not be registered (failed, too big, no table)

// Chunk states.
export const LIVE = 0;
/** Freed while pinned: reclaimed at the last unpin. */
export const FREEING = 1;
export const FREED = 2;
/** Freed while pinned, and its memory may be aliased: quarantined at the last unpin. */
export const FREEING_QUARANTINE = 3;

/** What a chunk needs from its pool: reclaiming it once the last pin drops. */
export interface ChunkOwner {
  /** @internal */ reclaim(c: Chunk): void;
  /** @internal A chunk became pinned (+1) or unpinned (-1). */
  pinned(delta: number): void;
}

export class Region {
  readonly id: number;
  readonly sab: SharedArrayBuffer;
  /** The usable bytes, starting at an aligned address. */
  readonly bytes: Uint8Array;
  /** Address of bytes[0] as the ring's consumer sees it. */
  readonly addr: number;
  readonly alloc: Tlsf;
  /** Made for one allocation too big for a shared region; dropped when it is freed. */
  readonly dedicated: boolean;
  readonly owner: ChunkOwner;
  /** Kernel buffer-table slot (buf_index), or SLOT_UNTRIED / SLOT_NONE. */
  slot = SLOT_UNTRIED;
  /** Still part of its pool (false once a dedicated region is dropped). */
  attached = true;

  constructor(
    owner: ChunkOwner,
    id: number,
    size: number,
    alloc: Tlsf,
    dedicated: boolean,
    addressOf: ((view: Uint8Array) => number) | null,
    baseAlign = REGION_ALIGN,
  ) {
    assert(baseAlign >= REGION_ALIGN && (baseAlign & (baseAlign - 1)) === 0, 'region base alignment is a power of two >= 4096');
    this.owner = owner;
    this.id = id;
    this.dedicated = dedicated;
    this.alloc = alloc;
    // Padding costs address space only: SharedArrayBuffer memory is zero
    // pages until touched, and registration pins just the usable part.
    this.sab = new SharedArrayBuffer(size + baseAlign);
    // Align the real memory whenever its address is knowable, synthetic
    // addresses or not: a scheme worker doing O_DIRECT on this memory needs
    // the real alignment too.
    const whole = new Uint8Array(this.sab);
    const raw = addressOf ? addressOf(whole) : native ? native.addressOf(whole) : 0;
    const pad = (baseAlign - (raw % baseAlign)) % baseAlign;
    if (addressOf) {
      this.addr = raw + pad;
    } else {
      // Synthetic addresses are 2^40-aligned, more than any request; the
      // real memory is aligned to baseAlign when the addon is loaded.
      this.addr = (id + 1) * SYNTHETIC_SHIFT;
    }
    this.bytes = new Uint8Array(this.sab, pad, size);
  }

  private plainAb: ArrayBuffer | null | undefined = undefined;

  /**
   * The usable memory again, as a plain (unshared) ArrayBuffer over the same
   * bytes, for copies this thread makes between pool memory and its own
   * buffers. V8 copies to or from a SharedArrayBuffer with relaxed atomic
   * word moves, since another thread may write meanwhile: on W1 that copy
   * was 7% of the time, where memmove costs a fraction. Our copies happen
   * before an op is submitted or after its CQE, when nobody else writes
   * the chunk. Never handed to users (it could be transferred). Null
   * without the addon, or where the runtime refuses external buffers: then
   * copy through `bytes`.
   */
  plain(): ArrayBuffer | null {
    if (this.plainAb === undefined) {
      const ab = nativeMemory ? nativeMemory.view(this.bytes, 0, this.bytes.byteLength) : null;
      this.plainAb = ab instanceof ArrayBuffer ? ab : null;
    }
    return this.plainAb;
  }

  /** Offset skew that makes TLSF's offset alignment an address alignment. */
  skew(align: number): number {
    return align <= 16 ? 0 : this.addr % align;
  }
}

/** A piece of pool memory. `addr` is what goes into an SQE. */
export class Chunk {
  /** SQEs referencing this chunk whose completion has not been reaped. */
  inflight = 0;
  /** @internal LIVE, FREEING, FREED or FREEING_QUARANTINE. */
  state = LIVE;

  constructor(
    readonly region: Region,
    readonly offset: number,
    /** Usable bytes: the request rounded up to the 16-byte granule. */
    readonly size: number,
  ) {}

  get addr(): number {
    return this.region.addr + this.offset;
  }

  /** True once freed (even if the free is still waiting for completions). */
  get released(): boolean {
    return this.state !== LIVE;
  }

  /** A view of the chunk's first `len` bytes. Throws ERR_URING_RELEASED once freed. */
  view(len = this.size): Uint8Array {
    this.checkView(len);
    return this.region.bytes.subarray(this.offset, this.offset + len);
  }

  private checkView(len: number): void {
    if (this.state !== LIVE) throw releasedError('view() of a freed chunk');
    assert(len >= 0 && len <= this.size, 'a chunk view stays inside the chunk');
  }

  /**
   * view() for the library's own copies between a chunk and a caller's
   * buffer: over the region's plain alias when there is one, so the copy is
   * a memmove (see Region.plain). Never hand it to users.
   * @internal
   */
  copyView(len = this.size): Uint8Array {
    const plain = this.region.plain();
    if (!plain) return this.view(len);
    this.checkView(len);
    return new Uint8Array(plain, this.offset, len);
  }

  /**
   * Marks one more SQE as referencing this chunk. Call it before the SQE can
   * reach the kernel; a freed chunk refuses (ERR_URING_RELEASED).
   */
  pin(): void {
    if (this.state !== LIVE) throw releasedError('a freed chunk cannot be used by a new operation');
    if (this.inflight++ === 0) this.region.owner.pinned(1);
  }

  /** The completion of a pinning SQE was reaped. The last one reclaims a deferred free. */
  unpin(): void {
    assert(this.inflight > 0, 'unpin() without a matching pin()');
    if (--this.inflight > 0) return;
    this.region.owner.pinned(-1);
    if (this.state === FREEING || this.state === FREEING_QUARANTINE) this.region.owner.reclaim(this);
  }
}

export function releasedError(what: string): UringError {
  return uringError('ERR_URING_RELEASED', `${what}: the memory was released and may belong to someone else now`);
}

export function badFreeError(what: string): UringError {
  return uringError('ERR_URING_BAD_FREE', what);
}
