// Errors shaped exactly like node:fs/promises's, so callers can match on
// them unchanged: the ERR_* argument errors (same class, code, message text,
// toString), Node's own AbortError class, the FileHandle "file closed" EBADF
// error, and system errors (errnoError from ../errors.ts, libuv's text).
//
// The message builders are ports of lib/internal/errors.js (Node 20); the
// differential tests compare them with node:fs/promises on the same inputs.

import { inspect } from 'node:util';
import { EventEmitter, on } from 'node:events';

export { errnoError } from '../errors.js';

/** The classes of the ERR_* codes we raise, built like Node's makeNodeErrorWithCode. */
function nodeErrorClass(Base: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor, code: string) {
  return class NodeError extends (Base as ErrorConstructor) {
    code: string = code;
    constructor(message: string) {
      super(message);
    }
    // Node reports the base class as the constructor (a WPT workaround).
    // @ts-ignore: an accessor where Error has a method-like property
    override get ['constructor'](): unknown {
      return Base;
    }
    override toString(): string {
      return `${this.name} [${code}]: ${this.message}`;
    }
  };
}

const TypeArgType = nodeErrorClass(TypeError, 'ERR_INVALID_ARG_TYPE');
const TypeArgValue = nodeErrorClass(TypeError, 'ERR_INVALID_ARG_VALUE');
const RangeOut = nodeErrorClass(RangeError, 'ERR_OUT_OF_RANGE');
const RangeTooLarge = nodeErrorClass(RangeError, 'ERR_FS_FILE_TOO_LARGE');
const ErrSymlinkType = nodeErrorClass(Error, 'ERR_FS_INVALID_SYMLINK_TYPE');
const ErrInvalidState = nodeErrorClass(Error, 'ERR_INVALID_STATE');
const TypeUnknownEncoding = nodeErrorClass(TypeError, 'ERR_UNKNOWN_ENCODING');

const kTypes = ['string', 'function', 'number', 'object', 'Function', 'Object', 'boolean', 'bigint', 'symbol'];
const classRegExp = /^[A-Z][a-zA-Z0-9]*$/;

function formatList(array: string[], type = 'and'): string {
  switch (array.length) {
    case 0: return '';
    case 1: return `${array[0]}`;
    case 2: return `${array[0]} ${type} ${array[1]}`;
    case 3: return `${array[0]}, ${array[1]}, ${type} ${array[2]}`;
    default: return `${array.slice(0, -1).join(', ')}, ${type} ${array[array.length - 1]}`;
  }
}

export function determineSpecificType(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'bigint':
      return `type bigint (${value}n)`;
    case 'number':
      if (value === 0) return 1 / value === -Infinity ? 'type number (-0)' : 'type number (0)';
      if (value !== value) return 'type number (NaN)';
      if (value === Infinity) return 'type number (Infinity)';
      if (value === -Infinity) return 'type number (-Infinity)';
      return `type number (${value})`;
    case 'boolean':
      return value ? 'type boolean (true)' : 'type boolean (false)';
    case 'symbol':
      return `type symbol (${String(value)})`;
    case 'function':
      return `function ${value.name}`;
    case 'object': {
      const ctor = (value as { constructor?: { name?: string } }).constructor;
      if (ctor && 'name' in ctor) return `an instance of ${ctor.name}`;
      return `${inspect(value, { depth: -1 })}`;
    }
    case 'string': {
      let v = value;
      if (v.length > 28) v = `${v.slice(0, 25)}...`;
      if (v.indexOf("'") === -1) return `type string ('${v}')`;
      return `type string (${JSON.stringify(v)})`;
    }
    default: {
      let v = inspect(value, { colors: false });
      if (v.length > 28) v = `${v.slice(0, 25)}...`;
      return `type ${typeof value} (${v})`;
    }
  }
}

export function ERR_INVALID_ARG_TYPE(name: string, expected: string | string[], actual: unknown): Error {
  if (!Array.isArray(expected)) expected = [expected];
  let msg = 'The ';
  if (name.endsWith(' argument')) msg += `${name} `;
  else msg += `"${name}" ${name.includes('.') ? 'property' : 'argument'} `;
  msg += 'must be ';
  const types: string[] = [];
  const instances: string[] = [];
  const other: string[] = [];
  for (const value of expected) {
    if (kTypes.includes(value)) types.push(value.toLowerCase());
    else if (classRegExp.test(value)) instances.push(value);
    else other.push(value);
  }
  if (instances.length > 0) {
    const pos = types.indexOf('object');
    if (pos !== -1) {
      types.splice(pos, 1);
      instances.push('Object');
    }
  }
  if (types.length > 0) {
    msg += `${types.length > 1 ? 'one of type' : 'of type'} ${formatList(types, 'or')}`;
    if (instances.length > 0 || other.length > 0) msg += ' or ';
  }
  if (instances.length > 0) {
    msg += `an instance of ${formatList(instances, 'or')}`;
    if (other.length > 0) msg += ' or ';
  }
  if (other.length > 0) {
    if (other.length > 1) {
      msg += `one of ${formatList(other, 'or')}`;
    } else {
      if (other[0]!.toLowerCase() !== other[0]) msg += 'an ';
      msg += `${other[0]}`;
    }
  }
  msg += `. Received ${determineSpecificType(actual)}`;
  return new TypeArgType(msg);
}

export function ERR_INVALID_ARG_VALUE(name: string, value: unknown, reason = 'is invalid'): Error {
  let inspected = inspect(value);
  if (inspected.length > 128) inspected = `${inspected.slice(0, 128)}...`;
  const type = name.includes('.') ? 'property' : 'argument';
  return new TypeArgValue(`The ${type} '${name}' ${reason}. Received ${inspected}`);
}

function addNumericalSeparator(val: string): string {
  let res = '';
  let i = val.length;
  const start = val[0] === '-' ? 1 : 0;
  for (; i >= start + 4; i -= 3) res = `_${val.slice(i - 3, i)}${res}`;
  return `${val.slice(0, i)}${res}`;
}

export function ERR_OUT_OF_RANGE(str: string, range: string, input: unknown): Error {
  let msg = `The value of "${str}" is out of range.`;
  let received: string;
  if (Number.isInteger(input) && Math.abs(input as number) > 2 ** 32) {
    received = addNumericalSeparator(String(input));
  } else if (typeof input === 'bigint') {
    received = String(input);
    if (input > 2n ** 32n || input < -(2n ** 32n)) received = addNumericalSeparator(received);
    received += 'n';
  } else {
    received = inspect(input);
  }
  msg += ` It must be ${range}. Received ${received}`;
  return new RangeOut(msg);
}

export function ERR_FS_FILE_TOO_LARGE(size: number): Error {
  return new RangeTooLarge(`File size (${size}) is greater than 2 GiB`);
}

export function ERR_FS_INVALID_SYMLINK_TYPE(type: string): Error {
  return new ErrSymlinkType(`Symlink type must be one of "dir", "file", or "junction". Received "${type}"`);
}

export function ERR_INVALID_STATE(what: string): Error {
  return new ErrInvalidState(`Invalid state: ${what}`);
}

export function ERR_UNKNOWN_ENCODING(enc: string): Error {
  return new TypeUnknownEncoding(`Unknown encoding: ${enc}`);
}

/** Node's own AbortError class (internal to Node; caught once from a public API). */
const NodeAbortError: new (message?: string, options?: { cause?: unknown }) => Error = (() => {
  try {
    on(new EventEmitter(), 'x', { signal: AbortSignal.abort() });
  } catch (e) {
    if ((e as Error).name === 'AbortError') return (e as Error).constructor as new (m?: string, o?: { cause?: unknown }) => Error;
  }
  return class AbortError extends Error {
    code = 'ABORT_ERR';
    constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
      super(message, options);
      this.name = 'AbortError';
    }
  };
})();

/** The AbortError fs/promises rejects with for `signal` (cause: signal.reason). */
export function abortError(signal: AbortSignal | undefined): Error {
  return new NodeAbortError(undefined, { cause: signal?.reason });
}

/** node's checkAborted: throws the AbortError once `signal` has fired. */
export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/** FileHandle methods after close(): Node's plain Error with code EBADF. */
export function fileClosedError(syscall: string): Error {
  const err = new Error('file closed') as Error & { code: string; syscall: string };
  err.code = 'EBADF';
  err.syscall = syscall;
  return err;
}
