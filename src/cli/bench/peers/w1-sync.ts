// W1 peer: fs.readSync in a loop (one read at a time, no event loop).
import * as fs from 'node:fs';
import { BLOCK, Deadline, W1_SEED, laneSeed, now, result, since, stamp, u32, xorshift } from '../common.js';
import type { Outcome, Params, PeerModule } from '../types.js';

async function run(p: Params): Promise<Outcome> {
  const fd = fs.openSync(p.file, 'r');
  const blocks = Math.floor(p.size / BLOCK);
  const buf = Buffer.allocUnsafe(BLOCK);
  const dl = new Deadline(p.durationMs);
  let x = laneSeed(0);
  let count = 0;
  let bad = 0;
  const t0 = now();
  while (!dl.tick()) {
    x = xorshift(x);
    const blk = x % blocks;
    const n = fs.readSync(fd, buf, 0, BLOCK, blk * BLOCK);
    if (n !== BLOCK || u32(buf) !== stamp(blk, W1_SEED)) bad++;
    count++;
  }
  const ns = since(t0);
  fs.closeSync(fd);
  return result(count, ns, bad === 0, `${count} reads, ${bad} with wrong content`);
}

export const peer: PeerModule = { workload: 'W1', variants: [{ impl: 'readSync loop', order: 4 }], run };
