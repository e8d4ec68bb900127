// FileHandle.readableWebStream(): a byte stream (type 'bytes', so BYOB
// readers work too) of reads at the file position, as node's. The handle
// holds a reference while the stream is open, so close() waits for it;
// closing the handle ends the stream at its next pull.

import type { ReadableStream, ReadableByteStreamController } from 'node:stream/web';
import type { FileHandle } from './filehandle.js';
import { validateString } from './validate.js';

const CHUNK = 16384; // node's autoAllocateChunkSize

/**
 * node:stream/web's class, taken from the global when first needed: importing
 * node:stream/web up front costs every user ~20 ms at startup for a method
 * few call. The global is the same class.
 */
function webStreamClass(): typeof ReadableStream {
  return (globalThis as unknown as { ReadableStream: typeof ReadableStream }).ReadableStream;
}

/**
 * Node before 22 streams ArrayBuffer chunks unless asked for type 'bytes'
 * (its stream came from the native handle); 22 and later always stream bytes.
 */
const ARRAYBUFFER_CHUNKS = Number(process.versions.node.split('.')[0]) < 22;

/** Node < 22 validates options.type; later ones only warn that non-'bytes' means nothing. */
export function checkStreamType(type: unknown): void {
  if (type === undefined) return;
  if (ARRAYBUFFER_CHUNKS) validateString(type, 'options.type');
  else if (type !== 'bytes') process.emitWarning('A non-"bytes" options.type has no effect. A byte-oriented steam is always created.', 'ExperimentalWarning');
}

export function byteStream(fh: FileHandle, type: unknown, release: () => void): ReadableStream<Uint8Array | ArrayBuffer> {
  let held = true;
  const done = (): void => {
    if (held) {
      held = false;
      release();
    }
  };
  const read = async (view: Uint8Array): Promise<number> => {
    if (fh.fd === -1) return 0;
    try {
      return (await fh.read(view, 0, view.byteLength, null)).bytesRead;
    } catch (e) {
      done();
      throw e; // errors the stream, as a failed read does in node
    }
  };
  if (ARRAYBUFFER_CHUNKS && type !== 'bytes') return arrayBufferStream(read, done);
  return new (webStreamClass())({
    type: 'bytes',
    autoAllocateChunkSize: CHUNK,
    async pull(controller: ReadableByteStreamController) {
      const req = controller.byobRequest!;
      const n = await read(req.view as Uint8Array);
      if (n === 0) {
        done();
        controller.close();
      }
      req.respond(n);
    },
    cancel: done,
  });
}

function arrayBufferStream(read: (view: Uint8Array) => Promise<number>, done: () => void): ReadableStream<ArrayBuffer> {
  return new (webStreamClass())<ArrayBuffer>({
    async pull(controller) {
      const view = new Uint8Array(CHUNK);
      const n = await read(view);
      if (n === 0) {
        done();
        controller.close();
      } else controller.enqueue(n === CHUNK ? view.buffer : view.buffer.slice(0, n));
    },
    cancel: done,
  });
}
