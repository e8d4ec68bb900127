// The pool under a real ring: fixed-buffer registration (every kernel
// ladder rung, growth without re-registering, caps), RLIMIT_MEMLOCK too
// small, many concurrent fixed reads with data verified, guards against
// freeing or releasing memory an op still holds, and O_DIRECT end to end.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Ring, type RingOptions } from '../src/index.js';
import type { Chunk, Lease } from '../src/buffers/pool.js';
import { fixedChunk } from '../src/buffers/lease.js';
import { native } from '../src/native.js';
import { BACKEND, closeLater, directDir, makeFifo, mulberry32, randomBytes, settled, tempDir, until } from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;
type T = { skip(msg?: string): void; after(fn: () => unknown): void };

/** A ring on the backend under test, closed after the test; null (skipped) if it cannot open. */
function openRing(t: T, opts: RingOptions = {}): Ring | null {
  let ring: Ring;
  try {
    ring = new Ring({ entries: 256, ...opts });
  } catch (e) {
    t.skip(`no ${BACKEND} ring here: ${(e as Error).message}`);
    return null;
  }
  t.after(async () => {
    await settled(ring);
    assert.equal(ring.pool.stats().pinned, 0, 'no chunk stays pinned');
    assert.equal(ring.pool.stats().deferred, 0, 'no free stays deferred');
    await ring.close();
  });
  return ring;
}

function dataFile(t: T, size: number, seed: number): { file: string; data: Uint8Array; fd: number } {
  const dir = tempDir(t, 'uring-pool-');
  const file = path.join(dir, 'data');
  const data = randomBytes(size, seed);
  fs.writeFileSync(file, data);
  const fd = fs.openSync(file, 'r+');
  closeLater(t, fd);
  return { file, data, fd };
}

test('many concurrent fixed reads into chunks and leases, data verified', async (t) => {
  const ring = openRing(t, { pool: { regionSize: 1 * MiB } });
  if (!ring) return;
  const size = 8 * MiB;
  const { data, fd } = dataFile(t, size, 7);
  const rand = mulberry32(99);
  for (let round = 0; round < 3; round++) {
    const ops: { buf: Chunk | Lease; off: number; len: number; p: Promise<number> }[] = [];
    for (let i = 0; i < 200; i++) {
      const len = 1 + Math.floor(rand() * 64 * KiB);
      const off = Math.floor(rand() * (size - len));
      const align = [16, 512, 4096, 65536][i & 3]!;
      const buf = i % 2 ? ring.pool.alloc(len, { align }) : ring.pool.chunk(len, align);
      ops.push({ buf, off, len, p: ring.read_fixed(fd, buf, len, off) });
    }
    assert.ok(ring.pool.stats().pinned >= 200, 'every chunk in flight is pinned');
    const res = await Promise.all(ops.map((o) => o.p));
    for (let i = 0; i < ops.length; i++) {
      const o = ops[i]!;
      assert.equal(res[i], o.len);
      const got = 'bytes' in o.buf ? o.buf.bytes.subarray(0, o.len) : o.buf.view(o.len);
      assert.ok(Buffer.from(got).equals(data.subarray(o.off, o.off + o.len)), `read ${i} data`);
      ring.pool.free(o.buf);
    }
  }
  const s = ring.pool.stats();
  assert.equal(s.inUse, 0);
  assert.equal(s.pinned, 0);
  if (ring.backend.name === 'kernel') {
    assert.equal(s.fixed, 'sparse');
    assert.equal(s.registeredRegions, s.regions, 'every region that served a fixed op is registered');
    assert.equal(s.registeredBytes, s.bytes);
  } else {
    assert.equal(s.fixed, 'off', 'the worker backend reads pool memory directly');
  }
});

for (const mode of ['sparse', 'table', 'legacy'] as const) {
  test(`registration (${mode}): regions added as the pool grows, nothing re-registered`, async (t) => {
    if (BACKEND !== 'kernel') return t.skip('fixed-buffer registration is a kernel feature');
    const ring = openRing(t, { pool: { regionSize: 256 * KiB, fixedMode: mode } });
    if (!ring) return;
    const { file, data, fd } = dataFile(t, 2 * MiB, 3);
    // One region at a time: each new region is registered at its first fixed op.
    for (let k = 1; k <= 4; k++) {
      const c = ring.pool.chunk(200 * KiB, 4096);
      assert.equal(ring.pool.regions.length, k);
      const off = k * 100 * KiB;
      assert.equal(await ring.read_fixed(fd, c, 200 * KiB, off), 200 * KiB);
      assert.ok(Buffer.from(c.view(200 * KiB)).equals(data.subarray(off, off + 200 * KiB)));
      assert.equal(ring.pool.bufIndex(c), mode === 'legacy' ? k - 1 : c.region.slot);
      const s = ring.pool.stats();
      assert.equal(s.fixed, mode);
      assert.equal(s.registeredRegions, k);
      // Keep it allocated so the next chunk needs a new region; write back through it.
      assert.equal(await ring.write_fixed(fd, c, 4096, off), 4096);
      if (k === 4) for (const r of ring.pool.regions) assert.ok(r.slot >= 0);
    }
    assert.ok(fs.readFileSync(file).equals(data), 'fixed writes wrote back what was read');
  });
}

test('dedicated regions are registered on use and unregistered when freed', async (t) => {
  if (BACKEND !== 'kernel') return t.skip('fixed-buffer registration is a kernel feature');
  const ring = openRing(t, { pool: { regionSize: 256 * KiB } });
  if (!ring) return;
  const { data, fd } = dataFile(t, 2 * MiB, 4);
  const big = ring.pool.chunk(1 * MiB + 5, 4096);
  assert.ok(big.region.dedicated);
  assert.equal(await ring.read_fixed(fd, big, 1 * MiB, 0), 1 * MiB);
  assert.ok(Buffer.from(big.view(1 * MiB)).equals(data.subarray(0, 1 * MiB)));
  const slot = big.region.slot;
  assert.ok(slot >= 0);
  assert.equal(ring.pool.stats().registeredRegions, 1);
  ring.pool.free(big);
  assert.equal(ring.pool.stats().registeredRegions, 0);
  assert.equal(ring.pool.stats().registeredBytes, 0);
  // The slot is reused by the next region.
  const again = ring.pool.chunk(2 * MiB, 4096);
  assert.equal(await ring.read_fixed(fd, again, 2 * MiB, 0), 2 * MiB);
  assert.equal(again.region.slot, slot);
  ring.pool.free(again);
});

test('the registered-bytes cap and fixed: false fall back to plain ops', async (t) => {
  const ring = openRing(t, { pool: { regionSize: 256 * KiB, maxRegisteredBytes: 256 * KiB } });
  if (!ring) return;
  const off = openRing(t, { pool: { fixed: false } });
  if (!off) return;
  const { data, fd } = dataFile(t, 1 * MiB, 5);
  const a = ring.pool.chunk(200 * KiB);
  const b = ring.pool.chunk(200 * KiB); // a second region: over the cap
  assert.notEqual(a.region, b.region);
  assert.equal(await ring.read_fixed(fd, a, 1000, 0), 1000);
  assert.equal(await ring.read_fixed(fd, b, 1000, 5000), 1000);
  assert.ok(Buffer.from(b.view(1000)).equals(data.subarray(5000, 6000)));
  assert.equal(ring.pool.bufIndex(b), -1, 'over the cap: not registered, no syscall per op');
  if (ring.backend.name === 'kernel') assert.equal(ring.pool.stats().registeredBytes, 256 * KiB);
  ring.pool.free(a);
  ring.pool.free(b);
  const c = off.pool.chunk(1000);
  assert.equal(await off.read_fixed(fd, c, 1000, 10), 1000);
  assert.ok(Buffer.from(c.view(1000)).equals(data.subarray(10, 1010)));
  assert.equal(off.pool.stats().fixed, 'off');
  assert.equal(off.registerPool(), false);
  off.pool.free(c);
});

test('RLIMIT_MEMLOCK too small: a clear error from registerPool(), a warning and a fallback otherwise', (t) => {
  if (BACKEND !== 'kernel') return t.skip('RLIMIT_MEMLOCK applies to kernel registration only');
  const has = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
  if (!has('prlimit')) return t.skip('prlimit (util-linux) is not installed');
  // Root with CAP_IPC_LOCK is exempt from the limit: drop the capability too.
  const child = fileURLToPath(new URL('./pool-child.js', import.meta.url));
  const cmd = `prlimit --memlock=65536:65536 ${process.execPath} ${child} memlock`;
  const argv = process.getuid?.() === 0 ? (has('capsh') ? ['capsh', '--drop=cap_ipc_lock', '--', '-c', cmd] : null) : ['sh', '-c', cmd];
  if (!argv) return t.skip('running as root without capsh: cannot drop CAP_IPC_LOCK');
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000, env: { ...process.env, URING_BACKEND: 'kernel' } });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  assert.equal(r.status, 0, `child failed: ${r.stderr}\n${r.stdout}`);
  const out = JSON.parse(last) as Record<string, unknown> & { error?: Record<string, unknown> };
  if (out.skip) return t.skip(String(out.skip));
  assert.ok(out.error, `registerPool() must throw under a 64 KiB limit: ${last}`);
  assert.equal(out.error.code, 'ERR_URING_MEMLOCK');
  assert.equal(out.error.errno, -12);
  assert.equal(out.error.syscall, 'io_uring_register');
  assert.match(String(out.error.message), /RLIMIT_MEMLOCK is 64 KiB/);
  assert.match(String(out.error.message), /fall back to plain reads and writes/);
  assert.match(String(out.error.message), /ulimit -l/);
  assert.equal(out.readAfterError, true, 'fixed reads still work after the error');
  assert.equal(out.lazyReads, true, 'lazy registration failure falls back, data correct');
  assert.deepEqual(out.stats, { fixed: 'sparse', registeredBytes: 0, hasError: true, inUse: 0 });
  assert.equal(out.warnings, 1, 'one warning, not one per op');
});

test('freeing a chunk mid-flight defers until the completion; the kernel write lands in still-reserved memory', async (t) => {
  const ring = openRing(t, { pool: { regionSize: 64 * KiB } });
  if (!ring) return;
  const fifo = makeFifo(t, tempDir(t));
  const c = ring.pool.chunk(64 * KiB); // fills its region
  const p = ring.read_fixed(fifo.fd, c, 100);
  ring.pool.free(c); // the read is still waiting for data
  let s = ring.pool.stats();
  assert.equal(s.deferred, 1);
  assert.equal(s.inUse, 64 * KiB, 'not reusable while the read may still write');
  const other = ring.pool.chunk(64 * KiB);
  assert.notEqual(other.region, c.region, 'new allocations cannot land on it');
  fs.writeSync(fifo.wr, Buffer.from('hello through a deferred free'));
  assert.equal(await p, 29);
  assert.equal(Buffer.from(c.region.bytes.subarray(c.offset, c.offset + 5)).toString(), 'hello');
  s = ring.pool.stats();
  assert.equal(s.deferred, 0);
  assert.equal(s.inUse, 64 * KiB, 'only `other` is left');
  assert.equal(c.region.alloc.sizeOf(c.offset), -1, 'reclaimed after the completion');
  assert.throws(() => ring.pool.free(c), { code: 'ERR_URING_BAD_FREE' });
  await assert.rejects(ring.read_fixed(fifo.fd, c, 10), { code: 'ERR_URING_RELEASED' });
  ring.pool.free(other);
});

test('releasing a lease mid-flight: the user view dies at once, the memory returns at the completion', async (t) => {
  const ring = openRing(t);
  if (!ring) return;
  const fifo = makeFifo(t, tempDir(t));
  const l = ring.pool.alloc(4096, { align: 4096 });
  const view = l.bytes;
  const chunk = fixedChunk(l);
  const p = ring.read_fixed(fifo.fd, l, 4096);
  l.release();
  assert.equal(view.length, 0);
  assert.equal(ring.pool.stats().deferred, 1);
  await assert.rejects(ring.write_fixed(fifo.fd, l, 10), { code: 'ERR_URING_RELEASED' });
  assert.throws(() => l.release(), { code: 'ERR_URING_BAD_FREE' });
  fs.writeSync(fifo.wr, Buffer.from('late data'));
  assert.equal(await p, 9);
  assert.equal(view.length, 0, 'the late write is not visible through the dead view');
  await until(() => ring.pool.stats().deferred === 0, 'the deferred release completed');
  assert.equal(chunk.region.alloc.sizeOf(chunk.offset), -1);
  assert.equal(ring.pool.stats().inUse, 0);
});

test('a cancelled fixed read keeps its chunk until the -ECANCELED completion', async (t) => {
  const ring = openRing(t);
  if (!ring) return;
  const fifo = makeFifo(t, tempDir(t));
  const c = ring.pool.chunk(4096);
  const p = ring.read_fixed(fifo.fd, c, 4096);
  ring.pool.free(c);
  await new Promise((r) => setImmediate(r)); // submitted
  const cancelled = ring.cancel(p).catch((e: Error) => e);
  let outcome: unknown = 'pending';
  void p.then((n) => (outcome = n), (e: Error & { code?: string }) => (outcome = e.code));
  for (let i = 0; i < 40 && outcome === 'pending'; i++) await new Promise((r) => setTimeout(r, 5));
  if (outcome === 'pending') {
    // A scheme that cannot interrupt a blocked read (worker backend) answers
    // the cancel with ENOENT/EALREADY; the read completes when data arrives.
    assert.equal(ring.pool.stats().deferred, 1, 'still held while the read runs');
    fs.writeSync(fifo.wr, Buffer.from('x'));
    const late = await p.then((n) => n, (e: Error & { code?: string }) => e.code);
    assert.ok(late === 1 || late === 'ECANCELED', `read result ${late}`);
  } else {
    assert.equal(outcome, 'ECANCELED');
  }
  await cancelled;
  await until(() => ring.pool.stats().deferred === 0, 'reclaimed at the completion');
  assert.equal(ring.pool.stats().inUse, 0);
});

test('O_DIRECT end to end with 4096-aligned pool memory', async (t) => {
  const ring = openRing(t);
  if (!ring) return;
  const where = directDir(t);
  if ('reason' in where) return t.skip(where.reason);
  if (ring.backend.name !== 'kernel' && !native) return t.skip('without the addon the real memory alignment is unknown');
  const file = path.join(where.dir, 'direct');
  const fd = fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_RDWR | fs.constants.O_DIRECT, 0o600);
  closeLater(t, fd);
  const size = 256 * KiB;
  const data = randomBytes(size, 11);
  const out = ring.pool.alloc(size, { align: 4096 });
  out.bytes.set(data);
  if (native) assert.equal(native.addressOf(out.bytes) % 4096, 0, 'real address is page aligned');
  assert.equal(await ring.write_fixed(fd, out, size, 0), size);
  // Read back in pieces, many at once, into aligned chunks.
  const pieces = Array.from({ length: 16 }, (_, i) => ({ c: ring.pool.chunk(16 * KiB, 4096), off: i * 16 * KiB }));
  const res = await Promise.all(pieces.map(({ c, off }) => ring.read_fixed(fd, c, 16 * KiB, off)));
  for (let i = 0; i < pieces.length; i++) {
    const { c, off } = pieces[i]!;
    assert.equal(res[i], 16 * KiB);
    assert.ok(Buffer.from(c.view(16 * KiB)).equals(data.subarray(off, off + 16 * KiB)), `piece ${i}`);
    ring.pool.free(c);
  }
  // O_DIRECT really is in force: a length that is not block aligned is refused.
  await assert.rejects(ring.read_fixed(fd, out, 100, 0), { code: 'EINVAL' });
  out.release();
  assert.ok(fs.readFileSync(file).equals(data));
});
