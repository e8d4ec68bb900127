// Every op of the low-level Ring against the real kernel (or the scheme the
// backend runs), one test per op, named after liburing's io_uring_prep_*.
// Each test checks the whole result: the return value, the file contents or
// metadata as node:fs sees them, and the Node-shaped error of a failing case.
// Ops the backend lacks are skipped through its probe, never failed.

import { describe, test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Ring, constants as c } from '../src/index.js';
import {
  tempDir, closeLater, makeFifo, drainFifo, fsError, rejectsLikeFs, rejectsErrno, rejectsWithCode,
  randomBytes, need, tick, umask, BACKEND, backendUnavailable, fdIdentity, assertFdClosed, NEVER_OPEN_FD,
} from './helpers.js';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL } = fs.constants;
const POLLIN = 0x1;
const POLLOUT = 0x4;
const POSIX_FADV_SEQUENTIAL = 2;
const POSIX_FADV_DONTNEED = 4;
const MADV_NORMAL = 0;
const MADV_WILLNEED = 3;
const FALLOC_FL_KEEP_SIZE = 1;
const FALLOC_FL_PUNCH_HOLE = 2;
const SYNC_FILE_RANGE_WRITE = 2;
const RENAME_NOREPLACE = 1;
const RESOLVE_NO_SYMLINKS = 0x04;
const ECANCELED = 125;
const ETIME = 62;
const EBADF = 9;

let ring: Ring;
let badBefore = 0;
/** Rings opened by a test (for a fresh file table), closed after it. */
const extra: Ring[] = [];

/** A ring of its own, for tests that register a file table (one per ring). */
function freshRing(): Ring {
  const r = new Ring({ entries: 16 });
  extra.push(r);
  return r;
}

/** Registers a sparse direct-descriptor table; skips where the backend has none. */
function filesTable(r: Ring, t: { skip(msg?: string): void }, n: number): boolean {
  if (BACKEND === 'kernel') {
    r.registerFilesSparse(n);
    return true;
  }
  try {
    r.registerFilesSparse(n);
    return true;
  } catch (e) {
    t.skip(`the ${r.backend.name} backend has no registered file table: ${(e as Error).message}`);
    return false;
  }
}

function writeFile(dir: string, name: string, data: Uint8Array | string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, data);
  return p;
}

/** An fd number that is certainly closed (opened, then closed). */

describe('ring ops', { skip: backendUnavailable() }, () => {
  before(() => {
    ring = new Ring({ entries: 64 });
  });

  after(async () => {
    await ring.close();
  });

  beforeEach(() => {
    badBefore = ring.stats().badCqes;
  });

  afterEach(async () => {
    for (const r of extra.splice(0)) {
      assert.equal(r.stats().badCqes, 0, 'no CQE may be rejected as unknown or stale');
      assert.equal(r.pool.stats().inUse, 0, 'pool memory leaked');
      await r.close();
    }
    // Every test leaves the shared ring clean: nothing in flight, no pool
    // memory held, no CQE the executor did not recognise.
    const s = ring.stats();
    assert.equal(s.inflight, 0, 'ops still in flight after the test');
    assert.equal(s.staged, 0, 'ops still staged after the test');
    assert.equal(s.badCqes - badBefore, 0, 'no CQE may be rejected as unknown or stale');
    assert.equal(ring.pool.stats().inUse, 0, 'pool memory leaked');
  });

  test('nop', async () => {
    const before = ring.stats();
    assert.equal(await ring.nop(), 0);
    const s = ring.stats();
    assert.equal(s.submitted - before.submitted, 1);
    assert.equal(s.reaped - before.reaped, 1);
    assert.equal(s.enters - before.enters, 1);
  });

  test('read', async (t) => {
    if (!need(ring, t, c.IORING_OP_READ, 'READ')) return;
    const dir = tempDir(t);
    const data = randomBytes(8192, 1);
    const p = writeFile(dir, 'data', data);
    const fd = fs.openSync(p, 'r');
    closeLater(t, fd);

    // At an offset, into the whole buffer.
    const buf = new Uint8Array(4096).fill(0xee);
    assert.equal(await ring.read(fd, buf, 100), 4096);
    assert.deepEqual(buf, data.subarray(100, 4196));

    // Short read at the end of the file: only the bytes read change.
    buf.fill(0xee);
    assert.equal(await ring.read(fd, buf, 8000), 192);
    assert.deepEqual(buf.subarray(0, 192), data.subarray(8000));
    assert.ok(buf.subarray(192).every((b) => b === 0xee), 'bytes past the result must stay untouched');

    // At EOF.
    assert.equal(await ring.read(fd, buf, 8192), 0);

    // Into a view with an offset (and a non-Uint8 view): bytes around it stay untouched.
    const backing = new ArrayBuffer(64);
    new Uint8Array(backing).fill(0x11);
    const view = new Uint16Array(backing, 8, 8); // bytes 8..24
    assert.equal(await ring.read(fd, view, 10), 16);
    const all = new Uint8Array(backing);
    assert.deepEqual(all.subarray(8, 24), data.subarray(10, 26));
    assert.ok(all.subarray(0, 8).every((b) => b === 0x11) && all.subarray(24).every((b) => b === 0x11));

    // Position -1 reads at, and advances, the file position.
    if (ring.features & c.IORING_FEAT_RW_CUR_POS) {
      const fd2 = fs.openSync(p, 'r');
      closeLater(t, fd2);
      const a = new Uint8Array(1000);
      const b = new Uint8Array(1000);
      assert.equal(await ring.read(fd2, a), 1000);
      assert.equal(await ring.read(fd2, b, -1), 1000);
      assert.deepEqual(a, data.subarray(0, 1000));
      assert.deepEqual(b, data.subarray(1000, 2000));
      const rest = Buffer.alloc(10);
      fs.readSync(fd2, rest, 0, 10, null);
      assert.deepEqual(new Uint8Array(rest), data.subarray(2000, 2010));
    }

    // Failing: a write-only fd, and a directory, exactly as node:fs reports them.
    const wfd = fs.openSync(path.join(dir, 'wonly'), 'w');
    closeLater(t, wfd);
    await rejectsLikeFs(ring.read(wfd, new Uint8Array(4), 0), fsError(() => fs.readSync(wfd, Buffer.alloc(4), 0, 4, 0)));
    const dfd = fs.openSync(dir, 'r');
    closeLater(t, dfd);
    await rejectsLikeFs(ring.read(dfd, new Uint8Array(4), 0), fsError(() => fs.readSync(dfd, Buffer.alloc(4), 0, 4, 0)));
  });

  test('write', async (t) => {
    if (!need(ring, t, c.IORING_OP_WRITE, 'WRITE')) return;
    const dir = tempDir(t);
    const p = path.join(dir, 'out');
    const fd = fs.openSync(p, 'w+');
    closeLater(t, fd);
    const data = randomBytes(3000, 2);
    assert.equal(await ring.write(fd, data, 0), 3000);
    assert.equal(await ring.write(fd, new TextEncoder().encode('xyz'), 5000), 3);
    const got = fs.readFileSync(p);
    assert.equal(got.length, 5003);
    assert.deepEqual(new Uint8Array(got.subarray(0, 3000)), data);
    assert.ok(got.subarray(3000, 5000).every((b) => b === 0), 'the hole reads as zeros');
    assert.equal(got.subarray(5000).toString(), 'xyz');

    // A view with an offset writes exactly its own bytes.
    const backing = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(await ring.write(fd, new DataView(backing.buffer, 2, 3), 0), 3);
    assert.deepEqual([...fs.readFileSync(p).subarray(0, 4)], [3, 4, 5, data[3]]);

    // Position -1 writes at, and advances, the file position.
    if (ring.features & c.IORING_FEAT_RW_CUR_POS) {
      const p2 = path.join(dir, 'seq');
      const fd2 = fs.openSync(p2, 'w');
      closeLater(t, fd2);
      assert.equal(await ring.write(fd2, Buffer.from('ab')), 2);
      assert.equal(await ring.write(fd2, Buffer.from('cd'), -1), 2);
      assert.equal(fs.readFileSync(p2, 'utf8'), 'abcd');
    }

    // Failing: a read-only fd.
    const rfd = fs.openSync(p, 'r');
    closeLater(t, rfd);
    await rejectsLikeFs(ring.write(rfd, Buffer.from('no'), 0), fsError(() => fs.writeSync(rfd, Buffer.from('no'), 0, 2, 0)));
    assert.equal(fs.readFileSync(p).length, 5003, 'the failed write changed nothing');
  });

  test('readv', async (t) => {
    if (!need(ring, t, c.IORING_OP_READV, 'READV')) return;
    const dir = tempDir(t);
    const data = randomBytes(100, 3);
    const p = writeFile(dir, 'data', data);
    const fd = fs.openSync(p, 'r');
    closeLater(t, fd);

    const bufs = [new Uint8Array(4), new Uint8Array(10), new Uint8Array(3)];
    assert.equal(await ring.readv(fd, bufs, 5), 17);
    assert.deepEqual(bufs[0], data.subarray(5, 9));
    assert.deepEqual(bufs[1], data.subarray(9, 19));
    assert.deepEqual(bufs[2], data.subarray(19, 22));

    // Short read: buffers fill in order, the rest stays untouched.
    const tail = [new Uint8Array(6).fill(0xee), new Uint8Array(6).fill(0xee), new Uint8Array(6).fill(0xee)];
    assert.equal(await ring.readv(fd, tail, 92), 8);
    assert.deepEqual(tail[0], data.subarray(92, 98));
    assert.deepEqual(tail[1]!.subarray(0, 2), data.subarray(98, 100));
    assert.ok(tail[1]!.subarray(2).every((b) => b === 0xee));
    assert.ok(tail[2]!.every((b) => b === 0xee));

    // Failing: a write-only fd. node:fs names the syscall "read" for readv.
    const wfd = fs.openSync(path.join(dir, 'w'), 'w');
    closeLater(t, wfd);
    const expected = fsError(() => fs.readvSync(wfd, [Buffer.alloc(4)], 0));
    const err = await rejectsErrno(ring.readv(wfd, [new Uint8Array(4)], 0), { code: 'EBADF', syscall: 'readv' });
    assert.equal(err.errno, expected.errno);
  });

  test('writev', async (t) => {
    if (!need(ring, t, c.IORING_OP_WRITEV, 'WRITEV')) return;
    const dir = tempDir(t);
    const p = path.join(dir, 'out');
    const fd = fs.openSync(p, 'w+');
    closeLater(t, fd);
    const parts = ['hello ', 'vectored ', 'world'].map((s) => Buffer.from(s));
    assert.equal(await ring.writev(fd, parts, 2), 20);
    const got = fs.readFileSync(p);
    assert.deepEqual([...got.subarray(0, 2)], [0, 0]);
    assert.equal(got.subarray(2).toString(), 'hello vectored world');

    const rfd = fs.openSync(p, 'r');
    closeLater(t, rfd);
    const expected = fsError(() => fs.writevSync(rfd, [Buffer.from('x')], 0));
    const err = await rejectsErrno(ring.writev(rfd, [Buffer.from('x')], 0), { code: 'EBADF', syscall: 'writev' });
    assert.equal(err.errno, expected.errno);
    assert.equal(fs.readFileSync(p).length, 22);
  });

  test('read_fixed', async (t) => {
    if (!need(ring, t, c.IORING_OP_READ_FIXED, 'READ_FIXED')) return;
    const dir = tempDir(t);
    const data = randomBytes(8192, 4);
    const fd = fs.openSync(writeFile(dir, 'data', data), 'r');
    closeLater(t, fd);
    const chunk = ring.pool.alloc(4096, 4096);
    try {
      chunk.view().fill(0);
      assert.equal(await ring.read_fixed(fd, chunk, 4096, 0), 4096);
      assert.deepEqual(chunk.view(4096), data.subarray(0, 4096));
      chunk.view().fill(0xee);
      assert.equal(await ring.read_fixed(fd, chunk, 100, 50), 100);
      assert.deepEqual(chunk.view(100), data.subarray(50, 150));
      assert.ok(chunk.view().subarray(100).every((b) => b === 0xee), 'only `len` bytes are read');
      assert.equal(await ring.read_fixed(fd, chunk, 4096, 8000), 192);
      assert.deepEqual(chunk.view(192), data.subarray(8000));
      await rejectsErrno(ring.read_fixed(NEVER_OPEN_FD, chunk, 16, 0), { code: 'EBADF', syscall: 'read' });
    } finally {
      ring.pool.free(chunk);
    }
  });

  test('write_fixed', async (t) => {
    if (!need(ring, t, c.IORING_OP_WRITE_FIXED, 'WRITE_FIXED')) return;
    const dir = tempDir(t);
    const p = path.join(dir, 'out');
    const fd = fs.openSync(p, 'w+');
    closeLater(t, fd);
    const data = randomBytes(1000, 5);
    const chunk = ring.pool.alloc(4096, 4096);
    try {
      chunk.view(1000).set(data);
      assert.equal(await ring.write_fixed(fd, chunk, 1000, 10), 1000);
      const got = fs.readFileSync(p);
      assert.equal(got.length, 1010);
      assert.ok(got.subarray(0, 10).every((b) => b === 0));
      assert.deepEqual(new Uint8Array(got.subarray(10)), data);
      const rfd = fs.openSync(p, 'r');
      closeLater(t, rfd);
      await rejectsErrno(ring.write_fixed(rfd, chunk, 16, 0), { code: 'EBADF', syscall: 'write' });
    } finally {
      ring.pool.free(chunk);
    }
  });

  test('fsync', async (t) => {
    if (!need(ring, t, c.IORING_OP_FSYNC, 'FSYNC')) return;
    const dir = tempDir(t);
    const p = path.join(dir, 'f');
    const fd = fs.openSync(p, 'w');
    closeLater(t, fd);
    fs.writeSync(fd, 'durable');
    assert.equal(await ring.fsync(fd), 0);
    assert.equal(await ring.fsync(fd, true), 0);
    assert.equal(fs.readFileSync(p, 'utf8'), 'durable');
    const bad = NEVER_OPEN_FD;
    await rejectsLikeFs(ring.fsync(bad), fsError(() => fs.fsyncSync(bad)));
    await rejectsLikeFs(ring.fsync(bad, true), fsError(() => fs.fdatasyncSync(bad)));
  });

  test('sync_file_range', async (t) => {
    if (!need(ring, t, c.IORING_OP_SYNC_FILE_RANGE, 'SYNC_FILE_RANGE')) return;
    const dir = tempDir(t);
    const fd = fs.openSync(path.join(dir, 'f'), 'w');
    closeLater(t, fd);
    fs.writeSync(fd, Buffer.alloc(8192, 1));
    assert.equal(await ring.sync_file_range(fd, 0, 8192, SYNC_FILE_RANGE_WRITE), 0);
    assert.equal(await ring.sync_file_range(fd, 0, 0), 0);
    const f = makeFifo(t, dir);
    await rejectsErrno(ring.sync_file_range(f.fd, 0, 0), { code: 'ESPIPE', syscall: 'sync_file_range' });
  });

  test('openat', async (t) => {
    if (!need(ring, t, c.IORING_OP_OPENAT, 'OPENAT')) return;
    const dir = tempDir(t);
    const p = writeFile(dir, 'existing', 'contents');

    const fd = await ring.openat(c.AT_FDCWD, p, O_RDONLY);
    closeLater(t, fd);
    assert.ok(Number.isInteger(fd) && fd >= 0);
    assert.equal(fs.fstatSync(fd).ino, fs.statSync(p).ino);
    assert.equal(fs.readFileSync(fd, 'utf8'), 'contents');

    // Relative to a directory fd, creating with a mode.
    const dfd = fs.openSync(dir, 'r');
    closeLater(t, dfd);
    const created = await ring.openat(dfd, 'created', O_CREAT | O_EXCL | O_WRONLY, 0o640);
    closeLater(t, created);
    const st = fs.statSync(path.join(dir, 'created'));
    assert.ok(st.isFile());
    assert.equal(st.mode & 0o777, 0o640 & ~umask());
    fs.writeSync(created, 'new');
    assert.equal(fs.readFileSync(path.join(dir, 'created'), 'utf8'), 'new');

    // Failing, exactly as node:fs reports it.
    const missing = path.join(dir, 'missing');
    await rejectsLikeFs(ring.openat(c.AT_FDCWD, missing, O_RDONLY), fsError(() => fs.openSync(missing, 'r')));
    await rejectsLikeFs(ring.openat(c.AT_FDCWD, p, O_CREAT | O_EXCL | O_WRONLY), fsError(() => fs.openSync(p, 'wx')));
  });

  test('openat_direct', async (t) => {
    const r = freshRing();
    if (!need(r, t, c.IORING_OP_OPENAT, 'OPENAT')) return;
    const dir = tempDir(t);
    const p = writeFile(dir, 'f', 'direct descriptor');

    // No table registered yet.
    await rejectsErrno(r.openat_direct(c.AT_FDCWD, p, O_RDONLY, 0, 0), { code: 'ENXIO', syscall: 'open', path: p });
    if (!filesTable(r, t, 4)) return;

    assert.equal(await r.openat_direct(c.AT_FDCWD, p, O_RDONLY, 0, 1), 0);
    const buf = new Uint8Array(32);
    // Read through slot 1: the fd field is the slot with IOSQE_FIXED_FILE.
    assert.deepEqual(await r.chain().read(1, buf, 0).flags(c.IOSQE_FIXED_FILE).submit(), [17]);
    assert.equal(Buffer.from(buf.subarray(0, 17)).toString(), 'direct descriptor');

    // The kernel picks a free slot and returns its index (not 0 for success).
    const auto = await r.openat_direct(c.AT_FDCWD, p, O_RDONLY, 0, c.IORING_FILE_INDEX_ALLOC);
    assert.ok([0, 2, 3].includes(auto), `slot ${auto} must be one that was free`);
    buf.fill(0);
    assert.deepEqual(await r.chain().read(auto, buf.subarray(0, 17), 0).flags(c.IOSQE_FIXED_FILE).submit(), [17]);
    assert.equal(Buffer.from(buf.subarray(0, 17)).toString(), 'direct descriptor');

    await rejectsErrno(r.openat_direct(c.AT_FDCWD, p, O_RDONLY, 0, 9), { code: 'EINVAL', syscall: 'open', path: p });
    const missing = path.join(dir, 'missing');
    await rejectsErrno(r.openat_direct(c.AT_FDCWD, missing, O_RDONLY, 0, 2), { code: 'ENOENT', syscall: 'open', path: missing });
    assert.equal(await r.close_direct(auto), 0);
    assert.equal(await r.close_direct(1), 0);
  });

  test('openat2', async (t) => {
    if (!need(ring, t, c.IORING_OP_OPENAT2, 'OPENAT2')) return;
    const dir = tempDir(t);
    const p = writeFile(dir, 'f', 'two');
    const fd = await ring.openat2(c.AT_FDCWD, p, { flags: O_RDONLY });
    closeLater(t, fd);
    assert.equal(fs.readFileSync(fd, 'utf8'), 'two');

    const q = path.join(dir, 'new');
    const wfd = await ring.openat2(c.AT_FDCWD, q, { flags: O_CREAT | O_WRONLY | O_EXCL, mode: 0o600 });
    closeLater(t, wfd);
    assert.equal(fs.statSync(q).mode & 0o777, 0o600 & ~umask());

    // RESOLVE_NO_SYMLINKS refuses a symlink anywhere in the path.
    const link = path.join(dir, 'link');
    fs.symlinkSync(p, link);
    await rejectsErrno(ring.openat2(c.AT_FDCWD, link, { flags: O_RDONLY, resolve: RESOLVE_NO_SYMLINKS }), { code: 'ELOOP', syscall: 'openat2', path: link });
    // A mode without O_CREAT is invalid for openat2 (unlike openat).
    await rejectsErrno(ring.openat2(c.AT_FDCWD, p, { flags: O_RDONLY, mode: 0o644 }), { code: 'EINVAL', syscall: 'openat2', path: p });
  });

  test('close_fd', async (t) => {
    if (!need(ring, t, c.IORING_OP_CLOSE, 'CLOSE')) return;
    const dir = tempDir(t);
    const fd = fs.openSync(writeFile(dir, 'f', 'x'), 'r');
    closeLater(t, fd);
    const id = fdIdentity(fd);
    assert.equal(await ring.close_fd(fd), 0);
    assertFdClosed(fd, id, 'the fd is closed');
    // Not `fd` again: another thread may hold its number by now.
    await rejectsLikeFs(ring.close_fd(NEVER_OPEN_FD), fsError(() => fs.closeSync(NEVER_OPEN_FD)));
  });

  test('close_direct', async (t) => {
    const r = freshRing();
    if (!need(r, t, c.IORING_OP_CLOSE, 'CLOSE') || !need(r, t, c.IORING_OP_FILES_UPDATE, 'FILES_UPDATE')) return;
    if (!filesTable(r, t, 2)) return;
    const dir = tempDir(t);
    const fd = fs.openSync(writeFile(dir, 'f', 'x'), 'r');
    closeLater(t, fd);
    assert.equal(await r.files_update([fd], 0), 1);
    assert.equal(await r.close_direct(0), 0);
    // The slot is empty now; the process's own fd is untouched.
    await rejectsErrno(r.close_direct(0), { code: 'EBADF', syscall: 'close' });
    assert.equal(fs.readFileSync(fd, 'utf8'), 'x');
    await rejectsErrno(r.close_direct(5), { code: 'EINVAL', syscall: 'close' });
  });

  test('statx', async (t) => {
    if (!need(ring, t, c.IORING_OP_STATX, 'STATX')) return;
    const dir = tempDir(t);
    const p = writeFile(dir, 'f', randomBytes(1234, 6));
    const st = await ring.statx(c.AT_FDCWD, p);
    const want = fs.statSync(p, { bigint: true });
    assert.equal(st.size, 1234);
    assert.equal(BigInt(st.ino), want.ino);
    assert.equal(BigInt(st.dev), want.dev);
    assert.equal(BigInt(st.mode), want.mode);
    assert.equal(BigInt(st.nlink), want.nlink);
    assert.equal(BigInt(st.uid), want.uid);
    assert.equal(BigInt(st.gid), want.gid);
    assert.equal(BigInt(st.rdev), want.rdev);
    assert.equal(BigInt(st.blksize), want.blksize);
    assert.equal(BigInt(st.blocks), want.blocks);
    assert.equal(st.mtimeNs, want.mtimeNs);
    assert.equal(st.ctimeNs, want.ctimeNs);
    assert.equal(st.atimeNs, want.atimeNs);
    assert.equal(st.birthtimeNs, want.birthtimeNs);
    // The millisecond fields are computed exactly as node:fs computes them.
    const wantMs = fs.statSync(p);
    assert.equal(st.mtimeMs, wantMs.mtimeMs);
    assert.equal(st.ctimeMs, wantMs.ctimeMs);
    assert.equal(st.atimeMs, wantMs.atimeMs);
    assert.equal(st.birthtimeMs, wantMs.birthtimeMs);

    // Relative to a dir fd; AT_SYMLINK_NOFOLLOW sees the link itself.
    const link = path.join(dir, 'link');
    fs.symlinkSync('f', link);
    const dfd = fs.openSync(dir, 'r');
    closeLater(t, dfd);
    const ls = await ring.statx(dfd, 'link', c.AT_SYMLINK_NOFOLLOW);
    const lwant = fs.lstatSync(link, { bigint: true });
    assert.equal(BigInt(ls.ino), lwant.ino);
    assert.equal(BigInt(ls.mode), lwant.mode);
    assert.equal(ls.size, 1);
    assert.equal(BigInt((await ring.statx(dfd, 'link')).ino), want.ino, 'followed by default');

    const missing = path.join(dir, 'missing');
    const expected = fsError(() => fs.statSync(missing));
    const err = await rejectsErrno(ring.statx(c.AT_FDCWD, missing), { code: 'ENOENT', syscall: 'statx', path: missing });
    assert.equal(err.errno, expected.errno);
  });

  test('fallocate', async (t) => {
    if (!need(ring, t, c.IORING_OP_FALLOCATE, 'FALLOCATE')) return;
    const dir = tempDir(t);
    const p = path.join(dir, 'f');
    const fd = fs.openSync(p, 'w+');
    closeLater(t, fd);
    const MiB = 1 << 20;
    assert.equal(await ring.fallocate(fd, 0, 0, MiB), 0);
    let st = fs.fstatSync(fd);
    assert.equal(st.size, MiB);
    assert.ok(st.blocks * 512 >= MiB, 'space is allocated');
    assert.equal(await ring.fallocate(fd, FALLOC_FL_KEEP_SIZE, MiB, MiB), 0);
    st = fs.fstatSync(fd);
    assert.equal(st.size, MiB, 'KEEP_SIZE keeps the size');
    assert.ok(st.blocks * 512 >= 2 * MiB, 'but allocates past it');
    // Punching a hole zeroes the range.
    fs.writeSync(fd, Buffer.alloc(8192, 0x5a), 0, 8192, 0);
    const punched = await ring.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096).catch((e: NodeJS.ErrnoException) => e);
    if (typeof punched === 'number') {
      assert.equal(punched, 0);
      const back = Buffer.alloc(8192);
      fs.readSync(fd, back, 0, 8192, 0);
      assert.ok(back.subarray(0, 4096).every((b) => b === 0));
      assert.ok(back.subarray(4096).every((b) => b === 0x5a));
    } else {
      assert.equal(punched.code, 'EOPNOTSUPP', 'only a filesystem without hole punching may refuse');
    }
    const f = makeFifo(t, dir);
    await rejectsErrno(ring.fallocate(f.fd, 0, 0, 10), { code: 'ESPIPE', syscall: 'fallocate' });
  });

  test('fadvise', async (t) => {
    if (!need(ring, t, c.IORING_OP_FADVISE, 'FADVISE')) return;
    const dir = tempDir(t);
    const data = randomBytes(4096, 7);
    const p = writeFile(dir, 'f', data);
    const fd = fs.openSync(p, 'r');
    closeLater(t, fd);
    assert.equal(await ring.fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL), 0);
    assert.equal(await ring.fadvise(fd, 0, 4096, POSIX_FADV_DONTNEED), 0);
    assert.deepEqual(new Uint8Array(fs.readFileSync(p)), data, 'advice never changes contents');
    await rejectsErrno(ring.fadvise(fd, 0, 0, 99), { code: 'EINVAL', syscall: 'fadvise' });
    const f = makeFifo(t, dir);
    await rejectsErrno(ring.fadvise(f.fd, 0, 0, POSIX_FADV_SEQUENTIAL), { code: 'ESPIPE', syscall: 'fadvise' });
  });

  test('madvise', async (t) => {
    if (!need(ring, t, c.IORING_OP_MADVISE, 'MADVISE')) return;
    const chunk = ring.pool.alloc(8192, 4096);
    try {
      assert.equal(chunk.addr % 4096, 0);
      chunk.view().fill(0x5a);
      assert.equal(await ring.madvise(chunk, 8192, MADV_WILLNEED), 0);
      assert.equal(await ring.madvise(chunk, 8192, MADV_NORMAL), 0);
      assert.ok(chunk.view(8192).every((b) => b === 0x5a), 'WILLNEED/NORMAL never change memory');
      await rejectsErrno(ring.madvise(chunk, 8192, 9999), { code: 'EINVAL', syscall: 'madvise' });
    } finally {
      ring.pool.free(chunk);
    }
  });

  test('unlinkat', async (t) => {
    if (!need(ring, t, c.IORING_OP_UNLINKAT, 'UNLINKAT')) return;
    const dir = tempDir(t);
    const p = writeFile(dir, 'f', 'x');
    assert.equal(await ring.unlinkat(c.AT_FDCWD, p), 0);
    assert.equal(fs.existsSync(p), false);
    await rejectsLikeFs(ring.unlinkat(c.AT_FDCWD, p), fsError(() => fs.unlinkSync(p)));

    const d = path.join(dir, 'd');
    fs.mkdirSync(d);
    await rejectsLikeFs(ring.unlinkat(c.AT_FDCWD, d), fsError(() => fs.unlinkSync(d)));
    writeFile(d, 'inside', 'y');
    await rejectsLikeFs(ring.unlinkat(c.AT_FDCWD, d, c.AT_REMOVEDIR), fsError(() => fs.rmdirSync(d)));
    fs.unlinkSync(path.join(d, 'inside'));
    assert.equal(await ring.unlinkat(c.AT_FDCWD, d, c.AT_REMOVEDIR), 0);
    assert.equal(fs.existsSync(d), false);

    // Relative to a dir fd.
    writeFile(dir, 'g', 'z');
    const dfd = fs.openSync(dir, 'r');
    closeLater(t, dfd);
    assert.equal(await ring.unlinkat(dfd, 'g'), 0);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  test('renameat', async (t) => {
    if (!need(ring, t, c.IORING_OP_RENAMEAT, 'RENAMEAT')) return;
    const dir = tempDir(t);
    const a = writeFile(dir, 'a', 'moved');
    const b = path.join(dir, 'b');
    const ino = fs.statSync(a).ino;
    assert.equal(await ring.renameat(c.AT_FDCWD, a, c.AT_FDCWD, b), 0);
    assert.equal(fs.existsSync(a), false);
    assert.equal(fs.readFileSync(b, 'utf8'), 'moved');
    assert.equal(fs.statSync(b).ino, ino);
    await rejectsLikeFs(ring.renameat(c.AT_FDCWD, a, c.AT_FDCWD, b), fsError(() => fs.renameSync(a, b)));

    // RENAME_NOREPLACE refuses to overwrite.
    const other = writeFile(dir, 'other', 'keep');
    await rejectsErrno(ring.renameat(c.AT_FDCWD, b, c.AT_FDCWD, other, RENAME_NOREPLACE), { code: 'EEXIST', syscall: 'rename', path: b, dest: other });
    assert.equal(fs.readFileSync(other, 'utf8'), 'keep');
    assert.equal(fs.readFileSync(b, 'utf8'), 'moved');
  });

  test('mkdirat', async (t) => {
    if (!need(ring, t, c.IORING_OP_MKDIRAT, 'MKDIRAT')) return;
    const dir = tempDir(t);
    const d = path.join(dir, 'd');
    assert.equal(await ring.mkdirat(c.AT_FDCWD, d, 0o750), 0);
    const st = fs.statSync(d);
    assert.ok(st.isDirectory());
    assert.equal(st.mode & 0o777, 0o750 & ~umask());
    await rejectsLikeFs(ring.mkdirat(c.AT_FDCWD, d), fsError(() => fs.mkdirSync(d)));
    const deep = path.join(dir, 'no', 'such');
    await rejectsLikeFs(ring.mkdirat(c.AT_FDCWD, deep), fsError(() => fs.mkdirSync(deep)));
    const dfd = fs.openSync(dir, 'r');
    closeLater(t, dfd);
    assert.equal(await ring.mkdirat(dfd, 'rel'), 0);
    assert.ok(fs.statSync(path.join(dir, 'rel')).isDirectory());
  });

  test('symlinkat', async (t) => {
    if (!need(ring, t, c.IORING_OP_SYMLINKAT, 'SYMLINKAT')) return;
    const dir = tempDir(t);
    const link = path.join(dir, 'link');
    assert.equal(await ring.symlinkat('target-x', c.AT_FDCWD, link), 0);
    assert.ok(fs.lstatSync(link).isSymbolicLink());
    assert.equal(fs.readlinkSync(link), 'target-x');
    await rejectsLikeFs(ring.symlinkat('target-x', c.AT_FDCWD, link), fsError(() => fs.symlinkSync('target-x', link)));
  });

  test('linkat', async (t) => {
    if (!need(ring, t, c.IORING_OP_LINKAT, 'LINKAT')) return;
    const dir = tempDir(t);
    const a = writeFile(dir, 'a', 'shared');
    const b = path.join(dir, 'b');
    assert.equal(await ring.linkat(c.AT_FDCWD, a, c.AT_FDCWD, b), 0);
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    assert.equal(sa.ino, sb.ino);
    assert.equal(sb.nlink, 2);
    assert.equal(fs.readFileSync(b, 'utf8'), 'shared');
    await rejectsLikeFs(ring.linkat(c.AT_FDCWD, a, c.AT_FDCWD, b), fsError(() => fs.linkSync(a, b)));
    const missing = path.join(dir, 'missing');
    const c2 = path.join(dir, 'c');
    await rejectsLikeFs(ring.linkat(c.AT_FDCWD, missing, c.AT_FDCWD, c2), fsError(() => fs.linkSync(missing, c2)));
  });

  test('ftruncate', async (t) => {
    if (!need(ring, t, c.IORING_OP_FTRUNCATE, 'FTRUNCATE')) return;
    const dir = tempDir(t);
    const data = randomBytes(100, 8);
    const p = writeFile(dir, 'f', data);
    const fd = fs.openSync(p, 'r+');
    closeLater(t, fd);
    assert.equal(await ring.ftruncate(fd, 10), 0);
    assert.deepEqual(new Uint8Array(fs.readFileSync(p)), data.subarray(0, 10));
    assert.equal(await ring.ftruncate(fd, 5000), 0);
    const got = fs.readFileSync(p);
    assert.equal(got.length, 5000);
    assert.ok(got.subarray(10).every((b) => b === 0));
    const rfd = fs.openSync(p, 'r');
    closeLater(t, rfd);
    await rejectsLikeFs(ring.ftruncate(rfd, 1), fsError(() => fs.ftruncateSync(rfd, 1)));
  });

  test('splice', async (t) => {
    if (!need(ring, t, c.IORING_OP_SPLICE, 'SPLICE')) return;
    const dir = tempDir(t);
    const data = randomBytes(5000, 9);
    const fin = fs.openSync(writeFile(dir, 'in', data), 'r');
    closeLater(t, fin);
    const f = makeFifo(t, dir);
    // file -> pipe
    assert.equal(await ring.splice(fin, 100, f.fd, -1, 1000), 1000);
    assert.deepEqual(new Uint8Array(drainFifo(f)), data.subarray(100, 1100));
    // pipe -> file
    fs.writeSync(f.wr, 'pipe-data');
    const outPath = path.join(dir, 'out');
    const fout = fs.openSync(outPath, 'w+');
    closeLater(t, fout);
    assert.equal(await ring.splice(f.fd, -1, fout, 7, 9), 9);
    const out = fs.readFileSync(outPath);
    assert.equal(out.length, 16);
    assert.equal(out.subarray(7).toString(), 'pipe-data');
    assert.equal(drainFifo(f).length, 0, 'the pipe is empty');
    // Neither end a pipe.
    await rejectsErrno(ring.splice(fin, 0, fout, 0, 10), { code: 'EINVAL', syscall: 'splice' });
  });

  test('tee', async (t) => {
    if (!need(ring, t, c.IORING_OP_TEE, 'TEE')) return;
    const dir = tempDir(t);
    const a = makeFifo(t, dir, 'a');
    const b = makeFifo(t, dir, 'b');
    fs.writeSync(a.wr, 'teedata');
    assert.equal(await ring.tee(a.fd, b.fd, 7), 7);
    assert.equal(drainFifo(b).toString(), 'teedata');
    assert.equal(drainFifo(a).toString(), 'teedata', 'tee does not consume its input');
    const fd = fs.openSync(writeFile(dir, 'f', 'x'), 'r');
    closeLater(t, fd);
    await rejectsErrno(ring.tee(fd, b.fd, 1), { code: 'EINVAL', syscall: 'tee' });
  });

  test('timeout', { timeout: 30_000 }, async (t) => {
    if (!need(ring, t, c.IORING_OP_TIMEOUT, 'TIMEOUT')) return;
    // Fires (-ETIME), which the ring reports as 0.
    assert.equal(await ring.timeout(5), 0);
    // Completes after `count` other completions, long before it would fire
    // (were count ignored, this test would run into its own timeout).
    const t2 = ring.timeout(600_000, 2);
    const [a, b] = await Promise.all([ring.nop(), ring.nop()]);
    assert.deepEqual([a, b], [0, 0]);
    assert.equal(await t2, 0);
    // Bad arguments.
    await rejectsErrno(ring.timeout(1, 0, 0x8000), { code: 'EINVAL', syscall: 'timeout' });
    await rejectsWithCode(() => ring.timeout(-1), 'ERR_OUT_OF_RANGE');
    await rejectsWithCode(() => ring.timeout(Number.NaN), 'ERR_OUT_OF_RANGE');
    await rejectsWithCode(() => ring.timeout(Infinity), 'ERR_OUT_OF_RANGE');
  });

  test('timeout_remove', { timeout: 30_000 }, async (t) => {
    if (!need(ring, t, c.IORING_OP_TIMEOUT_REMOVE, 'TIMEOUT_REMOVE')) return;
    const long = ring.timeout(600_000);
    assert.equal(await ring.timeout_remove(long), 0);
    await rejectsErrno(long, { code: 'ECANCELED', syscall: 'timeout' });
    // It already finished: nothing to remove.
    await rejectsErrno(ring.timeout_remove(long), { code: 'ENOENT', syscall: 'timeout_remove' });
    await rejectsWithCode(() => ring.timeout_remove(Promise.resolve(0)), 'ERR_INVALID_ARG_VALUE');
  });

  test('link_timeout', { timeout: 30_000 }, async (t) => {
    if (!need(ring, t, c.IORING_OP_LINK_TIMEOUT, 'LINK_TIMEOUT')) return;
    const dir = tempDir(t);
    const f = makeFifo(t, dir);
    // The op (a read on an empty pipe) outlives its linked timeout: it is
    // cancelled, the timeout reports -ETIME. Both CQEs belong to the chain.
    const buf = new Uint8Array(8).fill(0xee);
    assert.deepEqual(await ring.chain().read(f.fd, buf).link_timeout(10).submit(), [-ECANCELED, -ETIME]);
    fs.writeSync(f.wr, 'late');
    await tick();
    assert.ok(buf.every((b) => b === 0xee), 'a timed-out read never fills the buffer');
    assert.equal(drainFifo(f).toString(), 'late', 'the cancelled read consumed nothing');
    // The op wins: the timeout is cancelled instead.
    assert.deepEqual(await ring.chain().nop().link_timeout(600_000).submit(), [0, -ECANCELED]);
  });

  test('cancel', { timeout: 30_000 }, async (t) => {
    if (!need(ring, t, c.IORING_OP_ASYNC_CANCEL, 'ASYNC_CANCEL')) return;
    const dir = tempDir(t);
    const f = makeFifo(t, dir);
    const buf = new Uint8Array(8).fill(0xee);
    const pending = ring.read(f.fd, buf);
    await tick();
    assert.equal(ring.stats().inflight, 1);
    assert.equal(await ring.cancel(pending), 0);
    await rejectsErrno(pending, { code: 'ECANCELED', syscall: 'read' });
    fs.writeSync(f.wr, 'after');
    await tick();
    assert.ok(buf.every((b) => b === 0xee));
    assert.equal(drainFifo(f).toString(), 'after');
    // Cancelling in the same batch as the op works too.
    const same = ring.read(f.fd, buf);
    assert.equal(await ring.cancel(same), 0);
    await rejectsErrno(same, { code: 'ECANCELED', syscall: 'read' });
    // A finished op cannot be found.
    await rejectsErrno(ring.cancel(same), { code: 'ENOENT', syscall: 'cancel' });
    await rejectsWithCode(() => ring.cancel(Promise.resolve(0)), 'ERR_INVALID_ARG_VALUE');
  });

  test('cancel_fd', { timeout: 30_000 }, async (t) => {
    if (!need(ring, t, c.IORING_OP_ASYNC_CANCEL, 'ASYNC_CANCEL')) return;
    const dir = tempDir(t);
    const f = makeFifo(t, dir);
    const r1 = ring.read(f.fd, new Uint8Array(4));
    const r2 = ring.read(f.fd, new Uint8Array(4));
    await tick();
    assert.equal(await ring.cancel_fd(f.fd, c.IORING_ASYNC_CANCEL_ALL), 2, 'CANCEL_ALL reports how many it cancelled');
    await rejectsErrno(r1, { code: 'ECANCELED', syscall: 'read' });
    await rejectsErrno(r2, { code: 'ECANCELED', syscall: 'read' });
    const r3 = ring.read(f.fd, new Uint8Array(4));
    await tick();
    assert.equal(await ring.cancel_fd(f.fd), 0);
    await rejectsErrno(r3, { code: 'ECANCELED', syscall: 'read' });
    await rejectsErrno(ring.cancel_fd(f.fd), { code: 'ENOENT', syscall: 'cancel' });
  });

  test('poll_add', { timeout: 30_000 }, async (t) => {
    if (!need(ring, t, c.IORING_OP_POLL_ADD, 'POLL_ADD')) return;
    const dir = tempDir(t);
    const f = makeFifo(t, dir);
    // An empty pipe is writable at once; the result is the ready mask.
    assert.equal(await ring.poll_add(f.fd, POLLOUT), POLLOUT);
    const readable = ring.poll_add(f.fd, POLLIN);
    await tick();
    assert.equal(ring.stats().inflight, 1, 'POLLIN waits for data');
    fs.writeSync(f.wr, 'x');
    assert.equal(await readable, POLLIN);
    assert.equal(drainFifo(f).toString(), 'x', 'polling consumes nothing');
    await rejectsErrno(ring.poll_add(NEVER_OPEN_FD, POLLIN), { code: 'EBADF', syscall: 'poll' });
  });

  test('poll_remove', { timeout: 30_000 }, async (t) => {
    if (!need(ring, t, c.IORING_OP_POLL_REMOVE, 'POLL_REMOVE')) return;
    const dir = tempDir(t);
    const f = makeFifo(t, dir);
    const p = ring.poll_add(f.fd, POLLIN);
    await tick();
    assert.equal(await ring.poll_remove(p), 0);
    await rejectsErrno(p, { code: 'ECANCELED', syscall: 'poll' });
    await rejectsErrno(ring.poll_remove(p), { code: 'ENOENT', syscall: 'poll_remove' });
  });

  test('files_update', async (t) => {
    const r = freshRing();
    if (!need(r, t, c.IORING_OP_FILES_UPDATE, 'FILES_UPDATE')) return;
    const dir = tempDir(t);
    const fd1 = fs.openSync(writeFile(dir, 'one', 'first file'), 'r');
    const fd2 = fs.openSync(writeFile(dir, 'two', 'second file'), 'r');
    closeLater(t, fd1, fd2);
    await rejectsErrno(r.files_update([fd1], 0), { code: 'ENXIO', syscall: 'files_update' });
    if (!filesTable(r, t, 4)) return;
    assert.equal(await r.files_update([fd1, fd2], 1), 2, 'the result is the number of slots updated');
    // Exact sizes: a short read would break the link and cancel the next read.
    const b1 = new Uint8Array(10);
    const b2 = new Uint8Array(11);
    assert.deepEqual(
      await r.chain().read(1, b1, 0).flags(c.IOSQE_FIXED_FILE).read(2, b2, 0).flags(c.IOSQE_FIXED_FILE).submit(),
      [10, 11],
    );
    assert.equal(Buffer.from(b1).toString(), 'first file');
    assert.equal(Buffer.from(b2).toString(), 'second file');
    // -1 clears a slot: reading through it fails.
    assert.equal(await r.files_update([-1], 1), 1);
    assert.deepEqual(await r.chain().read(1, b1, 0).flags(c.IOSQE_FIXED_FILE).submit(), [-EBADF]);
    await rejectsErrno(r.files_update([fd1], 7), { code: 'EINVAL', syscall: 'files_update' });
    assert.equal(await r.close_direct(2), 0);
  });
});
