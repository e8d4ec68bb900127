// O_DIRECT through the fs layer. The kernel needs the memory of an O_DIRECT
// transfer aligned to the logical block size; the fs layer bounces every
// read and write through pool memory, so that memory must be aligned
// whatever the size asked for. Small pool classes (64 B to 2 KiB, for paths
// and statx buffers) are aligned to their own size for this reason.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as uring from '../src/fs/promises.js';
import { runtimeOrSkip } from './fs-common.js';
import { directDir, randomBytes } from './helpers.js';

const skip = (() => {
  const r = runtimeOrSkip();
  return typeof r === 'string' ? r : false;
})();

test('FileHandle reads and writes with O_DIRECT, at every block-multiple size', { skip }, async (t) => {
  const where = directDir(t);
  if ('reason' in where) return t.skip(where.reason);
  const file = path.join(where.dir, 'direct');
  const data = randomBytes(64 * 1024, 7);
  fs.writeFileSync(file, data);
  const fh = await uring.open(file, fs.constants.O_RDWR | fs.constants.O_DIRECT);
  try {
    for (const size of [512, 1024, 2048, 4096, 8192, 65536]) {
      const buf = Buffer.alloc(size);
      const { bytesRead } = await fh.read(buf, 0, size, 0);
      assert.equal(bytesRead, size, `read of ${size}`);
      assert.ok(buf.equals(data.subarray(0, size)), `bytes of the ${size}-byte read`);
    }
    const fresh = randomBytes(4096, 8);
    assert.equal((await fh.write(fresh, 0, 4096, 8192)).bytesWritten, 4096);
    const back = Buffer.alloc(4096);
    await fh.read(back, 0, 4096, 8192);
    assert.ok(back.equals(fresh), 'an O_DIRECT write reads back');
  } finally {
    await fh.close();
  }
});
