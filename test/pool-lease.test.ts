// Leases: pool memory handed to users. Once released, every view the user
// took must be unusable (zero length), never an alias of memory that now
// belongs to someone else; in flight, the release is deferred.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BufferPool, Lease, LEASE_MODE } from '../src/buffers/pool.js';
import { fixedChunk, pinFixed, unpinFixed } from '../src/buffers/lease.js';
import { native } from '../src/native.js';
import { BACKEND, gc } from './helpers.js';

const addressOf = BACKEND === 'kernel' && native ? (v: Uint8Array) => native!.addressOf(v) : null;
const canMove = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';

function newPool(): BufferPool {
  return new BufferPool({ addressOf, regionSize: 1 << 20 });
}

test('lease mode', () => {
  // The addon provides detachable views on Linux, kernel and worker backend alike.
  assert.equal(LEASE_MODE, native ? 'detach' : 'copy');
});

test('a lease is zero-copy pool memory with a Buffer view', (t) => {
  if (LEASE_MODE !== 'detach') return t.skip('copy mode: the view is a private copy (see the copy-mode test)');
  const pool = newPool();
  const l = pool.alloc(10_000, { align: 4096 });
  assert.ok(l instanceof Lease);
  assert.ok(Buffer.isBuffer(l.bytes));
  assert.equal(l.bytes.length, 10_000);
  assert.equal(l.byteLength, 10_000);
  const c = fixedChunk(l);
  assert.equal(c.addr % 4096, 0);
  if (addressOf) assert.equal(addressOf(l.bytes), c.addr, 'the view is the chunk, not a copy');
  l.bytes[0] = 5;
  l.bytes[9999] = 6;
  assert.equal(c.view()[0], 5);
  assert.equal(c.view()[9999], 6);
  c.view()[1] = 7;
  assert.equal(l.bytes[1], 7);
  l.release();
  assert.equal(pool.stats().inUse, 0);
});

test('release() makes every old view zero-length, and reuse is never visible through them', () => {
  const pool = newPool();
  const l = pool.alloc(4096, { align: 4096 });
  const b = l.bytes;
  const u8 = new Uint8Array(b.buffer, b.byteOffset, 16);
  const dv = new DataView(b.buffer, b.byteOffset, 16);
  const ab = b.buffer;
  b.fill(0xaa);
  const addr = fixedChunk(l).addr;
  l.release();
  assert.equal(l.released, true);
  assert.equal(b.length, 0);
  assert.equal(b.byteLength, 0);
  assert.equal(u8.length, 0);
  assert.equal(ab.byteLength, 0);
  assert.throws(() => dv.getUint8(0));
  assert.equal(b[0], undefined);
  b[0] = 1; // a write through the dead view goes nowhere
  // The same memory, handed to the next user, is invisible through the old views.
  const next = pool.alloc(4096, { align: 4096 });
  assert.equal(fixedChunk(next).addr, addr, 'TLSF hands the same block out again');
  next.bytes.fill(0x55);
  assert.equal(b.length, 0);
  assert.equal(u8[0], undefined);
  if (LEASE_MODE === 'detach') assert.equal(next.bytes[0], 0x55);
  next.release();
});

test('use after release and double release give clear errors', () => {
  const pool = newPool();
  const l = pool.alloc(100);
  l.release();
  assert.throws(() => l.bytes, (e: Error & { code?: string }) => e.code === 'ERR_URING_RELEASED' && /after release/.test(e.message));
  assert.throws(() => l.release(), (e: Error & { code?: string }) => e.code === 'ERR_URING_BAD_FREE' && /twice/.test(e.message));
  assert.throws(() => fixedChunk(l), { code: 'ERR_URING_RELEASED' });
  assert.throws(() => pool.free(l), { code: 'ERR_URING_BAD_FREE' });
  const m = pool.alloc(100);
  pool.free(m); // pool.free(lease) is release()
  assert.equal(m.released, true);
  assert.equal(pool.stats().leases, 0);
  assert.equal(pool.stats().inUse, 0);
});

test('release while an op holds the lease: the view dies now, the memory comes back at the completion', () => {
  const pool = newPool();
  const l = pool.alloc(8192, { align: 4096 });
  const view = l.bytes;
  const chunk = fixedChunk(l);
  pinFixed(l, chunk, 8192, false); // what read_fixed does at submit
  l.release();
  assert.equal(view.length, 0, 'the user lost the view at release()');
  let s = pool.stats();
  assert.equal(s.deferred, 1);
  assert.equal(s.pinned, 1);
  assert.equal(s.inUse, 8192, 'the kernel may still write: not reusable');
  assert.equal(chunk.region.alloc.sizeOf(chunk.offset), 8192);
  chunk.region.bytes[chunk.offset] = 9; // "the kernel" completes its write
  unpinFixed(l, chunk, 8192, false, false);
  s = pool.stats();
  assert.equal(s.deferred, 0);
  assert.equal(s.pinned, 0);
  assert.equal(s.inUse, 0);
  assert.equal(chunk.region.alloc.sizeOf(chunk.offset), -1);
});

test('transfers of a lease buffer cannot alias pool memory', async () => {
  const pool = newPool();
  const l = pool.alloc(4096);
  l.bytes.fill(1);
  const ab = l.bytes.buffer as ArrayBuffer;
  // Node 20 copies external buffers on transfer (structuredClone and
  // postMessage): the lease keeps its memory. Newer Node refuses to transfer
  // them at all (DataCloneError), which keeps it too. Either is safe.
  let clone: ArrayBuffer;
  try {
    clone = structuredClone(ab, { transfer: [ab] });
  } catch (e) {
    assert.equal((e as Error).name, 'DataCloneError');
    assert.equal(l.bytes[0], 1, 'a refused transfer leaves the lease intact');
    l.release();
    assert.equal(pool.stats().inUse, 0);
    return;
  }
  new Uint8Array(clone).fill(2);
  const { port1, port2 } = new MessageChannel();
  const got = new Promise<ArrayBuffer>((resolve) => port2.once('message', resolve));
  port1.postMessage(ab, [ab]);
  const received = await got;
  new Uint8Array(received).fill(3);
  port1.close();
  port2.close();
  const moved = ab.byteLength === 0;
  if (!moved) {
    assert.equal(l.bytes[0], 1, 'the clones are copies');
    if (LEASE_MODE === 'detach') assert.equal(fixedChunk(l).view()[0], 1);
  }
  l.release();
  if (LEASE_MODE === 'detach' && moved) {
    // A runtime that did move it: the chunk must never be reused.
    assert.equal(pool.stats().quarantined, 4096);
  } else {
    assert.equal(pool.stats().quarantined, 0);
    assert.equal(pool.stats().inUse, 0);
  }
  assert.equal(clone.byteLength, 4096);
});

test('ArrayBuffer.prototype.transfer() moving a lease buffer quarantines the chunk', (t) => {
  if (!canMove) return t.skip(`ArrayBuffer.prototype.transfer does not exist on Node ${process.versions.node}`);
  const pool = newPool();
  const l = pool.alloc(4096);
  const moved = (l.bytes.buffer as ArrayBuffer & { transfer(): ArrayBuffer }).transfer();
  l.release();
  const s = pool.stats();
  if (LEASE_MODE === 'detach') assert.equal(s.quarantined, 4096, 'memory a moved buffer may still see is never reused');
  assert.equal(s.leases, 0);
  assert.equal(moved.byteLength, 4096);
});

test('a lease dropped without release() is reclaimed once nothing can see it', async () => {
  const pool = newPool();
  const keep = pool.alloc(64);
  (() => {
    for (let i = 0; i < 100; i++) pool.alloc(1000).bytes.fill(i);
  })();
  for (let i = 0; i < 50 && pool.stats().leases > 1; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  const s = pool.stats();
  assert.equal(s.leases, 1, 'finalizers ran for the dropped leases');
  if (LEASE_MODE === 'detach' && canMove) assert.equal(s.quarantined, 100 * 1008);
  else assert.equal(s.inUse, 64, 'only the kept lease is in use');
  keep.release();
});

test('zero-length lease', () => {
  const pool = newPool();
  const l = pool.alloc(0);
  assert.equal(l.bytes.length, 0);
  l.release();
  assert.equal(pool.stats().inUse, 0);
});

test('copy mode (no addon): fixed ops copy through the chunk, release detaches', (t) => {
  const child = fileURLToPath(new URL('./pool-child.js', import.meta.url));
  const r = spawnSync(process.execPath, [child, 'copy-lease'], {
    env: { ...process.env, URING_LEASE_MODE: 'copy' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  if (out.skip) return t.skip(String(out.skip));
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(out, { mode: 'copy', read: 'ok', write: 'ok', viewAfterRelease: 0, chunkUntouchedByUserWrites: true, inUse: 0 });
});
