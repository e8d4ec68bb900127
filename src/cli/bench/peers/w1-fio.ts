// W1 peer: fio with io_uring, fixed buffers and registered files (native reference).
import { BLOCK } from '../common.js';
import type { Outcome, PeerModule } from '../types.js';

export const peer: PeerModule = {
  workload: 'W1',
  variants: [{ impl: 'fio io_uring', order: 90, available: (ctx) => (ctx.fio ? null : ctx.fioWhy) }],
  async command(ctx, p) {
    const args = [
      '--name=w1', `--filename=${p.file.replace(/:/g, '\\:')}`, `--size=${p.size}`,
      '--ioengine=io_uring', '--fixedbufs', '--registerfiles', '--direct=0', '--invalidate=0',
      '--rw=randread', `--bs=${BLOCK}`, `--iodepth=${p.depth}`, '--norandommap', '--randrepeat=0',
      '--time_based', `--runtime=${p.durationMs}ms`, '--output-format=json',
    ];
    return { cmd: ctx.fio!, args, parse };
  },
};

function parse(stdout: string): Outcome {
  const start = stdout.indexOf('{');
  if (start < 0) throw new Error('fio printed no JSON');
  const j = JSON.parse(stdout.slice(start)) as { jobs: Array<{ error: number; read: { total_ios: number; io_bytes: number; runtime: number } }> };
  const job = j.jobs[0]!;
  const { total_ios: ios, io_bytes: bytes, runtime: ms } = job.read;
  const ok = job.error === 0 && ios > 0 && bytes === ios * BLOCK;
  return { count: ios, ns: ms * 1e6, check: { ok, detail: `fio error=${job.error}, ${ios} ios, ${bytes} bytes (fio does not check content)` } };
}
