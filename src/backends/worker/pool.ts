// The scheme's worker threads, seen from the consumer's thread: spawning,
// control messages, and what happens when one dies.
//
// A worker that exits unexpectedly (a crash, process.exit in a handler,
// terminate()) leaves its ledger behind. reconcile() reads it: every SQE the
// worker held gets a CQE flagged URING_CQE_F_PEER_DIED, which the executor
// turns into ERR_URING_WORKER_DIED (S3: each op settles exactly once), then
// a replacement takes the same index. The claim and CQ locks are released
// on the dead worker's behalf; a claim it was in the middle of is resolved
// by comparing the SQ head with the claim record.

import { Worker, MessageChannel, type MessagePort } from 'node:worker_threads';
import { RingView, type RingLayout, unlock, L_FREE, L_TENTATIVE } from './layout.js';
import type { ControlMsg, WorkerBoot, WorkerReport } from './thread.js';

export interface PoolConfig {
  workers: number;
  fs: boolean;
  modules: string[];
  spin: number;
}

export interface PoolHooks {
  /** A worker died holding these SQEs (user_data halves, in pairs). */
  died(index: number, held: number[]): void;
  /** Workers cannot start (a handler module fails to load): nothing will ever serve the ring. */
  fatal(reason: string): void;
}

/** Consecutive failed starts after which the pool gives up. */
const MAX_START_FAILURES = 3;
const threadUrl = new URL('./thread.js', import.meta.url);

interface Slot {
  worker: Worker | null;
  port: MessagePort | null;
  ready: boolean;
  failures: number;
}

export class SchemePool {
  /** Opcodes the handler modules define (known once a worker is ready). */
  readonly ready: Promise<number[]>;
  /** Replacement workers started after a death. */
  restarts = 0;
  private readonly v: RingView;
  private readonly slots: Slot[] = [];
  /** Everything a new worker needs to catch up: regions, file table, buffers. */
  private readonly state: ControlMsg[] = [];
  private stopped = false;
  private resolveReady!: (ops: number[]) => void;
  private rejectReady!: (e: Error) => void;

  constructor(
    private readonly sab: SharedArrayBuffer,
    private readonly layout: RingLayout,
    private readonly cfg: PoolConfig,
    private readonly hooks: PoolHooks,
  ) {
    this.v = new RingView(sab, layout);
    this.ready = new Promise<number[]>((res, rej) => {
      this.resolveReady = res;
      this.rejectReady = rej;
    });
    this.ready.catch(() => {}); // observed through hooks.fatal as well
    for (let i = 0; i < cfg.workers; i++) {
      this.slots.push({ worker: null, port: null, ready: false, failures: 0 });
      this.spawn(i);
    }
  }

  get size(): number {
    return this.slots.length;
  }

  private spawn(index: number): void {
    const { port1, port2 } = new MessageChannel();
    const boot: WorkerBoot = {
      sab: this.sab, layout: this.layout, index, port: port2,
      fs: this.cfg.fs, modules: this.cfg.modules, spin: this.cfg.spin, state: [...this.state],
    };
    const w = new Worker(threadUrl, { workerData: boot, transferList: [port2] });
    // An idle ring never keeps the process alive; in-flight ops hold the
    // consumer's own handle instead (S4).
    w.unref();
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
      } else fatal = m.message;
    });
    w.on('error', (e) => {
      fatal ||= e.message;
    });
    w.on('exit', () => this.exited(index, w, fatal));
  }

  private exited(index: number, w: Worker, fatal: string): void {
    const slot = this.slots[index]!;
    if (slot.worker !== w) return;
    slot.worker = null;
    slot.port?.close();
    slot.port = null;
    if (this.stopped) return;
    const held = this.reconcile(index);
    this.hooks.died(index, held);
    if (!slot.ready && ++slot.failures >= MAX_START_FAILURES) {
      const reason = `scheme worker failed to start: ${fatal || 'exited during startup'}`;
      this.rejectReady(new Error(reason));
      this.stop();
      this.hooks.fatal(reason);
      return;
    }
    this.restarts++;
    this.spawn(index);
  }

  /** Frees a dead worker's ledger and locks; returns the user_data of every SQE it held. */
  reconcile(index: number): number[] {
    const v = this.v;
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
    const states = v.ledgerStates(index);
    const sqes = v.ledgerSqes(index);
    const held: number[] = [];
    for (let s = 0; s < states.length; s++) {
      const st = Atomics.load(states, s);
      if (st === L_FREE) continue;
      Atomics.store(states, s, L_FREE);
      if (st === L_TENTATIVE && !claimWentThrough) continue; // still in the SQ: another worker takes it
      held.push(sqes[(s << 4) + 8]!, sqes[(s << 4) + 9]!);
    }
    return held;
  }

  /** Sends a control message to every worker (and to future ones), then wakes them to read it. */
  control(msg: ControlMsg, replaces?: ControlMsg['t']): void {
    if (replaces) {
      const k = this.state.findIndex((m) => m.t === replaces);
      if (k >= 0) this.state.splice(k, 1);
    }
    this.state.push(msg);
    for (const s of this.slots) s.port?.postMessage(msg);
    // The epoch moves before any SQE that depends on the message is published.
    Atomics.add(this.v.i32, this.v.controlEpoch, 1);
    this.v.wakeProducers();
  }

  /** Test hook: kills worker `index` as a crash would. */
  kill(index: number): Promise<number> {
    const w = this.slots[index]?.worker;
    return w ? w.terminate() : Promise.resolve(0);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const s of this.slots) {
      void s.worker?.terminate();
      s.port?.close();
      s.worker = null;
      s.port = null;
    }
  }
}

export function defaultWorkers(cores: number): number {
  return Math.max(1, Math.min(4, cores));
}
