// W1 peer: fs.read with callbacks, 64 in flight (also with UV_USE_IO_URING=1).
import * as fs from 'node:fs';
import { BLOCK, Deadline, W1_SEED, laneSeed, now, result, since, stamp, u32, xorshift } from '../common.js';
import type { Outcome, Params, PeerModule } from '../types.js';
import { uvVariant } from './variants.js';

function run(p: Params): Promise<Outcome> {
  const fd = fs.openSync(p.file, 'r');
  const blocks = Math.floor(p.size / BLOCK);
  const dl = new Deadline(p.durationMs);
  let count = 0;
  let bad = 0;
  let live = p.depth;
  let error: Error | null = null;
  const t0 = now();
  return new Promise((resolve) => {
    const finish = () => {
      const ns = since(t0);
      fs.closeSync(fd);
      const detail = error ? `error: ${error.message}` : `${count} reads, ${bad} with wrong content`;
      resolve(result(count, ns, bad === 0 && !error, detail));
    };
    for (let lane = 0; lane < p.depth; lane++) {
      const buf = Buffer.allocUnsafe(BLOCK);
      let x = laneSeed(lane);
      let blk = 0;
      const next = () => {
        if (dl.tick() || error) {
          if (--live === 0) finish();
          return;
        }
        x = xorshift(x);
        blk = x % blocks;
        fs.read(fd, buf, 0, BLOCK, blk * BLOCK, done);
      };
      const done = (err: Error | null, n: number) => {
        if (err) error = err;
        else if (n !== BLOCK || u32(buf) !== stamp(blk, W1_SEED)) bad++;
        count++;
        next();
      };
      next();
    }
  });
}

export const peer: PeerModule = {
  workload: 'W1',
  variants: [{ impl: 'fs.read callbacks', order: 2 }, uvVariant('fs.read callbacks', 3)],
  run,
};
