// Provided buffer rings (IORING_REGISTER_PBUF_RING, Linux 5.19+), built on
// pool memory: the kernel picks a buffer for an op flagged
// IOSQE_BUFFER_SELECT with buf_group = bgid, and reports which one in the
// CQE (IORING_CQE_F_BUFFER, buffer id in flags >> 16). The networking wave
// uses them for multishot recv; anything that reads in unknown-sized
// pieces can.
//
// Layout: the ring is an array of struct io_uring_buf {u64 addr; u32 len;
// u16 bid; u16 resv} in a page-aligned pool chunk (the kernel requires page
// alignment and pins those pages), with the u16 tail overlaid on entry 0's
// resv. We are the ring's only producer: entries are written with plain
// stores, then the tail is published with one Atomics.store (a release for
// the kernel's smp_load_acquire of the tail). The kernel consumes from its
// private head; PBUF_STATUS reads that head (6.8+).
//
// Lifetime: an op that selected a buffer writes into it until its
// completion. The data chunk is therefore pinned by every op that selects
// from this ring (pin()/unpin(), for op builders) and unregister() frees it
// only after the last such completion (the chunk guard defers the free).

import * as abi from '../abi/abi.js';
import { setU64 } from '../abi/prep.js';
import { errnoError, uringError } from '../errors.js';
import { assert } from '../abi/assert.js';
import type { Chunk } from './chunk.js';
import type { Registrar } from './fixed.js';

/** What a buffer ring needs from the pool. */
interface Pool {
  chunk(size: number, align: number): Chunk;
  free(c: Chunk): void;
}

export interface BufRingOptions {
  /** Number of buffers: a power of two from 1 to 32768. */
  entries: number;
  /** Bytes per buffer (at most 2^32 - 1; the kernel's io_uring_buf.len is a u32). */
  size: number;
  /** Buffer group id, 0..65535, unique per ring. */
  bgid: number;
}

const PAGE = 4096;
const BUF_STATUS_SIZE = 40; // struct io_uring_buf_status { u32 buf_group; u32 head; u32 resv[8] }

export class BufRing {
  readonly bgid: number;
  readonly entries: number;
  readonly size: number;
  private readonly mask: number;
  private readonly pool: Pool;
  private readonly reg: Registrar;
  private readonly ring: Chunk;
  /** All buffers, back to back: buffer `bid` is at data.addr + bid * size. */
  readonly data: Chunk;
  private readonly words: Uint32Array;
  private readonly halves: Uint16Array;
  /** Index (in halves) of the shared tail. */
  private readonly tailAt: number;
  private tail = 0;
  private live = true;

  static setup(pool: Pool, reg: Registrar, opts: BufRingOptions): BufRing {
    const { entries, size, bgid } = opts;
    if (!Number.isInteger(entries) || entries < 1 || entries > 32768 || (entries & (entries - 1)) !== 0) {
      throw uringError('ERR_OUT_OF_RANGE', `entries must be a power of two from 1 to 32768, got ${entries}`);
    }
    if (!Number.isInteger(size) || size < 1 || size > 0xffffffff) throw uringError('ERR_OUT_OF_RANGE', `size must be from 1 to 2^32-1, got ${size}`);
    if (!Number.isInteger(bgid) || bgid < 0 || bgid > 0xffff) throw uringError('ERR_OUT_OF_RANGE', `bgid must be from 0 to 65535, got ${bgid}`);
    if (!reg.addressOf) {
      throw uringError('ERR_URING_UNSUPPORTED', 'provided buffer rings need the kernel backend (the worker backend has no IORING_REGISTER_PBUF_RING)');
    }
    const ringBytes = Math.ceil((entries * abi.BUF.size) / PAGE) * PAGE;
    const ring = pool.chunk(ringBytes, PAGE);
    let data: Chunk;
    try {
      data = pool.chunk(entries * size, size % PAGE === 0 ? PAGE : 64);
    } catch (e) {
      pool.free(ring);
      throw e;
    }
    const br = new BufRing(pool, reg, ring, data, opts);
    const ret = br.call(abi.IORING_REGISTER_PBUF_RING, ring.addr, entries);
    if (ret < 0) {
      pool.free(ring);
      pool.free(data);
      throw errnoError(ret, 'io_uring_register');
    }
    for (let bid = 0; bid < entries; bid++) br.add(bid, bid);
    br.advance(entries);
    return br;
  }

  private constructor(pool: Pool, reg: Registrar, ring: Chunk, data: Chunk, opts: BufRingOptions) {
    this.pool = pool;
    this.reg = reg;
    this.ring = ring;
    this.data = data;
    this.bgid = opts.bgid;
    this.entries = opts.entries;
    this.size = opts.size;
    this.mask = opts.entries - 1;
    const v = ring.view();
    v.fill(0);
    this.words = new Uint32Array(v.buffer, v.byteOffset, v.byteLength / 4);
    this.halves = new Uint16Array(v.buffer, v.byteOffset, v.byteLength / 2);
    this.tailAt = abi.BUF.tail / 2;
  }

  /**
   * Queues buffer `bid` at position tail + `offset` without publishing it
   * (io_uring_buf_ring_add). Publish a batch with advance().
   */
  add(bid: number, offset = 0): void {
    assert(this.live, 'add() on an unregistered buffer ring');
    assert(Number.isInteger(bid) && bid >= 0 && bid < this.entries, 'bid is a buffer of this ring');
    const e = ((this.tail + offset) & this.mask) * (abi.BUF.size / 4);
    setU64(this.words, e, this.data.addr + bid * this.size);
    this.words[e + 2] = this.size;
    // bid only: entry 0's last u16 is the shared tail.
    this.halves[e * 2 + abi.BUF.bid / 2] = bid;
  }

  /** Publishes `count` added buffers to the kernel (io_uring_buf_ring_advance). */
  advance(count: number): void {
    this.tail = (this.tail + count) & 0xffff;
    Atomics.store(this.halves, this.tailAt, this.tail);
  }

  /** Hands buffer `bid` back to the kernel after its data was consumed. */
  recycle(bid: number): void {
    this.add(bid, 0);
    this.advance(1);
  }

  /** The buffer id a completion used, or -1 when it used none. */
  static bufferId(cqeFlags: number): number {
    return cqeFlags & abi.IORING_CQE_F_BUFFER ? cqeFlags >>> abi.IORING_CQE_BUFFER_SHIFT : -1;
  }

  /** The first `len` bytes of buffer `bid`. Valid until recycle(bid). */
  view(bid: number, len = this.size): Uint8Array {
    assert(bid >= 0 && bid < this.entries && len >= 0 && len <= this.size, 'view() inside one buffer');
    return this.data.view().subarray(bid * this.size, bid * this.size + len);
  }

  /** The kernel's head (IORING_REGISTER_PBUF_STATUS, 6.8+), or -errno. */
  head(): number {
    const st = new Uint32Array(BUF_STATUS_SIZE / 4);
    st[0] = this.bgid;
    const ret = this.reg.register(abi.IORING_REGISTER_PBUF_STATUS, st, 1);
    return ret < 0 ? ret : st[1]!;
  }

  /** For op builders: an SQE selecting from this ring was submitted / completed. */
  pin(): void {
    this.data.pin();
  }
  unpin(): void {
    this.data.unpin();
  }

  /**
   * Unregisters the ring. Its memory returns to the pool once every op that
   * selected a buffer from it has completed. Returns 0 or -errno.
   */
  unregister(): number {
    if (!this.live) return 0;
    this.live = false;
    const ret = this.call(abi.IORING_UNREGISTER_PBUF_RING, 0, 0);
    // If unregistering failed (a closing ring), the kernel may read the ring
    // pages until its teardown: keep them out of the pool rather than guess.
    if (ret >= 0) this.pool.free(this.ring);
    this.pool.free(this.data);
    return ret;
  }

  private call(op: number, ringAddr: number, entries: number): number {
    const r = new Uint32Array(abi.BUF_REG.size / 4);
    setU64(r, abi.BUF_REG.ring_addr / 4, ringAddr);
    r[abi.BUF_REG.ring_entries / 4] = entries;
    r[abi.BUF_REG.bgid / 4] = this.bgid; // bgid u16 then flags u16 (0)
    return this.reg.register(op, r, 1);
  }
}
