import { PendingPerAddress } from './PendingPerAddress';

describe('PendingPerAddress', () => {
  let now = 0;
  const clock = () => new Date(now);
  const at = (seconds: number) => new Date(now + seconds * 1000);

  beforeEach(() => {
    now = Date.parse('2026-01-01T00:00:00Z');
  });

  it('holds an address to its cap until one of its sessions is decided', () => {
    const pending = new PendingPerAddress({ maxPerAddress: 2, clock });
    expect(pending.tryAdd('10.0.0.1', 's1', at(600))).toBe(true);
    expect(pending.tryAdd('10.0.0.1', 's2', at(600))).toBe(true);
    expect(pending.tryAdd('10.0.0.1', 's3', at(600))).toBe(false);
    expect(pending.tryAdd('10.0.0.2', 's4', at(600))).toBe(true);
    pending.release('s1');
    expect(pending.tryAdd('10.0.0.1', 's5', at(600))).toBe(true);
  });

  it('stops counting a session once it expired', () => {
    const pending = new PendingPerAddress({ maxPerAddress: 1, clock });
    expect(pending.tryAdd('10.0.0.1', 's1', at(600))).toBe(true);
    expect(pending.tryAdd('10.0.0.1', 's2', at(600))).toBe(false);
    now += 601_000;
    expect(pending.tryAdd('10.0.0.1', 's2', at(600))).toBe(true);
  });

  it('forgets addresses with nothing pending, so memory stays bounded', () => {
    const pending = new PendingPerAddress({ maxPerAddress: 1, clock });
    for (let i = 0; i < 100; i++) pending.tryAdd(`10.0.${i}.1`, `s${i}`, at(600));
    expect(pending.size).toBe(100);
    for (let i = 0; i < 100; i++) pending.release(`s${i}`);
    pending.release('unknown');
    expect(pending.size).toBe(0);
  });

  it('forgets expired sessions before refusing, even if the clock stepped back between them', () => {
    const pending = new PendingPerAddress({ maxPerAddress: 2, clock });
    expect(pending.tryAdd('10.0.0.1', 's1', at(600))).toBe(true);
    // Added later but expiring sooner, as after a clock step back.
    expect(pending.tryAdd('10.0.0.1', 's2', at(60))).toBe(true);
    now += 61_000;
    expect(pending.tryAdd('10.0.0.1', 's3', at(600))).toBe(true);
    expect(pending.tryAdd('10.0.0.1', 's4', at(600))).toBe(false);
  });
});
