// Picks the ring attachment: the kernel's io_uring when it works, otherwise
// the worker backend, with the reason kept for backend(). URING_BACKEND=
// kernel|worker forces one; forcing the kernel where it cannot work throws.

import type { Backend, BackendName } from '../queues/backend.js';
import { KernelBackend, type KernelOptions } from '../backends/kernel.js';
import { WorkerBackend, type WorkerOptions } from '../backends/worker.js';
import { uringError } from '../errors.js';
import { fsSchemeTable } from '../schemes/fs-scheme.js';

export interface BackendOptions extends KernelOptions, WorkerOptions {
  /** Overrides URING_BACKEND. */
  backend?: BackendName;
}

export interface BackendChoice {
  name: BackendName;
  reason: string;
}

let lastChoice: BackendChoice | null = null;

/** Which backend rings open on, and why (after the first ring opened). */
export function backendInfo(): BackendChoice | null {
  return lastChoice;
}

type WorkerFactory = (opts: BackendOptions) => Backend;
let workerFactory: WorkerFactory = (opts) => WorkerBackend.open(opts, [fsSchemeTable]);

/** The worker backend registers itself here (keeps this module free of worker code). */
export function setWorkerFactory(f: WorkerFactory): void {
  workerFactory = f;
}

export function openBackend(opts: BackendOptions = {}): Backend {
  const forced = opts.backend ?? (process.env.URING_BACKEND as BackendName | undefined) ?? undefined;
  if (forced !== undefined && forced !== 'kernel' && forced !== 'worker') {
    throw uringError('ERR_INVALID_ARG_VALUE', `URING_BACKEND must be "kernel" or "worker", got "${forced}"`);
  }
  if (forced === 'kernel') {
    const b = KernelBackend.open(opts);
    lastChoice = { name: 'kernel', reason: 'forced by URING_BACKEND=kernel' };
    return b;
  }
  if (forced === 'worker') return openWorker(opts, 'forced by URING_BACKEND=worker');
  try {
    const b = KernelBackend.open(opts);
    lastChoice = { name: 'kernel', reason: 'io_uring is available' };
    return b;
  } catch (e) {
    const err = e as Error & { code?: string };
    // Bad arguments are the caller's problem on any backend; only an
    // unusable io_uring (ENOSYS, EPERM under seccomp, io_uring_disabled,
    // no addon) falls back.
    if (err.code === 'ERR_OUT_OF_RANGE') throw err;
    return openWorker(opts, `io_uring unavailable: ${err.message}`);
  }
}

function openWorker(opts: BackendOptions, reason: string): Backend {
  if (!workerFactory) throw uringError('ERR_URING_UNAVAILABLE', `the worker backend is not available (${reason})`);
  const b = workerFactory(opts);
  lastChoice = { name: 'worker', reason };
  return b;
}
