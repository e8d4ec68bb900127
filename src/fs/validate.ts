// Argument validation, ported from Node's lib/internal/validators.js and
// lib/internal/fs/utils.js so that bad arguments fail with the very errors
// node:fs/promises throws (same class, code and message). Where Node 20 and
// Node 24 differ, both rules are here; compat.ts says which one applies.

import { constants as C } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { types } from 'node:util';
import { ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_OUT_OF_RANGE, ERR_FS_INVALID_SYMLINK_TYPE } from './errors.js';
import { readPositionChecked } from './compat.js';

export const kIoMaxLength = 2 ** 31 - 1;
export const kReadFileBufferLength = 512 * 1024;
export const kWriteFileMaxChunkSize = 512 * 1024;
export const kMaxUserId = 2 ** 32 - 1;

export const isArrayBufferView = ArrayBuffer.isView as (v: unknown) => v is ArrayBufferView;
const isUint8Array = types.isUint8Array;

export type PathLike = string | Buffer | URL;

export function validateInteger(value: unknown, name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): asserts value is number {
  if (typeof value !== 'number') throw ERR_INVALID_ARG_TYPE(name, 'number', value);
  if (!Number.isInteger(value)) throw ERR_OUT_OF_RANGE(name, 'an integer', value);
  if (value < min || value > max) throw ERR_OUT_OF_RANGE(name, `>= ${min} && <= ${max}`, value);
}

export function validateInt32(value: unknown, name: string, min = -2147483648, max = 2147483647): asserts value is number {
  if (typeof value !== 'number') throw ERR_INVALID_ARG_TYPE(name, 'number', value);
  if (!Number.isInteger(value)) throw ERR_OUT_OF_RANGE(name, 'an integer', value);
  if (value < min || value > max) throw ERR_OUT_OF_RANGE(name, `>= ${min} && <= ${max}`, value);
}

export function validateUint32(value: unknown, name: string, positive = false): asserts value is number {
  if (typeof value !== 'number') throw ERR_INVALID_ARG_TYPE(name, 'number', value);
  if (!Number.isInteger(value)) throw ERR_OUT_OF_RANGE(name, 'an integer', value);
  const min = positive ? 1 : 0;
  const max = 4_294_967_295;
  if (value < min || value > max) throw ERR_OUT_OF_RANGE(name, `>= ${min} && <= ${max}`, value);
}

export function validateBoolean(value: unknown, name: string): asserts value is boolean {
  if (typeof value !== 'boolean') throw ERR_INVALID_ARG_TYPE(name, 'boolean', value);
}

export function validateString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string') throw ERR_INVALID_ARG_TYPE(name, 'string', value);
}

export const kValidateObjectAllowNullable = 1;

export function validateObject(value: unknown, name: string, options = 0): void {
  if (options === 0) {
    if (value === null || Array.isArray(value) || typeof value !== 'object') throw ERR_INVALID_ARG_TYPE(name, 'Object', value);
  } else {
    if (!(options & kValidateObjectAllowNullable) && value === null) throw ERR_INVALID_ARG_TYPE(name, 'Object', value);
    if (Array.isArray(value)) throw ERR_INVALID_ARG_TYPE(name, 'Object', value);
    if (typeof value !== 'object') throw ERR_INVALID_ARG_TYPE(name, 'Object', value);
  }
}

export function validateAbortSignal(signal: unknown, name: string): asserts signal is AbortSignal | undefined {
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || !('aborted' in signal))) {
    throw ERR_INVALID_ARG_TYPE(name, 'AbortSignal', signal);
  }
}

export function validateBuffer(buffer: unknown, name = 'buffer'): asserts buffer is ArrayBufferView {
  if (!isArrayBufferView(buffer)) throw ERR_INVALID_ARG_TYPE(name, ['Buffer', 'TypedArray', 'DataView'], buffer);
}

/** lib/internal/util normalizeEncoding: the canonical name, or undefined. */
export function normalizeEncoding(enc: unknown): string | undefined {
  if (enc == null || enc === 'utf8' || enc === 'utf-8') return 'utf8';
  if (typeof enc !== 'string') return undefined;
  switch (enc.toLowerCase()) {
    case 'utf8': case 'utf-8': return 'utf8';
    case 'ucs2': case 'ucs-2': case 'utf16le': case 'utf-16le': return 'utf16le';
    case 'latin1': case 'binary': return 'latin1';
    case 'base64': return 'base64';
    case 'base64url': return 'base64url';
    case 'hex': return 'hex';
    case 'ascii': return 'ascii';
    default: return undefined;
  }
}

/** validators.js validateEncoding: hex strings must have an even length. */
export function validateEncoding(data: string, encoding: unknown): void {
  if (normalizeEncoding(encoding) === 'hex' && data.length % 2 !== 0) {
    throw ERR_INVALID_ARG_VALUE('encoding', encoding, `is invalid for data of length ${data.length}`);
  }
}

function assertEncoding(encoding: unknown): void {
  if (encoding && !Buffer.isEncoding(encoding as string)) {
    throw ERR_INVALID_ARG_VALUE('encoding', encoding, 'is invalid encoding');
  }
}

export interface FsOptions {
  encoding?: BufferEncoding | 'buffer' | null;
  flag?: string | number;
  mode?: number | string;
  signal?: AbortSignal;
  flush?: boolean;
  withFileTypes?: boolean;
  recursive?: boolean;
  bigint?: boolean;
  [k: string]: unknown;
}

const kEmptyObject: FsOptions = Object.freeze(Object.create(null));

/** utils.js getOptions. */
export function getOptions(options: unknown, defaultOptions: FsOptions = kEmptyObject): FsOptions {
  if (options == null || typeof options === 'function') return defaultOptions;
  let o: FsOptions;
  if (typeof options === 'string') {
    o = { ...defaultOptions };
    o.encoding = options as BufferEncoding;
  } else if (typeof options !== 'object') {
    throw ERR_INVALID_ARG_TYPE('options', ['string', 'Object'], options);
  } else {
    o = options as FsOptions;
  }
  if (o.encoding !== 'buffer') assertEncoding(o.encoding);
  if (o.signal !== undefined) validateAbortSignal(o.signal, 'options.signal');
  return o;
}

const octalReg = /^[0-7]+$/;
const modeDesc = 'must be a 32-bit unsigned integer or an octal string';

export function parseFileMode(value: unknown, name: string, def?: number): number {
  value ??= def;
  if (typeof value === 'string') {
    if (!octalReg.test(value)) throw ERR_INVALID_ARG_VALUE(name, value, modeDesc);
    value = Number.parseInt(value, 8);
  }
  validateUint32(value, name);
  return value;
}

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_SYNC } = C;

/** utils.js stringToFlags. */
export function stringToFlags(flags: unknown, name = 'flags'): number {
  if (typeof flags === 'number') {
    validateInt32(flags, name);
    return flags;
  }
  if (flags == null) return O_RDONLY;
  switch (flags) {
    case 'r': return O_RDONLY;
    case 'rs': case 'sr': return O_RDONLY | O_SYNC;
    case 'r+': return O_RDWR;
    case 'rs+': case 'sr+': return O_RDWR | O_SYNC;
    case 'w': return O_TRUNC | O_CREAT | O_WRONLY;
    case 'wx': case 'xw': return O_TRUNC | O_CREAT | O_WRONLY | O_EXCL;
    case 'w+': return O_TRUNC | O_CREAT | O_RDWR;
    case 'wx+': case 'xw+': return O_TRUNC | O_CREAT | O_RDWR | O_EXCL;
    case 'a': return O_APPEND | O_CREAT | O_WRONLY;
    case 'ax': case 'xa': return O_APPEND | O_CREAT | O_WRONLY | O_EXCL;
    case 'as': case 'sa': return O_APPEND | O_CREAT | O_WRONLY | O_SYNC;
    case 'a+': return O_APPEND | O_CREAT | O_RDWR;
    case 'ax+': case 'xa+': return O_APPEND | O_CREAT | O_RDWR | O_EXCL;
    case 'as+': case 'sa+': return O_APPEND | O_CREAT | O_RDWR | O_SYNC;
  }
  throw ERR_INVALID_ARG_VALUE('flags', flags);
}

function isURL(self: unknown): self is URL {
  const u = self as { href?: unknown; protocol?: unknown; auth?: unknown; path?: unknown } | null | undefined;
  return Boolean(u?.href && u.protocol && u.auth === undefined && u.path === undefined);
}

/** utils.js getValidatedPath: a string or Buffer path, file: URLs converted. */
export function getValidatedPath(fileURLOrPath: unknown, propName = 'path'): string | Uint8Array {
  const path = isURL(fileURLOrPath) ? fileURLToPath(fileURLOrPath) : fileURLOrPath;
  if (typeof path === 'string') {
    if (path.includes('\u0000')) {
      throw ERR_INVALID_ARG_VALUE(propName, path, 'must be a string, Uint8Array, or URL without null bytes');
    }
    return path;
  }
  if (!isUint8Array(path)) throw ERR_INVALID_ARG_TYPE(propName, ['string', 'Buffer', 'URL'], path);
  if (path.includes(0)) {
    throw ERR_INVALID_ARG_VALUE(propName, path, 'must be a string, Uint8Array, or URL without null bytes');
  }
  return path;
}

/** The text Node puts in an error's `path`/`dest` for a validated path. */
export function pathText(p: string | Uint8Array): string {
  return typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString();
}

export function validateOffsetLengthRead(offset: number, length: number, bufferLength: number): void {
  if (offset < 0) throw ERR_OUT_OF_RANGE('offset', '>= 0', offset);
  if (length < 0) throw ERR_OUT_OF_RANGE('length', '>= 0', length);
  if (offset + length > bufferLength) throw ERR_OUT_OF_RANGE('length', `<= ${bufferLength - offset}`, length);
}

export function validateOffsetLengthWrite(offset: number, length: number, byteLength: number): void {
  if (offset > byteLength) throw ERR_OUT_OF_RANGE('offset', `<= ${byteLength}`, offset);
  if (length > byteLength - offset) throw ERR_OUT_OF_RANGE('length', `<= ${byteLength - offset}`, length);
  if (length < 0) throw ERR_OUT_OF_RANGE('length', '>= 0', length);
  validateInt32(length, 'length', 0);
}

export function validateBufferArray(buffers: unknown, propName = 'buffers'): asserts buffers is ArrayBufferView[] {
  if (!Array.isArray(buffers)) throw ERR_INVALID_ARG_TYPE(propName, 'ArrayBufferView[]', buffers);
  for (let i = 0; i < buffers.length; i++) {
    if (!isArrayBufferView(buffers[i])) throw ERR_INVALID_ARG_TYPE(propName, 'ArrayBufferView[]', buffers);
  }
}

export function validateStringAfterArrayBufferView(buffer: unknown, name: string): asserts buffer is string {
  if (typeof buffer !== 'string') throw ERR_INVALID_ARG_TYPE(name, ['string', 'Buffer', 'TypedArray', 'DataView'], buffer);
}

/** validators.js validateOneOf. */
export function validateOneOf(value: unknown, name: string, oneOf: readonly unknown[]): void {
  if (!oneOf.includes(value)) {
    const allowed = oneOf.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(', ');
    throw ERR_INVALID_ARG_VALUE(name, value, `must be one of: ${allowed}`);
  }
}

export const kSymlinkTypes: readonly unknown[] = ['dir', 'file', 'junction', null, undefined];

/** Node 20's utils.js stringToSymlinkType (the flags only matter on Windows); see compat.ts. */
export function validateSymlinkType(type: unknown): void {
  if (typeof type === 'string' && type !== 'dir' && type !== 'junction' && type !== 'file') {
    throw ERR_FS_INVALID_SYMLINK_TYPE(type);
  }
}

/** utils.js validatePosition, the rule with -1 and `length` (compat.ts readPositionChecked). */
export function validatePosition(position: unknown, name: string, length: unknown): asserts position is number | bigint {
  if (typeof position === 'number') {
    validateInteger(position, name, -1);
  } else if (typeof position === 'bigint') {
    // BigInt() of a non-integer length throws as node's does.
    const maxPosition = 2n ** 63n - 1n - BigInt(length as number);
    if (!(position >= -1n && position <= maxPosition)) {
      throw ERR_OUT_OF_RANGE(name, `>= -1 && <= ${maxPosition}`, position);
    }
  } else {
    throw ERR_INVALID_ARG_TYPE(name, ['integer', 'bigint'], position);
  }
}

/**
 * A position as the binding takes it, by the older rule (and readv's, on
 * every Node): a safe integer >= 0, else the file position (-1).
 */
export function readPosition(position: unknown): number {
  return Number.isSafeInteger(position) && (position as number) >= 0 ? (position as number) : -1;
}

/** read()'s position on the fast path, or NaN when only the slow path's validation can say (compat.ts). */
export function fastPosition(position: unknown): number {
  if (!readPositionChecked) return readPosition(position);
  if (position == null) return -1;
  return Number.isSafeInteger(position) && (position as number) >= -1 ? (position as number) : NaN;
}

/** A validated position as the ring takes it, or NaN past 2^53 (a bigint the ring's number offsets cannot carry). */
export function ringPosition(position: number | bigint): number {
  if (typeof position === 'number') return position;
  return position <= MAX_SAFE_BIG ? Number(position) : NaN;
}

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

const defaultRmdirOptions = { retryDelay: 100, maxRetries: 0, recursive: false };

/** utils.js validateRmdirOptions. */
export function validateRmdirOptions(options: unknown): { recursive: boolean; retryDelay: number; maxRetries: number } {
  if (options === undefined) return defaultRmdirOptions;
  validateObject(options, 'options');
  const o = { ...defaultRmdirOptions, ...(options as object) } as { recursive: unknown; retryDelay: unknown; maxRetries: unknown };
  validateBoolean(o.recursive, 'options.recursive');
  validateInt32(o.retryDelay, 'options.retryDelay', 0);
  validateUint32(o.maxRetries, 'options.maxRetries');
  return o as { recursive: boolean; retryDelay: number; maxRetries: number };
}

/** Flags for an fs call whose flags came from the user. */
export const O = { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_SYNC, O_CLOEXEC: 0o2000000, O_ACCMODE: 3 };
