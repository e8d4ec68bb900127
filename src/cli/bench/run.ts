// `uring bench`: for each workload, generate its dataset, run every available
// peer once per round (peers interleaved: A B C, A B C, ...), print its table.
import * as fs from 'node:fs';
import { describe, makeDataset, prepareDir, removeDataset, sizes } from './datasets.js';
import { Progress } from './progress.js';
import { header, rows, table, toHtml, toJson, type Report, type Row, type Skip, type Tally } from './report.js';
import * as runner from './runner.js';
import { makeCtx, machine } from './tools.js';
import { WORKLOADS, type WorkloadId } from './types.js';

export interface Options {
  only: WorkloadId[];
  quick: boolean;
  rounds: number;
  dir: string;
  json: string | null;
  html: string | null;
}

/** Runs the benchmark; resolves to the exit code (1 if any peer failed its check). */
export async function bench(o: Options): Promise<number> {
  const s = sizes(o.quick);
  const tmp = prepareDir(o.dir, o.only, s);
  let progress: Progress | null = null;
  const cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
  const onSignal = (sig: NodeJS.Signals) => {
    runner.current?.kill('SIGKILL');
    progress?.stop();
    cleanup();
    process.stderr.write(`\nuring bench: interrupted (${sig}); removed ${tmp}\n`);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const ctx = makeCtx(o.quick);
    const m = machine(o.dir);
    process.stdout.write(header(m) + '\n');

    // Which peers can run here; C references are compiled now.
    process.stderr.write('checking peers (bun, fio, C compiler)...\n');
    const all = await runner.discover();
    const skipped: Skip[] = [];
    const plan = new Map<WorkloadId, runner.Entry[]>();
    for (const w of o.only) {
      const active: runner.Entry[] = [];
      for (const e of all.filter((x) => x.workload === w)) {
        const why = e.variant.available ? await e.variant.available(ctx) : null;
        if (why) skipped.push({ workload: w, impl: e.variant.impl, reason: why });
        else active.push(e);
      }
      plan.set(w, active);
    }
    const generated = o.only.filter((w) => w === 'W1' || w === 'W2' || w === 'W5').length;
    const total = generated + [...plan.values()].reduce((n, a) => n + a.length * o.rounds, 0);
    const prog = (progress = new Progress(total));

    const results: Row[] = [];
    const descs: Partial<Record<WorkloadId, string>> = {};
    for (const w of o.only) {
      const info = WORKLOADS[w];
      const active = plan.get(w)!;
      const gen = w === 'W1' || w === 'W2' || w === 'W5';
      if (gen) prog.start(`${w}: generating dataset`);
      const t0 = Date.now();
      const params = await makeDataset(w, tmp, s, o.quick, (f) => prog.update(f));
      if (gen) prog.finish(`${w}: dataset ready (${describe(w, params)}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      descs[w] = describe(w, params);

      const tallies = new Map<string, Tally>(active.map((e) => [e.variant.impl, { impl: e.variant.impl, rates: [], ok: true, check: '' }]));
      for (let r = 1; r <= o.rounds; r++) {
        for (const e of [...active]) {
          const t = tallies.get(e.variant.impl)!;
          prog.start(`${w} round ${r}/${o.rounds}: ${e.variant.impl}`);
          let res: runner.RunResult;
          try {
            res = await runner.runOnce(e, params, ctx);
          } catch (x) {
            res = { failed: (x as Error).message };
          }
          const drop = () => {
            active.splice(active.indexOf(e), 1);
            prog.shrink(o.rounds - r);
          };
          if ('skipped' in res) {
            skipped.push({ workload: w, impl: e.variant.impl, reason: res.skipped });
            tallies.delete(e.variant.impl);
            drop();
            prog.finish(`${w} ${e.variant.impl}: skipped, ${res.skipped}`);
          } else if ('failed' in res) {
            t.ok = false;
            t.check = res.failed;
            drop();
            prog.finish(`${w} ${e.variant.impl}: FAILED, ${res.failed}`);
          } else {
            const rate = (res.count / (res.ns / 1e9)) * info.scale;
            t.rates.push(rate);
            t.check = res.check.detail;
            prog.finish(`${w} round ${r}/${o.rounds}: ${e.variant.impl}: ${Math.round(rate).toLocaleString('en-US')} ${info.unit}`);
          }
        }
      }
      removeDataset(w, tmp);
      const rs = rows(w, [...tallies.values()]);
      results.push(...rs);
      prog.clear();
      process.stdout.write(`\n${table(w, descs[w]!, rs, skipped.filter((x) => x.workload === w))}\n\n`);
    }
    prog.stop();

    const rep: Report = { machine: m, date: m.date, quick: o.quick, results, skipped };
    if (o.json) fs.writeFileSync(o.json, toJson(rep));
    if (o.html) fs.writeFileSync(o.html, toHtml(rep, descs));
    const failed = results.filter((r) => !r.ok);
    const notes = [`${results.length - failed.length} implementations ok, ${failed.length} failed, ${skipped.length} skipped`];
    if (o.json) notes.push(`JSON: ${o.json}`);
    if (o.html) notes.push(`HTML: ${o.html}`);
    process.stdout.write(notes.join(' · ') + '\n');
    if (failed.length) process.stderr.write(`uring bench: correctness check FAILED for ${failed.map((f) => `${f.workload} ${f.impl}`).join(', ')}\n`);
    return failed.length ? 1 : 0;
  } finally {
    progress?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    cleanup();
  }
}
