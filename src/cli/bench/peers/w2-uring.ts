// W2 peer: uring's drop-in readFile (the fs.promises script, import swapped).
import { importUring } from '../common.js';
import type { PeerModule } from '../types.js';
import { w2Promises } from './w2-promises.js';
import { uringVariants } from './variants.js';

export const peer: PeerModule = {
  workload: 'W2',
  variants: uringVariants('readFile', 10),
  async run(p) {
    const u = await importUring(['readFile']);
    if ('skipped' in u) return u;
    return w2Promises(u.mod.readFile, p);
  },
};
