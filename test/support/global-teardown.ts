import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const postgres = (globalThis as { __gatehousePostgres?: { stop(): Promise<void> } }).__gatehousePostgres;
  await postgres?.stop();
  const home = process.env.GATEHOUSE_TEST_HOME;
  if (home) rmSync(home, { recursive: true, force: true });
}
