import { SlidingWindowLimiter } from './SlidingWindowLimiter';

function fakeClock(start = Date.UTC(2026, 0, 1, 12, 0, 0)) {
  let now = start;
  return {
    clock: () => new Date(now),
    advance: (seconds: number) => {
      now += seconds * 1000;
    },
  };
}

describe('SlidingWindowLimiter', () => {
  it('allows exactly the limit within one window and rejects the next request', () => {
    const time = fakeClock();
    const limiter = new SlidingWindowLimiter({ limit: 3, windowSeconds: 60, clock: time.clock });
    expect([1, 2, 3].map(() => limiter.take('a').allowed)).toEqual([true, true, true]);
    // The full window must roll over and then decay to 2 of 3: 60 s + 20 s.
    const decision = limiter.take('a');
    expect(decision).toEqual({ allowed: false, retryAfterSeconds: 80, firstInWindow: true });
    time.advance(79);
    expect(limiter.take('a').allowed).toBe(false);
    time.advance(1);
    expect(limiter.take('a').allowed).toBe(true);
  });

  it('counts keys independently', () => {
    const time = fakeClock();
    const limiter = new SlidingWindowLimiter({ limit: 1, windowSeconds: 60, clock: time.clock });
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('b').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(false);
  });

  it('reports only the first rejection of a window', () => {
    const time = fakeClock();
    const limiter = new SlidingWindowLimiter({ limit: 1, windowSeconds: 10, clock: time.clock });
    limiter.take('a');
    expect(limiter.take('a')).toMatchObject({ allowed: false, firstInWindow: true });
    expect(limiter.take('a')).toMatchObject({ allowed: false, firstInWindow: false });
    time.advance(30);
    limiter.take('a');
    expect(limiter.take('a')).toMatchObject({ allowed: false, firstInWindow: true });
  });

  it('weights the previous window by its remaining overlap', () => {
    const time = fakeClock();
    const limiter = new SlidingWindowLimiter({ limit: 10, windowSeconds: 60, clock: time.clock });
    for (let i = 0; i < 10; i++) expect(limiter.take('a').allowed).toBe(true);
    // 15 s into the next window, 75 % of the previous 10 still count: 7.5,
    // so two more fit (9.5) and the third would make 10.5.
    time.advance(75);
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(true);
    const rejected = limiter.take('a');
    expect(rejected.allowed).toBe(false);
    // One more fits once the estimate drops to 9: 10 * (1 - f) + 2 ≤ 9 → f ≥ 0.3 → 18 s in.
    expect(rejected).toMatchObject({ retryAfterSeconds: 3 });
    time.advance(3);
    expect(limiter.take('a').allowed).toBe(true);
  });

  it('forgets a window that is more than one window old', () => {
    const time = fakeClock();
    const limiter = new SlidingWindowLimiter({ limit: 2, windowSeconds: 60, clock: time.clock });
    limiter.take('a');
    limiter.take('a');
    expect(limiter.take('a').allowed).toBe(false);
    time.advance(150);
    expect([limiter.take('a').allowed, limiter.take('a').allowed]).toEqual([true, true]);
  });

  it('never answers with a retry delay below one second', () => {
    const time = fakeClock();
    const limiter = new SlidingWindowLimiter({ limit: 1, windowSeconds: 1, clock: time.clock });
    limiter.take('a');
    const decision = limiter.take('a');
    expect(decision.allowed).toBe(false);
    expect(decision.allowed === false && decision.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });

  it('keeps memory bounded when many keys appear', () => {
    const time = fakeClock();
    const limiter = new SlidingWindowLimiter({
      limit: 1,
      windowSeconds: 60,
      clock: time.clock,
      maxKeys: 100,
    });
    for (let i = 0; i < 1000; i++) limiter.take(`k${i}`);
    expect(limiter.size).toBeLessThanOrEqual(100);
    // The newest keys are still counted.
    expect(limiter.take('k999').allowed).toBe(false);
  });
});
