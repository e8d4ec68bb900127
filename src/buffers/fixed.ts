// Fixed buffers: registering pool regions with the kernel's buffer table,
// so READ_FIXED/WRITE_FIXED skip the per-op page lookup and pinning.
//
// The table is set up once, sparse, and regions are added one by one as
// they first serve a fixed op: nothing already registered is ever
// re-registered, and a ring that never uses fixed ops pins nothing. Kernel
// ladder, newest first:
//   sparse  IORING_REGISTER_BUFFERS2 + IORING_RSRC_REGISTER_SPARSE (5.19+),
//           then IORING_REGISTER_BUFFERS_UPDATE per region
//   table   IORING_REGISTER_BUFFERS2 with null iovecs as empty slots (5.13+),
//           then IORING_REGISTER_BUFFERS_UPDATE per region
//   legacy  IORING_REGISTER_BUFFERS of every region at once; adding one
//           means unregistering and registering the whole set again, which
//           is only done while no SQE holds a buf_index (nothing pinned)
// A region that cannot be registered (RLIMIT_MEMLOCK, the kernel's 1 GiB
// per-buffer limit, the byte cap, a full table) is simply not fixed: the
// ring then issues plain READ/WRITE on the same pool memory, which is
// correct, only slower. The first such failure is reported once as a
// process warning with the numbers needed to fix it; ring.registerPool()
// throws the same error instead, for callers who insist.

import * as abi from '../abi/abi.js';
import { setU64 } from '../abi/prep.js';
import { errnoError, type UringSystemError } from '../errors.js';
import { native } from '../native.js';
import { Region, SLOT_NONE, SLOT_UNTRIED } from './chunk.js';

/** How the pool reaches io_uring_register: the ring's backend. */
export interface Registrar {
  register(opcode: number, arg: ArrayBufferView | null, nr: number): number;
  /** Real addresses (kernel); null when the consumer uses synthetic ones. */
  readonly addressOf: ((view: Uint8Array) => number) | null;
}

export type FixedMode = 'sparse' | 'table' | 'legacy';

export interface FixedOptions {
  /** Buffer-table slots (kernel max 16384). */
  slots: number;
  /** Cap on bytes registered (pinned) at once. */
  maxBytes: number;
  /** Testing hook: start the ladder at this rung. */
  mode?: FixedMode;
}

const ENOMEM = -12;
const EINVAL = -22;
/** The kernel refuses a single registered buffer above 1 GiB. */
export const MAX_FIXED_BUFFER = 2 ** 30;
export const MAX_TABLE_SLOTS = 1 << 14;

export class FixedTable {
  /** null until set up; then the rung in use, or 'off'. */
  mode: FixedMode | 'off' | null = null;
  /** Why fixed buffers are off, or why the last region failed to register. */
  error: UringSystemError | null = null;
  registeredBytes = 0;
  registeredRegions = 0;
  private readonly freeSlots: number[] = [];
  private warned = false;
  /** Regions whose registration failed, and why (registerAll reports them). */
  private readonly failed = new WeakMap<Region, UringSystemError>();
  /** legacy: regions in slot order. */
  private legacy: Region[] = [];

  constructor(
    private readonly reg: Registrar,
    private readonly opts: FixedOptions,
    /** Whether any SQE holds a buf_index now (legacy re-registration must wait). */
    private readonly busy: () => boolean,
  ) {
    for (let s = opts.slots - 1; s >= 0; s--) this.freeSlots.push(s);
  }

  /**
   * The buffer-table slot for `r`, registering it if this is its first fixed
   * use; -1 when it is not registered (use a plain op on the same memory).
   * Never throws; failures are kept in `error` and warned about once.
   */
  slotFor(r: Region): number {
    if (r.slot >= 0) return r.slot;
    if (r.slot === SLOT_NONE || !r.attached) return -1;
    if (this.mode === null) this.setup();
    if (this.mode === 'off') return -1;
    const err = this.add(r);
    if (err) this.report(err);
    return r.slot;
  }

  /** Registers `regions` now; returns the first failure instead of warning. */
  addAll(regions: Region[]): UringSystemError | null {
    if (this.mode === null) this.setup();
    if (this.mode === 'off') return this.error;
    let first: UringSystemError | null = null;
    for (const r of regions) {
      const err = r.slot === SLOT_UNTRIED ? this.add(r) : (this.failed.get(r) ?? null);
      if (err && !first) first = err;
    }
    return first;
  }

  /** `r` is leaving the pool: empty its slot so the kernel drops its pin. */
  remove(r: Region): void {
    if (r.slot < 0) return;
    const slot = r.slot;
    r.slot = SLOT_NONE;
    this.registeredBytes -= r.bytes.byteLength;
    this.registeredRegions--;
    if (this.mode === 'legacy') {
      // Only dedicated regions leave, and legacy never registers those.
      return;
    }
    // An in-flight op keeps its own reference to the old buffer node, so
    // emptying the slot is safe whatever is in flight. Failure (a closed
    // ring) leaves the slot to the ring's teardown, which frees everything.
    if (this.update(slot, 0, 0) === 1) this.freeSlots.push(slot);
  }

  private setup(): void {
    if (!this.reg.addressOf) {
      // The worker backend reads pool memory straight from the
      // SharedArrayBuffer: there is nothing to pin or look up.
      this.mode = 'off';
      return;
    }
    const start = this.opts.mode ?? 'sparse';
    if (start === 'sparse') {
      const ret = this.register2(abi.IORING_RSRC_REGISTER_SPARSE, 0);
      if (ret >= 0) return void (this.mode = 'sparse');
      if (ret !== EINVAL) return this.off(ret);
    }
    if (start !== 'legacy') {
      const empty = new Uint32Array(this.opts.slots * 4);
      const ret = this.register2(0, this.reg.addressOf(new Uint8Array(empty.buffer)));
      if (ret >= 0) return void (this.mode = 'table');
      if (ret !== EINVAL) return this.off(ret);
    }
    this.mode = 'legacy';
  }

  private off(ret: number): void {
    this.mode = 'off';
    const err = errnoError(ret, 'io_uring_register');
    err.message += ' (setting up the fixed-buffer table; fixed ops fall back to plain reads and writes)';
    this.error = err;
    this.report(err);
  }

  /** IORING_REGISTER_BUFFERS2 over `slots` entries with `flags`, iovecs at `data`. */
  private register2(flags: number, data: number): number {
    const rr = new Uint32Array(abi.RSRC_REGISTER.size / 4);
    rr[abi.RSRC_REGISTER.nr / 4] = this.opts.slots;
    rr[abi.RSRC_REGISTER.flags / 4] = flags;
    setU64(rr, abi.RSRC_REGISTER.data / 4, data);
    return this.reg.register(abi.IORING_REGISTER_BUFFERS2, rr, abi.RSRC_REGISTER.size);
  }

  /** IORING_REGISTER_BUFFERS_UPDATE of one slot; returns 1 or -errno. */
  private update(slot: number, addr: number, len: number): number {
    const iov = new Uint32Array(4);
    setU64(iov, 0, addr);
    setU64(iov, 2, len);
    const up = new Uint32Array(abi.RSRC_UPDATE2.size / 4);
    up[abi.RSRC_UPDATE2.offset / 4] = slot;
    setU64(up, abi.RSRC_UPDATE2.data / 4, this.reg.addressOf!(new Uint8Array(iov.buffer)));
    up[abi.RSRC_UPDATE2.nr / 4] = 1;
    return this.reg.register(abi.IORING_REGISTER_BUFFERS_UPDATE, up, abi.RSRC_UPDATE2.size);
  }

  /** Registers one region; returns why not, or null (also when it only has to wait). */
  private add(r: Region): UringSystemError | null {
    const len = r.bytes.byteLength;
    if (len > MAX_FIXED_BUFFER) {
      r.slot = SLOT_NONE;
      return null; // a kernel limit, not a problem to warn about
    }
    // Over the cap: wait (no syscall) until other regions leave.
    if (this.registeredBytes + len > this.opts.maxBytes) return null;
    if (this.mode === 'legacy') return this.addLegacy(r);
    const slot = this.freeSlots.pop();
    if (slot === undefined) {
      r.slot = SLOT_NONE;
      return null;
    }
    const ret = this.update(slot, r.addr, len);
    if (ret === 1) {
      r.slot = slot;
      this.registeredBytes += len;
      this.registeredRegions++;
      return null;
    }
    this.freeSlots.push(slot);
    r.slot = SLOT_NONE; // one try per region: never a syscall per op
    const err = this.failure(ret < 0 ? ret : EINVAL, len);
    this.failed.set(r, err);
    return err;
  }

  private addLegacy(r: Region): UringSystemError | null {
    // Whole-table re-registration renumbers nothing (regions keep their
    // order), but an old kernel may tear the table down under in-flight
    // users, so only do it while no SQE can hold a buf_index.
    if (r.dedicated) {
      r.slot = SLOT_NONE;
      return null;
    }
    if (this.legacy.length > 0 && this.busy()) return null;
    const set = [...this.legacy, r];
    if (set.length > this.opts.slots) {
      r.slot = SLOT_NONE;
      return null;
    }
    const iov = new Uint32Array(set.length * 4);
    set.forEach((x, i) => {
      setU64(iov, i * 4, x.addr);
      setU64(iov, i * 4 + 2, x.bytes.byteLength);
    });
    if (this.legacy.length > 0) this.reg.register(abi.IORING_UNREGISTER_BUFFERS, null, 0);
    const ret = this.reg.register(abi.IORING_REGISTER_BUFFERS, iov, set.length);
    if (ret >= 0) {
      this.legacy = set;
      set.forEach((x, i) => (x.slot = i));
      this.registeredBytes += r.bytes.byteLength;
      this.registeredRegions++;
      return null;
    }
    // The old set is gone too: try to put it back as it was.
    r.slot = SLOT_NONE;
    if (this.legacy.length > 0 && this.reg.register(abi.IORING_REGISTER_BUFFERS, iov, this.legacy.length) < 0) {
      for (const x of this.legacy) x.slot = SLOT_NONE;
      this.registeredBytes = 0;
      this.registeredRegions = 0;
      this.legacy = [];
    }
    const err = this.failure(ret, r.bytes.byteLength);
    this.failed.set(r, err);
    return err;
  }

  /** The error for a failed registration of `len` bytes, explained. */
  private failure(ret: number, len: number): UringSystemError {
    const err = errnoError(ret, 'io_uring_register');
    if (ret === ENOMEM) {
      const limit = native ? native.memlock() : -1;
      err.code = 'ERR_URING_MEMLOCK';
      err.message =
        `ENOMEM: cannot register ${human(len)} of buffer pool memory for fixed-buffer I/O ` +
        `(RLIMIT_MEMLOCK is ${limit < 0 ? 'unlimited' : human(limit)}, ${human(this.registeredBytes)} ` +
        'already registered by this ring). Fixed-buffer ops on this memory fall back to plain ' +
        'reads and writes. Raise the limit (ulimit -l, systemd LimitMEMLOCK=, docker --ulimit ' +
        'memlock=), grant CAP_IPC_LOCK, or lower the pool\'s regionSize / maxRegisteredBytes.';
    } else {
      err.message += ` (registering ${human(len)} of pool memory; fixed ops on it fall back to plain reads and writes)`;
    }
    this.error = err;
    return err;
  }

  private report(err: UringSystemError): void {
    if (this.warned) return;
    this.warned = true;
    process.emitWarning(err.message, { type: 'UringWarning', code: err.code });
  }
}

export function human(bytes: number): string {
  if (bytes >= 2 ** 30 && bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30} GiB`;
  if (bytes >= 2 ** 20 && bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
