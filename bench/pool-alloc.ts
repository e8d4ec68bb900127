// Pool-level allocation costs: alloc+free pairs per second through
// BufferPool (chunk objects, region choice, address skew) against the bare
// TLSF underneath, for the shapes the pool must handle: small, 4096-aligned
// (O_DIRECT), aligned above the page size (skewed search), huge (a
// dedicated SharedArrayBuffer region each time), and user leases (a native
// external view created and detached per pair). Rounds interleaved; medians.
//
//   node dist/bench/pool-alloc.js [--rounds N]

import { Tlsf } from '../src/buffers/allocator.js';
import { BufferPool, LEASE_MODE } from '../src/buffers/pool.js';
import { native } from '../src/native.js';
import { mulberry32 } from '../test/prng.js';

const MiB = 2 ** 20;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

interface Case {
  name: string;
  pairs: number;
  /** Runs `pairs` alloc+free pairs; returns pairs per second. */
  run(pairs: number): number;
}

const addressOf = native ? (v: Uint8Array) => native!.addressOf(v) : null;

/** Steady state with `live` blocks held, like the ring's bounce traffic on top of leases. */
function steady(name: string, size: () => number, align: number, pairs: number): Case {
  return {
    name,
    pairs,
    run(n) {
      const pool = new BufferPool({ addressOf, regionSize: 8 * MiB, maxBytes: 4 * 2 ** 30 });
      const live = Array.from({ length: 256 }, () => pool.chunk(size(), align));
      const rand = mulberry32(7);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const k = (rand() * live.length) | 0;
        pool.free(live[k]!);
        live[k] = pool.chunk(size(), align);
      }
      const ms = performance.now() - t0;
      for (const c of live) pool.free(c);
      return (n / ms) * 1000;
    },
  };
}

function bareTlsf(pairs: number): Case {
  return {
    name: 'bare TLSF, 16 B..16 KiB, align 16',
    pairs,
    run(n) {
      const rand = mulberry32(7);
      const t = new Tlsf(8 * MiB);
      const size = () => 16 + ((rand() * 16368) | 0);
      const live = Array.from({ length: 256 }, () => t.alloc(size(), 16));
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const k = (rand() * live.length) | 0;
        t.free(live[k]!);
        live[k] = t.alloc(size(), 16);
      }
      const ms = performance.now() - t0;
      return (n / ms) * 1000;
    },
  };
}

function leases(pairs: number): Case {
  return {
    name: `lease alloc+release 4 KiB (${LEASE_MODE})`,
    pairs,
    run(n) {
      const pool = new BufferPool({ addressOf });
      const t0 = performance.now();
      for (let i = 0; i < n; i++) pool.alloc(4096, { align: 4096 }).release();
      return (n / (performance.now() - t0)) * 1000;
    },
  };
}

function huge(pairs: number): Case {
  return {
    name: 'huge 64 MiB (dedicated region each)',
    pairs,
    run(n) {
      const pool = new BufferPool({ addressOf, regionSize: 8 * MiB });
      const t0 = performance.now();
      for (let i = 0; i < n; i++) pool.free(pool.chunk(64 * MiB, 4096));
      return (n / (performance.now() - t0)) * 1000;
    },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M/s` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k/s` : `${n.toFixed(0)}/s`;
}

function main(): void {
  const rounds = arg('--rounds', 5);
  const rand = mulberry32(1);
  const cases: Case[] = [
    bareTlsf(1_000_000),
    steady('pool, 16 B..16 KiB, align 16', () => 16 + ((rand() * 16368) | 0), 16, 1_000_000),
    steady('pool, 4 KiB..64 KiB, align 4096', () => 4096 + ((rand() * 61440) | 0), 4096, 500_000),
    steady('pool, 4 KiB..64 KiB, align 64 KiB', () => 4096 + ((rand() * 61440) | 0), 65536, 200_000),
    steady('pool, 16 B..16 KiB, align 1 MiB', () => 16 + ((rand() * 16368) | 0), MiB, 200_000),
    leases(200_000),
    huge(200),
  ];
  for (const c of cases) c.run(Math.max(1, c.pairs / 10)); // warm up the JIT
  const results = cases.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) cases.forEach((c, i) => results[i]!.push(c.run(c.pairs)));
  console.log(`alloc+free pairs per second, median of ${rounds} interleaved rounds (256 live blocks)`);
  const base = median(results[0]!);
  cases.forEach((c, i) => {
    const m = median(results[i]!);
    console.log(`  ${c.name.padEnd(44)} ${fmt(m).padStart(10)}  ${(m / base).toFixed(2)}x bare TLSF`);
  });
}

main();
