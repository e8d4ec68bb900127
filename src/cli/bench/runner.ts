// Finds the peers (every module in ./peers exporting `peer`) and runs one peer
// once in its own child process.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { HarnessCtx, Outcome, Params, PeerModule, Variant, WorkloadId } from './types.js';

export interface Entry {
  workload: WorkloadId;
  variant: Variant;
  mod: PeerModule;
  url: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** All peer variants, by workload, sorted by `order`. */
export async function discover(): Promise<Entry[]> {
  const dir = path.join(here, 'peers');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.js')).sort();
  const out: Entry[] = [];
  for (const f of files) {
    const url = pathToFileURL(path.join(dir, f)).href;
    const m = (await import(url)) as { peer?: PeerModule };
    if (!m.peer) continue;
    if (!m.peer.run && !m.peer.command) throw new Error(`peer module ${f} has neither run nor command`);
    for (const variant of m.peer.variants) out.push({ workload: m.peer.workload, variant, mod: m.peer, url });
  }
  const seen = new Set<string>();
  for (const e of out) {
    const key = `${e.workload}/${e.variant.impl}`;
    if (seen.has(key)) throw new Error(`two peers named ${key}`);
    seen.add(key);
  }
  return out.sort((a, b) => a.variant.order - b.variant.order || a.variant.impl.localeCompare(b.variant.impl));
}

/** The child currently running, so Ctrl-C can kill it. */
export let current: ChildProcess | null = null;

export type RunResult = Outcome | { failed: string };

/** Environment for a child: the user's, minus the switches the variants own. */
function childEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.UV_USE_IO_URING;
  delete env.URING_BACKEND;
  return { ...env, ...extra };
}

function lastJsonLine(s: string): unknown {
  const lines = s.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  if (!lines.length) return null;
  return JSON.parse(lines[lines.length - 1]!);
}

export async function runOnce(e: Entry, base: Params, ctx: HarnessCtx): Promise<RunResult> {
  const p: Params = { ...base, impl: e.variant.impl };
  let cmd: string;
  let args: string[];
  let env = childEnv(e.variant.env);
  let parse: (stdout: string) => Outcome;
  if (e.mod.command) {
    const c = await e.mod.command(ctx, p);
    cmd = c.cmd;
    args = c.args;
    env = { ...env, ...c.env };
    parse = (s) => c.parse(s, p);
  } else {
    cmd = e.variant.runtime === 'bun' ? ctx.bun! : process.execPath;
    args = [path.join(here, 'child.js'), e.url, JSON.stringify(p)];
    parse = (s) => {
      const o = lastJsonLine(s) as Outcome | null;
      if (!o) throw new Error('no result line');
      return o;
    };
  }
  const timeoutMs = 60_000 + 10 * p.durationMs;
  return new Promise<RunResult>((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    current = child;
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (x) => {
      clearTimeout(timer);
      current = null;
      resolve({ failed: `cannot start ${cmd}: ${x.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      current = null;
      const tail = err.trim().split('\n').slice(-3).join(' | ');
      let o: Outcome;
      try {
        o = parse(out);
      } catch (x) {
        const why = signal ? `killed by ${signal}${signal === 'SIGKILL' ? ' (timed out?)' : ''}` : `exit code ${code}`;
        resolve({ failed: `${why}, ${(x as Error).message}${tail ? `: ${tail}` : ''}` });
        return;
      }
      if ('skipped' in o) resolve(o);
      else if (!o.check?.ok) resolve({ failed: `correctness check failed: ${o.check?.detail ?? 'no check'}${tail ? ` (stderr: ${tail})` : ''}` });
      else if (!(o.count > 0 && o.ns > 0)) resolve({ failed: `bad figures: count=${o.count} ns=${o.ns}` });
      else resolve(o);
    });
  });
}
