// alloc+free pairs per second: TLSF against a naive first-fit allocator, on the same
// seeded workload, rounds interleaved so that machine noise hits both alike.
//
//   node dist/bench/alloc.js [--pairs N] [--rounds N]

import { Tlsf } from '../src/buffers/allocator.js';
import { mulberry32 } from '../test/prng.js';

interface Allocator {
  alloc(size: number, align?: number): number;
  free(offset: number): void;
}

// The textbook baseline: free regions in an offset-sorted list, scanned from the
// start on every alloc, merged with neighbours on free. Arrays rather than objects
// so the comparison is about the algorithm, not about allocation in the baseline.
class FirstFit implements Allocator {
  private readonly offs: number[] = [];
  private readonly sizes: number[] = [];
  private readonly live = new Map<number, number>();

  constructor(capacity: number) {
    this.offs.push(0);
    this.sizes.push(Math.floor(capacity / 16) * 16);
  }

  alloc(size: number, align = 16): number {
    const need = Math.max(16, Math.ceil(size / 16) * 16);
    const a = Math.max(16, align);
    for (let i = 0; i < this.offs.length; i++) {
      const off = this.offs[i]!;
      const end = off + this.sizes[i]!;
      const start = Math.ceil(off / a) * a;
      if (start + need > end) continue;
      this.carve(i, off, start, start + need, end);
      this.live.set(start, need);
      return start;
    }
    return -1;
  }

  private carve(i: number, off: number, start: number, stop: number, end: number): void {
    if (start > off && stop < end) {
      this.sizes[i] = start - off;
      this.offs.splice(i + 1, 0, stop);
      this.sizes.splice(i + 1, 0, end - stop);
    } else if (start > off) {
      this.sizes[i] = start - off;
    } else if (stop < end) {
      this.offs[i] = stop;
      this.sizes[i] = end - stop;
    } else {
      this.offs.splice(i, 1);
      this.sizes.splice(i, 1);
    }
  }

  free(offset: number): void {
    const size = this.live.get(offset);
    if (size === undefined) throw new Error(`FirstFit: bad free ${offset}`);
    this.live.delete(offset);
    const i = this.lowerBound(offset);
    const mergePrev = i > 0 && this.offs[i - 1]! + this.sizes[i - 1]! === offset;
    const mergeNext = i < this.offs.length && offset + size === this.offs[i]!;
    if (mergePrev && mergeNext) {
      this.sizes[i - 1] = this.sizes[i - 1]! + size + this.sizes[i]!;
      this.offs.splice(i, 1);
      this.sizes.splice(i, 1);
    } else if (mergePrev) {
      this.sizes[i - 1] = this.sizes[i - 1]! + size;
    } else if (mergeNext) {
      this.offs[i] = offset;
      this.sizes[i] = this.sizes[i]! + size;
    } else {
      this.offs.splice(i, 0, offset);
      this.sizes.splice(i, 0, size);
    }
  }

  get holes(): number {
    return this.offs.length;
  }

  private lowerBound(offset: number): number {
    let lo = 0;
    let hi = this.offs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.offs[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

interface Workload {
  capacity: number;
  live: number;
  victims: Uint32Array;
  sizes: Uint32Array;
  aligns: Uint32Array;
}

// Steady state: `live` blocks, each pair frees a random one and allocates a new one.
// Sizes are log-uniform over 16 B .. 64 KiB; one request in ten wants 4096 alignment.
function makeWorkload(seed: number, live: number, pairs: number): Workload {
  const rand = mulberry32(seed);
  const total = live + pairs;
  const victims = new Uint32Array(pairs);
  const sizes = new Uint32Array(total);
  const aligns = new Uint32Array(total);
  for (let i = 0; i < total; i++) {
    sizes[i] = Math.floor(2 ** (4 + rand() * 12));
    aligns[i] = rand() < 0.1 ? 4096 : 16;
  }
  for (let i = 0; i < pairs; i++) victims[i] = Math.floor(rand() * live);
  return { capacity: 64 * 1024 * 1024, live, victims, sizes, aligns };
}

// The timed loop is written once per allocator on purpose: a shared loop would see
// both classes at its call sites and would measure polymorphic dispatch as well.
function steadyTlsf(w: Workload): number {
  const a = new Tlsf(w.capacity);
  const slots = fill(a, w);
  const pairs = w.victims.length;
  const t0 = performance.now();
  for (let i = 0; i < pairs; i++) {
    const v = w.victims[i]!;
    a.free(slots[v]!);
    slots[v] = a.alloc(w.sizes[w.live + i]!, w.aligns[w.live + i]!);
  }
  const ms = performance.now() - t0;
  drain(a, slots);
  if (a.largestFree() !== a.capacity) throw new Error('tlsf did not coalesce back');
  return (pairs / ms) * 1000;
}

function steadyFirstFit(w: Workload): number {
  const a = new FirstFit(w.capacity);
  const slots = fill(a, w);
  const pairs = w.victims.length;
  const t0 = performance.now();
  for (let i = 0; i < pairs; i++) {
    const v = w.victims[i]!;
    a.free(slots[v]!);
    slots[v] = a.alloc(w.sizes[w.live + i]!, w.aligns[w.live + i]!);
  }
  const ms = performance.now() - t0;
  drain(a, slots);
  if (a.holes !== 1) throw new Error('first fit did not coalesce back');
  return (pairs / ms) * 1000;
}

function fill(a: Allocator, w: Workload): Int32Array {
  const slots = new Int32Array(w.live);
  for (let i = 0; i < w.live; i++) slots[i] = mustAlloc(a, w.sizes[i]!, w.aligns[i]!);
  return slots;
}

// A -1 from the timed loop would make the free of that slot throw, so the workload
// cannot quietly run out of space and flatter either side.
function drain(a: Allocator, slots: Int32Array): void {
  for (const off of slots) a.free(off);
}

function mustAlloc(a: Allocator, size: number, align: number): number {
  const off = a.alloc(size, align);
  if (off === -1) throw new Error(`workload ran out of space at alloc(${size}, ${align})`);
  return off;
}

// First fit's bad day: tens of thousands of small holes ahead of the only space that
// fits, so every alloc walks all of them. TLSF goes straight to the right class.
function runHoles(a: Allocator, holes: number, pairs: number): number {
  const offs: number[] = [];
  for (let i = 0; i < holes * 2; i++) offs.push(mustAlloc(a, 32, 16));
  for (let i = 0; i < offs.length; i += 2) a.free(offs[i]!);
  const t0 = performance.now();
  for (let i = 0; i < pairs; i++) a.free(mustAlloc(a, 64, 16));
  const ms = performance.now() - t0;
  for (let i = 1; i < offs.length; i += 2) a.free(offs[i]!);
  return (pairs / ms) * 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[s.length >> 1]!;
}

function fmt(perSecond: number): string {
  return perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)}M/s` : `${(perSecond / 1e3).toFixed(1)}k/s`;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

function main(): void {
  const rounds = arg('--rounds', 5);
  const pairs = arg('--pairs', 2_000_000);
  const w = makeWorkload(0x5eed, 1000, pairs);
  const tlsf: number[] = [];
  const naive: number[] = [];
  // One unmeasured round each so both are optimized before timing starts.
  steadyTlsf(makeWorkload(1, 1000, 200_000));
  steadyFirstFit(makeWorkload(1, 1000, 200_000));
  for (let r = 0; r < rounds; r++) {
    tlsf.push(steadyTlsf(w));
    naive.push(steadyFirstFit(w));
  }
  console.log(`steady state: 1000 live, 16 B..64 KiB log-uniform, 10% 4096-aligned, ` +
    `${pairs} alloc+free pairs x ${rounds} rounds`);
  console.log(`  tlsf       median ${fmt(median(tlsf))}  [${tlsf.map(fmt).join(' ')}]`);
  console.log(`  first-fit  median ${fmt(median(naive))}  [${naive.map(fmt).join(' ')}]`);
  console.log(`  ratio      ${(median(tlsf) / median(naive)).toFixed(2)}x`);

  const holes = 50_000;
  const capacity = 64 * 1024 * 1024;
  const holesTlsf: number[] = [];
  const holesNaive: number[] = [];
  for (let r = 0; r < rounds; r++) {
    holesTlsf.push(runHoles(new Tlsf(capacity), holes, 1_000_000));
    holesNaive.push(runHoles(new FirstFit(capacity), holes, 2_000));
  }
  console.log(`worst case for first fit: ${holes} free 32 B holes, then alloc(64)+free`);
  console.log(`  tlsf       median ${fmt(median(holesTlsf))}`);
  console.log(`  first-fit  median ${fmt(median(holesNaive))}`);
  console.log(`  ratio      ${(median(holesTlsf) / median(holesNaive)).toFixed(0)}x`);
}

main();
