// readFile() into the caller's buffer (`options.buffer`), on a Node whose
// readFile takes that option (compat.ts readFileIntoBuffer): node's
// readFileHandleWithUserBuffer and getReadFileBuffer, with the reads going
// through the handle (so through the ring, pool memory in flight, S1).

import type { FileHandle } from './filehandle.js';
import { checkAborted, ERR_FS_FILE_TOO_LARGE, ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE } from './errors.js';
import { isArrayBufferView, kIoMaxLength, kReadFileBufferLength, validateBuffer, type FsOptions } from './validate.js';

/** utils.js validateReadFileBufferOptions. */
export function validateReadFileBufferOptions(options: FsOptions): void {
  const { buffer } = options;
  if (buffer !== undefined && typeof buffer !== 'function' && !isArrayBufferView(buffer)) {
    throw ERR_INVALID_ARG_TYPE('options.buffer', ['Buffer', 'TypedArray', 'DataView', 'Function'], buffer);
  }
}

function byteLengthName(options: FsOptions): string {
  return typeof options.buffer === 'function' ? 'options.buffer().byteLength' : 'options.buffer.byteLength';
}

/** utils.js getReadFileBuffer: the buffer (a function is called with the size, as a method of options). */
function getReadFileBuffer(options: FsOptions, size: number): Buffer {
  let buffer = options.buffer;
  if (typeof buffer === 'function') {
    buffer = (options as { buffer: (size: number) => unknown }).buffer(size);
    validateBuffer(buffer, 'options.buffer()');
  }
  const view = buffer as ArrayBufferView;
  const b = Buffer.isBuffer(view) ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  if (size > b.byteLength) {
    throw ERR_INVALID_ARG_VALUE(byteLengthName(options), b.byteLength, `is smaller than the file size of ${size} bytes`);
  }
  return b;
}

/**
 * readFileHandle's path for `options.buffer` (the encoding check is the
 * caller's): fstat, then reads at the file position until the size fstat
 * gave, EOF, or a full buffer; an unknown size that fills the buffer must
 * be followed by EOF.
 */
export async function readFileIntoUserBuffer(fh: FileHandle, options: FsOptions): Promise<Buffer | string> {
  const signal = options.signal;
  const encoding = options.encoding as BufferEncoding | null | undefined;
  checkAborted(signal);
  const st = await fh.stat();
  checkAborted(signal);
  const size = st.isFile() ? Number(st.size) : 0;
  if (size > kIoMaxLength) throw ERR_FS_FILE_TOO_LARGE(size);
  const buffer = getReadFileBuffer(options, size);
  let totalRead = 0;
  while (totalRead < buffer.byteLength) {
    checkAborted(signal);
    const length = size === 0 ? buffer.byteLength - totalRead : Math.min(size - totalRead, kReadFileBufferLength);
    const { bytesRead } = await fh.read(buffer, totalRead, length, -1);
    totalRead += bytesRead;
    if (bytesRead === 0 || totalRead === size) {
      const result = buffer.subarray(0, totalRead);
      return encoding ? result.toString(encoding) : result;
    }
  }
  if (size === 0) {
    checkAborted(signal);
    const { bytesRead } = await fh.read(Buffer.allocUnsafeSlow(1), 0, 1, -1);
    if (bytesRead !== 0) {
      throw ERR_INVALID_ARG_VALUE(byteLengthName(options), buffer.byteLength, 'is too small to contain the entire file');
    }
  }
  return encoding ? buffer.toString(encoding) : buffer.subarray(0, totalRead);
}
