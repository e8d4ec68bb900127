// Errors shaped exactly like node:fs's: a plain Error whose own enumerable
// properties are errno (negative), code, syscall, then path and dest when
// known, with libuv's message text. Users can match on them unchanged.

import { getSystemErrorMap } from 'node:util';

const systemErrors = getSystemErrorMap();

export interface UringSystemError extends Error {
  errno: number;
  code: string;
  syscall: string;
  path?: string;
  dest?: string;
}

/** Builds the error node:fs would throw for `-errno` from `syscall`. */
export function errnoError(errno: number, syscall: string, path?: string, dest?: string): UringSystemError {
  const neg = errno > 0 ? -errno : errno;
  const [code, text] = systemErrors.get(neg) ?? [`Unknown system error ${neg}`, `Unknown system error ${neg}`];
  let message = `${code}: ${text}, ${syscall}`;
  if (path !== undefined) message += ` '${path}'`;
  if (dest !== undefined) message += ` -> '${dest}'`;
  const err = new Error(message) as UringSystemError;
  err.errno = neg;
  err.code = code;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  if (dest !== undefined) err.dest = dest;
  return err;
}

export interface UringError extends Error {
  code: string;
}

/** A uring-level error with a stable ERR_URING_* code. */
export function uringError(code: string, message: string): UringError {
  const err = new Error(message) as UringError;
  err.code = code;
  return err;
}

/** The error for an op rejected because its ring closed. */
export function closedError(): UringError {
  return uringError('ERR_URING_CLOSED', 'The ring was closed before this operation completed');
}

/** Node's AbortError, as fs/promises rejects with on an aborted signal. */
export function abortError(signal?: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal?.reason }) as Error & { code: string };
  err.name = 'AbortError';
  err.code = 'ABORT_ERR';
  return err;
}
