import { OutputWalker } from '../../../fargate-proxy/src/audit/output-walker';

function message(code: string, bodyLength: number, fill: number): Buffer {
  const bytes = Buffer.alloc(bodyLength + 5, fill);
  bytes[0] = code.charCodeAt(0);
  bytes.writeInt32BE(bodyLength + 4, 1);
  return bytes;
}

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('OutputWalker', () => {
  it.each([1, 2, 3, 4, 5])(
    'visits every message once and keeps exactly the kept ones, however the stream is cut (seed %i)',
    (seed) => {
      const next = random(seed);
      const codes = ['T', 'D', 'D', 'C', 'Z', 'E', 'd', 'D'];
      const messages = Array.from({ length: 300 }, (_, i) =>
        message(codes[Math.floor(next() * codes.length)]!, Math.floor(next() * 40), i % 250),
      );
      const stream = Buffer.concat(messages);
      const visited: string[] = [];
      const kept: Buffer[] = [];
      // Leave out every row message whose body is longer than 20 bytes.
      const walker = new OutputWalker((code, total) => {
        visited.push(`${String.fromCharCode(code)}${total}`);
        return !(code === 0x44 && total > 25);
      });
      for (let position = 0; position < stream.length; ) {
        const size = 1 + Math.floor(next() * 17);
        walker.walk(stream.subarray(position, position + size), (bytes) => kept.push(Buffer.from(bytes)));
        position += size;
      }
      expect(visited).toEqual(messages.map((m) => `${String.fromCharCode(m[0]!)}${m.length}`));
      const expected = Buffer.concat(messages.filter((m) => !(m[0] === 0x44 && m.length > 25)));
      expect(Buffer.concat(kept).equals(expected)).toBe(true);
    },
  );

  it('hands a chunk of only kept messages over as it is, without slicing', () => {
    const chunk = Buffer.concat([message('D', 3, 1), message('C', 5, 2)]);
    const kept: Buffer[] = [];
    new OutputWalker(() => true).walk(chunk, (bytes) => kept.push(bytes));
    expect(kept).toEqual([chunk]);
    expect(kept[0]).toBe(chunk);
  });
});
