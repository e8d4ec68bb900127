// Provided buffer rings on pool memory, with a real op selecting buffers:
// IORING_OP_READ with IOSQE_BUFFER_SELECT on a FIFO. The executor does not
// hand CQE flags to ops yet (the networking wave adds that), so this test
// drives a kernel backend directly: push an SQE, enter, read the CQE.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as abi from '../src/abi/abi.js';
import * as prep from '../src/abi/prep.js';
import { KernelBackend } from '../src/backends/kernel.js';
import { BufferPool } from '../src/buffers/pool.js';
import { BufRing } from '../src/buffers/bufring.js';
import { BACKEND, makeFifo, tempDir } from './helpers.js';

const ENOBUFS = 105;

interface Cqe {
  ud: number;
  res: number;
  flags: number;
}

/** The smallest possible driver: one SQE in, one CQE out. */
class Raw {
  private ud = 1;
  constructor(readonly b: KernelBackend) {}

  submitSelectRead(fd: number, len: number, bgid: number): number {
    const s = new Uint32Array(16);
    prep.prep_rw(s, 0, abi.IORING_OP_READ, fd, 0, len, -1);
    prep.sqe_set_flags(s, 0, abi.IOSQE_BUFFER_SELECT);
    s[10] = bgid & 0xffff; // buf_group shares the buf_index field
    const ud = this.ud++;
    s[8] = ud;
    this.b.sq.push(s, 0, 1);
    const ret = this.b.submit(1);
    assert.ok(ret >= 0, `io_uring_enter: ${ret}`);
    return ud;
  }

  async reap(): Promise<Cqe> {
    const cq = this.b.cq;
    for (let i = 0; i < 5000; i++) {
      this.b.reap();
      const head = cq.head();
      if (cq.tail() !== head) {
        const w = cq.at(head);
        const c = cq.cqes;
        cq.advance(head + 1);
        return { ud: c[w]! >>> 0, res: c[w + 2]!, flags: c[w + 3]! >>> 0 };
      }
      await new Promise((r) => setTimeout(r, i < 10 ? 0 : 2));
    }
    assert.fail('no completion');
  }

  async read(fd: number, len: number, bgid: number): Promise<Cqe> {
    const ud = this.submitSelectRead(fd, len, bgid);
    const cqe = await this.reap();
    assert.equal(cqe.ud, ud);
    return cqe;
  }
}

test('provided buffer ring: reads select buffers, recycling wraps the ring, ENOBUFS when empty', async (t) => {
  if (BACKEND !== 'kernel') return t.skip('IORING_REGISTER_PBUF_RING is a kernel feature; the worker backend has none');
  let b: KernelBackend;
  try {
    b = KernelBackend.open({ entries: 8 });
  } catch (e) {
    return t.skip(`io_uring unavailable: ${(e as Error).message}`);
  }
  t.after(() => b.destroy());
  const pool = new BufferPool({ addressOf: b.addressOf, regionSize: 1 << 20 });
  pool.attach(b);
  let br: BufRing;
  try {
    br = pool.bufRing({ entries: 4, size: 256, bgid: 7 });
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.code === 'EINVAL' || err.code === 'ENOSYS') return t.skip(`kernel lacks provided buffer rings (${err.code})`);
    throw e;
  }
  const ringChunkAddr = (br as unknown as { ring: { addr: number } }).ring.addr;
  assert.equal(ringChunkAddr % 4096, 0, 'the ring is page aligned');
  const fifo = makeFifo(t, tempDir(t));
  const raw = new Raw(b);
  const msg = (i: number) => Buffer.from(`message ${i} `.repeat(i + 1));

  // Four buffers, four reads: bids in ring order, data in the selected buffer.
  for (let i = 0; i < 4; i++) {
    fs.writeSync(fifo.wr, msg(i));
    const cqe = await raw.read(fifo.fd, 256, 7);
    assert.equal(cqe.res, msg(i).length);
    assert.ok(cqe.flags & abi.IORING_CQE_F_BUFFER, 'the CQE says a buffer was used');
    assert.equal(BufRing.bufferId(cqe.flags), i);
    assert.ok(Buffer.from(br.view(i, cqe.res)).equals(msg(i)));
  }
  const head = br.head();
  if (head >= 0) assert.equal(head, 4, 'PBUF_STATUS: the kernel consumed four');

  // Empty ring: the read fails with ENOBUFS and consumes nothing.
  fs.writeSync(fifo.wr, Buffer.from('waiting'));
  const empty = await raw.read(fifo.fd, 256, 7);
  assert.equal(empty.res, -ENOBUFS);
  assert.equal(BufRing.bufferId(empty.flags), -1);

  // Recycle out of order and keep going past the ring size (tail wraps the mask).
  for (const bid of [2, 0, 3, 1]) br.recycle(bid);
  const seen: number[] = [];
  const first = await raw.read(fifo.fd, 256, 7);
  assert.equal(first.res, 7);
  seen.push(BufRing.bufferId(first.flags));
  assert.equal(Buffer.from(br.view(seen[0]!, 7)).toString(), 'waiting');
  br.recycle(seen[0]!);
  for (let i = 0; i < 10; i++) {
    fs.writeSync(fifo.wr, msg(i));
    const cqe = await raw.read(fifo.fd, 256, 7);
    assert.equal(cqe.res, msg(i).length);
    const bid = BufRing.bufferId(cqe.flags);
    assert.ok(Buffer.from(br.view(bid, cqe.res)).equals(msg(i)));
    seen.push(bid);
    br.recycle(bid);
  }
  assert.deepEqual(seen.slice(0, 4), [2, 0, 3, 1], 'buffers come back in the order they were recycled');

  // Unregistering defers the memory until ops that selected from it are done.
  const before = pool.stats().inUse;
  br.pin(); // as an op builder would for an SQE selecting from this ring
  assert.equal(br.unregister(), 0);
  assert.equal(pool.stats().deferred, 1, 'the data chunk waits for the op');
  assert.ok(pool.stats().inUse < before, 'the ring pages came back at once');
  br.unpin();
  assert.equal(pool.stats().deferred, 0);
  assert.equal(pool.stats().inUse, 0);
  assert.equal(br.unregister(), 0, 'idempotent');
  // The group is gone: a selecting read now finds no buffers.
  const gone = await raw.read(fifo.fd, 256, 7);
  assert.ok(gone.res < 0, `read after unregister: ${gone.res}`);
});

test('provided buffer ring: argument checks and a clear refusal without the kernel backend', () => {
  const pool = new BufferPool();
  assert.throws(() => pool.bufRing({ entries: 4, size: 16, bgid: 0 }), { code: 'ERR_INVALID_STATE' });
  pool.attach({ register: () => -22, addressOf: null });
  assert.throws(() => pool.bufRing({ entries: 4, size: 16, bgid: 0 }), { code: 'ERR_URING_UNSUPPORTED' });
  const k = new BufferPool();
  k.attach({ register: () => -22, addressOf: () => 4096 });
  assert.throws(() => k.bufRing({ entries: 3, size: 16, bgid: 0 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => k.bufRing({ entries: 4, size: 0, bgid: 0 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => k.bufRing({ entries: 4, size: 16, bgid: 70000 }), { code: 'ERR_OUT_OF_RANGE' });
  // A kernel refusal is a Node-shaped errno error, and frees what it allocated.
  assert.throws(() => k.bufRing({ entries: 4, size: 16, bgid: 1 }), { code: 'EINVAL', syscall: 'io_uring_register' });
  assert.equal(k.stats().inUse, 0);
});
