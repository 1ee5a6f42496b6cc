import { Duplex } from 'node:stream';

/** One end of a connection, in memory: what is pushed into it the relay reads; what it writes is kept. */
export function memoryEnd(): { stream: Duplex; written: Buffer[] } {
  const written: Buffer[] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      written.push(Buffer.from(chunk));
      done();
    },
  });
  return { stream, written };
}
