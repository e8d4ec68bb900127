// W3 peer: the C reference (bench/c/w3_nop.c): batches of `depth` NOPs per
// io_uring_enter, waiting for the whole batch.
import { result } from '../common.js';
import type { Outcome, PeerModule } from '../types.js';
import { whyNot } from './w2-c.js';

export const peer: PeerModule = {
  workload: 'W3',
  variants: [{ impl: 'C batched NOPs', order: 0, available: async (ctx) => whyNot(await ctx.cBinary('w3_nop')) }],
  async command(ctx, p) {
    const bin = await ctx.cBinary('w3_nop');
    if (bin instanceof Error) throw bin;
    return { cmd: bin, args: [String(p.durationMs), String(p.depth)], parse };
  },
};

function parse(stdout: string): Outcome {
  const j = JSON.parse(stdout.trim().split('\n').pop()!) as { count: number; ns: number; bad: number; error?: string };
  const detail = j.error ? `error: ${j.error}` : `${j.count} NOPs, ${j.bad} with res != 0`;
  return result(j.count, j.ns, !j.error && j.bad === 0, detail);
}
