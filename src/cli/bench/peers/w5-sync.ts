// W5 peer: fs.copyFileSync on the main thread (what a build script often does).
import * as fs from 'node:fs';
import type { PeerModule } from '../types.js';
import { w5Copy } from './w5-copyfile.js';

export const peer: PeerModule = {
  workload: 'W5',
  variants: [{ impl: 'fs.copyFileSync', order: 4 }],
  run: (p) => w5Copy(async (src, dst) => fs.copyFileSync(src, dst), p),
};
