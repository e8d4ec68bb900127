// W4 peer: postMessage echo to a worker thread, `depth` messages in flight.
// The uring peer is w4-uring.ts.
import { Worker } from 'node:worker_threads';
import { Deadline, now, result, since } from '../common.js';
import type { Outcome, Params, PeerModule } from '../types.js';

const ECHO = `require('node:worker_threads').parentPort.on('message', function (m) { this.postMessage(m); });`;

async function run(p: Params): Promise<Outcome> {
  const w = new Worker(ECHO, { eval: true });
  await new Promise<void>((res, rej) => {
    w.once('online', res);
    w.once('error', rej);
  });
  const dl = new Deadline(p.durationMs);
  const seq = new Array<number>(p.depth).fill(0);
  let count = 0;
  let bad = 0;
  let live = p.depth;
  const t0 = now();
  const ns = await new Promise<number>((resolve, reject) => {
    w.on('error', reject);
    w.on('message', (m: number) => {
      const lane = m % p.depth;
      if (m !== seq[lane]! * p.depth + lane) bad++;
      count++;
      if (dl.tick()) {
        if (--live === 0) resolve(since(t0));
        return;
      }
      seq[lane]!++;
      w.postMessage(seq[lane]! * p.depth + lane);
    });
    for (let lane = 0; lane < p.depth; lane++) w.postMessage(lane);
  });
  await w.terminate();
  return result(count, ns, bad === 0, `${count} round trips, ${bad} out of order or wrong`);
}

export const peer: PeerModule = { workload: 'W4', variants: [{ impl: 'postMessage echo', order: 0 }], run };
