#!/usr/bin/env node
// The `uring` command. Subcommands: bench.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UsageError } from './bench/datasets.js';
import { bench, type Options } from './bench/run.js';
import { WORKLOAD_IDS, WORKLOADS } from './bench/types.js';

const USAGE = `usage: uring bench [options]

Runs the workloads below against node:fs, libuv's io_uring, Bun, fio and small C
references in the same run, and prints medians and ratios for this machine.

${WORKLOAD_IDS.map((w) => `  ${w}  ${WORKLOADS[w].title}`).join('\n')}

options:
  --only W1,W2    run only these workloads (default: all)
  --quick         small datasets and short runs (well under a minute)
  --rounds N      rounds per peer, interleaved (default 5, 3 with --quick)
  --dir DIR       where to generate datasets (default: ${os.tmpdir()}); needs ~2.1 GiB
  --json FILE     write results as JSON
  --html FILE     write a self-contained HTML page with a chart per workload
  --help          this text
`;

function parseBench(argv: string[]): Options | 'help' {
  const o: Options = { only: [...WORKLOAD_IDS], quick: false, rounds: 0, dir: os.tmpdir(), json: null, html: null };
  const valued = new Set(['--only', '--rounds', '--dir', '--json', '--html']);
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--quick') {
      if (value !== undefined) throw new UsageError('--quick takes no value');
      o.quick = true;
      continue;
    }
    if (!valued.has(arg)) throw new UsageError(`unknown option ${JSON.stringify(argv[i])} (see uring bench --help)`);
    if (value === undefined) value = argv[++i];
    if (value === undefined || value === '') throw new UsageError(`${arg} needs a value`);
    switch (arg) {
      case '--only': {
        const ws = value.split(',').map((x) => x.trim().toUpperCase()).filter(Boolean);
        const bad = ws.filter((x) => !(WORKLOAD_IDS as readonly string[]).includes(x));
        if (bad.length || !ws.length) throw new UsageError(`unknown workload ${bad.join(',') || JSON.stringify(value)} (expected some of ${WORKLOAD_IDS.join(',')})`);
        o.only = WORKLOAD_IDS.filter((w) => ws.includes(w));
        break;
      }
      case '--rounds': {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UsageError(`--rounds needs a whole number from 1 to 1000, got ${JSON.stringify(value)}`);
        o.rounds = n;
        break;
      }
      case '--dir':
        o.dir = path.resolve(value);
        break;
      case '--json':
      case '--html': {
        const f = path.resolve(value);
        try {
          fs.accessSync(path.dirname(f), fs.constants.W_OK);
        } catch (e) {
          throw new UsageError(`cannot write ${arg} file ${f}: ${(e as NodeJS.ErrnoException).code ?? e}`);
        }
        if (arg === '--json') o.json = f;
        else o.html = f;
        break;
      }
    }
  }
  if (!o.rounds) o.rounds = o.quick ? 3 : 5;
  return o;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (cmd !== 'bench') throw new UsageError(cmd === undefined ? 'missing subcommand (try: uring bench --help)' : `unknown subcommand ${JSON.stringify(cmd)} (try: uring bench --help)`);
  const o = parseBench(rest);
  if (o === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  return bench(o);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`uring: ${e.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`uring: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
