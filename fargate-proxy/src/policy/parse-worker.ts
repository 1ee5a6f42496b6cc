import { parentPort } from 'node:worker_threads';
import { analyse } from '../../../core/sql/analyse';
import { loadParser } from '../../../core/sql/parser';

/** A worker thread with its own parser: analyses the statements too long to parse on the event loop. */
const ready = loadParser();
parentPort!.on('message', async (request: { id: number; sql: string }) => {
  await ready;
  let result: unknown;
  try {
    result = analyse(request.sql);
  } catch (error) {
    result = {
      ok: false,
      failure: { message: `the statement could not be analysed: ${(error as Error).message}`, position: 0 },
    };
  }
  parentPort!.postMessage({ id: request.id, result });
});
