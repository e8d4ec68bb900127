// Where Node releases' node:fs/promises disagree, what the running Node does.
//
// uring must be indistinguishable from the node:fs/promises of whichever Node
// it runs on, and Node 20 and Node 24 differ in a few argument rules. Each
// answer here comes from asking node itself: a call that fails in argument
// validation (it never reaches a file), whose error tells which rule applies.
// No process.version checks: a backport, or a release we have not seen,
// is followed as it behaves.

import * as fs from 'node:fs';
import * as nodeFsp from 'node:fs/promises';

/** An fd that can never be open: the kernel caps RLIMIT_NOFILE below 2^31 - 64 (fs.nr_open). */
const NEVER_OPEN_FD = 2 ** 31 - 1;

/** The `code` of what `fn` throws (undefined if it returns). */
function codeOf(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as { code?: unknown } | null)?.code;
  }
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
    return '';
  } catch (e) {
    return String((e as { message?: unknown } | null)?.message);
  }
}

/**
 * FileHandle.read() validates `position` (an integer or bigint from -1, where
 * -1 means the file position) and honours bigint positions. The older rule:
 * anything but a safe integer meant the file position, and so did any
 * negative number. Upstream changed fh.read() and fs.read()/readSync()
 * together (nodejs/node#42835); readSync is the one that answers at once:
 * only the new rule refuses -2n, the old one accepts it and fails on the fd.
 */
export const readPositionChecked: boolean =
  codeOf(() => fs.readSync(NEVER_OPEN_FD, Buffer.alloc(1), 0, 1, -2n)) === 'ERR_OUT_OF_RANGE';

/**
 * symlink() checks `type` first, against 'dir' | 'file' | 'junction' | null |
 * undefined (ERR_INVALID_ARG_VALUE). The older rule ignored a non-string type
 * and refused an unknown string after the paths (ERR_FS_INVALID_SYMLINK_TYPE).
 * symlinkSync follows the same rule; with a null byte in the path the new
 * rule fails on the type, the old one on the path.
 */
export const symlinkTypeFirst: boolean =
  messageOf(() => fs.symlinkSync('', '\u0000', 'bogus' as 'file')).includes("'type'");

/**
 * readFile() takes `options.buffer` (a buffer, or a function of the file size
 * returning one) and reads the file into it. readFileSync shares the check,
 * and makes it before touching the path, which here could never be opened.
 */
export const readFileIntoBuffer: boolean =
  codeOf(() => fs.readFileSync('\u0000', { buffer: 0 } as never)) === 'ERR_INVALID_ARG_TYPE';

let statNoThrow: Promise<boolean> | undefined;

/**
 * Whether stat() honours `throwIfNoEntry: false` (resolves undefined on
 * ENOENT/ENOTDIR). No synchronous call shares that rule (statSync has had it
 * for years), so node's own stat() is asked, once, the first time it matters.
 */
export function statHonoursThrowIfNoEntry(): Promise<boolean> {
  statNoThrow ??= nodeFsp.stat('', { throwIfNoEntry: false } as never).then(
    (r) => r === undefined,
    () => false,
  );
  return statNoThrow;
}
