// The buffer pool: the only memory uring ever hands to the kernel or to a
// scheme worker.
//
// Regions are SharedArrayBuffers. That choice carries the safety argument
// for S1: a SharedArrayBuffer cannot be detached, transferred away, shrunk
// or freed while referenced, so memory the kernel writes into can never be
// pulled from under it by user code. User buffers are copied through pool
// chunks ("bounce"), or users allocate from the pool directly for zero
// copies. Every region is usable by both backends: the kernel backend
// addresses it by its real address, the worker backend by a synthetic
// address (region id << 40 | offset) that scheme workers decode.

import { Tlsf } from './allocator.js';
import { assert } from '../ring/queue.js';
import { uringError } from '../errors.js';

/** Alignment of a region's first usable byte: enough for O_DIRECT. */
export const REGION_ALIGN = 4096;
const SYNTHETIC_SHIFT = 2 ** 40;

export interface PoolOptions {
  /** Bytes per region (default 8 MiB). Larger requests get a region of their own. */
  regionSize?: number;
  /** Cap on all regions together (default 1 GiB). */
  maxBytes?: number;
  /** Real address of a view's first byte (kernel backend); synthetic addresses otherwise. */
  addressOf?: ((view: Uint8Array) => number) | null;
}

export class Region {
  readonly id: number;
  readonly sab: SharedArrayBuffer;
  /** The usable bytes, starting at an aligned address. */
  readonly bytes: Uint8Array;
  /** Address of bytes[0] as the ring's consumer sees it. */
  readonly addr: number;
  readonly alloc: Tlsf;

  constructor(id: number, size: number, addressOf: PoolOptions['addressOf']) {
    this.id = id;
    this.sab = new SharedArrayBuffer(size + REGION_ALIGN);
    let pad = 0;
    if (addressOf) {
      const raw = addressOf(new Uint8Array(this.sab));
      pad = (REGION_ALIGN - (raw % REGION_ALIGN)) % REGION_ALIGN;
      this.addr = raw + pad;
    } else {
      this.addr = (id + 1) * SYNTHETIC_SHIFT;
    }
    this.bytes = new Uint8Array(this.sab, pad, size);
    this.alloc = new Tlsf(size);
  }
}

/** A piece of pool memory. `addr` is what goes into an SQE. */
export class Chunk {
  constructor(
    readonly region: Region,
    readonly offset: number,
    readonly size: number,
  ) {}

  get addr(): number {
    return this.region.addr + this.offset;
  }

  /** A fresh view of the chunk's bytes. */
  view(len = this.size): Uint8Array {
    return this.region.bytes.subarray(this.offset, this.offset + len);
  }
}

export class BufferPool {
  readonly regions: Region[] = [];
  private readonly regionSize: number;
  private readonly maxBytes: number;
  private readonly addressOf: PoolOptions['addressOf'];
  private total = 0;
  private inUse = 0;
  private peak = 0;
  /** Called when a region is added, so a backend can register or share it. */
  onRegion: ((r: Region) => void) | null = null;

  constructor(opts: PoolOptions = {}) {
    this.regionSize = opts.regionSize ?? 8 << 20;
    this.maxBytes = opts.maxBytes ?? 1 << 30;
    this.addressOf = opts.addressOf ?? null;
  }

  /** A chunk of at least `size` bytes at an `align`-aligned address. */
  alloc(size: number, align = 16): Chunk {
    assert(align <= REGION_ALIGN || (align & (align - 1)) === 0, 'alignment must be a power of two');
    for (let i = this.regions.length - 1; i >= 0; i--) {
      const c = this.tryRegion(this.regions[i]!, size, align);
      if (c) return c;
    }
    const r = this.grow(size, align);
    const c = this.tryRegion(r, size, align);
    assert(c !== null, 'a fresh region must satisfy the request that made it');
    return c;
  }

  free(chunk: Chunk): void {
    this.inUse -= chunk.size;
    chunk.region.alloc.free(chunk.offset);
  }

  stats(): { regions: number; bytes: number; inUse: number; peak: number } {
    return { regions: this.regions.length, bytes: this.total, inUse: this.inUse, peak: this.peak };
  }

  private tryRegion(r: Region, size: number, align: number): Chunk | null {
    const off = r.alloc.alloc(Math.max(size, 1), align);
    if (off < 0) return null;
    const got = r.alloc.sizeOf(off);
    this.inUse += got;
    if (this.inUse > this.peak) this.peak = this.inUse;
    return new Chunk(r, off, got);
  }

  private grow(size: number, align: number): Region {
    const want = Math.max(this.regionSize, roundUp(size + align, REGION_ALIGN));
    if (this.total + want > this.maxBytes) {
      throw uringError('ERR_URING_POOL_EXHAUSTED', `buffer pool cap of ${this.maxBytes} bytes reached (asked for ${size} more)`);
    }
    const r = new Region(this.regions.length, want, this.addressOf);
    this.regions.push(r);
    this.total += want;
    this.onRegion?.(r);
    return r;
  }
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
