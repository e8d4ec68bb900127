// Entry point of a scheme worker thread: a producer for every ring its host
// serves (rings share one host's threads, like libuv's threadpool).
//
// The loop runs turns while any ring has work and sleeps in Atomics.wait on
// the host's EVENT_SEQ when none has, after a short spin (a busy ring hands
// the next batch over before we would have slept, saving the consumer a
// notify). The sleep flags are raised before the last look for work, and a
// consumer reads them after publishing its tail: whichever side is second
// sees the other (Atomics are sequentially consistent), so no wakeup is
// lost. While async handlers are pending the thread must run its event
// loop, so it waits with Atomics.waitAsync instead.

import { workerData, parentPort, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { Producer, type OpHandler, type OpTableModule } from './producer.js';
import { HostView, waitAsync, type RingLayout } from './layout.js';
import { FileTable } from './files.js';

/** What the host hands a worker at spawn. */
export interface WorkerBoot {
  host: SharedArrayBuffer;
  index: number;
  port: MessagePort;
  /** Scheme modules (URLs), each exporting opTable(): the transport knows no scheme by name. */
  tables: string[];
  /** Spin iterations before sleeping. */
  spin: number;
  /** Every ring attached so far and its state, replayed in order. */
  state: ControlMsg[];
}

/** Control messages from the consumers: rings, and per ring its pool regions, file table, buffers. */
export type ControlMsg =
  | { t: 'attach'; ring: number; sab: SharedArrayBuffer; layout: RingLayout }
  | { t: 'detach'; ring: number }
  | { t: 'region'; ring: number; id: number; sab: SharedArrayBuffer; offset: number; size: number }
  | { t: 'files'; ring: number; sab: SharedArrayBuffer | null }
  | { t: 'buffers'; ring: number; list: number[] | null };

/** Messages a worker sends its host. */
export type WorkerReport = { t: 'ready'; opcodes: number[] } | { t: 'fatal'; message: string };

const boot = workerData as WorkerBoot;
const host = new HostView(boot.host);
const epoch = { seen: -1 };
const rings = new Map<number, Producer>();
let list: Producer[] = [];
const ops: Array<readonly [number, OpHandler]> = [];
let wakeLocal: (() => void) | null = null;

function control(): void {
  epoch.seen = Atomics.load(host.i32, host.controlEpoch);
  for (let m = receiveMessageOnPort(boot.port); m; m = receiveMessageOnPort(boot.port)) apply(m.message as ControlMsg);
}

function apply(m: ControlMsg): void {
  if (m.t === 'attach') {
    const p = new Producer({
      sab: m.sab, layout: m.layout, index: boot.index, canBlock: true, host, epoch, control,
      onSettled: () => wakeLocal?.(),
    });
    for (const [op, h] of ops) p.handlers[op] = h;
    rings.set(m.ring, p);
  } else if (m.t === 'detach') rings.delete(m.ring);
  else {
    const p = rings.get(m.ring);
    if (!p) return;
    if (m.t === 'region') p.regions[m.id] = Buffer.from(m.sab, m.offset, m.size);
    else if (m.t === 'files') p.files = m.sab ? new FileTable(m.sab) : null;
    else p.buffers = m.list;
  }
  list = [...rings.values()];
}

function anyWork(): boolean {
  if (Atomics.load(host.i32, host.controlEpoch) !== epoch.seen) return true;
  for (const p of list) if (p.hasWork()) return true;
  return false;
}

function setSleeping(on: number): void {
  for (const p of list) Atomics.store(p.v.i32, p.v.sleepBase + boot.index, on);
}

function timeToNext(): number {
  let ms = Infinity;
  for (const p of list) ms = Math.min(ms, p.timeToNext());
  return ms;
}

function asyncPending(): number {
  let n = 0;
  for (const p of list) n += p.asyncPending;
  return n;
}

function sleepSync(): void {
  const seq = Atomics.load(host.i32, host.eventSeq);
  for (let k = 0; k < boot.spin; k++) if (anyWork()) return;
  setSleeping(1);
  if (!anyWork()) Atomics.wait(host.i32, host.eventSeq, seq, timeToNext());
  setSleeping(0);
}

let outstanding: Promise<void> | null = null;

async function sleepAsync(): Promise<void> {
  const seq = Atomics.load(host.i32, host.eventSeq);
  setSleeping(1);
  if (!anyWork()) {
    // One waiter at a time: a notify wakes it whatever value it expected.
    if (!outstanding) {
      const w = waitAsync(host.i32, host.eventSeq, seq);
      if (w.async) outstanding = w.value.then(() => void (outstanding = null));
    }
    if (outstanding) {
      const ms = timeToNext();
      let timer: NodeJS.Timeout | null = null;
      await Promise.race([
        outstanding,
        new Promise<void>((resolve) => {
          wakeLocal = resolve;
          if (ms !== Infinity) timer = setTimeout(resolve, ms);
        }),
      ]);
      wakeLocal = null;
      if (timer) clearTimeout(timer);
    }
  }
  setSleeping(0);
}

const yieldLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

async function main(): Promise<void> {
  const opcodes: number[] = [];
  for (const url of boot.tables) {
    const mod = (await import(url)) as Partial<OpTableModule>;
    if (typeof mod.opTable !== 'function') throw new TypeError(`${url} is not a scheme module: it exports no opTable()`);
    const table = await mod.opTable(boot.index);
    ops.push(...table.ops);
    opcodes.push(...table.advertised);
  }
  for (const m of boot.state) apply(m);
  // Keeps this thread's loop alive while it awaits only waitAsync promises;
  // the host unrefs the Worker, so this never holds the process.
  setInterval(() => {}, 1 << 30);
  parentPort!.postMessage({ t: 'ready', opcodes } satisfies WorkerReport);
  for (;;) {
    let did = false;
    if (Atomics.load(host.i32, host.controlEpoch) !== epoch.seen) control();
    for (const p of list) if (p.turn()) did = true;
    const pending = asyncPending();
    if (did) {
      if (pending > 0) await yieldLoop();
      continue;
    }
    if (pending > 0) await sleepAsync();
    else sleepSync();
  }
}

main().catch((e: unknown) => {
  parentPort!.postMessage({ t: 'fatal', message: e instanceof Error ? e.message : String(e) } satisfies WorkerReport);
  process.exit(1);
});
