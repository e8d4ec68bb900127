// W2 peer: the C reference (bench/c/w2_chain.c): linked openat -> read -> close
// chains on direct descriptors, 64 chains in flight.
import { result, w2Check } from '../common.js';
import type { Outcome, Params, PeerModule } from '../types.js';

export const peer: PeerModule = {
  workload: 'W2',
  variants: [{ impl: 'C openat→read→close chains', order: 90, available: async (ctx) => whyNot(await ctx.cBinary('w2_chain')) }],
  async command(ctx, p) {
    const bin = await ctx.cBinary('w2_chain');
    if (bin instanceof Error) throw bin;
    return { cmd: bin, args: [p.listFile, String(p.depth)], parse };
  },
};

export function whyNot(b: string | Error): string | null {
  return b instanceof Error ? b.message : null;
}

function parse(stdout: string, p: Params): Outcome {
  const j = JSON.parse(stdout.trim().split('\n').pop()!) as { files: number; ns: number; bytes: number; sum: number; bad: number; error?: string };
  const n = p.dirs * p.perDir;
  const c = w2Check(n, j.files, j.bytes, j.sum, j.bad, p.expectSum);
  return result(j.files, j.ns, c.ok && !j.error, j.error ? `error: ${j.error}; ${c.detail}` : c.detail);
}
