import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { AnalysisResult } from '../../../core/sql/analysis';

/** The compiled worker script; under ts-based test runners the sources sit beside dist/. */
function workerScript(): string {
  const here = path.join(__dirname, 'parse-worker.js');
  if (existsSync(here)) return here;
  const root = path.resolve(__dirname, '..', '..', '..');
  return path.join(root, 'dist', path.relative(root, __dirname), 'parse-worker.js');
}

interface Pending {
  resolve: (result: AnalysisResult) => void;
  reject: (error: Error) => void;
}

/**
 * Worker threads that analyse long statements (a 1 MB INSERT takes the parser hundreds of
 * milliseconds), so one client's huge statement never stalls the other sessions of the process. Threads
 * start on first use and stay; a thread that dies is replaced and its requests fail (the statement is
 * refused, never forwarded unanalysed).
 */
export class ParsePool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly owner = new Map<number, Worker>();
  private nextId = 1;
  private turn = 0;

  constructor(private readonly size: number) {}

  analyse(sql: string): Promise<AnalysisResult> {
    const worker = this.pick();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.owner.set(id, worker);
      worker.postMessage({ id, sql });
    });
  }

  private pick(): Worker {
    if (this.workers.length < this.size) {
      const worker = new Worker(workerScript());
      worker.unref();
      worker.on('message', (reply: { id: number; result: AnalysisResult }) => {
        this.pending.get(reply.id)?.resolve(reply.result);
        this.pending.delete(reply.id);
        this.owner.delete(reply.id);
      });
      worker.on('error', (error) => this.fail(worker, error));
      worker.on('exit', () => this.fail(worker, new Error('parser thread exited')));
      this.workers.push(worker);
      return worker;
    }
    this.turn = (this.turn + 1) % this.workers.length;
    return this.workers[this.turn]!;
  }

  private fail(worker: Worker, error: Error): void {
    const index = this.workers.indexOf(worker);
    if (index !== -1) this.workers.splice(index, 1);
    for (const [id, owner] of this.owner) {
      if (owner !== worker) continue;
      this.pending.get(id)?.reject(error);
      this.pending.delete(id);
      this.owner.delete(id);
    }
  }

  async close(): Promise<void> {
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}
