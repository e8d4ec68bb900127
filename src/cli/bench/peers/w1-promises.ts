// W1 peer: node:fs/promises FileHandle.read, 64 reads in flight for a fixed time.
// The same script runs under Bun and with libuv's io_uring (UV_USE_IO_URING=1);
// w1-uring.ts runs it with uring's drop-in `open`.
import { open } from 'node:fs/promises';
import { BLOCK, Deadline, W1_SEED, laneSeed, now, result, since, stamp, u32, xorshift } from '../common.js';
import type { Outcome, Params, PeerModule } from '../types.js';
import { bunVariant, uvVariant } from './variants.js';

type ReadResult = { bytesRead: number; buffer: Uint8Array };
type Handle = { read(b: Uint8Array, o: number, l: number, pos: number): Promise<ReadResult>; close(): Promise<void> };

export async function w1Promises(openFn: (path: string, flags: string) => Promise<Handle>, p: Params): Promise<Outcome> {
  const fh = await openFn(p.file, 'r');
  const blocks = Math.floor(p.size / BLOCK);
  const dl = new Deadline(p.durationMs);
  let count = 0;
  let bad = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: p.depth }, async (_, lane) => {
      let buf: Uint8Array = Buffer.allocUnsafe(BLOCK);
      let x = laneSeed(lane);
      while (!dl.tick()) {
        x = xorshift(x);
        const blk = x % blocks;
        const r = await fh.read(buf, 0, BLOCK, blk * BLOCK);
        buf = r.buffer; // an owning implementation may hand back a new view
        if (r.bytesRead !== BLOCK || u32(buf) !== stamp(blk, W1_SEED)) bad++;
        count++;
      }
    }),
  );
  const ns = since(t0);
  await fh.close();
  return result(count, ns, bad === 0, `${count} reads, ${bad} with wrong content`);
}

export const peer: PeerModule = {
  workload: 'W1',
  variants: [
    { impl: 'fs.promises', order: 0 },
    uvVariant('fs.promises', 1),
    bunVariant('fs.promises', 80),
  ],
  run: (p) => w1Promises(open as any, p),
};
