// struct statx decoding. The fields and their names follow node:fs.Stats so
// the fs layer can hand them out unchanged.

import { STATX } from './abi.js';

export interface Statx {
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blksize: number;
  blocks: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  birthtimeMs: number;
  /** Nanosecond timestamps, as BigIntStats gives them. */
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  birthtimeNs: bigint;
}

/** glibc's makedev(), which libuv uses to fold statx's major/minor pairs. */
export function makedev(major: number, minor: number): number {
  return (
    (major & 0xfffff000) * 2 ** 32 +
    (((major & 0xfff) << 8) >>> 0) +
    (minor & 0xffffff00) * 2 ** 12 +
    (minor & 0xff)
  );
}

export function parseStatx(b: Uint8Array): Statx {
  const v = new DataView(b.buffer, b.byteOffset, STATX.size);
  const u32 = (o: number) => v.getUint32(o, true);
  const u64 = (o: number) => Number(v.getBigUint64(o, true));
  const ns = (o: number) => v.getBigInt64(o, true) * 1_000_000_000n + BigInt(v.getUint32(o + 8, true));
  const ms = (o: number) => Number(v.getBigInt64(o, true)) * 1000 + v.getUint32(o + 8, true) / 1e6;
  return {
    dev: makedev(u32(STATX.dev_major), u32(STATX.dev_minor)),
    ino: u64(STATX.ino),
    mode: v.getUint16(STATX.mode, true),
    nlink: u32(STATX.nlink),
    uid: u32(STATX.uid),
    gid: u32(STATX.gid),
    rdev: makedev(u32(STATX.rdev_major), u32(STATX.rdev_minor)),
    size: u64(STATX.size_),
    blksize: u32(STATX.blksize),
    blocks: u64(STATX.blocks),
    atimeMs: ms(STATX.atime),
    mtimeMs: ms(STATX.mtime),
    ctimeMs: ms(STATX.ctime),
    birthtimeMs: ms(STATX.btime),
    atimeNs: ns(STATX.atime),
    mtimeNs: ns(STATX.mtime),
    ctimeNs: ns(STATX.ctime),
    birthtimeNs: ns(STATX.btime),
  };
}
