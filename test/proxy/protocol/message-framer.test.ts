import fc from 'fast-check';
import {
  BACKEND_SESSION_CODES,
  FRONTEND_SESSION_CODES,
  FrontendCode,
} from '../../../fargate-proxy/src/protocol/codes';
import { ProtocolError } from '../../../fargate-proxy/src/protocol/errors';
import { MessageFramer, type MessageHandler } from '../../../fargate-proxy/src/protocol/message-framer';
import { parse, query, sync, typed } from '../../support/wire';

function framer(options: { inspect?: number[]; onMessage?: MessageHandler; max?: number } = {}) {
  const out: Buffer[] = [];
  const seen: Buffer[] = [];
  const f = new MessageFramer({
    allowed: FRONTEND_SESSION_CODES,
    inspect: new Set(options.inspect ?? []),
    maxMessageLength: options.max ?? 1 << 20,
    maxInspectedLength: options.max ?? 1 << 20,
    counted: [FrontendCode.Query, FrontendCode.Parse],
    onMessage:
      options.onMessage ??
      ((_code, message) => {
        seen.push(Buffer.from(message));
        return undefined;
      }),
    emit: (bytes) => out.push(Buffer.from(bytes)),
  });
  return { f, out: () => Buffer.concat(out), seen, writes: out };
}

const stream = Buffer.concat([
  query('SELECT 1'),
  parse('s1', 'SELECT $1', [23]),
  typed('B', Buffer.alloc(20, 1)),
  sync(),
  typed('X'),
]);

describe('MessageFramer', () => {
  it('forwards an untouched chunk as one write of the same bytes', () => {
    // GIVEN a framer that inspects nothing WHEN a chunk of whole messages arrives
    const { f, writes } = framer();
    f.push(stream);
    // THEN it is forwarded as a single identical write
    expect(writes).toHaveLength(1);
    expect(writes[0]!.equals(stream)).toBe(true);
    expect(f.atBoundary).toBe(true);
    expect(f.count(FrontendCode.Query)).toBe(1);
  });

  it('forwards the same bytes and sees the same messages at every split point', () => {
    for (let split = 0; split <= stream.length; split++) {
      const { f, out, seen } = framer({
        inspect: [FrontendCode.Query, FrontendCode.Parse, FrontendCode.Terminate],
      });
      f.push(stream.subarray(0, split));
      f.push(stream.subarray(split));
      expect(out().equals(stream)).toBe(true);
      expect(seen.map((m) => String.fromCharCode(m[0]!))).toEqual(['Q', 'P', 'X']);
      expect(seen[0]!.equals(query('SELECT 1'))).toBe(true);
      expect(f.atBoundary).toBe(true);
    }
  });

  it('forwards the same bytes when fed one byte at a time', () => {
    const { f, out, seen } = framer({ inspect: [FrontendCode.Parse] });
    for (let i = 0; i < stream.length; i++) f.push(stream.subarray(i, i + 1));
    expect(out().equals(stream)).toBe(true);
    expect(seen).toHaveLength(1);
  });

  it('replaces and drops inspected messages in place', () => {
    const replacement = query('SELECT 2');
    const { f, out } = framer({
      inspect: [FrontendCode.Query, FrontendCode.Terminate],
      onMessage: (code) =>
        code === FrontendCode.Query ? replacement : code === FrontendCode.Terminate ? null : undefined,
    });
    f.push(stream);
    const expected = Buffer.concat([
      replacement,
      stream.subarray(query('SELECT 1').length, stream.length - 5),
    ]);
    expect(out().equals(expected)).toBe(true);
  });

  it('reports a boundary only between messages', () => {
    const { f } = framer();
    const message = typed('d', Buffer.alloc(100));
    f.push(message.subarray(0, 50));
    expect(f.atBoundary).toBe(false);
    f.push(message.subarray(50));
    expect(f.atBoundary).toBe(true);
  });

  it('streams a large body it does not inspect without buffering it', () => {
    const { f, writes } = framer({ max: 2 << 20 });
    const big = typed('d', Buffer.alloc(1 << 20, 7));
    for (let i = 0; i < big.length; i += 65536) f.push(big.subarray(i, i + 65536));
    expect(writes).toHaveLength(Math.ceil(big.length / 65536));
    expect(Buffer.concat(writes).equals(big)).toBe(true);
  });

  it.each([
    ['an unknown type byte', Buffer.from([0x01, 0, 0, 0, 4])],
    ['a length below 4', Buffer.from([0x51, 0, 0, 0, 3])],
    ['a negative length', Buffer.from([0x51, 0xff, 0xff, 0xff, 0xff])],
    ['a length above the limit', Buffer.from([0x51, 0x10, 0, 0, 0])],
    ['a backend message type', typed('T')],
  ])('rejects %s', (_name, bytes) => {
    const { f } = framer({ max: 1 << 20 });
    expect(() => f.push(bytes)).toThrow(ProtocolError);
  });

  it('never throws anything but ProtocolError and never emits more than it received, for arbitrary bytes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }),
        fc.boolean(),
        (chunks, inspectAll) => {
          const { f, out } = framer({ inspect: inspectAll ? [...FRONTEND_SESSION_CODES] : [], max: 4096 });
          let received = 0;
          try {
            for (const chunk of chunks) {
              received += chunk.length;
              f.push(Buffer.from(chunk));
            }
          } catch (error) {
            expect(error).toBeInstanceOf(ProtocolError);
          }
          expect(out().length).toBeLessThanOrEqual(received);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('frames server messages with the backend table', () => {
    const out: Buffer[] = [];
    const f = new MessageFramer({
      allowed: BACKEND_SESSION_CODES,
      inspect: new Set(),
      maxMessageLength: 1 << 20,
      maxInspectedLength: 1 << 20,
      onMessage: () => undefined,
      emit: (b) => out.push(b),
    });
    const rows = Buffer.concat([
      typed('T', Buffer.alloc(10)),
      typed('D', Buffer.alloc(8)),
      typed('C', Buffer.from('SELECT 1\0')),
      typed('Z', Buffer.from('I')),
    ]);
    f.push(rows);
    expect(Buffer.concat(out).equals(rows)).toBe(true);
    expect(() => f.push(typed('Q'))).toThrow(ProtocolError);
  });
});

describe('MessageFramer.halt', () => {
  it('forwards nothing after the message that halted the stream, in this chunk or later ones', () => {
    const before = query('SELECT 1');
    const after = query('SELECT pg_sleep(5)');
    for (let split = 0; split <= before.length + 5 + after.length; split++) {
      const bytes = Buffer.concat([before, typed('X'), after]);
      const out: Buffer[] = [];
      const f: MessageFramer = new MessageFramer({
        allowed: FRONTEND_SESSION_CODES,
        inspect: new Set([FrontendCode.Terminate]),
        maxMessageLength: 1 << 20,
        maxInspectedLength: 1 << 20,
        onMessage: () => {
          f.halt();
          return null;
        },
        emit: (b) => out.push(Buffer.from(b)),
      });
      f.push(bytes.subarray(0, split));
      f.push(bytes.subarray(split));
      expect(Buffer.concat(out).equals(before)).toBe(true);
    }
  });
});

describe('MessageFramer lookup tables', () => {
  it('share one table per setting, but inspecting a type changes only the framer that asked', () => {
    const seenA: number[] = [];
    const seenB: number[] = [];
    const make = (seen: number[]) =>
      new MessageFramer({
        allowed: FRONTEND_SESSION_CODES,
        inspect: new Set(),
        maxMessageLength: 1 << 20,
        maxInspectedLength: 1 << 20,
        onMessage: (code) => {
          seen.push(code);
          return undefined;
        },
        emit: () => undefined,
      });
    const a = make(seenA);
    const b = make(seenB);
    a.setInspected(FrontendCode.Query, true);
    a.push(query('SELECT 1'));
    b.push(query('SELECT 1'));
    expect(seenA).toEqual([FrontendCode.Query]);
    expect(seenB).toEqual([]);
  });

  it('emits a chunk whose messages were rewritten one by one as one piece, bytes unchanged in order', () => {
    const { f, out, writes } = framer({
      inspect: [FrontendCode.Query],
      onMessage: (_code, message) =>
        Buffer.concat([message.subarray(0, 5), Buffer.from(message.subarray(5)).reverse()]),
    });
    const messages = Array.from({ length: 10 }, (_, i) => query(`SELECT ${i}`));
    f.push(Buffer.concat(messages));
    expect(writes).toHaveLength(1);
    expect(out()).toEqual(
      Buffer.concat(
        messages.map((m) => Buffer.concat([m.subarray(0, 5), Buffer.from(m.subarray(5)).reverse()])),
      ),
    );
  });
});

describe('MessageFramer: what the relay learns for its own statements', () => {
  it('knows the last counted message passed on, not the one it holds', () => {
    let hold = false;
    const { f } = framer({
      inspect: [FrontendCode.Parse],
      onMessage: () => {
        if (hold) f.suspend();
        return undefined;
      },
    });
    expect(f.lastCountedCode).toBe(-1);
    f.push(query('SELECT 1'));
    expect(f.lastCountedCode).toBe(FrontendCode.Query);
    hold = true;
    f.push(parse('s1', 'SELECT 2'));
    // Held at the Parse: nothing of it reached the server, so the last one passed on is the Query.
    expect(f.lastCountedCode).toBe(FrontendCode.Query);
    expect(f.count(FrontendCode.Parse)).toBe(0);
    hold = false;
    f.resume();
    expect(f.lastCountedCode).toBe(FrontendCode.Parse);
  });

  it('inspects every message until told to stop, then as before', () => {
    const seen: number[] = [];
    const { f } = framer({
      inspect: [FrontendCode.Query],
      onMessage: (code) => {
        seen.push(code);
        return undefined;
      },
    });
    const restore = f.inspectEverything();
    f.push(Buffer.concat([query('SELECT 1'), sync()]));
    restore();
    f.push(Buffer.concat([query('SELECT 2'), sync()]));
    expect(seen).toEqual([FrontendCode.Query, FrontendCode.Sync, FrontendCode.Query]);
  });
});
