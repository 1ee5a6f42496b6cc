import { IdleSweeper } from '../../../fargate-proxy/src/session/idle-sweeper';

describe('IdleSweeper', () => {
  it('asks every session once per tick, and stops its timer when the last one leaves', async () => {
    const sweeper = new IdleSweeper(10);
    const seen: number[] = [];
    const candidate = { checkIdle: (tick: number) => seen.push(tick) };
    sweeper.add(candidate);
    await new Promise((resolve) => setTimeout(resolve, 55));
    sweeper.delete(candidate);
    const ticks = sweeper.tick;
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i + 1));
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(sweeper.tick).toBe(ticks);
  });

  it('ticks at an eighth of the timeout, within 25 ms and 1 s', () => {
    expect(IdleSweeper.forTimeout(400).tickMs).toBe(50);
    expect(IdleSweeper.forTimeout(100).tickMs).toBe(25);
    expect(IdleSweeper.forTimeout(3_600_000).tickMs).toBe(1000);
  });
});
