// struct statx from node's BigIntStats, laid out as the kernel writes it
// (ring/statx.ts parses it back). BigIntStats carries exactly what libuv
// read with statx(2), so nothing is lost on the way through.

import type { BigIntStats } from 'node:fs';
import { STATX, STATX_BASIC_STATS, STATX_BTIME } from '../abi/abi.js';

const NS = 1_000_000_000n;
const M32 = 0xffffffffn;

export function writeStatx(out: Buffer, st: BigIntStats): void {
  out.fill(0, 0, STATX.size);
  const u32 = (o: number, v: bigint) => out.writeUInt32LE(Number(v & M32), o);
  const u64 = (o: number, v: bigint) => out.writeBigUInt64LE(BigInt.asUintN(64, v), o);
  u32(STATX.mask, BigInt(STATX_BASIC_STATS | (st.birthtimeNs !== 0n ? STATX_BTIME : 0)));
  u32(STATX.blksize, st.blksize);
  u32(STATX.nlink, st.nlink);
  u32(STATX.uid, st.uid);
  u32(STATX.gid, st.gid);
  out.writeUInt16LE(Number(st.mode & 0xffffn), STATX.mode);
  u64(STATX.ino, st.ino);
  u64(STATX.size_, st.size);
  u64(STATX.blocks, st.blocks);
  time(out, STATX.atime, st.atimeNs);
  time(out, STATX.btime, st.birthtimeNs);
  time(out, STATX.ctime, st.ctimeNs);
  time(out, STATX.mtime, st.mtimeNs);
  // node folds major/minor with glibc's makedev(); unfold them.
  u32(STATX.rdev_major, major(st.rdev));
  u32(STATX.rdev_minor, minor(st.rdev));
  u32(STATX.dev_major, major(st.dev));
  u32(STATX.dev_minor, minor(st.dev));
}

/** struct statx_timestamp { s64 tv_sec; u32 tv_nsec; } with tv_nsec in [0, 1e9). */
function time(out: Buffer, o: number, ns: bigint): void {
  let sec = ns / NS;
  let nsec = ns - sec * NS;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += NS;
  }
  out.writeBigInt64LE(sec, o);
  out.writeUInt32LE(Number(nsec), o + 8);
}

/** glibc's major()/minor(). */
function major(dev: bigint): bigint {
  return ((dev >> 32n) & 0xfffff000n) | ((dev >> 8n) & 0xfffn);
}

function minor(dev: bigint): bigint {
  return ((dev >> 12n) & 0xffffff00n) | (dev & 0xffn);
}
