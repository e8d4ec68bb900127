// W2 peer: fs.readFile with callbacks, 64 in flight (also with UV_USE_IO_URING=1).
import * as fs from 'node:fs';
import { fileSum, now, result, since, stamp, u32, w2Check, w2Paths, W2_SEED } from '../common.js';
import type { Outcome, Params, PeerModule } from '../types.js';
import { uvVariant } from './variants.js';

function run(p: Params): Promise<Outcome> {
  const paths = w2Paths(p.root, p.dirs, p.perDir);
  const n = paths.length;
  let next = 0;
  let files = 0;
  let bytes = 0;
  let sum = 0;
  let bad = 0;
  let live = p.depth;
  let error: Error | null = null;
  const t0 = now();
  return new Promise((resolve) => {
    const lane = () => {
      const i = next++;
      if (i >= n || error) {
        if (--live === 0) {
          const ns = since(t0);
          const c = w2Check(n, files, bytes, sum, bad, p.expectSum);
          resolve(result(files, ns, c.ok && !error, error ? `error: ${error.message}` : c.detail));
        }
        return;
      }
      fs.readFile(paths[i]!, (err, b) => {
        if (err) error = err;
        else {
          files++;
          bytes += b.length;
          sum = (sum + fileSum(b)) >>> 0;
          if (u32(b) !== stamp(i, W2_SEED)) bad++;
        }
        lane();
      });
    };
    for (let l = 0; l < p.depth; l++) lane();
  });
}

export const peer: PeerModule = {
  workload: 'W2',
  variants: [{ impl: 'fs.readFile callbacks', order: 2 }, uvVariant('fs.readFile callbacks', 3)],
  run,
};
