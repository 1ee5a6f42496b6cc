import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { Client } from 'pg';
import { testUpstream } from '../support/environment';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { fieldsOf, RawClient } from '../support/raw-client';
import { cstr, int32, query, startup, typed, untyped } from '../support/wire';

const tlsOff = { ssl: false as const };

/** A non-loopback address of this machine, to test what remote clients get. */
function externalAddress(): string | undefined {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

describe('protecting the gateway from bad input', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startTestGateway({
      listen: { host: '0.0.0.0', port: 0 },
      limits: { maxClientMessageBytes: 1024 * 1024 },
    });
  });
  afterAll(async () => {
    await gateway.stop();
  });

  async function loggedIn(): Promise<RawClient> {
    const raw = await RawClient.connect(gateway.port);
    const messages = await raw.login(gateway.token());
    expect(messages.at(-1)?.code).toBe('Z');
    return raw;
  }

  it('closes a session that sends an unknown message type with FATAL 08P01, and keeps serving others', async () => {
    const bystander = new Client({ ...gateway.connection(), ...tlsOff });
    await bystander.connect();
    const raw = await loggedIn();
    raw.write(Buffer.from([0x01, 0, 0, 0, 4]));
    const error = await raw.next();
    expect(fieldsOf(error)).toMatchObject({ S: 'FATAL', C: '08P01' });
    await raw.closedByPeer();
    expect((await bystander.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
    await bystander.end();
  });

  it('closes a session that declares a message longer than the limit', async () => {
    const raw = await loggedIn();
    const header = Buffer.from([0x51, 0, 0, 0, 0]);
    header.writeInt32BE(2 * 1024 * 1024, 1);
    raw.write(header);
    expect(fieldsOf(await raw.next())).toMatchObject({ S: 'FATAL', C: '08P01' });
    await raw.closedByPeer();
  });

  it('closes a session whose Query is not NUL-terminated only when inspected, never hangs', async () => {
    const raw = await loggedIn();
    raw.write(typed('Q', Buffer.from('SELECT 1'))); // no terminator: the server rejects it
    const messages = await raw.until('Z').catch(() => []);
    const error = messages.find((m) => m.code === 'E');
    expect(error && fieldsOf(error).C).toBe('08P01');
    raw.close();
  });

  it('closes without an answer on an oversized startup packet or a bogus first length, as PostgreSQL does', async () => {
    for (const first of [
      untyped(Buffer.concat([int32(3 << 16), Buffer.alloc(20 * 1024, 0x61)])),
      typed('X'),
    ]) {
      const raw = await RawClient.connect(gateway.port);
      raw.write(first);
      await raw.closedByPeer();
      await expect(raw.next(100)).rejects.toThrow('connection closed');
    }
  });

  it('refuses protocol 2', async () => {
    const raw = await RawClient.connect(gateway.port);
    raw.write(untyped(Buffer.concat([int32(2 << 16), Buffer.from([0])])));
    expect(fieldsOf(await raw.next())).toMatchObject({ S: 'FATAL', C: '08P01' });
  });

  it('negotiates protocol 3.2 down to 3.0 and names the options it ignores', async () => {
    const raw = await RawClient.connect(gateway.port);
    raw.write(startup({ user: 'test-job', database: 'postgres', '_pq_.test_option': '1' }, 2));
    const negotiation = await raw.next();
    expect(negotiation.code).toBe('v');
    expect(negotiation.body.readInt32BE(0)).toBe(0);
    expect(negotiation.body.readInt32BE(4)).toBe(1);
    expect(negotiation.body.toString('utf8', 8, negotiation.body.length - 1)).toBe('_pq_.test_option');
    expect((await raw.next()).code).toBe('R');
    raw.write(typed('p', cstr(gateway.token())));
    expect((await raw.until('Z')).at(-1)?.code).toBe('Z');
    raw.close();
  });

  it('refuses replication connections', async () => {
    const raw = await RawClient.connect(gateway.port);
    raw.write(startup({ user: 'x', database: 'postgres', replication: 'database' }));
    expect(fieldsOf(await raw.next())).toMatchObject({ S: 'FATAL', C: '28000' });
  });

  it('refuses unencrypted bytes sent after an SSLRequest (injection before TLS)', async () => {
    const raw = await RawClient.connect(gateway.port);
    raw.write(Buffer.concat([untyped(int32(80877103)), startup({ user: 'x' })]));
    expect(fieldsOf(await raw.next())).toMatchObject({ S: 'FATAL', C: '08P01' });
  });

  it('answers GSSENCRequest with N and goes on with the session', async () => {
    const raw = await RawClient.connect(gateway.port);
    raw.write(untyped(int32(80877104)));
    expect((await raw.readBytes(1)).toString()).toBe('N');
    expect((await raw.login(gateway.token())).at(-1)?.code).toBe('Z');
    raw.close();
  });

  it('accepts PostgreSQL 17 direct TLS with ALPN "postgresql", and refuses it without', async () => {
    const direct = (alpn?: string[]) =>
      new Promise<tls.TLSSocket>((resolve, reject) => {
        const socket = tls.connect(
          { host: '127.0.0.1', port: gateway.port, rejectUnauthorized: false, ALPNProtocols: alpn },
          () => resolve(socket),
        );
        socket.once('error', reject);
      });
    const ok = await direct(['postgresql']);
    ok.write(startup({ user: 'x', database: 'postgres' }));
    const answer = await new Promise<Buffer>((resolve) => ok.once('data', resolve));
    expect(answer[0]).toBe(0x52); // 'R': asked for the token, over TLS
    ok.destroy();
    const refused = await direct(undefined).then(
      (socket) =>
        new Promise<string>((resolve) =>
          socket
            .once('data', (d: Buffer) => resolve(d.toString('latin1')))
            .once('close', () => resolve('closed')),
        ),
      () => 'closed',
    );
    expect(refused).toMatch(/08P01|closed/);
  });

  it('refuses a token over plain TCP from a non-loopback address', async () => {
    const address = externalAddress();
    if (!address) return; // the machine has no external interface: loopback is all there is
    const client = new Client({ ...gateway.connection(), host: address, ...tlsOff });
    await expect(client.connect()).rejects.toMatchObject({
      code: '28000',
      message: 'the gateway accepts tokens only over TLS',
    });
    const secure = new Client({ ...gateway.connection(), host: address, ssl: { rejectUnauthorized: false } });
    await secure.connect();
    await secure.end();
  });

  it('never hangs on a client that sends half a message', async () => {
    const raw = await loggedIn();
    raw.write(query('SELECT 1').subarray(0, 7));
    await new Promise((resolve) => setTimeout(resolve, 200));
    raw.write(query('SELECT 1').subarray(7));
    expect((await raw.until('Z')).map((m) => m.code)).toEqual(['T', 'D', 'C', 'Z']);
    raw.close();
  });

  it('stops reading from the server while the client does not read (backpressure), instead of buffering', async () => {
    const raw = await loggedIn();
    raw.write(query("SELECT repeat('x', 1000000) FROM generate_series(1, 2000) -- backpressure-probe"));
    raw.socket.pause();
    const upstream = testUpstream();
    const observer = new Client({ ...upstream, database: 'postgres' });
    await observer.connect();
    let waitEvent: string | undefined;
    for (let i = 0; i < 50 && waitEvent !== 'ClientWrite'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const rows = await observer.query(
        "SELECT wait_event FROM pg_stat_activity WHERE query LIKE '%backpressure-probe' AND pid <> pg_backend_pid()",
      );
      waitEvent = rows.rows[0]?.wait_event;
    }
    // The server is blocked writing to the gateway: 2 GB were not pulled into the gateway's memory.
    expect(waitEvent).toBe('ClientWrite');
    raw.close();
    await observer.end();
  });

  it('forwards nothing a client sends after Terminate, as the server would ignore it', async () => {
    const raw = await loggedIn();
    raw.write(Buffer.concat([typed('X'), query('SELECT pg_sleep(3) -- after-terminate-probe')]));
    await raw.closedByPeer();
    const observer = new Client({ ...testUpstream(), database: 'postgres' });
    await observer.connect();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const running = await observer.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%after-terminate-probe' AND pid <> pg_backend_pid()",
    );
    await observer.end();
    expect(running.rows[0].n).toBe(0);
  });

  it('survives a client that disconnects in the middle of a result', async () => {
    const raw = await loggedIn();
    raw.write(query('SELECT repeat(md5(i::text), 100) FROM generate_series(1, 200000) i'));
    await raw.next();
    raw.close();
    const client = new Client({ ...gateway.connection(), ...tlsOff });
    await client.connect();
    expect((await client.query('SELECT 2 AS n')).rows[0].n).toBe(2);
    await client.end();
  });
});

describe('timeouts and connection limits', () => {
  it('ends the handshake of a client that never authenticates', async () => {
    const gateway = await startTestGateway({ limits: { authTimeoutMs: 300 } });
    try {
      const raw = await RawClient.connect(gateway.port);
      raw.write(startup({ user: 'slow', database: 'postgres' }));
      expect((await raw.next()).code).toBe('R');
      const error = await raw.next(3000);
      expect(fieldsOf(error)).toMatchObject({
        S: 'FATAL',
        C: '57014',
        M: 'canceling authentication due to timeout',
      });
      await raw.closedByPeer();
    } finally {
      await gateway.stop();
    }
  });

  it('ends an idle session with 57P05, but not one with a statement running', async () => {
    const gateway = await startTestGateway({ limits: { idleTimeoutMs: 400 } });
    try {
      const busy = new Client({ ...gateway.connection(), ...tlsOff });
      busy.on('error', () => undefined); // it is idle, and ended, once its statement is done
      await busy.connect();
      // Runs for longer than the idle timeout: a running statement is not idleness.
      await expect(busy.query('SELECT pg_sleep(1) AS slept')).resolves.toMatchObject({ rowCount: 1 });
      const idle = new Client({ ...gateway.connection(), ...tlsOff });
      const ended = new Promise<{ code?: string }>((resolve) =>
        idle.on('error', (error) => resolve(error as { code?: string })),
      );
      await idle.connect();
      expect(await ended).toMatchObject({ code: '57P05' });
      await busy.end().catch(() => undefined);
    } finally {
      await gateway.stop();
    }
  });

  it('ends a session whose server sends a message above the server-direction limit', async () => {
    const gateway = await startTestGateway({ limits: { maxServerMessageBytes: 4096 } });
    try {
      const client = new Client({ ...gateway.connection(), ...tlsOff });
      client.on('error', () => undefined);
      await client.connect();
      await expect(client.query("SELECT repeat('x', 100) AS small")).resolves.toMatchObject({ rowCount: 1 });
      await expect(client.query("SELECT repeat('x', 10000) AS big")).rejects.toMatchObject({ code: '54000' });
    } finally {
      await gateway.stop();
    }
  });

  it('refuses connections beyond maxConnections with 53300', async () => {
    const gateway = await startTestGateway({ limits: { maxConnections: 2 } });
    const clients = [
      new Client({ ...gateway.connection(), ...tlsOff }),
      new Client({ ...gateway.connection(), ...tlsOff }),
    ];
    try {
      for (const c of clients) await c.connect();
      const third = new Client({ ...gateway.connection(), ...tlsOff });
      await expect(third.connect()).rejects.toMatchObject({ code: '53300' });
    } finally {
      await Promise.all(clients.map((c) => c.end()));
      await gateway.stop();
    }
  });

  it('keeps accepting after a flood of connections that close at once', async () => {
    const gateway = await startTestGateway();
    try {
      await Promise.all(
        Array.from(
          { length: 200 },
          () =>
            new Promise<void>((resolve) =>
              net.connect(gateway.port, '127.0.0.1', function (this: net.Socket) {
                this.destroy();
                resolve();
              }),
            ),
        ),
      );
      const client = new Client({ ...gateway.connection(), ...tlsOff });
      await client.connect();
      await client.end();
    } finally {
      await gateway.stop();
    }
  });
});
