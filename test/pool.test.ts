// Pool-level tests, no ring: random alloc/free against a reference model
// across regions (addresses, not offsets), alignment above the page size,
// dedicated regions for huge requests, stats, and the chunk guards.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferPool, Chunk } from '../src/buffers/pool.js';
import { nativeMemory } from '../src/buffers/chunk.js';
import { native } from '../src/native.js';
import { BACKEND, mulberry32 } from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Real addresses where the addon is loaded and the kernel backend is under test. */
const addressOf = BACKEND === 'kernel' && native ? (v: Uint8Array) => native!.addressOf(v) : null;

function newPool(opts: ConstructorParameters<typeof BufferPool>[0] = {}): BufferPool {
  return new BufferPool({ addressOf, ...opts });
}

interface Live {
  c: Chunk;
  size: number;
  align: number;
  tag: number;
}

function stamp(l: Live): void {
  const v = l.c.view(Math.max(l.size, 1));
  v[0] = l.tag & 0xff;
  if (v.length > 1) v[v.length - 1] = (l.tag >> 8) & 0xff;
}

function checkStamp(l: Live): void {
  const v = l.c.view(Math.max(l.size, 1));
  assert.equal(v[0], l.tag & 0xff, 'first byte intact: nobody else wrote into this chunk');
  if (v.length > 1) assert.equal(v[v.length - 1], (l.tag >> 8) & 0xff, 'last byte intact');
}

/** No two live chunks overlap in the consumer's address space. */
function checkDisjoint(live: Live[]): void {
  const sorted = [...live].sort((a, b) => a.c.addr - b.c.addr);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!.c;
    const b = sorted[i]!.c;
    assert.ok(a.addr + a.size <= b.addr, `chunks overlap: ${a.addr}+${a.size} > ${b.addr}`);
  }
}

function randomRequest(rand: () => number, regionSize: number): { size: number; align: number } {
  const r = rand();
  // Mostly small; some page-sized; a few bigger than a region (dedicated).
  const size = r < 0.02 ? regionSize + Math.floor(rand() * regionSize) : Math.floor(2 ** (rand() * 17));
  const a = rand();
  const align = a < 0.5 ? 16 : a < 0.75 ? 4096 : a < 0.95 ? 2 ** (5 + Math.floor(rand() * 12)) : 2 ** (17 + Math.floor(rand() * 4));
  return { size, align };
}

test('random alloc/free across regions agrees with the reference model', () => {
  const regionSize = 512 * KiB;
  for (const seed of [1, 2, 3]) {
    const pool = newPool({ regionSize, maxBytes: 256 * MiB });
    const rand = mulberry32(seed);
    const live: Live[] = [];
    let tag = 0;
    for (let step = 0; step < 6000; step++) {
      if (live.length > 0 && (rand() < 0.45 || live.length > 400)) {
        const i = Math.floor(rand() * live.length);
        const l = live[i]!;
        live[i] = live[live.length - 1]!;
        live.pop();
        checkStamp(l);
        pool.free(l.c);
        continue;
      }
      const { size, align } = randomRequest(rand, regionSize);
      const c = pool.chunk(size, align);
      assert.ok(c.size >= size && c.size - Math.max(size, 1) < 16, `size ${c.size} for a request of ${size}`);
      assert.equal(c.addr % align, 0, `address ${c.addr} aligned to ${align}`);
      if (addressOf) assert.equal(addressOf(c.view()), c.addr, 'addr is the real address of the bytes');
      const l = { c, size, align, tag: ++tag };
      stamp(l);
      live.push(l);
      if (step % 250 === 0) checkDisjoint(live);
    }
    checkDisjoint(live);
    const mid = pool.stats();
    assert.ok(mid.inUse >= live.reduce((s, l) => s + l.size, 0));
    assert.ok(mid.peak >= mid.inUse && mid.fragmentation >= 0 && mid.fragmentation <= 1);
    for (const l of live) {
      checkStamp(l);
      pool.free(l.c);
    }
    const s = pool.stats();
    assert.equal(s.inUse, 0);
    assert.equal(s.deferred, 0);
    // Everything coalesced back: each shared region is one free block, and
    // every dedicated region left the pool.
    for (const r of pool.regions) {
      assert.equal(r.dedicated, false, 'dedicated regions are dropped when freed');
      assert.equal(r.alloc.liveCount, 0);
      assert.equal(r.alloc.largestFree(), r.alloc.capacity, 'the region coalesced into one block');
      r.alloc.check();
    }
    assert.equal(s.free, s.bytes);
    assert.equal(s.bytes, pool.regions.length * regionSize);
  }
});

test('alignment above the page size, in shared and dedicated regions', () => {
  const pool = newPool({ regionSize: 4 * MiB });
  const chunks: Chunk[] = [];
  for (const align of [8192, 65536, 1 * MiB, 2 * MiB, 16 * MiB]) {
    for (const size of [1, 4096, 100_000]) {
      const c = pool.chunk(size, align);
      assert.equal(c.addr % align, 0, `align ${align}`);
      if (addressOf) assert.equal(addressOf(c.view()) % align, 0, 'the real address is aligned');
      // Up to half a region's worth of padding stays in the shared region.
      assert.equal(c.region.dedicated, size + align - 16 > 4 * MiB, `align ${align} size ${size}`);
      chunks.push(c);
    }
  }
  for (const c of chunks) pool.free(c);
  assert.equal(pool.stats().inUse, 0);
  assert.ok(pool.regions.every((r) => !r.dedicated));
});

test('huge sizes get a dedicated region, dropped on free; the cap holds', () => {
  const pool = newPool({ regionSize: 1 * MiB, maxBytes: 600 * MiB });
  const small = pool.chunk(100);
  const big = pool.chunk(300 * MiB, 4096);
  assert.ok(big.region.dedicated && big.offset === 0);
  assert.equal(big.addr % 4096, 0);
  big.view()[300 * MiB - 1] = 1;
  assert.equal(pool.stats().bytes, 301 * MiB);
  assert.throws(() => pool.chunk(300 * MiB), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'ERR_URING_POOL_EXHAUSTED');
    assert.match(e.message, /cap of 629145600 bytes/);
    return true;
  });
  pool.free(big);
  assert.equal(pool.stats().bytes, 1 * MiB, 'the dedicated region left');
  assert.equal(pool.regions.length, 1);
  // With the space back, the same request fits.
  const again = pool.chunk(300 * MiB);
  pool.free(again);
  pool.free(small);
  assert.throws(() => pool.chunk(-1), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => pool.chunk(16, 3), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => pool.chunk(2 ** 35), { code: 'ERR_OUT_OF_RANGE' });
});

test('stats: in use, peak, fragmentation', () => {
  const pool = newPool({ regionSize: 1 * MiB });
  const a = pool.chunk(256 * KiB);
  const b = pool.chunk(256 * KiB);
  const c = pool.chunk(256 * KiB);
  let s = pool.stats();
  assert.equal(s.inUse, 768 * KiB);
  assert.equal(s.free, 256 * KiB);
  assert.equal(s.fragmentation, 0);
  pool.free(b); // a hole between a and c: two free blocks of 256 KiB
  s = pool.stats();
  assert.equal(s.inUse, 512 * KiB);
  assert.equal(s.peak, 768 * KiB);
  assert.equal(s.free, 512 * KiB);
  assert.equal(s.largestFree, 256 * KiB);
  assert.equal(s.fragmentation, 0.5);
  pool.free(a);
  pool.free(c);
  s = pool.stats();
  assert.equal(s.fragmentation, 0);
  assert.equal(s.largestFree, 1 * MiB);
  assert.equal(s.fixed, 'off', 'no ring attached: no fixed buffers');
});

test('guards: a pinned chunk is not reused until its last unpin', () => {
  const pool = newPool({ regionSize: 64 * KiB });
  const c = pool.chunk(64 * KiB);
  c.pin();
  c.pin();
  assert.equal(pool.stats().pinned, 1);
  pool.free(c); // deferred, not failed
  let s = pool.stats();
  assert.equal(s.deferred, 1);
  assert.equal(s.inUse, 64 * KiB, 'still in use');
  assert.equal(c.region.alloc.sizeOf(c.offset), 64 * KiB, 'the block is still allocated');
  // The region is full, so a new request cannot land on the pinned memory.
  const other = pool.chunk(64 * KiB);
  assert.notEqual(other.region, c.region);
  assert.throws(() => c.pin(), { code: 'ERR_URING_RELEASED' });
  assert.throws(() => c.view(), { code: 'ERR_URING_RELEASED' });
  assert.throws(() => pool.free(c), { code: 'ERR_URING_BAD_FREE' });
  c.unpin();
  assert.equal(pool.stats().deferred, 1, 'one SQE still references it');
  c.unpin();
  s = pool.stats();
  assert.equal(s.deferred, 0);
  assert.equal(s.pinned, 0);
  assert.equal(c.region.alloc.sizeOf(c.offset), -1, 'reclaimed at the last unpin');
  assert.throws(() => c.unpin(), /unpin\(\) without a matching pin/);
  pool.free(other);
  assert.equal(pool.stats().inUse, 0);
});

test('guards: double free, foreign chunks, use after free', () => {
  const a = newPool();
  const b = newPool();
  const c = a.chunk(100);
  assert.throws(() => b.free(c), { code: 'ERR_URING_BAD_FREE' });
  a.free(c);
  assert.equal(c.released, true);
  assert.throws(() => a.free(c), (e: Error & { code?: string }) => e.code === 'ERR_URING_BAD_FREE' && /freed twice/.test(e.message));
  assert.throws(() => c.view(), { code: 'ERR_URING_RELEASED' });
  assert.throws(() => c.pin(), { code: 'ERR_URING_RELEASED' });
  assert.throws(() => a.free({} as Chunk), { code: 'ERR_URING_BAD_FREE' });
});

test('the old alloc(size, align) form still returns a chunk', () => {
  const pool = newPool();
  const c = pool.alloc(4096, 4096);
  assert.ok(c instanceof Chunk);
  assert.equal(c.addr % 4096, 0);
  pool.free(c);
});

test("a region's plain alias is the same memory, unshared", { skip: nativeMemory ? false : 'no addon views (or URING_LEASE_MODE=copy): regions have no plain alias' }, () => {
  const pool = newPool();
  const c = pool.alloc(8192, 4096) as Chunk;
  const plain = c.region.plain();
  assert.ok(plain instanceof ArrayBuffer, 'an ArrayBuffer');
  assert.ok(!(plain instanceof SharedArrayBuffer), 'not shared: V8 copies it with memmove');
  assert.equal(plain.byteLength, c.region.bytes.byteLength, 'the whole usable region');
  assert.equal(c.region.plain(), plain, 'made once per region');
  // Writes through either view show in the other, at the chunk's offset.
  const alias = new Uint8Array(plain, c.offset, 8192);
  const shared = c.view(8192);
  alias[0] = 0xa5;
  alias[8191] = 0x5a;
  assert.equal(shared[0], 0xa5);
  assert.equal(shared[8191], 0x5a);
  shared[100] = 7;
  assert.equal(alias[100], 7);
  if (addressOf) assert.equal(native!.addressOf(alias), c.addr, 'the alias starts at the chunk address');
  pool.free(c);
});
