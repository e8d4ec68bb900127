// S1 / S2 / S7 torture for the fs layer: user buffers transferred, resized
// or dropped while their op is in flight; abort storms of readFile and
// writeFile; forced GC throughout. Afterwards: no process fd leaked, every
// direct-descriptor slot back and empty in the kernel's table, all pool
// memory given back.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as uring from '../src/fs/promises.js';
import { runtimeOrSkip, tmpDir, openFdCount, mulberry32, workersUp, assertClean as assertCleanRuntime } from './fs-common.js';
import type { FsRuntime } from '../src/fs/runtime.js';

const r = runtimeOrSkip();
const skip = typeof r === 'string' ? r : false;
const rt = r as FsRuntime;
// Scheme workers start asynchronously and each opens fds of its own (its
// event loop's) when it boots: counting the process's fds before they are
// all up made the fd-leak checks below flaky on the worker backend.
if (!skip) await workersUp(rt);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

const dir = tmpDir('torture');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const FILE = path.join(dir, 'data');
const content = Buffer.alloc(256 * 1024);
for (let i = 0; i < content.length; i++) content[i] = (i * 7 + 3) & 0xff || 1; // never 0
fs.writeFileSync(FILE, content);

const FILES: string[] = [];
for (let i = 0; i < 64; i++) {
  const p = path.join(dir, `f${i}`);
  const size = [0, 10, 4096, 60 * 1024, 61 * 1024, 200 * 1024][i % 6]!;
  fs.writeFileSync(p, content.subarray(i, i + size));
  FILES.push(p);
}

const EXPECT = FILES.map((p) => fs.readFileSync(p));

const tick = () => new Promise<void>((res) => setImmediate(res));

const assertClean = (fds0: number): Promise<void> => assertCleanRuntime(rt, fds0);

test('S1: a read buffer transferred mid-flight is never written', { skip }, async () => {
  const fds0 = openFdCount();
  const fh = await uring.open(FILE, 'r');
  for (let i = 0; i < 2000; i++) {
    const ab = new ArrayBuffer(4096);
    const view = new Uint8Array(ab);
    const p = fh.read(view, 0, 4096, (i * 4096) % content.length);
    if (i % 3 === 1) await Promise.resolve();
    if (i % 3 === 2) setImmediate(() => {});
    const moved = structuredClone(ab, { transfer: [ab] });
    const res = await p;
    assert.equal(res.bytesRead, 4096);
    assert.equal(view.byteLength, 0, 'the original view is detached');
    assert.ok(new Uint8Array(moved).every((b) => b === 0), 'the moved buffer must not receive the read');
    if (i % 500 === 0) gc();
  }
  // ArrayBuffer.prototype.transfer (Node >= 21) takes the same path.
  const transfer = (ArrayBuffer.prototype as unknown as { transfer?: () => ArrayBuffer }).transfer;
  if (transfer) {
    const ab = new ArrayBuffer(4096);
    const p = fh.read(new Uint8Array(ab), 0, 4096, 0);
    const moved = transfer.call(ab);
    await p;
    assert.ok(new Uint8Array(moved).every((b) => b === 0));
  }
  await fh.close();
  await assertClean(fds0);
});

test('S1: a write buffer transferred or overwritten mid-flight writes the bytes given at submission', { skip }, async () => {
  const fds0 = openFdCount();
  const out = path.join(dir, 'w');
  const fh = await uring.open(out, 'w+');
  const expect = Buffer.alloc(512 * 64);
  for (let i = 0; i < 64; i++) {
    const ab = new ArrayBuffer(512);
    const v = new Uint8Array(ab).fill(i + 1);
    expect.fill(i + 1, i * 512, (i + 1) * 512);
    const p = fh.write(v, 0, 512, i * 512);
    if (i % 2) {
      const moved = new Uint8Array(structuredClone(ab, { transfer: [ab] }));
      moved.fill(0xee);
    } else v.fill(0xee);
    assert.equal((await p).bytesWritten, 512);
  }
  await fh.close();
  assert.deepEqual(fs.readFileSync(out), expect);
  await assertClean(fds0);
});

test('S1: a resizable ArrayBuffer shrunk mid-flight gets only what still fits', { skip }, async (t) => {
  let ab: ArrayBuffer & { resize?: (n: number) => void };
  try {
    ab = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(8192, { maxByteLength: 65536 });
  } catch {
    t.skip('resizable ArrayBuffer not supported');
    return;
  }
  if (typeof ab.resize !== 'function') {
    t.skip('resizable ArrayBuffer not supported');
    return;
  }
  const fds0 = openFdCount();
  const fh = await uring.open(FILE, 'r');
  for (let i = 0; i < 500; i++) {
    const rab = new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer & { resize(n: number): void })(8192, { maxByteLength: 65536 });
    const tracking = new Uint8Array(rab); // length-tracking
    const fixed = new Uint8Array(rab, 0, 8192); // goes out of bounds on shrink
    const target = i % 2 ? tracking : fixed;
    const p = fh.read(target, 0, 8192, 0);
    rab.resize(100);
    const res = await p;
    assert.equal(res.bytesRead, 8192);
    rab.resize(8192);
    const got = new Uint8Array(rab);
    if (target === tracking) assert.deepEqual(Buffer.from(got.subarray(0, 100)), content.subarray(0, 100));
    assert.ok(got.subarray(100).every((b) => b === 0), 'nothing written past the shrunk length');
    if (target === fixed) assert.ok(got.subarray(0, 100).every((b) => b === 0) || Buffer.from(got.subarray(0, 100)).equals(content.subarray(0, 100)));
  }
  await fh.close();
  await assertClean(fds0);
});

test('S1: buffers dropped mid-flight with forced GC', { skip }, async () => {
  const fds0 = openFdCount();
  const fh = await uring.open(FILE, 'r');
  let done = 0;
  for (let round = 0; round < 20; round++) {
    const ps: Promise<unknown>[] = [];
    for (let i = 0; i < 500; i++) {
      // Nothing keeps the buffer but the op.
      ps.push(fh.read(Buffer.alloc(4096), 0, 4096, (i * 512) % content.length).then((res) => {
        assert.equal(res.bytesRead, 4096);
        assert.equal((res.buffer as Buffer)[0], content[(i * 512) % content.length]);
        done++;
      }));
    }
    gc();
    await tick();
    gc();
    await Promise.all(ps);
  }
  assert.equal(done, 10_000);
  await fh.close();
  await assertClean(fds0);
});

test('S2/S7: readFile abort storm (100k, aborted at random points)', { skip, timeout: 120_000 }, async () => {
  const fds0 = openFdCount();
  const rand = mulberry32(0xab0e7);
  const N = 100_000;
  const shared = new AbortController();
  const ps: Promise<void>[] = [];
  let ok = 0;
  let aborted = 0;
  for (let i = 0; i < N; i++) {
    const k = rand();
    const file = FILES[i % FILES.length]!;
    let signal: AbortSignal;
    if (k < 0.25) signal = shared.signal;
    else {
      const ac = new AbortController();
      signal = ac.signal;
      if (k < 0.3) ac.abort();
      else if (k < 0.5) queueMicrotask(() => ac.abort());
      else if (k < 0.65) setImmediate(() => ac.abort());
      else if (k < 0.8) setTimeout(() => ac.abort(), Math.floor(rand() * 4));
    }
    const enc = k > 0.9 ? 'latin1' : undefined;
    ps.push(
      uring.readFile(file, { signal, encoding: enc }).then(
        (v) => {
          const b = typeof v === 'string' ? Buffer.from(v, 'latin1') : v;
          assert.ok(b.equals(EXPECT[i % FILES.length]!), `content of ${file}`);
          ok++;
        },
        (e: Error & { code?: string }) => {
          assert.equal(e.name, 'AbortError', `unexpected ${e.message}`);
          assert.equal(e.code, 'ABORT_ERR');
          aborted++;
        },
      ),
    );
    if (i === 20_000) setTimeout(() => shared.abort(), 1);
    if (i % 10_000 === 0) {
      gc();
      await tick();
    }
  }
  await Promise.all(ps);
  assert.equal(ok + aborted, N);
  assert.ok(aborted > N / 4, `aborted ${aborted}`);
  assert.ok(ok > 1000, `completed ${ok}`);
  gc();
  await assertClean(fds0);
});

test('S2/S7: writeFile and truncate abort storm', { skip, timeout: 60_000 }, async () => {
  const fds0 = openFdCount();
  const rand = mulberry32(0x3e17e);
  const ps: Promise<unknown>[] = [];
  let aborted = 0;
  for (let i = 0; i < 20_000; i++) {
    const ac = new AbortController();
    const k = rand();
    if (k < 0.2) ac.abort();
    else if (k < 0.5) queueMicrotask(() => ac.abort());
    else if (k < 0.7) setImmediate(() => ac.abort());
    const p = path.join(dir, `w${i % 200}`);
    const data = content.subarray(0, [0, 100, 5000, 70_000][i % 4]);
    ps.push(uring.writeFile(p, data, { signal: ac.signal, flush: i % 50 === 0 }).catch((e: Error) => {
      assert.equal(e.name, 'AbortError');
      aborted++;
    }));
    if (i % 7 === 0) ps.push(uring.truncate(p, 10).catch(() => {}));
  }
  await Promise.all(ps);
  assert.ok(aborted > 1000);
  await assertClean(fds0);
});

test('S7: failing chains (missing files, directories, bad flags) leak nothing', { skip }, async () => {
  const fds0 = openFdCount();
  const ps: Promise<unknown>[] = [];
  for (let i = 0; i < 20_000; i++) {
    const k = i % 5;
    if (k === 0) ps.push(uring.readFile(path.join(dir, 'missing', String(i))).catch(() => {}));
    else if (k === 1) ps.push(uring.readFile(dir).catch(() => {}));
    else if (k === 2) ps.push(uring.writeFile(dir, 'x').catch(() => {}));
    else if (k === 3) ps.push(uring.readFile(FILES[1]!, { flag: 'a' }).catch(() => {}));
    else ps.push(uring.truncate(dir).catch(() => {}));
  }
  await Promise.all(ps);
  await assertClean(fds0);
});

test('FileHandle: close waits for reads in flight; unclosed handles are closed on GC', { skip }, async () => {
  const fds0 = openFdCount();
  for (let i = 0; i < 50; i++) {
    const fh = await uring.open(FILE, 'r');
    const reads = Array.from({ length: 32 }, (_, k) => fh.read(Buffer.alloc(4096), 0, 4096, k * 4096));
    await fh.close();
    const rs = await Promise.all(reads);
    assert.ok(rs.every((x) => x.bytesRead === 4096));
    assert.equal(fh.fd, -1);
  }
  await assertClean(fds0);
});

test('big-op admission: 150 concurrent 8 MiB writeFiles, 150 concurrent 3 MiB readFiles, 100 8 MiB writes never exhaust the pool', { skip, timeout: 120_000 }, async () => {
  const fds0 = openFdCount();
  const big = Buffer.alloc(8 << 20, 0x5a);
  const names = Array.from({ length: 150 }, (_, i) => path.join(dir, `big${i % 10}`));
  // 1.2 GB of data in flight against a 1 GiB pool cap: must queue, not fail.
  await Promise.all(names.map((p) => uring.writeFile(p, big)));
  const mid = Buffer.alloc(3 << 20, 0xa5);
  fs.writeFileSync(path.join(dir, 'mid'), mid);
  const rs = await Promise.all(Array.from({ length: 150 }, () => uring.readFile(path.join(dir, 'mid'))));
  assert.ok(rs.every((b) => b.length === mid.length && b[mid.length - 1] === 0xa5));
  const fh = await uring.open(path.join(dir, 'big0'), 'r+');
  const parts = await Promise.all(Array.from({ length: 100 }, (_, i) => fh.write(big, 0, big.length, i * 4096).then((w) => w.bytesWritten)));
  assert.ok(parts.every((n) => n === big.length));
  await fh.close();
  await assertClean(fds0);
});
