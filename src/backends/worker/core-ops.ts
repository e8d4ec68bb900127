// Ops every userspace ring serves, whatever the scheme: NOP, TIMEOUT,
// TIMEOUT_REMOVE and ASYNC_CANCEL, with the kernel's SQE fields and results.
// LINK_TIMEOUT is handled by the chain runner (it guards the op before it);
// one that stands alone is invalid, as in the kernel.
//
// Cancellation works on the shared ledgers: the canceller finds matching
// entries in any producer's ledger and flips QUEUED or PARKED to
// CANCEL_REQ with a compareExchange, then bumps CANCEL_SEQ; the owner sees
// the request and answers -ECANCELED. An op that is RUNNING (a synchronous
// syscall in progress) cannot be interrupted: -EALREADY, as the kernel says
// for work it can no longer stop.

import * as abi from '../../ring/abi.js';
import type { OpHandler, Producer } from './producer.js';
import { L_CANCEL_REQ, L_PARKED, L_QUEUED, L_RUNNING, PENDING } from './layout.js';

const EINVAL = 22;
const EFAULT = 14;
const ENOENT = 2;
const EALREADY = 114;

const TIMEOUT_FLAGS = abi.IORING_TIMEOUT_ABS | abi.IORING_TIMEOUT_BOOTTIME | abi.IORING_TIMEOUT_REALTIME | abi.IORING_TIMEOUT_ETIME_SUCCESS;
const CANCEL_FLAGS =
  abi.IORING_ASYNC_CANCEL_ALL | abi.IORING_ASYNC_CANCEL_FD | abi.IORING_ASYNC_CANCEL_ANY |
  abi.IORING_ASYNC_CANCEL_FD_FIXED | abi.IORING_ASYNC_CANCEL_USERDATA | abi.IORING_ASYNC_CANCEL_OP;

const nop: OpHandler = (p, at) => (p.sqes[at + 7]! & abi.IORING_NOP_INJECT_RESULT ? p.sqes[at + 6]! | 0 : 0);

const timeout: OpHandler = (p, at, slot) => {
  const flags = p.sqes[at + 7]!;
  // Multishot and update timeouts are not emulated: refused, never misread.
  if (flags & ~TIMEOUT_FLAGS) return -EINVAL;
  if (flags & abi.IORING_TIMEOUT_BOOTTIME && flags & abi.IORING_TIMEOUT_REALTIME) return -EINVAL;
  if (p.sqes[at + 6] !== 1) return -EINVAL;
  const ms = p.timespecMs(at);
  if (ms < 0) return -EFAULT;
  const now = performance.now();
  let deadline = now + ms;
  if (flags & abi.IORING_TIMEOUT_ABS) {
    // An absolute time on the clock the kernel would use.
    const clock = flags & abi.IORING_TIMEOUT_REALTIME ? Date.now() : Number(process.hrtime.bigint()) / 1e6;
    deadline = now + (ms - clock);
  }
  p.park(slot, { deadline, count: p.sqes[at + 2]! });
  return PENDING;
};

const linkTimeoutAlone: OpHandler = () => -EINVAL;

/** Matches one ledger entry against the ASYNC_CANCEL SQE at `at`. */
function matches(p: Producer, at: number, sq: Uint32Array, t: number): boolean {
  const flags = p.sqes[at + 7]!;
  if (flags & abi.IORING_ASYNC_CANCEL_ANY) return true;
  const word = sq[t]!;
  if (flags & abi.IORING_ASYNC_CANCEL_FD) {
    const fixed = (flags & abi.IORING_ASYNC_CANCEL_FD_FIXED) !== 0;
    if ((sq[t + 1]! | 0) !== (p.sqes[at + 1]! | 0) || fixed !== (((word >>> 8) & abi.IOSQE_FIXED_FILE) !== 0)) return false;
  }
  if (flags & abi.IORING_ASYNC_CANCEL_OP && (word & 0xff) !== p.sqes[at + 6]!) return false;
  const byData = (flags & (abi.IORING_ASYNC_CANCEL_FD | abi.IORING_ASYNC_CANCEL_OP)) === 0 || (flags & abi.IORING_ASYNC_CANCEL_USERDATA) !== 0;
  return !byData || (sq[t + 8] === p.sqes[at + 4] && sq[t + 9] === p.sqes[at + 5]);
}

const asyncCancel: OpHandler = (p, at, self) => {
  const flags = p.sqes[at + 7]!;
  if (flags & ~CANCEL_FLAGS) return -EINVAL;
  if (flags & abi.IORING_ASYNC_CANCEL_FD_FIXED && !(flags & abi.IORING_ASYNC_CANCEL_FD)) return -EINVAL;
  const all = (flags & abi.IORING_ASYNC_CANCEL_ALL) !== 0;
  let found = 0;
  let running = false;
  p.forEachEntry((states, sq, slot, state, mine) => {
    if (mine && slot === self) return false;
    const t = slot << 4;
    if ((sq[t]! & 0xff) === abi.IORING_OP_ASYNC_CANCEL || !matches(p, at, sq, t)) return false;
    if (state === L_RUNNING || state === L_CANCEL_REQ) {
      running = true;
      return false;
    }
    if ((state === L_QUEUED || state === L_PARKED) && Atomics.compareExchange(states, slot, state, L_CANCEL_REQ) === state) {
      found++;
      return !all;
    }
    return false;
  });
  if (found > 0) p.announceCancels();
  if (all) return found;
  return found > 0 ? 0 : running ? -EALREADY : -ENOENT;
};

const timeoutRemove: OpHandler = (p, at) => {
  if (p.sqes[at + 7]! !== 0) return -EINVAL; // TIMEOUT_UPDATE is not emulated
  const lo = p.sqes[at + 4];
  const hi = p.sqes[at + 5];
  let res = -ENOENT;
  p.forEachEntry((states, sq, slot, state) => {
    const t = slot << 4;
    if ((sq[t]! & 0xff) !== abi.IORING_OP_TIMEOUT || sq[t + 8] !== lo || sq[t + 9] !== hi) return false;
    if (state === L_PARKED && Atomics.compareExchange(states, slot, L_PARKED, L_CANCEL_REQ) === L_PARKED) res = 0;
    else res = -EALREADY;
    return true;
  });
  if (res === 0) p.announceCancels();
  return res;
};

export const coreOps: ReadonlyArray<readonly [number, OpHandler]> = [
  [abi.IORING_OP_NOP, nop],
  [abi.IORING_OP_TIMEOUT, timeout],
  [abi.IORING_OP_TIMEOUT_REMOVE, timeoutRemove],
  [abi.IORING_OP_ASYNC_CANCEL, asyncCancel],
  [abi.IORING_OP_LINK_TIMEOUT, linkTimeoutAlone],
];
