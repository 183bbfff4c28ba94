import { PendingPerClient } from './PendingPerClient';

describe('PendingPerClient', () => {
  let now = 0;
  const clock = () => new Date(now);
  /** A database holding `stored[clientId]` pending sessions; counts how often it is asked. */
  function store(stored: Record<string, number>) {
    const calls: { clientId: string; atMost: number }[] = [];
    return {
      calls,
      stored,
      sessions: {
        async countPending(clientId: string, _now: Date, atMost: number) {
          calls.push({ clientId, atMost });
          return Math.min(stored[clientId] ?? 0, atMost);
        },
      },
    };
  }

  beforeEach(() => {
    now = Date.parse('2026-01-01T00:00:00Z');
  });

  it('counts in the database, and reuses a count for a second while far below the cap', async () => {
    const db = store({ app: 0 });
    const pending = new PendingPerClient({ maxPerClient: 100, clock, sessions: db.sessions });
    for (let i = 0; i < 25; i++) expect(await pending.admit('app')).toBe(true);
    // One count, then 24 admissions on it: a quarter of the cap.
    expect(db.calls).toEqual([{ clientId: 'app', atMost: 100 }]);
    // From a quarter of the cap on, every request counts again.
    db.stored.app = 25;
    expect(await pending.admit('app')).toBe(true);
    expect(await pending.admit('app')).toBe(true);
    expect(db.calls).toHaveLength(3);
  });

  it('sees sessions other instances added once a second has passed', async () => {
    const db = store({ app: 0 });
    const pending = new PendingPerClient({ maxPerClient: 100, clock, sessions: db.sessions });
    expect(await pending.admit('app')).toBe(true);
    db.stored.app = 100;
    now += 999;
    expect(await pending.admit('app')).toBe(true);
    now += 1;
    expect(await pending.admit('app')).toBe(false);
    expect(db.calls).toHaveLength(2);
  });

  it('refuses at the cap, per client, and admits again once sessions were decided', async () => {
    const db = store({ app: 4, other: 0 });
    const pending = new PendingPerClient({ maxPerClient: 4, clock, sessions: db.sessions });
    expect(await pending.admit('app')).toBe(false);
    expect(await pending.admit('other')).toBe(true);
    db.stored.app = 3;
    expect(await pending.admit('app')).toBe(true);
  });

  it('does not trust a count taken in the future (a clock stepped back)', async () => {
    const db = store({ app: 0 });
    const pending = new PendingPerClient({ maxPerClient: 100, clock, sessions: db.sessions });
    await pending.admit('app');
    now -= 10_000;
    await pending.admit('app');
    expect(db.calls).toHaveLength(2);
  });

  it('has requests arriving during a count wait for it, and together take no more than the places it left', async () => {
    const db = store({ app: 7 });
    const pending = new PendingPerClient({ maxPerClient: 10, clock, sessions: db.sessions });
    const answers = await Promise.all(Array.from({ length: 5 }, () => pending.admit('app')));
    expect(answers).toEqual([true, true, true, false, false]);
    expect(db.calls).toHaveLength(1);

    // Far below the cap, a burst at the end of the second costs one count too.
    db.stored.app = 0;
    now += 1000;
    expect(await Promise.all(Array.from({ length: 10 }, () => pending.admit('app')))).toEqual(Array(10).fill(true));
    expect(db.calls).toHaveLength(2);
  });

  it('gives every waiter the count’s failure, and counts afresh for the next request', async () => {
    const db = store({ app: 0 });
    let fail = true;
    const pending = new PendingPerClient({
      maxPerClient: 10,
      clock,
      sessions: {
        countPending(clientId: string, at: Date, atMost: number) {
          // Thrown before any promise, as a store that is not async might.
          if (fail) throw new Error('database down');
          return db.sessions.countPending(clientId, at, atMost);
        },
      },
    });
    const answers = await Promise.allSettled([pending.admit('app'), pending.admit('app')]);
    expect(answers.map(a => a.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await pending.admit('app')).toBe(true);
    expect(db.calls).toHaveLength(1);
  });
});
