// `uring bench`: JSON shape, correctness of every peer that ran, and the
// bad-input paths. Never asserts timings.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function uring(args: string[], timeout = 120_000) {
  return spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout });
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'uring-bench-test-'));
}

interface Row { workload: string; impl: string; median: number | null; min: number | null; max: number | null; rounds: number; unit: string; ratio: number | null; ok: boolean; check: string }
interface Report { machine: Record<string, unknown>; date: string; results: Row[]; skipped: Array<{ workload: string; impl: string; reason: string }> }

function runQuick(only: string): { rep: Report; out: string; dir: string } {
  const dir = tmp();
  const json = path.join(dir, 'out.json');
  const html = path.join(dir, 'out.html');
  try {
    const r = uring(['bench', '--quick', '--only', only, '--rounds', '1', '--dir', dir, '--json', json, '--html', html]);
    assert.equal(r.status, 0, `exit ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    const rep = JSON.parse(fs.readFileSync(json, 'utf8')) as Report;
    const page = fs.readFileSync(html, 'utf8');
    assert.match(page, /<svg/);
    assert.doesNotMatch(page, /<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'the HTML page must be self-contained');
    return { rep, out: r.stdout, dir };
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

function checkShape(rep: Report, workloads: string[]): void {
  for (const k of ['cpu', 'cores', 'kernel', 'node', 'date']) assert.ok(k in rep.machine, `machine.${k}`);
  assert.ok(!Number.isNaN(Date.parse(rep.date)));
  assert.ok(Array.isArray(rep.results) && Array.isArray(rep.skipped));
  for (const r of rep.results) {
    assert.ok(workloads.includes(r.workload), r.workload);
    assert.equal(typeof r.impl, 'string');
    assert.equal(typeof r.unit, 'string');
    assert.equal(r.ok, true, `${r.workload} ${r.impl} failed its correctness check: ${r.check}`);
    assert.equal(r.rounds, 1);
    for (const k of ['median', 'min', 'max'] as const) assert.ok(typeof r[k] === 'number' && r[k]! > 0, `${r.impl} ${k}`);
    assert.ok(r.min! <= r.median! && r.median! <= r.max!);
    assert.ok(r.ratio === null || (typeof r.ratio === 'number' && r.ratio > 0));
  }
  for (const s of rep.skipped) {
    assert.ok(workloads.includes(s.workload));
    assert.ok(typeof s.reason === 'string' && s.reason.length > 0, `${s.impl} skipped without a reason`);
  }
  const names = [...rep.results, ...rep.skipped].map((x) => `${x.workload}/${x.impl}`);
  assert.equal(new Set(names).size, names.length, 'a peer is listed twice');
}

test('bench --quick W1,W2: JSON shape, every peer that ran read correct bytes', () => {
  const { rep, out, dir } = runQuick('W1,W2');
  try {
    checkShape(rep, ['W1', 'W2']);
    for (const w of ['W1', 'W2']) {
      const base = rep.results.find((r) => r.workload === w && r.impl === 'fs.promises');
      assert.ok(base, `${w} has the fs.promises baseline`);
      assert.equal(base.ratio, 1);
    }
    // every peer is either measured or skipped with a reason, never dropped
    const expected: Record<string, string[]> = {
      W1: ['fs.promises', 'fs.read callbacks', 'readSync loop', 'fs.promises +UV_USE_IO_URING', 'fs.read callbacks +UV_USE_IO_URING',
        'uring FileHandle.read (kernel)', 'uring FileHandle.read (worker)', 'fio io_uring', 'Bun fs.promises'],
      W2: ['fs.promises', 'fs.readFile callbacks', 'readFileSync loop', 'uring readFile (kernel)', 'uring readFile (worker)',
        'C openat→read→close chains', 'Bun fs.promises'],
    };
    for (const [w, impls] of Object.entries(expected)) {
      for (const impl of impls) {
        assert.ok([...rep.results, ...rep.skipped].some((x) => x.workload === w && x.impl === impl), `${w} ${impl} is listed`);
      }
    }
    assert.match(out, /CPU .* cores/);
    assert.match(out, /W1 .*\n.*implementation/);
    // datasets are removed
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('uring-bench-')), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bench --quick W3,W4,W5: JSON shape and checks', () => {
  const { rep, dir } = runQuick('W3,W4,W5');
  try {
    checkShape(rep, ['W3', 'W4', 'W5']);
    assert.ok([...rep.results, ...rep.skipped].some((x) => x.workload === 'W3' && x.impl === 'C batched NOPs'));
    assert.ok(rep.results.some((x) => x.workload === 'W4' && x.impl === 'postMessage echo'));
    assert.ok(rep.results.some((x) => x.workload === 'W4' && x.impl === 'uring scheme echo'), 'W4 has its uring peer');
    assert.ok(rep.results.some((x) => x.workload === 'W5' && x.impl === 'fs.copyFile'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

function badInput(args: string[], pattern: RegExp): void {
  const r = uring(args, 30_000);
  assert.equal(r.status, 2, `exit ${r.status}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0]!, pattern);
}

test('unknown workload: one line, exit 2', () => badInput(['bench', '--only', 'W1,W9'], /unknown workload W9/));
test('unknown flag: one line, exit 2', () => badInput(['bench', '--fast'], /unknown option "--fast"/));
test('unknown subcommand: one line, exit 2', () => badInput(['benchmark'], /unknown subcommand/));
test('bad --rounds: one line, exit 2', () => badInput(['bench', '--rounds', 'zero'], /--rounds/));

test('unwritable --dir: one line, exit 2, nothing left behind', () => {
  const dir = tmp();
  try {
    // a regular file is not a directory, even for root (who ignores mode bits)
    const file = path.join(dir, 'not-a-dir');
    fs.writeFileSync(file, '');
    badInput(['bench', '--quick', '--only', 'W3', '--dir', file], /cannot write datasets to --dir/);
    badInput(['bench', '--quick', '--only', 'W3', '--dir', path.join(dir, 'missing')], /cannot write datasets to --dir/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('not enough disk space: one line, exit 2', (t) => {
  const dir = tmp();
  // a 4 MiB tmpfs needs root (or a user namespace); skip where mount is refused
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { encoding: 'utf8' });
  if (m.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    t.skip(`cannot mount a small tmpfs here: ${(m.stderr || String(m.error)).trim()}`);
    return;
  }
  try {
    badInput(['bench', '--quick', '--only', 'W1', '--dir', dir], /not enough disk space/);
    assert.deepEqual(fs.readdirSync(dir), []);
  } finally {
    spawnSync('umount', [dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('--help prints usage and exits 0', () => {
  const r = uring(['bench', '--help'], 30_000);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /--only/);
});
