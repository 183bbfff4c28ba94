import { DEFAULT_OUTBOUND_SLOTS, type OutboundSlot, OutboundSlots } from './OutboundSlots';

const { maxInFlight, maxPerHost, patienceMs, slowHostSeconds } = DEFAULT_OUTBOUND_SLOTS;

describe('OutboundSlots (issue 25 item 5)', () => {
  let now: number;
  let slots: OutboundSlots;
  beforeEach(() => {
    now = Date.parse('2026-01-01T00:00:00Z');
    slots = new OutboundSlots({ clock: () => new Date(now) });
  });

  /** Takes `count` slots for `host`, failing the test if any is refused. */
  function fill(host: string, count: number): OutboundSlot[] {
    return Array.from({ length: count }, () => {
      const slot = slots.acquire(host);
      if (!slot) throw new Error(`no slot for ${host}`);
      return slot;
    });
  }

  it(`gives a host at most ${maxPerHost} slots, shared by all its URLs, while others still get theirs`, () => {
    fill('a.example', maxPerHost);
    expect(slots.acquire('a.example')).toBeUndefined();
    expect(slots.acquire('b.example')).toBeDefined();
  });

  it('hands out free slots without taking any back', () => {
    const held = ['a', 'b', 'c', 'd', 'e'].flatMap(host => fill(host, maxPerHost));
    expect(held).toHaveLength(maxInFlight);
    expect(held.some(slot => slot.signal.aborted)).toBe(false);
  });

  it('lets a host with nothing running take a slot from the host running the most, its oldest', () => {
    const fewer = fill('a', 2);
    now += 1;
    const most = ['b', 'c', 'd', 'e'].map(host => fill(host, maxPerHost));
    fill('f', 2);
    const all = [...fewer, ...most.flat()];
    expect(slots.acquire('victim.example')).toBeDefined();
    expect(all.filter(slot => slot.signal.aborted)).toEqual([most[0][0]]);

    // The slot it gave up is counted once, however often it is released: the pool is still full.
    most[0][0].release();
    most[0][0].release();
    expect(slots.acquire('g')).toBeDefined();
    expect(all.filter(slot => slot.signal.aborted)).toHaveLength(2);
    // A slot given back is free for the next host, which then takes nothing.
    most[3][3].release();
    expect(slots.acquire('h')).toBeDefined();
    expect(all.filter(slot => slot.signal.aborted)).toHaveLength(2);
  });

  it('keeps requests of hosts running their fair share until they are slow', () => {
    const held = Array.from({ length: maxInFlight }, (_, i) => fill(`h${i}.example`, 1)[0]);
    expect(slots.acquire('victim.example')).toBeUndefined();
    expect(held.some(slot => slot.signal.aborted)).toBe(false);

    now += patienceMs;
    expect(slots.acquire('victim.example')).toBeDefined();
    expect(held.filter(slot => slot.signal.aborted)).toEqual([held[0]]);
    // The host that gave it up is slow now: it may not take one back in turn.
    expect(slots.acquire('h0.example')).toBeUndefined();
  });

  it('never takes back a request of a host in good standing before it is slow, unless its host runs two more', () => {
    ['a', 'b', 'c', 'd'].forEach(host => fill(host, maxPerHost));
    fill('e', maxPerHost - 1);
    const [victim] = fill('victim.example', 1);
    let admitted = 0;
    while (slots.acquire(`new${admitted}.example`)) admitted++;
    // Hosts gave up slots to newcomers until every host ran one: 20 hosts, the victim among them.
    expect(admitted).toBe(maxInFlight - 6);
    expect(victim.signal.aborted).toBe(false);
  });

  it('takes slots from a slow host first, even when another host runs more', () => {
    const slow = fill('slow.example', 2);
    now += patienceMs;
    const busy = fill('busy.example', maxPerHost);
    for (let i = 0; i < (maxInFlight - 2 - maxPerHost) / 2; i++) fill(`x${i}.example`, 2);
    expect(slots.acquire('victim.example')).toBeDefined();
    expect(slow.map(slot => slot.signal.aborted)).toEqual([true, false]);
    expect(busy.some(slot => slot.signal.aborted)).toBe(false);
  });

  it(`gives a host that was slow one slot and no right to take one back, for ${slowHostSeconds} s`, () => {
    const [first] = fill('slow.example', 1);
    now += patienceMs;
    first.release();
    const [only] = fill('slow.example', 1);
    expect(slots.acquire('slow.example')).toBeUndefined();
    only.release();

    ['a', 'b', 'c', 'd', 'e'].forEach(host => fill(host, maxPerHost));
    expect(slots.acquire('slow.example')).toBeUndefined();
    expect(slots.acquire('fresh.example')).toBeDefined();

    // Later the pool's requests have all run past patience, and it is the slow host's turn.
    now += slowHostSeconds * 1000;
    expect(fill('slow.example', maxPerHost)).toHaveLength(maxPerHost);
  });

  it('forgets a slow host once the hosts it remembers are full, oldest first', () => {
    slots = new OutboundSlots({ clock: () => new Date(now), maxRememberedSlowHosts: 2 });
    const started = ['a', 'b', 'c'].map(host => fill(host, 1)[0]);
    now += patienceMs;
    started.forEach(slot => slot.release());
    // 'c' pushed 'a' out: it is in good standing again, with its whole budget.
    expect(fill('a', maxPerHost)).toHaveLength(maxPerHost);
    fill('b', 1);
    expect(slots.acquire('b')).toBeUndefined();
  });
});
