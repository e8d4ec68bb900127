// Ops every userspace ring serves, whatever the scheme: NOP, TIMEOUT,
// TIMEOUT_REMOVE and ASYNC_CANCEL, with the kernel's SQE fields and results.
// LINK_TIMEOUT is handled by the chain runner (it guards the op before it);
// one that stands alone is invalid, as in the kernel.
//
// Cancellation follows the protocol in cancel.ts.

import * as abi from '../../abi/abi.js';
import type { OpHandler, Producer } from './producer.js';
import { L_CANCEL_REQ, L_PARKED, L_QUEUED, L_RUNNING, PENDING } from './layout.js';
import { flag, scan, settleRunning, answer, type Entry } from './cancel.js';

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
  const found: Entry[] = [];
  const caught: Entry[] = [];
  let running = false;
  scan(p, (owner, slot, sq) => {
    if (owner === p.index && slot === self) return false;
    const t = slot << 4;
    if ((sq[t]! & 0xff) === abi.IORING_OP_ASYNC_CANCEL || !matches(p, at, sq, t)) return false;
    const was = flag(p.ledgers[owner]!.states, slot);
    if (was === L_QUEUED || was === L_PARKED) found.push([owner, slot]);
    else if (was === L_RUNNING) caught.push([owner, slot]);
    else if (was === L_CANCEL_REQ) running = true;
    return !all && found.length + caught.length > 0;
  });
  for (const e of caught) {
    if (settleRunning(p, e[0], e[1])) found.push(e);
    else running = true;
  }
  const n = answer(p, found);
  if (all) return n;
  return n > 0 ? 0 : running || found.length > 0 ? -EALREADY : -ENOENT;
};

const timeoutRemove: OpHandler = (p, at) => {
  if (p.sqes[at + 7]! !== 0) return -EINVAL; // TIMEOUT_UPDATE is not emulated
  const lo = p.sqes[at + 4];
  const hi = p.sqes[at + 5];
  let res = -ENOENT;
  scan(p, (owner, slot, sq) => {
    const t = slot << 4;
    if ((sq[t]! & 0xff) !== abi.IORING_OP_TIMEOUT || sq[t + 8] !== lo || sq[t + 9] !== hi) return false;
    const was = flag(p.ledgers[owner]!.states, slot);
    // A timeout caught running is about to wait: it is found all the same.
    const hit = was === L_QUEUED || was === L_PARKED || (was === L_RUNNING && settleRunning(p, owner, slot));
    res = hit && answer(p, [[owner, slot]]) > 0 ? 0 : -EALREADY;
    return true;
  });
  return res;
};

export const coreOps: ReadonlyArray<readonly [number, OpHandler]> = [
  [abi.IORING_OP_NOP, nop],
  [abi.IORING_OP_TIMEOUT, timeout],
  [abi.IORING_OP_TIMEOUT_REMOVE, timeoutRemove],
  [abi.IORING_OP_ASYNC_CANCEL, asyncCancel],
  [abi.IORING_OP_LINK_TIMEOUT, linkTimeoutAlone],
];
