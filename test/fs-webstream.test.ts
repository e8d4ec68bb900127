// FileHandle.readableWebStream() and getAsyncId() against node's own
// FileHandle: same bytes, same refusals, and close() waits for the stream.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as nodeFsp from 'node:fs/promises';
import * as path from 'node:path';
import * as uring from '../src/fs/promises.js';
import { capture, runtimeOrSkip, tmpDir } from './fs-common.js';
import { randomBytes } from './helpers.js';

type Api = typeof nodeFsp;
const OLD_NODE = Number(process.versions.node.split('.')[0]) < 22;
const U = uring as unknown as Api;
const skip = (() => {
  const r = runtimeOrSkip();
  return typeof r === 'string' ? r : false;
})();

const dir = tmpDir('webstream');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function collect(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  // Node before 22 streams ArrayBuffers unless asked for bytes; the same type from both is checked below.
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array | ArrayBuffer>) parts.push(new Uint8Array(chunk));
  return Buffer.concat(parts);
}

for (const size of [0, 1, 16384, 100_000]) {
  test(`readableWebStream: a ${size}-byte file streams the same bytes as node's`, { skip }, async () => {
    const p = path.join(dir, `f${size}`);
    const data = Buffer.from(randomBytes(size, size + 1));
    fs.writeFileSync(p, data);
    const kinds: string[] = [];
    for (const api of [nodeFsp, U]) {
      const fh = await api.open(p);
      const stream = fh.readableWebStream() as unknown as ReadableStream<Uint8Array>;
      const reader = stream.getReader();
      const first = await reader.read();
      kinds.push(first.done ? 'done' : (first.value as object).constructor.name);
      reader.releaseLock();
      const got = Buffer.concat([first.done ? new Uint8Array(0) : new Uint8Array(first.value), await collect(stream)]);
      assert.ok(got.equals(data), `${api === U ? 'uring' : 'node'}: ${got.length} bytes`);
      await fh.close();
    }
    assert.equal(kinds[1], kinds[0], 'the same chunk type as node');
  });
}

test('readableWebStream: BYOB reads from the current file position', { skip }, async () => {
  const p = path.join(dir, 'byob');
  fs.writeFileSync(p, 'abcdefghij');
  const fh = await U.open(p);
  await fh.read(Buffer.alloc(3), 0, 3, null); // the position is now 3
  const reader = (fh.readableWebStream({ type: 'bytes' }) as unknown as ReadableStream<Uint8Array>).getReader({ mode: 'byob' });
  const r = await reader.read(new Uint8Array(4));
  assert.equal(Buffer.from(r.value!).toString(), 'defg');
  await reader.cancel();
  await fh.close();
});

test('readableWebStream: locked, closing and closed handles are refused as node refuses them', { skip }, async () => {
  const p = path.join(dir, 'states');
  fs.writeFileSync(p, 'x');
  for (const [name, f] of [
    ['locked', async (api: Api) => {
      const fh = await api.open(p);
      const s = fh.readableWebStream() as unknown as ReadableStream<Uint8Array>;
      try {
        fh.readableWebStream();
      } finally {
        await collect(s);
        // Node 20's stream closes the native handle at its end, and close()
        // after that aborts the process (a node bug): leave node's alone.
        if (api === U || !OLD_NODE) await fh.close();
      }
    }],
    ['closed', async (api: Api) => {
      const fh = await api.open(p);
      await fh.close();
      fh.readableWebStream();
    }],
    ['bad type', async (api: Api) => {
      const fh = await api.open(p);
      try {
        // Node < 22 refuses the type; later ones warn and stream bytes anyway.
        await (fh.readableWebStream({ type: 5 } as never) as unknown as ReadableStream<Uint8Array>).cancel();
      } finally {
        await fh.close();
      }
    }],
  ] as const) {
    const a = await capture(() => f(nodeFsp));
    const b = await capture(() => f(U));
    assert.deepEqual(b, a, name);
  }
});

test('readableWebStream: close() waits for an open stream, and the fd is closed after it', { skip }, async () => {
  const p = path.join(dir, 'wait');
  fs.writeFileSync(p, randomBytes(50_000, 7));
  const fh = await U.open(p);
  const fd = fh.fd;
  const stream = fh.readableWebStream() as unknown as ReadableStream<Uint8Array>;
  let closed = false;
  const closing = fh.close().then(() => (closed = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(closed, false, 'close() waits while the stream holds the handle');
  assert.ok(fs.fstatSync(fd).isFile(), 'the fd is still open');
  const reader = stream.getReader();
  for (;;) if ((await reader.read()).done) break; // the closed handle ends the stream
  await closing;
  assert.equal(closed, true);
});

test('getAsyncId: a stable number per handle, different across handles', { skip }, async () => {
  const p = path.join(dir, 'id');
  fs.writeFileSync(p, 'x');
  const a = (await uring.open(p)) as uring.FileHandle;
  const b = (await uring.open(p)) as uring.FileHandle;
  assert.equal(typeof a.getAsyncId(), 'number');
  assert.equal(a.getAsyncId(), a.getAsyncId());
  assert.notEqual(a.getAsyncId(), b.getAsyncId());
  await a.close();
  await b.close();
});
