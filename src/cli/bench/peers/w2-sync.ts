// W2 peer: fs.readFileSync in a loop.
import * as fs from 'node:fs';
import { fileSum, now, result, since, stamp, u32, w2Check, w2Paths, W2_SEED } from '../common.js';
import type { Outcome, Params, PeerModule } from '../types.js';

async function run(p: Params): Promise<Outcome> {
  const paths = w2Paths(p.root, p.dirs, p.perDir);
  let files = 0;
  let bytes = 0;
  let sum = 0;
  let bad = 0;
  const t0 = now();
  for (let i = 0; i < paths.length; i++) {
    const b = fs.readFileSync(paths[i]!);
    files++;
    bytes += b.length;
    sum = (sum + fileSum(b)) >>> 0;
    if (u32(b) !== stamp(i, W2_SEED)) bad++;
  }
  const ns = since(t0);
  const c = w2Check(paths.length, files, bytes, sum, bad, p.expectSum);
  return result(files, ns, c.ok, c.detail);
}

export const peer: PeerModule = { workload: 'W2', variants: [{ impl: 'readFileSync loop', order: 4 }], run };
