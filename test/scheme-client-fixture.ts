// A worker thread that is a client of a scheme served by the main thread
// (scheme.test.ts); reports what it saw through parentPort.
import { workerData, parentPort } from 'node:worker_threads';
import { connectScheme, type SchemeHandle } from '../src/index.js';

const client = connectScheme(workerData as SchemeHandle);
const out: Record<string, unknown> = {};
out.echo = await client.call(128, { len: 42 });
out.sync = client.callSync(128, { len: 7 });
const chunk = client.pool.chunk(5);
chunk.view().set([1, 2, 3, 4, 5]);
out.reversed = await client.call(129, { addr: chunk.addr, len: 5 });
out.bytes = [...chunk.view(5)];
out.many = (await Promise.all(Array.from({ length: 200 }, (_, i) => client.call(128, { len: i })))).every((v, i) => v === i);
out.big = await client.call(131, { off: 3, len: 9 });
try {
  await client.call(132);
} catch (e) {
  out.error = { code: (e as { code?: string }).code, errno: (e as { errno?: number }).errno };
}
try {
  client.callSync(132);
} catch (e) {
  out.syncError = (e as { code?: string }).code;
}
out.chain = await client.chain([[128, { len: 1 }], [132], [128, { len: 3 }]]);
out.async = await client.call(130, { off: 5, len: 11 });
out.unknown = await client.call(200).catch((e: { code?: string }) => e.code);
await client.close();
parentPort!.postMessage(out);
