// fs.Stats / fs.BigIntStats from a struct statx in pool memory, field for
// field as libuv fills uv_stat_t from statx(2) and Node turns it into Stats
// (same constructors, so instanceof, methods and Dates match).

import { statSync, type Stats, type BigIntStats } from 'node:fs';
import { STATX } from '../abi/abi.js';
import { makedev } from '../abi/statx.js';

type StatsCtor = new (...args: number[]) => Stats;
type BigIntStatsCtor = new (...args: bigint[]) => BigIntStats;

let StatsC: StatsCtor | null = null;
let BigIntStatsC: BigIntStatsCtor | null = null;

function ctors(): void {
  StatsC = Object.getPrototypeOf(statSync('/')).constructor as StatsCtor;
  BigIntStatsC = Object.getPrototypeOf(statSync('/', { bigint: true })).constructor as BigIntStatsCtor;
}

/** Parses the statx at `b[off..off+256)` (little-endian). */
export function statsFrom(b: Buffer, off: number, bigint: boolean): Stats | BigIntStats {
  if (StatsC === null) ctors();
  const u32 = (o: number) => b.readUInt32LE(off + o);
  const u64 = (o: number) => b.readUInt32LE(off + o) + b.readUInt32LE(off + o + 4) * 4294967296;
  const dev = makedev(u32(STATX.dev_major), u32(STATX.dev_minor));
  const rdev = makedev(u32(STATX.rdev_major), u32(STATX.rdev_minor));
  const mode = b.readUInt16LE(off + STATX.mode);
  if (!bigint) {
    const ms = (o: number) => Number(b.readBigInt64LE(off + o)) * 1e3 + u32(o + 8) / 1e6;
    return new StatsC!(
      dev, mode, u32(STATX.nlink), u32(STATX.uid), u32(STATX.gid), rdev, u32(STATX.blksize),
      u64(STATX.ino), u64(STATX.size_), u64(STATX.blocks),
      ms(STATX.atime), ms(STATX.mtime), ms(STATX.ctime), ms(STATX.btime),
    );
  }
  const big = (o: number) => b.readBigUInt64LE(off + o);
  const ns = (o: number) => b.readBigInt64LE(off + o) * 1_000_000_000n + BigInt(u32(o + 8));
  return new BigIntStatsC!(
    BigInt(dev), BigInt(mode), BigInt(u32(STATX.nlink)), BigInt(u32(STATX.uid)), BigInt(u32(STATX.gid)), BigInt(rdev),
    BigInt(u32(STATX.blksize)), big(STATX.ino), big(STATX.size_), big(STATX.blocks),
    ns(STATX.atime), ns(STATX.mtime), ns(STATX.ctime), ns(STATX.btime),
  );
}

/** st_mode and st_size only (readFile's continuation). */
export function modeAndSize(b: Buffer, off: number): { mode: number; size: number } {
  return { mode: b.readUInt16LE(off + STATX.mode), size: b.readUInt32LE(off + STATX.size_) + b.readUInt32LE(off + STATX.size_ + 4) * 4294967296 };
}
