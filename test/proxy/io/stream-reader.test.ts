import { PassThrough } from 'node:stream';
import { PeerClosedError, StreamReader } from '../../../fargate-proxy/src/io/stream-reader';
import { ProtocolError } from '../../../fargate-proxy/src/protocol/errors';
import { typed } from '../../support/wire';

describe('StreamReader', () => {
  it('reads whole messages fed at every split point and hands back the rest on detach', async () => {
    const bytes = Buffer.concat([
      typed('R', Buffer.from([0, 0, 0, 0])),
      typed('Z', Buffer.from('I')),
      Buffer.from('rest'),
    ]);
    for (let split = 0; split <= bytes.length; split++) {
      const stream = new PassThrough();
      const reader = new StreamReader(stream);
      stream.write(bytes.subarray(0, split));
      setImmediate(() => stream.write(bytes.subarray(split)));
      expect(await reader.message(1024)).toMatchObject({ code: 0x52 });
      const ready = await reader.message(1024);
      expect(ready.code).toBe(0x5a);
      expect(ready.body.toString()).toBe('I');
      await reader.need(4);
      expect(reader.detach().toString()).toBe('rest');
    }
  });

  it('refuses a declared length outside the bound before waiting for the body', async () => {
    const stream = new PassThrough();
    const reader = new StreamReader(stream);
    stream.write(Buffer.from([0x52, 0x7f, 0, 0, 0]));
    await expect(reader.message(1024)).rejects.toBeInstanceOf(ProtocolError);
  });

  it('rejects a pending read when the peer closes', async () => {
    const stream = new PassThrough();
    const reader = new StreamReader(stream);
    const pending = reader.bytes(10);
    stream.end(Buffer.from('abc'));
    stream.resume();
    await expect(pending).rejects.toBeInstanceOf(PeerClosedError);
  });
});
