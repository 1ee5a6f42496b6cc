import { Client } from 'pg';

/**
 * The demo database of local mode: customers with the kinds of values Gatehouse exists to protect
 * (names, e-mails, SSNs, payment card numbers, phone numbers), their accounts and transactions.
 * Generated from a fixed seed, so every machine gets the same rows.
 */
export const DEMO_DATABASE = 'demo';
const CUSTOMERS = 2000;
const ACCOUNTS = 3000;
const TRANSACTIONS = 6000;

const FIRST = [
  'Ada',
  'Grace',
  'Alan',
  'Edsger',
  'Barbara',
  'Donald',
  'Frances',
  'Ken',
  'Margaret',
  'Dennis',
  'Radia',
  'Tim',
  'Leslie',
  'Shafi',
  'John',
  'Sophie',
  'Niklaus',
  'Joan',
  'Whitfield',
  'Katherine',
];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Hamilton',
  'Ritchie',
  'Perlman',
  'Berners-Lee',
  'Lamport',
  'Goldwasser',
  'Backus',
  'Wilson',
  'Wirth',
  'Clarke',
  'Diffie',
  'Johnson',
];
const CITIES = ['Boston', 'Austin', 'Seattle', 'Denver', 'Chicago', 'Atlanta', 'Portland', 'Phoenix'];

/** Mulberry32: a small deterministic generator, so the data is the same on every machine. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Appends the Luhn check digit, so card numbers pass the validity check real detectors use. */
export function withLuhnDigit(digits: string): string {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return digits + String((10 - (sum % 10)) % 10);
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

function rows<T>(count: number, make: (i: number) => T): T[] {
  return Array.from({ length: count }, (_, i) => make(i + 1));
}

async function insertBatches(
  client: Client,
  table: string,
  columns: string[],
  values: unknown[][],
): Promise<void> {
  const batch = 500;
  for (let start = 0; start < values.length; start += batch) {
    const slice = values.slice(start, start + batch);
    const params: unknown[] = [];
    const tuples = slice.map((row) => `(${row.map((value) => `$${params.push(value)}`).join(', ')})`);
    await client.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`, params);
  }
}

/** Creates and fills the demo database once; a second call finds it and does nothing. */
export async function seedDemoDatabase(connection: {
  host: string;
  port: number;
  user: string;
  password: string;
}): Promise<boolean> {
  const admin = new Client({ ...connection, database: 'postgres' });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DEMO_DATABASE]);
    if (exists.rowCount) return false;
    await admin.query(`CREATE DATABASE ${DEMO_DATABASE}`);
  } finally {
    await admin.end();
  }
  const random = generator(20261123);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const client = new Client({ ...connection, database: DEMO_DATABASE });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(`
      CREATE TABLE customers (
        id integer PRIMARY KEY,
        full_name text NOT NULL,
        email text NOT NULL UNIQUE,
        phone text NOT NULL,
        ssn char(11) NOT NULL,
        card_number varchar(19) NOT NULL,
        city text NOT NULL,
        created_at timestamptz NOT NULL
      );
      CREATE TABLE accounts (
        id integer PRIMARY KEY,
        customer_id integer NOT NULL REFERENCES customers(id),
        iban text NOT NULL,
        currency char(3) NOT NULL,
        balance numeric(12,2) NOT NULL,
        opened_at date NOT NULL
      );
      CREATE TABLE transactions (
        id bigint PRIMARY KEY,
        account_id integer NOT NULL REFERENCES accounts(id),
        amount numeric(12,2) NOT NULL,
        description text NOT NULL,
        booked_at timestamptz NOT NULL
      );
      CREATE INDEX ON accounts (customer_id);
      CREATE INDEX ON transactions (account_id);`);
    const epoch = Date.UTC(2024, 0, 1);
    await insertBatches(
      client,
      'customers',
      ['id', 'full_name', 'email', 'phone', 'ssn', 'card_number', 'city', 'created_at'],
      rows(CUSTOMERS, (id) => {
        const first = pick(FIRST);
        const last = pick(LAST);
        return [
          id,
          `${first} ${last}`,
          `${first}.${last}.${id}@example.com`.toLowerCase(),
          `+1-555-${pad(Math.floor(random() * 1000), 3)}-${pad(Math.floor(random() * 10000), 4)}`,
          `${pad(100 + Math.floor(random() * 665), 3)}-${pad(1 + Math.floor(random() * 98), 2)}-${pad(1 + Math.floor(random() * 9998), 4)}`,
          withLuhnDigit(`4${pad(Math.floor(random() * 1e14), 14)}`),
          pick(CITIES),
          new Date(epoch + Math.floor(random() * 600) * 86_400_000).toISOString(),
        ];
      }),
    );
    await insertBatches(
      client,
      'accounts',
      ['id', 'customer_id', 'iban', 'currency', 'balance', 'opened_at'],
      rows(ACCOUNTS, (id) => [
        id,
        1 + ((id - 1) % CUSTOMERS),
        `DE${pad(Math.floor(random() * 100), 2)}${pad(Math.floor(random() * 1e9), 9)}${pad(id, 9)}`,
        pick(['USD', 'EUR', 'GBP']),
        (random() * 50_000).toFixed(2),
        new Date(epoch + Math.floor(random() * 600) * 86_400_000).toISOString().slice(0, 10),
      ]),
    );
    await insertBatches(
      client,
      'transactions',
      ['id', 'account_id', 'amount', 'description', 'booked_at'],
      rows(TRANSACTIONS, (id) => [
        id,
        1 + Math.floor(random() * ACCOUNTS),
        ((random() - 0.6) * 2000).toFixed(2),
        pick(['card payment', 'transfer', 'salary', 'refund', 'subscription', 'cash withdrawal']),
        new Date(epoch + Math.floor(random() * 600 * 86_400) * 1000).toISOString(),
      ]),
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
  return true;
}
