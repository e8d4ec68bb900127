// A host: the worker threads that serve userspace rings, seen from the
// consumer's thread. Rings attach to a host and share its threads (one
// process-wide host serves every fs ring, as libuv's threadpool serves every
// fs call; a user scheme gets a host of its own). Sharing matters: a thread
// per ring would cost a thread start and its file descriptors per ring.
//
// A worker that exits unexpectedly (a crash, process.exit in a handler,
// terminate()) leaves its ledger in every ring behind. reconcile() reads
// them: every SQE the worker held gets a CQE flagged URING_CQE_F_PEER_DIED,
// which the executor turns into ERR_URING_WORKER_DIED (S3: each op settles
// exactly once), then a replacement takes the same index. The claim and CQ
// locks are released on the dead worker's behalf; a claim it was in the
// middle of is resolved by comparing the SQ head with the claim record.

import { Worker, MessageChannel, type MessagePort } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { RingView, HostView, type RingLayout, unlock, L_FREE, L_TENTATIVE, L_CANCEL_DONE, L_CANCEL_GO, isCancelGo } from './layout.js';
import type { ControlMsg, WorkerBoot, WorkerReport } from './thread.js';
import { recoverFds } from './fds.js';
import { FileTable } from './files.js';

export interface HostConfig {
  workers: number;
  /** Scheme modules every worker loads (see OpTableModule). */
  tables: string[];
  spin: number;
}

/** How a host reaches back to a ring's consumer; bound weakly by the backend. */
export interface RingHooks {
  /** A worker died holding these SQEs (user_data halves, in pairs). */
  died(held: number[]): void;
  /** No worker can start (a handler module fails to load): nothing will ever serve the ring. */
  fatal(reason: string): void;
}

interface Attached {
  view: RingView;
  hooks: RingHooks;
  /** The ring's attach message and its latest region/files/buffers messages, for new workers. */
  state: ControlMsg[];
}

interface Slot {
  worker: Worker | null;
  port: MessagePort | null;
  ready: boolean;
  failures: number;
}

/** Consecutive failed starts after which the host gives up. */
const MAX_START_FAILURES = 3;
const threadUrl = new URL('./thread.js', import.meta.url);

export class WorkerHost {
  readonly view = new HostView(new SharedArrayBuffer(HostView.BYTES));
  /** Opcodes the handler modules define (known once a worker is ready). */
  readonly ready: Promise<number[]>;
  /** Replacement workers started after a death. */
  restarts = 0;
  /** Fds (and direct descriptors) closed for jobs that died with their worker. */
  fdsRecovered = 0;
  failed: string | null = null;
  private readonly slots: Slot[] = [];
  private readonly rings = new Map<number, Attached>();
  private nextRing = 1;
  private stopped = false;
  private resolveReady!: (ops: number[]) => void;
  private rejectReady!: (e: Error) => void;

  constructor(private readonly cfg: HostConfig) {
    this.ready = new Promise<number[]>((res, rej) => {
      this.resolveReady = res;
      this.rejectReady = rej;
    });
    this.ready.catch(() => {}); // reported to each ring through hooks.fatal
    for (let i = 0; i < cfg.workers; i++) {
      this.slots.push({ worker: null, port: null, ready: false, failures: 0 });
      this.spawn(i);
    }
  }

  get size(): number {
    return this.slots.length;
  }

  private readonly allReadyWaiters: Array<() => void> = [];

  /**
   * Resolves once every worker has started. A starting worker opens fds of
   * its own (its event loop's), so a count of the process's fds is only
   * stable after this (tests).
   */
  allReady(): Promise<void> {
    if (this.stopped || this.slots.every((s) => s.ready)) return Promise.resolve();
    // The workers are unref'd: hold the loop while we wait for them.
    const hold = setInterval(() => {}, 1 << 30);
    return new Promise((resolve) =>
      this.allReadyWaiters.push(() => {
        clearInterval(hold);
        resolve();
      }),
    );
  }

  get attached(): number {
    return this.rings.size;
  }

  /** Serves a ring from now on; returns its id for control() and detach(). */
  attach(sab: SharedArrayBuffer, layout: RingLayout, hooks: RingHooks): number {
    const ring = this.nextRing++;
    const msg: ControlMsg = { t: 'attach', ring, sab, layout };
    this.rings.set(ring, { view: new RingView(sab, layout), hooks, state: [msg] });
    this.send(msg);
    if (this.failed) hooks.fatal(this.failed);
    return ring;
  }

  detach(ring: number): void {
    if (this.rings.delete(ring)) this.send({ t: 'detach', ring });
  }

  /** Sends a ring's control message to every worker (and to future ones). */
  control(msg: Exclude<ControlMsg, { t: 'attach' | 'detach' }>): void {
    const a = this.rings.get(msg.ring);
    if (!a) return;
    // Regions accumulate; a file table or buffer list replaces the last one.
    if (msg.t !== 'region') {
      const k = a.state.findIndex((m) => m.t === msg.t);
      if (k >= 0) a.state.splice(k, 1);
    }
    a.state.push(msg);
    this.send(msg);
  }

  private send(msg: ControlMsg): void {
    for (const s of this.slots) s.port?.postMessage(msg);
    // The epoch moves before any SQE that depends on the message is published.
    this.view.bumpControl();
  }

  private spawn(index: number): void {
    const { port1, port2 } = new MessageChannel();
    port1.unref(); // only ever posted to: it must not hold the loop
    const state: ControlMsg[] = [];
    for (const a of this.rings.values()) state.push(...a.state);
    const boot: WorkerBoot = {
      host: this.view.sab, index, port: port2, tables: this.cfg.tables, spin: this.cfg.spin, state,
    };
    const w = newWorker(boot);
    const slot = this.slots[index]!;
    slot.worker = w;
    slot.port = port1;
    slot.ready = false;
    let fatal = '';
    w.on('message', (m: WorkerReport) => {
      if (m.t === 'ready') {
        slot.ready = true;
        slot.failures = 0;
        this.resolveReady(m.opcodes);
        if (this.slots.every((s) => s.ready)) for (const fn of this.allReadyWaiters.splice(0)) fn();
      } else fatal = m.message;
    });
    w.on('error', (e) => {
      fatal ||= e.message;
    });
    w.on('exit', () => this.exited(index, w, fatal));
    // An idle ring never keeps the process alive; in-flight ops hold the
    // consumer's own handle instead (S4). After the listeners: adding a
    // 'message' listener refs the worker's port again.
    w.unref();
  }

  private exited(index: number, w: Worker, fatal: string): void {
    const slot = this.slots[index]!;
    if (slot.worker !== w) return;
    slot.worker = null;
    slot.port?.close();
    slot.port = null;
    if (this.stopped) return;
    for (const a of this.rings.values()) {
      // Before the CQEs that tell the client: it may reuse a table slot
      // as soon as it knows the op died.
      this.fdsRecovered += recoverFds(a.view.ledgerFds(index), Atomics.load(a.view.i32, a.view.cqTail), filesOf(a));
      const held = reconcile(a.view, index);
      if (held.length > 0) a.hooks.died(held);
    }
    this.view.wake();
    if (!slot.ready && ++slot.failures >= MAX_START_FAILURES) {
      this.failed = `scheme worker failed to start: ${fatal || 'exited during startup'}`;
      this.rejectReady(new Error(this.failed));
      this.stop();
      for (const a of this.rings.values()) a.hooks.fatal(this.failed);
      return;
    }
    this.restarts++;
    this.spawn(index);
  }

  /** Test hook: kills worker `index` as a crash would. */
  kill(index: number): Promise<number> {
    const w = this.slots[index]?.worker;
    return w ? w.terminate() : Promise.resolve(0);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const fn of this.allReadyWaiters.splice(0)) fn();
    for (const s of this.slots) {
      void s.worker?.terminate();
      s.port?.close();
      s.worker = null;
      s.port = null;
    }
  }
}

/** The ring's registered file table, as the workers last heard of it. */
function filesOf(a: Attached): FileTable | null {
  for (const m of a.state) if (m.t === 'files') return m.sab ? new FileTable(m.sab) : null;
  return null;
}

/** Frees a dead worker's ledger and locks in one ring; returns the user_data of every SQE it held. */
export function reconcile(v: RingView, index: number): number[] {
  const i = v.i32;
  const owner = index + 1;
  let claimWentThrough = false;
  if (Atomics.load(i, v.claimLock) === owner) {
    const n = Atomics.load(i, v.claimN) >>> 0;
    claimWentThrough = n > 0 && Atomics.load(i, v.sqHead) >>> 0 === ((Atomics.load(i, v.claimHead) + n) >>> 0);
    Atomics.store(i, v.claimN, 0);
    unlock(i, v.claimLock);
  }
  // CQEs written but not published are simply overwritten later.
  if (Atomics.load(i, v.cqLock) === owner) unlock(i, v.cqLock);
  Atomics.store(i, v.sleepBase + index, 0);
  Atomics.sub(i, v.countWaiters, Atomics.exchange(i, v.countBase + index, 0));
  const held: number[] = [];
  for (let p = 0; p < v.layout.producers; p++) {
    const states = v.ledgerStates(p);
    const sqes = v.ledgerSqes(p);
    for (let s = 0; s < states.length; s++) {
      const st = Atomics.load(states, s);
      const promised = st === L_CANCEL_GO + index; // an answer the dead one owed, maybe never posted
      if (p !== index && !promised) continue;
      if (st === L_FREE) continue;
      // Its owner (alive) cleans up as after any answer; the dead one's own entries just go.
      Atomics.store(states, s, p === index ? L_FREE : L_CANCEL_DONE);
      if (st === L_TENTATIVE && !claimWentThrough) continue; // still in the SQ: another worker takes it
      // Answered, or about to be, by a live canceller: not ours to answer.
      if (!promised && (st === L_CANCEL_DONE || isCancelGo(st))) continue;
      held.push(sqes[(s << 4) + 8]!, sqes[(s << 4) + 9]!);
    }
  }
  Atomics.add(i, v.cancelSeq, 1); // owners of entries now CANCEL_DONE: look
  return held;
}

/**
 * The parent's node flags minus the ones that describe the parent's own
 * entry point (`node --input-type=module -e ...` would make every worker
 * fail to start); undefined (inherit) when there are none.
 */
function workerExecArgv(): string[] | undefined {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k]!;
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print') k++;
    else if (!a.startsWith('--input-type') && !a.startsWith('--eval=') && !a.startsWith('--print=')) out.push(a);
  }
  return out.length === argv.length ? undefined : out;
}

function newWorker(boot: WorkerBoot): Worker {
  // trackUnmanagedFds: false. Fds are process-wide: node must not close,
  // when a worker exits, the fds it opened for clients (an openat's result
  // belongs to the client once its CQE is reaped). The fd ledger closes
  // those of jobs that died with the worker (fds.ts).
  const opts = { workerData: boot, transferList: [boot.port], execArgv: workerExecArgv(), trackUnmanagedFds: false };
  try {
    return new Worker(threadUrl, opts);
  } catch (e) {
    // Inherited flags are filtered silently, explicit ones are checked: drop
    // the per-process ones node names (--expose-gc, ...) and try again.
    const m = /flags: (.*)$/.exec((e as Error).message);
    if ((e as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV' || !m || !opts.execArgv) throw e;
    const bad = new Set(m[1]!.split(', '));
    return new Worker(threadUrl, { ...opts, execArgv: opts.execArgv.filter((a) => !bad.has(a)) });
  }
}

export function defaultWorkers(cores: number): number {
  return Math.max(1, Math.min(4, cores));
}

/** Process-wide hosts by the schemes they serve (in practice one: the fs scheme's). */
const shared = new Map<string, WorkerHost>();

/** The process-wide host serving `tables`, started on first use. */
export function sharedHost(tables: string[], spin: number): WorkerHost {
  const key = tables.join('\n');
  let h = shared.get(key);
  if (!h || h.failed) {
    h = new WorkerHost({ workers: defaultWorkers(availableParallelism()), tables, spin });
    shared.set(key, h);
  }
  return h;
}
