import type { Clock } from '../model';
import { TtlCache } from '../TtlCache';

/** How {@link OutboundSlots} shares its slots. */
export interface OutboundSlotsOptions {
  /** Requests running at once in all: bounds sockets and memory, however many hosts ask. */
  maxInFlight: number;
  /** Requests one host may have running at once; all its URLs and ports share them. */
  maxPerHost: number;
  /** The same, for a host that is slow (see `patienceMs`). */
  maxPerSlowHost: number;
  /**
   * How long a request may run before its host counts as slow. While the pool
   * is full, a slow host's requests give their slots to hosts that are not.
   */
  patienceMs: number;
  /** How long a host stays slow after one of its requests ran past `patienceMs`. */
  slowHostSeconds: number;
  /** Slow hosts remembered at most; a spray of hosts forgets the oldest first. */
  maxRememberedSlowHosts: number;
}

export const DEFAULT_OUTBOUND_SLOTS: OutboundSlotsOptions = {
  maxInFlight: 20,
  maxPerHost: 4,
  maxPerSlowHost: 1,
  // A metadata document is a few hundred bytes: a healthy host answers well within this.
  patienceMs: 1000,
  slowHostSeconds: 30,
  maxRememberedSlowHosts: 10_000,
};

/** A slot held by one outbound request. */
export interface OutboundSlot {
  /** Aborted when the slot is taken back for another host; the request must stop then. */
  readonly signal: AbortSignal;
  /** Gives the slot back once the request has ended; later calls do nothing. */
  release(): void;
}

interface Running {
  host: string;
  startedAt: number;
  controller: AbortController;
  ended: boolean;
}

/**
 * The slot policy of the outbound guard (issue 25 item 5): hosts share a
 * fixed pool so that slow hosts can hold only what nobody else needs.
 *
 * - A host has its own budget (`maxPerHost`), which all its URLs share, and a
 *   host that is slow gets `maxPerSlowHost`. A host is slow while one of its
 *   requests has run past `patienceMs`, and for `slowHostSeconds` after one did.
 * - A free slot goes to any host within its budget. When none is free, a host
 *   that is not slow takes one back: first from a slow host, then from a host
 *   running more requests than it would after taking one (max-min fairness);
 *   of those, from the host running the most, its oldest request.
 *
 * So a host that runs nothing and is not slow is refused only when the pool is
 * full of requests from `maxInFlight` other hosts, one each, none of them slow
 * yet: to keep it so, an attacker must bring that many fresh hosts every
 * `patienceMs`, since each one is slow (and yields) from then on. A request of
 * a host in good standing is never taken back before `patienceMs`, unless its
 * host runs at least two more than the newcomer. State is per instance; memory
 * is bounded by `maxInFlight` and `maxRememberedSlowHosts`.
 */
export class OutboundSlots {
  readonly #options: OutboundSlotsOptions;
  readonly #clock: Clock;
  /** Running requests per host, oldest first. */
  readonly #running = new Map<string, Running[]>();
  #total = 0;
  readonly #slowHosts: TtlCache<true>;

  constructor(options: Partial<OutboundSlotsOptions> & { clock: Clock }) {
    const { clock, ...overrides } = options;
    this.#options = { ...DEFAULT_OUTBOUND_SLOTS, ...overrides };
    this.#clock = clock;
    this.#slowHosts = new TtlCache({ maxEntries: this.#options.maxRememberedSlowHosts, clock });
  }

  /** A slot for a request to `host` (a URL's hostname), or `undefined` when the policy refuses one. */
  acquire(host: string): OutboundSlot | undefined {
    const now = this.#clock().getTime();
    const mine = this.#running.get(host)?.length ?? 0;
    const slow = this.#isSlow(host, now);
    if (mine >= (slow ? this.#options.maxPerSlowHost : this.#options.maxPerHost)) return undefined;
    if (this.#total >= this.#options.maxInFlight) {
      // A slow host only gets free slots: taking one back is for hosts in good standing.
      const taken = slow ? undefined : this.#reclaimable(host, mine, now);
      if (!taken) return undefined;
      this.#end(taken, now);
      taken.controller.abort();
    }
    const running: Running = { host, startedAt: now, controller: new AbortController(), ended: false };
    const list = this.#running.get(host);
    if (list) list.push(running);
    else this.#running.set(host, [running]);
    this.#total++;
    return {
      signal: running.controller.signal,
      release: () => this.#end(running, this.#clock().getTime()),
    };
  }

  #isSlow(host: string, now: number): boolean {
    if (this.#slowHosts.get(host)) return true;
    const oldest = this.#running.get(host)?.[0];
    return oldest !== undefined && now - oldest.startedAt >= this.#options.patienceMs;
  }

  /** The running request whose slot `host`, running `mine`, may take, if any. */
  #reclaimable(host: string, mine: number, now: number): Running | undefined {
    let best: { running: Running; rank: [number, number, number] } | undefined;
    for (const [other, list] of this.#running) {
      if (other === host) continue;
      const slow = this.#isSlow(other, now);
      if (!slow && list.length <= mine + 1) continue;
      const oldest = list[0];
      const rank: [number, number, number] = [slow ? 1 : 0, list.length, -oldest.startedAt];
      if (!best || isGreater(rank, best.rank)) best = { running: oldest, rank };
    }
    return best?.running;
  }

  #end(running: Running, now: number): void {
    if (running.ended) return;
    running.ended = true;
    const list = this.#running.get(running.host)!;
    list.splice(list.indexOf(running), 1);
    if (list.length === 0) this.#running.delete(running.host);
    this.#total--;
    if (now - running.startedAt >= this.#options.patienceMs) {
      this.#slowHosts.set(running.host, true, this.#options.slowHostSeconds);
    }
  }
}

function isGreater(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] > b[i];
  }
  return false;
}
