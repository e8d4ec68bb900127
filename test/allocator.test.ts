import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tlsf, TLSF_GRANULE, TLSF_MAX_ALIGN, TLSF_MAX_CAPACITY } from '../src/buffers/allocator.js';
import { mulberry32 } from './prng.js';

const MiB = 1024 * 1024;

// Log-uniform over 1 B .. 1 MiB: small sizes dominate, big ones still show up.
function randomSize(rand: () => number): number {
  return Math.max(1, Math.floor(2 ** (rand() * 20)));
}

function randomAlign(rand: () => number): number {
  const r = rand();
  if (r < 0.6) return 2 ** Math.floor(rand() * 5); // 1..16: the cheap path
  if (r < 0.8) return 4096;
  return 2 ** Math.floor(rand() * 17); // 1..65536
}

interface Live {
  off: number;
  size: number; // requested
  usable: number;
}

// Reference model: live blocks sorted by offset, so overlap is a neighbour check.
class Model {
  readonly live: Live[] = [];

  private indexOf(off: number): number {
    let lo = 0;
    let hi = this.live.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.live[mid]!.off < off) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(block: Live, capacity: number): void {
    assert.ok(block.off >= 0 && block.off + block.usable <= capacity, 'within capacity');
    const i = this.indexOf(block.off);
    const before = this.live[i - 1];
    const after = this.live[i];
    if (before) assert.ok(before.off + before.usable <= block.off, 'no overlap with previous');
    if (after) assert.ok(block.off + block.usable <= after.off, 'no overlap with next');
    this.live.splice(i, 0, block);
  }

  removeAt(i: number): Live {
    const [block] = this.live.splice(i, 1);
    return block!;
  }

  usedBytes(): number {
    return this.live.reduce((sum, b) => sum + b.usable, 0);
  }

  // Blocks tile the capacity and free ones coalesce, so the gaps between live blocks
  // are exactly the free blocks.
  largestGap(capacity: number): number {
    let largest = 0;
    let at = 0;
    for (const b of this.live) {
      largest = Math.max(largest, b.off - at);
      at = b.off + b.usable;
    }
    return Math.max(largest, capacity - at);
  }
}

function checkAgainstModel(tlsf: Tlsf, model: Model): void {
  assert.equal(tlsf.used, model.usedBytes());
  assert.equal(tlsf.liveCount, model.live.length);
  assert.equal(tlsf.freeBytes, tlsf.capacity - tlsf.used);
  const largest = model.largestGap(tlsf.capacity);
  const reported = tlsf.largestFree();
  assert.ok(reported <= largest, `largestFree ${reported} <= true largest ${largest}`);
  if (reported < 512) assert.equal(reported, largest, 'exact below 512 B');
  else assert.ok(largest - reported <= reported / 32, `largestFree ${reported} ~ ${largest}`);
}

function drainAndCheckWhole(tlsf: Tlsf, model: Model): void {
  while (model.live.length > 0) tlsf.free(model.removeAt(model.live.length - 1).off);
  tlsf.check();
  assert.equal(tlsf.used, 0);
  assert.equal(tlsf.liveCount, 0);
  assert.equal(tlsf.largestFree(), tlsf.capacity, 'coalesced back into one block');
  const off = tlsf.alloc(tlsf.capacity);
  assert.equal(off, 0);
  assert.equal(tlsf.sizeOf(0), tlsf.capacity);
  tlsf.free(off);
  tlsf.check();
}

function runSequence(seed: number, ops: number): { allocs: number; fails: number } {
  const rand = mulberry32(seed);
  // Small capacities make exhaustion and the fallback probe common.
  const capacity = 16 + Math.floor(2 ** (16 + rand() * 10) + rand() * 15);
  const tlsf = new Tlsf(capacity);
  assert.equal(tlsf.capacity, Math.floor(capacity / 16) * 16);
  const model = new Model();
  let allocs = 0;
  let fails = 0;
  for (let op = 0; op < ops; op++) {
    if (model.live.length > 0 && rand() < 0.45) {
      const block = model.removeAt(Math.floor(rand() * model.live.length));
      tlsf.free(block.off);
      assert.equal(tlsf.sizeOf(block.off), -1, 'freed blocks are gone');
    } else {
      const size = randomSize(rand);
      const align = randomAlign(rand);
      const empty = model.live.length === 0;
      const off = tlsf.alloc(size, align);
      if (off === -1) {
        fails++;
        if (empty && size <= tlsf.capacity && align <= tlsf.capacity) {
          assert.fail(`empty allocator refused alloc(${size}, ${align}), seed ${seed}`);
        }
      } else {
        allocs++;
        assert.equal(off % align, 0, `alignment ${align}`);
        const usable = tlsf.sizeOf(off);
        assert.ok(usable >= size && usable >= TLSF_GRANULE, 'sizeOf >= requested');
        assert.ok(usable - Math.max(size, 1) < TLSF_GRANULE, 'internal fragmentation < 16');
        model.add({ off, size, usable }, tlsf.capacity);
      }
    }
    checkAgainstModel(tlsf, model);
    if (op % 64 === 0) tlsf.check();
    if (op % 97 === 0) {
      // alloc(largestFree()) is documented to succeed.
      const lf = tlsf.largestFree();
      if (lf > 0) {
        const off = tlsf.alloc(lf);
        assert.notEqual(off, -1, `alloc(largestFree()=${lf}) failed, seed ${seed}`);
        tlsf.free(off);
      }
    }
  }
  tlsf.check();
  drainAndCheckWhole(tlsf, model);
  return { allocs, fails };
}

test('random alloc/free sequences agree with the reference model', () => {
  let allocs = 0;
  let fails = 0;
  for (let seed = 1; seed <= 1500; seed++) {
    const r = runSequence(seed, 60 + (seed % 7) * 60);
    allocs += r.allocs;
    fails += r.fails;
  }
  // Both outcomes must be exercised, or the test proves less than it claims.
  assert.ok(allocs > 100_000, `allocs ${allocs}`);
  assert.ok(fails > 1_000, `fails ${fails}`);
});

test('small blocks churn and coalesce', () => {
  const rand = mulberry32(0xc0ffee);
  const tlsf = new Tlsf(64 * 1024);
  const model = new Model();
  for (let op = 0; op < 50_000; op++) {
    if (model.live.length > 0 && rand() < 0.5) {
      tlsf.free(model.removeAt(Math.floor(rand() * model.live.length)).off);
    } else {
      const size = 1 + Math.floor(rand() * 256);
      const off = tlsf.alloc(size, rand() < 0.1 ? 64 : 16);
      if (off !== -1) model.add({ off, size, usable: tlsf.sizeOf(off) }, tlsf.capacity);
    }
    if (op % 1000 === 0) {
      tlsf.check();
      checkAgainstModel(tlsf, model);
    }
  }
  drainAndCheckWhole(tlsf, model);
});

test('exhaustion: fill until -1, free one, alloc again', () => {
  const tlsf = new Tlsf(MiB);
  const offs: number[] = [];
  for (;;) {
    const off = tlsf.alloc(4096, 4096);
    if (off === -1) break;
    offs.push(off);
  }
  assert.equal(offs.length, 256);
  assert.equal(tlsf.freeBytes, 0);
  assert.equal(tlsf.largestFree(), 0);
  assert.equal(tlsf.alloc(1), -1);
  tlsf.free(offs[100]!);
  tlsf.check();
  assert.equal(tlsf.alloc(4096, 4096), offs[100]);
  assert.equal(tlsf.alloc(0), -1);
  tlsf.check();
});

test('exhaustion with mixed sizes leaves room for exactly what was freed', () => {
  const rand = mulberry32(42);
  const tlsf = new Tlsf(4 * MiB + 7);
  const offs: number[] = [];
  for (let misses = 0; misses < 200; ) {
    const off = tlsf.alloc(randomSize(rand) % 20_000);
    if (off === -1) misses++;
    else offs.push(off);
  }
  tlsf.check();
  const victim = offs[Math.floor(offs.length / 2)]!;
  const size = tlsf.sizeOf(victim);
  tlsf.free(victim);
  assert.notEqual(tlsf.alloc(size), -1);
  tlsf.check();
});

test('bad frees throw ERR_URING_BAD_FREE and leave the state valid', () => {
  const tlsf = new Tlsf(MiB);
  const a = tlsf.alloc(64);
  const b = tlsf.alloc(100, 4096);
  const c = tlsf.alloc(4000);
  tlsf.free(c);
  const used = tlsf.used;
  const bad: unknown[] = [
    c, // double free
    a + 16, // inside a live block
    b + 4096, // past the end of one, inside free space
    -1,
    -16,
    NaN,
    1.5,
    Infinity,
    tlsf.capacity,
    2 ** 40,
    '0',
    undefined,
    null,
  ];
  for (const off of bad) {
    assert.throws(
      () => tlsf.free(off as number),
      (err: Error & { code?: string }) =>
        err.code === 'ERR_URING_BAD_FREE' && /not the start of a live allocation/.test(err.message),
      `free(${String(off)})`,
    );
    tlsf.check();
    assert.equal(tlsf.used, used);
  }
  tlsf.free(a);
  tlsf.free(b);
  assert.throws(() => tlsf.free(a), { code: 'ERR_URING_BAD_FREE' });
  tlsf.check();
  assert.equal(tlsf.largestFree(), tlsf.capacity);
});

test('argument validation', () => {
  const tlsf = new Tlsf(MiB);
  for (const size of [-1, 1.5, NaN, Infinity, -Infinity, 2 ** 53]) {
    assert.throws(() => tlsf.alloc(size), RangeError, `size ${size}`);
  }
  assert.throws(() => tlsf.alloc('16' as unknown as number), TypeError);
  for (const align of [0, 3, 24, -16, 1.5, NaN, 2 ** 32, TLSF_MAX_ALIGN * 2]) {
    assert.throws(() => tlsf.alloc(16, align), RangeError, `align ${align}`);
  }
  assert.throws(() => tlsf.alloc(16, '16' as unknown as number), TypeError);
  for (const capacity of [0, -1, 15, 1.5, NaN, Infinity, TLSF_MAX_CAPACITY + 16]) {
    assert.throws(() => new Tlsf(capacity), RangeError, `capacity ${capacity}`);
  }
  assert.throws(() => new Tlsf('1024' as unknown as number), TypeError);
  tlsf.check();
  assert.equal(tlsf.liveCount, 0);
});

test('edges: odd capacity, oversize, over-aligned, size 0', () => {
  const tlsf = new Tlsf(1000);
  assert.equal(tlsf.capacity, 992);
  assert.equal(tlsf.alloc(993), -1);
  assert.equal(tlsf.alloc(16, 1024), -1, 'align > capacity');
  assert.equal(tlsf.alloc(2 ** 40), -1, 'size > capacity');
  const zero = tlsf.alloc(0);
  assert.equal(tlsf.sizeOf(zero), 16, 'size 0 takes one granule');
  tlsf.free(zero);
  assert.equal(tlsf.alloc(992), 0);
  assert.equal(tlsf.alloc(0), -1);
  tlsf.free(0);
  // Alignment equal to the capacity is satisfiable at offset 0.
  const page = new Tlsf(4096);
  assert.equal(page.alloc(4096, 4096), 0);
  page.free(0);
  assert.equal(page.alloc(16, 4096), 0);
  assert.equal(page.alloc(16, 4096), -1);
  page.check();
  assert.equal(new Tlsf(16).alloc(1), 0);
  assert.equal(tlsf.sizeOf(-1), -1);
  assert.equal(tlsf.sizeOf(8), -1);
});

test('an aligned request succeeds when only an exact aligned fit exists', () => {
  const tlsf = new Tlsf(MiB);
  // Whole region, page aligned: the padded good-fit search cannot find this one.
  assert.equal(tlsf.alloc(MiB, 4096), 0);
  tlsf.free(0);
  assert.equal(tlsf.alloc(4096, 4096), 0);
  const hole = tlsf.alloc(8192, 4096);
  assert.equal(hole, 4096);
  assert.equal(tlsf.alloc(4096, 4096), 12288);
  tlsf.free(hole);
  assert.equal(tlsf.alloc(tlsf.largestFree()), 16384, 'take the rest');
  assert.equal(tlsf.largestFree(), 8192);
  assert.equal(tlsf.alloc(8192, 8192), -1, 'the hole is not 8 KiB aligned');
  assert.equal(tlsf.alloc(8192, 4096), hole);
  tlsf.check();
});

test('leading alignment gaps go back to the free lists', () => {
  const tlsf = new Tlsf(65536 + 16);
  assert.equal(tlsf.alloc(16), 0);
  assert.equal(tlsf.alloc(16, 65536), 65536);
  assert.equal(tlsf.freeBytes, 65536 - 16);
  assert.equal(tlsf.largestFree(), 65536 - 16);
  tlsf.check();
  assert.equal(tlsf.alloc(65536 - 16), 16);
  tlsf.check();
  tlsf.free(0);
  tlsf.free(65536);
  tlsf.free(16);
  tlsf.check();
  assert.equal(tlsf.largestFree(), tlsf.capacity);
});

test('large capacities: offsets and sizes beyond 2^32', () => {
  const tlsf = new Tlsf(2 ** 33 + 100);
  assert.equal(tlsf.capacity, 2 ** 33 + 96);
  const a = tlsf.alloc(2 ** 32);
  const b = tlsf.alloc(2 ** 31 + 16, 2 ** 31);
  const c = tlsf.alloc(1, 4096);
  assert.equal(a, 0);
  assert.equal(b, 2 ** 32);
  assert.equal(c, 2 ** 32 + 2 ** 31 + 4096);
  assert.equal(tlsf.sizeOf(b), 2 ** 31 + 16);
  assert.equal(tlsf.largestFree(), tlsf.capacity - c - 16);
  tlsf.check();
  tlsf.free(b);
  tlsf.free(a);
  tlsf.free(c);
  tlsf.check();
  assert.equal(tlsf.largestFree(), tlsf.capacity);

  const max = new Tlsf(TLSF_MAX_CAPACITY);
  assert.equal(max.alloc(TLSF_MAX_CAPACITY), 0);
  assert.equal(max.sizeOf(0), TLSF_MAX_CAPACITY);
  max.free(0);
  assert.equal(max.alloc(16, TLSF_MAX_ALIGN), 0);
  assert.equal(max.alloc(16, TLSF_MAX_ALIGN), TLSF_MAX_ALIGN);
  assert.equal(max.alloc(TLSF_MAX_CAPACITY - TLSF_MAX_ALIGN - 16), TLSF_MAX_ALIGN + 16);
  assert.equal(max.freeBytes, TLSF_MAX_ALIGN - 16);
  max.check();
});

test('metadata grows past its initial size and stays consistent', () => {
  const tlsf = new Tlsf(64 * MiB);
  const offs: number[] = [];
  for (let i = 0; i < 20_000; i++) offs.push(tlsf.alloc(48));
  tlsf.check();
  for (let i = 0; i < offs.length; i += 2) tlsf.free(offs[i]!);
  tlsf.check();
  assert.equal(tlsf.liveCount, 10_000);
  for (let i = 1; i < offs.length; i += 2) tlsf.free(offs[i]!);
  tlsf.check();
  assert.equal(tlsf.largestFree(), tlsf.capacity);
});

test('skew: (offset + skew) is what gets aligned, so region bases need only page alignment', () => {
  const rand = mulberry32(0x5e11);
  for (const skew of [0, 4096, 8192 + 4096, 3 * 65536 + 16, 2 ** 20 - 4096]) {
    const a = new Tlsf(16 * MiB);
    const live: number[] = [];
    for (let i = 0; i < 3000; i++) {
      if (live.length > 0 && rand() < 0.4) {
        a.free(live.splice(Math.floor(rand() * live.length), 1)[0]!);
        continue;
      }
      const align = 2 ** (4 + Math.floor(rand() * 17)); // 16 .. 1 MiB
      const size = randomSize(rand) >> 4;
      const off = a.alloc(size, align, skew);
      if (off === -1) continue;
      assert.equal((off + skew) % align, 0, `alloc(${size}, ${align}, ${skew}) = ${off}`);
      live.push(off);
    }
    a.check();
    for (const off of live) a.free(off);
    assert.equal(a.largestFree(), a.capacity, 'coalesces back');
  }
  const a = new Tlsf(1 * MiB);
  assert.throws(() => a.alloc(16, 4096, 8), RangeError);
  assert.throws(() => a.alloc(16, 4096, -16), RangeError);
  // Only the residue counts.
  assert.equal(a.alloc(16, 4096, 4096 * 7 + 16), 4096 - 16);
});
