// W2 peer: fs.promises.readFile over every file, 64 in flight. The same script
// runs under Bun and with UV_USE_IO_URING=1; w2-uring.ts swaps in uring's readFile.
import { readFile } from 'node:fs/promises';
import { fileSum, now, result, since, stamp, u32, w2Check, w2Paths, W2_SEED } from '../common.js';
import type { Outcome, Params, PeerModule } from '../types.js';
import { bunVariant, uvVariant } from './variants.js';

export async function w2Promises(readFileFn: (path: string) => Promise<Uint8Array>, p: Params): Promise<Outcome> {
  const paths = w2Paths(p.root, p.dirs, p.perDir);
  const n = paths.length;
  let next = 0;
  let files = 0;
  let bytes = 0;
  let sum = 0;
  let bad = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: p.depth }, async () => {
      for (let i = next++; i < n; i = next++) {
        const b = await readFileFn(paths[i]!);
        files++;
        bytes += b.length;
        sum = (sum + fileSum(b)) >>> 0;
        if (u32(b) !== stamp(i, W2_SEED)) bad++;
      }
    }),
  );
  const ns = since(t0);
  const c = w2Check(n, files, bytes, sum, bad, p.expectSum);
  return result(files, ns, c.ok, c.detail);
}

export const peer: PeerModule = {
  workload: 'W2',
  variants: [{ impl: 'fs.promises', order: 0 }, uvVariant('fs.promises', 1), bunVariant('fs.promises', 80)],
  run: (p) => w2Promises(readFile, p),
};
