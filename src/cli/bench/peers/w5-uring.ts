// W5 peer: uring's drop-in copyFile (the fs.copyFile script, import swapped).
import { importUring } from '../common.js';
import type { PeerModule } from '../types.js';
import { uringVariants } from './variants.js';
import { w5Copy } from './w5-copyfile.js';

export const peer: PeerModule = {
  workload: 'W5',
  variants: uringVariants('copyFile', 10),
  async run(p) {
    const u = await importUring(['copyFile']);
    if ('skipped' in u) return u;
    return w5Copy(u.mod.copyFile, p);
  },
};
