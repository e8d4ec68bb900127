// What this machine has: CPU and kernel facts, bun, fio, a C compiler, and
// whether libuv can use io_uring. Runs in the harness process only.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HarnessCtx } from './types.js';

export interface Machine {
  cpu: string;
  cores: number;
  memory: string;
  kernel: string;
  node: string;
  date: string;
  dir: string;
  fs: string;
}

const FS_MAGIC: Record<number, string> = {
  0xef53: 'ext4', 0x01021994: 'tmpfs', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x794c7630: 'overlayfs',
  0x6969: 'nfs', 0x65735546: 'fuse', 0x2fc12fc1: 'zfs', 0xf2f52010: 'f2fs', 0x858458f6: 'ramfs',
};

export function machine(dir: string): Machine {
  let cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1]!.trim();
  } catch {
    /* not Linux: keep os.cpus() */
  }
  let fsType = 'unknown fs';
  try {
    const t = fs.statfsSync(dir).type;
    fsType = FS_MAGIC[t] ?? `fs 0x${t.toString(16)}`;
  } catch {
    /* statfs unsupported */
  }
  return {
    cpu,
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    date: new Date().toISOString(),
    dir,
    fs: fsType,
  };
}

/** The package root (has package.json named "uring"), found from this file. */
export function pkgRoot(): string {
  let d = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pj = JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8')) as { name?: string };
      if (pj.name === 'uring') return d;
    } catch {
      /* keep walking up */
    }
    const up = path.dirname(d);
    if (up === d) return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
    d = up;
  }
}

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const f = path.join(dir, name);
    try {
      fs.accessSync(f, fs.constants.X_OK);
      if (fs.statSync(f).isFile()) return f;
    } catch {
      /* not here */
    }
  }
  return null;
}

function version(bin: string, arg = '--version'): string | null {
  const r = spawnSync(bin, [arg], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim().split('\n')[0]! : null;
}

function findBun(root: string): { bin: string | null; why: string } {
  const arch = process.arch === 'arm64' ? 'aarch64' : process.arch;
  const pkg = `@oven/bun-${process.platform}-${arch}`;
  const candidates = [
    onPath('bun'),
    path.join(root, 'node_modules', pkg, 'bin', 'bun'),
    path.join(process.cwd(), 'node_modules', pkg, 'bin', 'bun'),
    path.join(root, '.cache', 'bun', 'package', 'bin', 'bun'),
  ];
  for (const c of candidates) {
    if (c && fs.existsSync(c)) {
      if (version(c)) return { bin: c, why: '' };
      return { bin: null, why: `${c} does not run` };
    }
  }
  return { bin: null, why: `no bun on PATH, in node_modules/${pkg} or .cache/bun (sh bench/get-bun.sh fetches it)` };
}

function uvIoUringWhy(): string | null {
  if (process.platform !== 'linux') return 'libuv uses io_uring only on Linux';
  const [maj = 0, min = 0] = (process.versions.uv ?? '0.0').split('.').map(Number);
  if (maj < 1 || (maj === 1 && min < 45)) return `libuv ${process.versions.uv} in Node ${process.version} has no io_uring (needs libuv >= 1.45)`;
  try {
    const v = fs.readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim();
    if (v === '2') return 'io_uring is disabled (kernel.io_uring_disabled=2)';
  } catch {
    /* older kernel: no such sysctl */
  }
  return null;
}

function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const dir = path.join(base, 'uring-bench');
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
    return dir;
  } catch {
    const tmp = path.join(os.tmpdir(), `uring-bench-cc-${process.getuid?.() ?? 'user'}`);
    fs.mkdirSync(tmp, { recursive: true });
    return tmp;
  }
}

/** Compile bench/c/NAME.c (with ring.h) once into the cache dir; key = source hash. */
function compile(root: string, name: string): string | Error {
  const srcDir = path.join(root, 'bench', 'c');
  const src = path.join(srcDir, `${name}.c`);
  if (!fs.existsSync(src)) return new Error(`C source ${src} not found`);
  const cc = process.env.CC || 'cc';
  if (!onPath(cc) && !fs.existsSync(cc)) return new Error(`no C compiler (${cc}) on PATH`);
  const h = createHash('sha256');
  for (const f of [src, path.join(srcDir, 'ring.h')]) if (fs.existsSync(f)) h.update(fs.readFileSync(f));
  h.update(cc + process.arch);
  const bin = path.join(cacheDir(), `${name}-${h.digest('hex').slice(0, 12)}`);
  if (fs.existsSync(bin)) return bin;
  const tmp = `${bin}.${process.pid}.tmp`;
  const r = spawnSync(cc, ['-O2', '-o', tmp, src], { encoding: 'utf8', timeout: 120_000 });
  if (r.error || r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    const msg = r.error ? r.error.message : (r.stderr.split('\n').find((l) => /error/.test(l)) ?? r.stderr.split('\n')[0] ?? '');
    return new Error(`${cc} failed on ${name}.c: ${msg.trim()}`);
  }
  fs.renameSync(tmp, bin);
  return bin;
}

export function makeCtx(quick: boolean): HarnessCtx {
  const root = pkgRoot();
  const bun = findBun(root);
  const fioBin = onPath('fio');
  const fioOk = fioBin ? version(fioBin) : null;
  const built = new Map<string, string | Error>();
  return {
    quick,
    pkgRoot: root,
    bun: bun.bin,
    bunWhy: bun.why,
    fio: fioOk ? fioBin : null,
    fioWhy: fioBin ? `${fioBin} --version failed` : 'no fio on PATH (e.g. apt-get install fio)',
    async cBinary(name) {
      if (process.platform !== 'linux') return new Error('io_uring C references need Linux');
      if (!built.has(name)) built.set(name, compile(root, name));
      return built.get(name)!;
    },
    uvIoUringWhy: uvIoUringWhy(),
  };
}
