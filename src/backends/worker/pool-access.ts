// What scheme handlers use to reach pool memory and SQE fields: the pool
// regions a producer knows (zero-copy Buffers over their SharedArrayBuffers,
// by synthetic address) and the decoding of u64 fields and timespecs.
// The base of Producer (producer.ts), kept apart to keep that file short.

import * as abi from '../../abi/abi.js';

const EFAULT = 14;
const ENAMETOOLONG = 36;
const TWO_32 = 4294967296;
const REGION_SHIFT = 2 ** 40;

/** A thrown value a handler can use for -EFAULT without allocating. */
export const EFAULT_ERROR = Object.freeze({ errno: -EFAULT });

export abstract class PoolAccess {
  /** Pool regions by id, as zero-copy Buffers over their SharedArrayBuffers. */
  readonly regions: (Buffer | undefined)[] = [];
  /** The SQE copies handlers read (the producer's ledger). */
  abstract readonly sqes: Uint32Array;
  /** Reads pending control messages (a region announced after we looked). */
  abstract drainControl(): void;

  protected region(addr: number): [Buffer | undefined, number] {
    const id = Math.floor(addr / REGION_SHIFT) - 1;
    const off = addr - (id + 1) * REGION_SHIFT;
    if (id >= 0 && !this.regions[id]) this.drainControl();
    return [this.regions[id], off];
  }

  /** Zero-copy view of pool memory [addr, addr + len); throws EFAULT outside any region. */
  mem(addr: number, len: number): Buffer {
    const [r, off] = this.region(addr);
    if (!r || !(len >= 0) || off + len > r.length) throw EFAULT_ERROR;
    return r.subarray(off, off + len);
  }

  /** The NUL-terminated bytes at `addr` (without the NUL), as a path for node:fs. */
  cstr(addr: number): Buffer {
    const [r, off] = this.region(addr);
    if (!r || off >= r.length) throw EFAULT_ERROR;
    const end = r.indexOf(0, off);
    if (end < 0) throw EFAULT_ERROR;
    if (end - off >= 4096) throw { errno: -ENAMETOOLONG };
    return r.subarray(off, end);
  }

  /** A u64 SQE field (two words) as a number; all ones reads as -1. */
  u64(at: number): number {
    const lo = this.sqes[at]!;
    const hi = this.sqes[at + 1]!;
    if (hi === 0xffffffff && lo === 0xffffffff) return -1;
    return hi * TWO_32 + lo;
  }

  /** The __kernel_timespec at the SQE's addr, in milliseconds; -1 if unreadable. */
  timespecMs(at: number): number {
    try {
      const b = this.mem(this.u64(at + 4), abi.TIMESPEC.size);
      const sec = b.readUInt32LE(0) + b.readUInt32LE(4) * TWO_32;
      const nsec = b.readUInt32LE(8) + b.readUInt32LE(12) * TWO_32;
      return sec * 1000 + nsec / 1e6;
    } catch {
      return -1;
    }
  }
}
