// The buffer pool: the only memory uring ever hands to the kernel or to a
// scheme worker.
//
// Regions are SharedArrayBuffers. That choice carries the safety argument
// for S1: a SharedArrayBuffer cannot be detached, transferred away, shrunk
// or freed while referenced, so memory the kernel writes into can never be
// pulled from under it by user code. User buffers are copied through pool
// chunks ("bounce"), or users lease pool memory for zero copies (lease.ts).
// Every region is usable by both backends: the kernel backend addresses it
// by its real address, the worker backend by a synthetic address
// ((id + 1) * 2^40 + offset) that scheme workers decode.
//
// Layout: shared regions of `regionSize` bytes, each with its own TLSF
// allocator (O(1) alloc and free); an allocation that could not fit a fresh
// shared region gets a dedicated region of its own, dropped when freed.
// Alignment is of addresses, not just offsets: TLSF is told the region
// base's residue (skew), so align > 4096 works in shared regions too.
//
// Guards (chunk.ts): free() of a chunk still referenced by an SQE defers
// until its last completion; double free and use after free throw.
// Fixed buffers (fixed.ts): regions are registered lazily, one at a time,
// into a sparse kernel table; bufIndex() answers from a field, no syscall.

import { Tlsf, TLSF_MAX_ALIGN, TLSF_MAX_CAPACITY } from './allocator.js';
import { assert } from '../abi/assert.js';
import { uringError } from '../errors.js';
import {
  Chunk, Region, REGION_ALIGN, LIVE, FREEING, FREED, FREEING_QUARANTINE,
  badFreeError, type ChunkOwner,
} from './chunk.js';
import { FixedTable, MAX_TABLE_SLOTS, type FixedMode, type Registrar } from './fixed.js';
import { Lease, LEASE_MODE, type LeaseOwner } from './lease.js';
import { BufRing, type BufRingOptions } from './bufring.js';

export { Chunk, Region, REGION_ALIGN } from './chunk.js';
export { Lease, LEASE_MODE, type FixedBuffer } from './lease.js';
export type { Registrar } from './fixed.js';

export interface PoolOptions {
  /** Bytes per shared region (default 8 MiB). Larger requests get a region of their own. */
  regionSize?: number;
  /** Cap on all regions together (default 1 GiB). */
  maxBytes?: number;
  /** Register regions with the kernel for fixed-buffer ops (default true). */
  fixed?: boolean;
  /** Cap on bytes registered (pinned) with the kernel (default: maxBytes). */
  maxRegisteredBytes?: number;
  /** Kernel buffer-table slots (default: enough for maxRegisteredBytes in regions, at least 64). */
  tableSize?: number;
  /** @internal Testing hook: the registration strategy to start from. */
  fixedMode?: FixedMode;
  /** Real address of a view's first byte (kernel backend); synthetic addresses otherwise. */
  addressOf?: ((view: Uint8Array) => number) | null;
}

export interface LeaseOptions {
  /** Address alignment, a power of two (4096 for O_DIRECT). Default 16. */
  align?: number;
}

export interface PoolStats {
  regions: number;
  /** Bytes reserved in regions. */
  bytes: number;
  /** Bytes registered with the kernel as fixed buffers, and in how many regions. */
  registeredBytes: number;
  registeredRegions: number;
  /** Bytes in live chunks (granule-rounded), and the most there ever were. */
  inUse: number;
  peak: number;
  /** Free bytes, and the largest single free block (any region). */
  free: number;
  largestFree: number;
  /** 1 - largestFree / free: 0 when all free memory is one block. */
  fragmentation: number;
  /** Chunks referenced by SQEs whose completions are not reaped yet. */
  pinned: number;
  /** Frees waiting for those completions. */
  deferred: number;
  /** Bytes never to be reused (a lease's memory may be aliased elsewhere). */
  quarantined: number;
  /** Leases not yet released. */
  leases: number;
  /** Fixed-buffer registration: the kernel ladder rung, 'off', or 'pending' (not needed yet). */
  fixed: FixedMode | 'off' | 'pending';
  /** Why registration failed or is off, if it did. */
  fixedError: string | null;
  leaseMode: 'detach' | 'copy';
}

const MiB = 2 ** 20;

export class BufferPool implements ChunkOwner, LeaseOwner {
  /** Regions in the pool (dedicated ones leave when freed). */
  readonly regions: Region[] = [];
  private readonly regionSize: number;
  private readonly maxBytes: number;
  private readonly addressOf: ((view: Uint8Array) => number) | null;
  private readonly opts: PoolOptions;
  private nextId = 0;
  /** The shared region that served the last allocation: tried first. */
  private current: Region | null = null;
  private total = 0;
  private inUse = 0;
  private peak = 0;
  private pinnedCount = 0;
  private deferredCount = 0;
  private quarantinedBytes = 0;
  private leaseCount = 0;
  private table: FixedTable | null = null;
  private registrar: Registrar | null = null;
  /** Called when a region is added, so a backend can register or share it. */
  onRegion: ((r: Region) => void) | null = null;
  /** Called when a dedicated region leaves the pool. */
  onRegionDrop: ((r: Region) => void) | null = null;

  constructor(opts: PoolOptions = {}) {
    this.opts = opts;
    this.regionSize = opts.regionSize ?? 8 * MiB;
    this.maxBytes = opts.maxBytes ?? 2 ** 30;
    this.addressOf = opts.addressOf ?? null;
    if (!Number.isSafeInteger(this.regionSize) || this.regionSize < REGION_ALIGN || this.regionSize > TLSF_MAX_CAPACITY) {
      throw rangeError(`regionSize must be an integer from ${REGION_ALIGN} to ${TLSF_MAX_CAPACITY}, got ${this.regionSize}`);
    }
    if (!(this.maxBytes >= 0)) throw rangeError(`maxBytes must be >= 0, got ${this.maxBytes}`);
  }

  /**
   * Connects the pool to a ring's io_uring_register. Nothing is registered
   * until a fixed op first needs a region (or registerAll()).
   */
  attach(registrar: Registrar): void {
    assert(this.registrar === null, 'a pool serves one ring');
    this.registrar = registrar;
    if (this.opts.fixed === false) return;
    const maxReg = this.opts.maxRegisteredBytes ?? this.maxBytes;
    const slots = this.opts.tableSize ?? Math.min(MAX_TABLE_SLOTS, Math.max(64, Math.ceil(maxReg / this.regionSize) + 16));
    if (!Number.isInteger(slots) || slots < 1 || slots > MAX_TABLE_SLOTS) {
      throw rangeError(`tableSize must be an integer from 1 to ${MAX_TABLE_SLOTS}, got ${slots}`);
    }
    const fixedOpts = { slots, maxBytes: maxReg, ...(this.opts.fixedMode ? { mode: this.opts.fixedMode } : {}) };
    this.table = new FixedTable(registrar, fixedOpts, () => this.pinnedCount > 0);
  }

  // ---- allocation ----

  /** A user lease of `size` bytes (zero-copy fixed I/O; see lease.ts). */
  alloc(size: number, opts?: LeaseOptions): Lease;
  /** @internal Old form, same as chunk(size, align). */
  alloc(size: number, align: number): Chunk;
  alloc(size: number, o?: LeaseOptions | number): Lease | Chunk {
    if (typeof o === 'number') return this.chunk(size, o);
    const c = this.chunk(size, o?.align ?? 16);
    try {
      const lease = new Lease(this, c, size);
      this.leaseCount++;
      return lease;
    } catch (e) {
      this.free(c);
      throw e;
    }
  }

  /** A chunk of at least `size` bytes at an `align`-aligned address (library-internal memory). */
  chunk(size: number, align = 16): Chunk {
    checkRequest(size, align);
    const need = align > 16 ? size + align - 16 : size;
    if (need > this.regionSize) return this.dedicated(size, align);
    const cur = this.current;
    if (cur) {
      const c = this.tryRegion(cur, size, align);
      if (c) return c;
    }
    for (let i = this.regions.length - 1; i >= 0; i--) {
      const r = this.regions[i]!;
      if (r === cur || r.dedicated || r.alloc.freeBytes < size) continue;
      const c = this.tryRegion(r, size, align);
      if (c) {
        this.current = r;
        return c;
      }
    }
    const r = this.grow(this.regionSize, false, REGION_ALIGN, size);
    this.current = r;
    const c = this.tryRegion(r, size, align);
    assert(c !== null, 'a fresh region must satisfy the request that made it');
    return c;
  }

  /**
   * Gives a chunk back. If an SQE still references it, the free waits for
   * that completion (nothing fails, nothing leaks). Twice: ERR_URING_BAD_FREE.
   */
  free(c: Chunk | Lease): void {
    if (c instanceof Lease) return c.release();
    if (!(c instanceof Chunk) || c.region.owner !== this) throw badFreeError('free() of memory that is not a chunk of this pool');
    if (c.state !== LIVE) throw badFreeError(`chunk at ${c.region.id}:${c.offset} freed twice`);
    if (c.inflight > 0) {
      c.state = FREEING;
      this.deferredCount++;
      return;
    }
    this.release(c);
  }

  /** Takes a chunk out of use for good: its memory may be visible elsewhere. */
  quarantine(c: Chunk): void {
    assert(c.region.owner === this, 'quarantine() of a foreign chunk');
    if (c.state === LIVE && c.inflight > 0) {
      c.state = FREEING_QUARANTINE;
      this.deferredCount++;
      return;
    }
    assert(c.state === LIVE, 'quarantine() of a freed chunk');
    c.state = FREED;
    this.inUse -= c.size;
    this.quarantinedBytes += c.size;
  }

  /** @internal A deferred free whose last pin dropped. */
  reclaim(c: Chunk): void {
    assert(c.inflight === 0, 'reclaim() of a pinned chunk');
    const quarantine = c.state === FREEING_QUARANTINE;
    assert(quarantine || c.state === FREEING, 'reclaim() of a chunk nobody freed');
    this.deferredCount--;
    c.state = LIVE;
    if (quarantine) this.quarantine(c);
    else this.release(c);
  }

  /** @internal */
  leaseEnded(): void {
    this.leaseCount--;
  }

  /** @internal Counts chunks referenced by SQEs (legacy registration waits for 0). */
  pinned(delta: number): void {
    this.pinnedCount += delta;
  }

  private release(c: Chunk): void {
    c.state = FREED;
    this.inUse -= c.size;
    const r = c.region;
    r.alloc.free(c.offset);
    if (r.dedicated && r.alloc.liveCount === 0) this.drop(r);
  }

  private tryRegion(r: Region, size: number, align: number): Chunk | null {
    const off = r.alloc.alloc(size === 0 ? 1 : size, align, r.skew(align));
    if (off < 0) return null;
    const got = r.alloc.sizeOf(off);
    this.inUse += got;
    if (this.inUse > this.peak) this.peak = this.inUse;
    return new Chunk(r, off, got);
  }

  private dedicated(size: number, align: number): Chunk {
    // The region base itself is aligned (padding costs address space, not
    // memory), so the allocation sits at offset 0 and wastes nothing.
    const bytes = roundUp(Math.max(size, 1), REGION_ALIGN);
    const r = this.grow(bytes, true, Math.max(REGION_ALIGN, align), size);
    const c = this.tryRegion(r, size, Math.min(align, REGION_ALIGN));
    assert(c !== null && c.offset === 0, 'a dedicated region holds its allocation at offset 0');
    return c;
  }

  private grow(bytes: number, dedicated: boolean, baseAlign: number, asked: number): Region {
    if (bytes > TLSF_MAX_CAPACITY) {
      throw rangeError(`cannot allocate ${asked} bytes: one allocation is limited to ${TLSF_MAX_CAPACITY} bytes`);
    }
    if (this.total + bytes > this.maxBytes) {
      throw uringError(
        'ERR_URING_POOL_EXHAUSTED',
        `buffer pool cap of ${this.maxBytes} bytes reached: ${this.total} in regions, ${this.inUse} in use, ` +
          `asked for ${asked} more (raise the pool's maxBytes, or release leases)`,
      );
    }
    const r = new Region(this, this.nextId++, bytes, new Tlsf(bytes), dedicated, this.addressOf, baseAlign);
    this.regions.push(r);
    this.total += bytes;
    this.onRegion?.(r);
    return r;
  }

  private drop(r: Region): void {
    const i = this.regions.indexOf(r);
    assert(i >= 0 && r.dedicated, 'only dedicated regions leave the pool');
    this.regions.splice(i, 1);
    this.total -= r.bytes.byteLength;
    this.table?.remove(r);
    r.attached = false;
    this.onRegionDrop?.(r);
  }

  // ---- fixed buffers ----

  /**
   * The kernel buffer index (buf_index) of `chunk`'s region, registering
   * the region on its first fixed use; -1 when it is not registered (use a
   * plain READ/WRITE at chunk.addr instead). No syscall once answered.
   * Whoever puts the index in an SQE must pin the chunk until its completion.
   */
  bufIndex(chunk: Chunk): number {
    const s = chunk.region.slot;
    if (s >= 0) return s;
    return this.table ? this.table.slotFor(chunk.region) : -1;
  }

  /**
   * Registers every region now. Throws the registration error (e.g.
   * ERR_URING_MEMLOCK with the limit in the message) instead of warning.
   * Returns false when fixed buffers do not apply (worker backend, fixed: false).
   */
  registerAll(): boolean {
    if (!this.table) return false;
    const err = this.table.addAll(this.regions);
    if (err) throw err;
    return this.table.mode !== 'off';
  }

  // ---- provided buffer rings ----

  /** A provided-buffer ring (IORING_REGISTER_PBUF_RING) of pool memory. Throws errno errors. */
  bufRing(opts: BufRingOptions): BufRing {
    if (!this.registrar) throw uringError('ERR_INVALID_STATE', 'bufRing() needs a pool attached to a ring');
    return BufRing.setup(this, this.registrar, opts);
  }

  stats(): PoolStats {
    let free = 0;
    let largest = 0;
    for (const r of this.regions) {
      free += r.alloc.freeBytes;
      const l = r.alloc.largestFree();
      if (l > largest) largest = l;
    }
    const t = this.table;
    return {
      regions: this.regions.length,
      bytes: this.total,
      registeredBytes: t ? t.registeredBytes : 0,
      registeredRegions: t ? t.registeredRegions : 0,
      inUse: this.inUse,
      peak: this.peak,
      free,
      largestFree: largest,
      fragmentation: free === 0 ? 0 : 1 - largest / free,
      pinned: this.pinnedCount,
      deferred: this.deferredCount,
      quarantined: this.quarantinedBytes,
      leases: this.leaseCount,
      fixed: !t ? 'off' : (t.mode ?? 'pending'),
      fixedError: t?.error?.message ?? null,
      leaseMode: LEASE_MODE,
    };
  }
}

function checkRequest(size: number, align: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw rangeError(`size must be a non-negative integer, got ${size}`);
  if (!Number.isInteger(align) || align < 1 || align > TLSF_MAX_ALIGN || (align & (align - 1)) !== 0) {
    throw rangeError(`align must be a power of two from 1 to ${TLSF_MAX_ALIGN}, got ${align}`);
  }
}

function rangeError(message: string): RangeError {
  const err = new RangeError(message) as RangeError & { code: string };
  err.code = 'ERR_OUT_OF_RANGE';
  return err;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
