// W4: worker-scheme round trips, 64 in flight, against a postMessage echo
// worker with 64 in flight, in the same run. Rounds interleave the peers so
// drift (thermal, other load) hits both alike; each figure is the median of
// its rounds, and the ratio is median against median.
//
//   node dist/bench/w4.js [--rounds 7] [--ms 1000] [--depth 64] [--workers 1]

import { Worker } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { openScheme, type Scheme } from '../src/index.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    ms: { type: 'string', default: '1000' },
    depth: { type: 'string', default: '64' },
    workers: { type: 'string', default: '1' },
  },
});
const ROUNDS = Number(args.rounds);
const MS = Number(args.ms);
const DEPTH = Number(args.depth);
const WORKERS = Number(args.workers);

/** The scheme: opcode 128 echoes the SQE's len. A data: URL, so the bench is one file. */
const ECHO_SCHEME = 'data:text/javascript,export default { 128: (req) => req.len }';
const ECHO_WORKER = `require('node:worker_threads').parentPort.on('message', function (m) { this.postMessage(m); });`;

interface Result {
  perSec: number;
  ok: boolean;
}

async function schemeRound(s: Scheme): Promise<Result> {
  const end = performance.now() + MS;
  let count = 0;
  let bad = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: DEPTH }, async (_, lane) => {
      for (let k = 0; performance.now() < end; k++) {
        const v = (k * DEPTH + lane) & 0x7fffffff;
        if ((await s.call(128, { len: v })) !== v) bad++;
        count++;
      }
    }),
  );
  return { perSec: (count / (performance.now() - t0)) * 1000, ok: bad === 0 };
}

async function postMessageRound(w: Worker): Promise<Result> {
  const end = performance.now() + MS;
  let count = 0;
  let bad = 0;
  let live = DEPTH;
  const seq = new Array<number>(DEPTH).fill(0);
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const onMessage = (m: number) => {
      const lane = m % DEPTH;
      if (m !== seq[lane]! * DEPTH + lane) bad++;
      count++;
      if (performance.now() >= end) {
        if (--live === 0) {
          w.off('message', onMessage);
          resolve();
        }
        return;
      }
      seq[lane]!++;
      w.postMessage(seq[lane]! * DEPTH + lane);
    };
    w.on('message', onMessage);
    for (let lane = 0; lane < DEPTH; lane++) w.postMessage(lane);
  });
  return { perSec: (count / (performance.now() - t0)) * 1000, ok: bad === 0 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (n: number) => `${(n / 1000).toFixed(0)}k/s`;

async function main(): Promise<void> {
  const scheme = await openScheme({ module: ECHO_SCHEME, workers: WORKERS, entries: 256 });
  const echo = new Worker(ECHO_WORKER, { eval: true });
  await new Promise((r) => echo.once('online', r));
  // Warm-up: JIT both paths before measuring.
  await schemeRound(scheme);
  await postMessageRound(echo);
  const u: number[] = [];
  const pm: number[] = [];
  let ok = true;
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which peer goes first, so neither always runs second.
    const order = r % 2 ? [postMessageRound, schemeRound] : [schemeRound, postMessageRound];
    for (const run of order) {
      const res = run === schemeRound ? await schemeRound(scheme) : await postMessageRound(echo);
      (run === schemeRound ? u : pm).push(res.perSec);
      ok &&= res.ok;
    }
    process.stdout.write(`round ${r + 1}/${ROUNDS}: scheme ${fmt(u[r]!)}, postMessage ${fmt(pm[r]!)}\n`);
  }
  const wu = median(u);
  const wp = median(pm);
  const st = scheme.backendStats();
  console.log(`\nW4: ${DEPTH} in flight, ${ROUNDS} rounds of ${MS} ms, scheme workers: ${WORKERS}`);
  console.log(`  uring scheme echo     median ${fmt(wu)}  (min ${fmt(Math.min(...u))}, max ${fmt(Math.max(...u))})`);
  console.log(`  postMessage echo      median ${fmt(wp)}  (min ${fmt(Math.min(...pm))}, max ${fmt(Math.max(...pm))})`);
  console.log(`  ratio                 ${(wu / wp).toFixed(2)}x (target >= 5x)`);
  console.log(`  results correct       ${ok ? 'yes' : 'NO'}`);
  console.log(`  wakeups               consumer ${st.consumerWakes}, producer ${st.producerWakes} for ${scheme.stats().submitted} SQEs`);
  await scheme.close();
  await echo.terminate();
  process.exitCode = ok ? 0 : 1;
}

await main();
