// FileHandle's argument handling: node's rules for read() and write()
// (lib/internal/fs/promises.js, the binding's position and encoding
// parsing) as pure functions. They say what a call asked for, or throw
// node's error for it; the class keeps the handle's state and does the I/O.

import { ERR_INVALID_ARG_VALUE } from './errors.js';
import {
  isArrayBufferView, validateObject, kValidateObjectAllowNullable, validateBuffer, validateInteger,
  validateOffsetLengthRead, validateOffsetLengthWrite, validateStringAfterArrayBufferView, validateEncoding,
  normalizeEncoding, validatePosition, readPosition,
} from './validate.js';
import { readPositionChecked } from './compat.js';

/** A read() as asked: `length` bytes into `buffer` at `offset`, from `position`. */
export interface ReadArgs {
  buffer: ArrayBufferView;
  offset: number;
  length: number;
  /** A validated position (-1: the file position); a bigint may be past what the ring takes. */
  position: number | bigint;
  /** Asked for 0 bytes: node answers bytesRead 0 at once, before its other checks. */
  empty: boolean;
}

/** node's `{ offset = 0, length = buffer.byteLength - offset, position = null } = options`. */
function fromOptions(o: Record<string, unknown>, buffer: unknown): [offset: unknown, length: unknown, position: unknown] {
  let offset = o.offset;
  if (offset === undefined) offset = 0;
  let length = o.length;
  if (length === undefined) length = (buffer as { byteLength: number }).byteLength - (offset as number);
  let position = o.position;
  if (position === undefined) position = null;
  return [offset, length, position];
}

/** read(buffer, offset, length, position), read(buffer, options) or read(options), by node's rules. */
export function readArgs(buffer: unknown, offset: unknown, length: unknown, position: unknown): ReadArgs {
  let buf = buffer as ArrayBufferView;
  let off = offset;
  let len = length;
  let pos = position;
  if (!isArrayBufferView(buf)) {
    if (buffer !== undefined) validateObject(buffer, 'options', kValidateObjectAllowNullable);
    // ({ buffer = Buffer.alloc(16384), offset = 0, length = buffer.byteLength - offset, position = null } = params ?? {})
    const o = (buffer ?? {}) as Record<string, unknown>;
    buf = o.buffer as ArrayBufferView;
    if (buf === undefined) buf = Buffer.alloc(16384);
    [off, len, pos] = fromOptions(o, buf);
    validateBuffer(buf);
  }
  if (off !== null && typeof off === 'object') [off, len, pos] = fromOptions(off as Record<string, unknown>, buf);
  if (off == null) off = 0;
  else validateInteger(off, 'offset', 0);
  len ??= buf.byteLength - (off as number);
  // Validated before the length checks, as node does (compat.ts).
  let at: number | bigint = -1;
  if (readPositionChecked && pos != null) {
    validatePosition(pos, 'position', len);
    at = pos;
  }
  if (len === 0) return { buffer: buf, offset: off as number, length: 0, position: at, empty: true };
  if (buf.byteLength === 0) throw ERR_INVALID_ARG_VALUE('buffer', buf, 'is empty and cannot be written');
  validateOffsetLengthRead(off as number, len as number, buf.byteLength);
  if (!readPositionChecked) at = readPosition(pos);
  return { buffer: buf, offset: off as number, length: (len as number) | 0, position: at, empty: false };
}

/** A write() as asked: bytes (a view of the caller's buffer) or a string to encode, at `position` (-1: the file position). */
export interface WriteArgs {
  data: Uint8Array | string;
  encoding: BufferEncoding;
  position: number;
}

/** write(buffer, offset, length, position), write(buffer, options) or write(string, position, encoding), by node's rules. */
export function writeArgs(buffer: unknown, offsetOrOptions: unknown, length: unknown, position: unknown): WriteArgs {
  let offset = offsetOrOptions;
  if (isArrayBufferView(buffer)) {
    if (typeof offset === 'object') [offset, length, position] = fromOptions((offsetOrOptions ?? {}) as Record<string, unknown>, buffer);
    if (offset == null) offset = 0;
    else validateInteger(offset, 'offset', 0);
    if (typeof length !== 'number') length = buffer.byteLength - (offset as number);
    if (typeof position !== 'number') position = null;
    validateOffsetLengthWrite(offset as number, length as number, buffer.byteLength);
    const data = new Uint8Array(buffer.buffer, buffer.byteOffset + (offset as number), length as number);
    return { data, encoding: 'utf8', position: writePosition(position) };
  }
  validateStringAfterArrayBufferView(buffer, 'buffer');
  validateEncoding(buffer, length);
  // String form: write(string, position, encoding).
  return { data: buffer, encoding: stringEncoding(length), position: writePosition(offset) };
}

/** writeBuffer's position: a safe integer >= 0, else the file position. */
export function writePosition(position: unknown): number {
  return typeof position === 'number' && Number.isSafeInteger(position) && position >= 0 ? position : -1;
}

/** The binding's ParseEncoding for writeString: unknown names mean utf8, 'buffer' latin1. */
function stringEncoding(enc: unknown): BufferEncoding {
  if (typeof enc === 'string' && enc.toLowerCase() === 'buffer') return 'latin1';
  return (normalizeEncoding(enc) ?? 'utf8') as BufferEncoding;
}
