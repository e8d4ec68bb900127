// Turning per-round rates into rows, and rows into a table, JSON and HTML.
import type { Machine } from './tools.js';
import { WORKLOADS, type WorkloadId } from './types.js';

export interface Row {
  workload: WorkloadId;
  impl: string;
  median: number | null;
  min: number | null;
  max: number | null;
  rounds: number;
  unit: string;
  /** median / the baseline peer's median (WORKLOADS[w].baseline), null if no baseline */
  ratio: number | null;
  baseline: string;
  ok: boolean;
  check: string;
}

export interface Skip {
  workload: WorkloadId;
  impl: string;
  reason: string;
}

export interface Report {
  machine: Machine;
  date: string;
  quick: boolean;
  results: Row[];
  skipped: Skip[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface Tally {
  impl: string;
  rates: number[];
  ok: boolean;
  check: string;
}

export function rows(w: WorkloadId, tallies: Tally[]): Row[] {
  const info = WORKLOADS[w];
  const base = tallies.find((t) => t.impl === info.baseline && t.ok && t.rates.length);
  const baseMed = base ? median(base.rates) : null;
  return tallies.map((t) => {
    const med = t.rates.length ? median(t.rates) : null;
    return {
      workload: w,
      impl: t.impl,
      median: med,
      min: t.rates.length ? Math.min(...t.rates) : null,
      max: t.rates.length ? Math.max(...t.rates) : null,
      rounds: t.rates.length,
      unit: info.unit,
      ratio: med !== null && baseMed ? med / baseMed : null,
      baseline: info.baseline,
      ok: t.ok,
      check: t.check,
    };
  });
}

export function fmt(v: number | null): string {
  if (v === null) return '-';
  if (v >= 100) return Math.round(v).toLocaleString('en-US');
  return v.toPrecision(3);
}

export function fmtRatio(r: number | null): string {
  return r === null ? '-' : `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`;
}

function plural(rs: Row[]): string {
  const n = Math.max(0, ...rs.map((r) => r.rounds));
  return `${n} round${n === 1 ? '' : 's'}`;
}

export function header(m: Machine): string {
  return [
    `uring bench · ${m.date}`,
    `CPU ${m.cpu} · ${m.cores} cores · ${m.memory} RAM · ${m.kernel} · Node ${m.node}`,
    `datasets in ${m.dir} (${m.fs})`,
  ].join('\n');
}

export function table(w: WorkloadId, desc: string, rs: Row[], skipped: Skip[]): string {
  const info = WORKLOADS[w];
  const width = Math.max(28, ...rs.map((r) => r.impl.length)) + 2;
  const col = (s: string, n = 12) => s.padStart(n);
  const rw = info.baseline.length + 6;
  const out = [`${w}  ${info.title} (${desc}) · ${info.unit}, ${plural(rs)}`];
  out.push(`  ${'implementation'.padEnd(width)}${col('median')}${col('min')}${col('max')}${col(`vs ${info.baseline}`, rw)}`);
  for (const r of rs) {
    const ratio = col(fmtRatio(r.ratio), rw);
    const line = `  ${r.impl.padEnd(width)}${col(fmt(r.median))}${col(fmt(r.min))}${col(fmt(r.max))}${ratio}`;
    out.push(r.ok ? line : `${line}   FAILED: ${r.check}`);
  }
  for (const s of skipped) out.push(`  ${s.impl.padEnd(width)}  skipped: ${s.reason}`);
  return out.join('\n');
}

export function toJson(rep: Report): string {
  return JSON.stringify(rep, null, 2) + '\n';
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function color(impl: string, baseline: string): string {
  if (impl === baseline) return '#8a8f98';
  if (impl.startsWith('uring')) return '#2b6cb0';
  if (impl.startsWith('Bun')) return '#d69e2e';
  if (/^(C |fio|cp$)/.test(impl)) return '#c05621';
  return '#4a9d8f';
}

function chart(rs: Row[]): string {
  const shown = rs.filter((r) => r.median !== null);
  const top = Math.max(1e-9, ...shown.map((r) => r.max ?? 0));
  const labelW = 300;
  const barW = 420;
  const rowH = 26;
  const h = shown.length * rowH + 10;
  const x = (v: number) => labelW + (v / top) * barW;
  const parts = shown.map((r, i) => {
    const y = 5 + i * rowH;
    const c = color(r.impl, r.baseline);
    const ratio = r.ratio === null ? '' : ` (${fmtRatio(r.ratio)})`;
    return [
      `<text x="${labelW - 8}" y="${y + 16}" text-anchor="end">${esc(r.impl)}</text>`,
      `<rect x="${labelW}" y="${y + 3}" width="${(x(r.median!) - labelW).toFixed(1)}" height="${rowH - 8}" fill="${r.ok ? c : '#e53e3e'}"><title>${esc(`${r.impl}: ${fmt(r.median)} ${r.unit}`)}</title></rect>`,
      `<line x1="${x(r.min!).toFixed(1)}" x2="${x(r.max!).toFixed(1)}" y1="${y + rowH / 2 - 1}" y2="${y + rowH / 2 - 1}" stroke="#1a202c" stroke-width="1.5"/>`,
      `<text x="${(x(r.max!) + 6).toFixed(1)}" y="${y + 16}">${esc(fmt(r.median) + ratio)}</text>`,
    ].join('');
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + barW + 170}" height="${h}" font-family="system-ui,sans-serif" font-size="13">${parts.join('')}</svg>`;
}

export function toHtml(rep: Report, descs: Partial<Record<WorkloadId, string>>): string {
  const m = rep.machine;
  const sections = (Object.keys(descs) as WorkloadId[]).map((w) => {
    const info = WORKLOADS[w];
    const rs = rep.results.filter((r) => r.workload === w);
    const sk = rep.skipped.filter((s) => s.workload === w);
    const trs = rs
      .map((r) => `<tr><td>${esc(r.impl)}</td><td>${fmt(r.median)}</td><td>${fmt(r.min)}</td><td>${fmt(r.max)}</td><td>${fmtRatio(r.ratio)}</td><td>${r.ok ? 'ok' : `<b class="bad">FAILED</b> ${esc(r.check)}`}</td></tr>`)
      .join('');
    const skips = sk.length ? `<ul class="skip">${sk.map((s) => `<li>${esc(s.impl)}: skipped, ${esc(s.reason)}</li>`).join('')}</ul>` : '';
    return `<section><h2>${w}: ${esc(info.title)}</h2><p>${esc(descs[w] ?? '')}. Unit: ${esc(info.unit)}; bar = median, line = min..max over ${plural(rs)}; ratio vs ${esc(info.baseline)}.</p>${chart(rs)}<table><tr><th>implementation</th><th>median</th><th>min</th><th>max</th><th>vs ${esc(info.baseline)}</th><th>check</th></tr>${trs}</table>${skips}</section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>uring bench ${esc(rep.date)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#1a202c;max-width:960px}table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 10px;text-align:right;border-bottom:1px solid #e2e8f0}td:first-child,th:first-child,td:last-child{text-align:left}.bad{color:#e53e3e}.skip{color:#718096}section{margin-bottom:2em}</style>
</head><body><h1>uring bench</h1>
<p>${esc(rep.date)}${rep.quick ? ' (quick run)' : ''}<br>CPU ${esc(m.cpu)}, ${m.cores} cores, ${esc(m.memory)} RAM<br>${esc(m.kernel)}, Node ${esc(m.node)}<br>datasets in ${esc(m.dir)} (${esc(m.fs)})</p>
${sections.join('\n')}
</body></html>
`;
}
