/** How {@link OutboundSlots} shares its slots. */
export interface OutboundSlotsOptions {
  /** Requests running at once in all: bounds sockets and memory, however many hosts ask. */
  maxInFlight: number;
  /** Requests one host may have running at once; all its URLs share them. */
  maxPerHost: number;
}

export const DEFAULT_OUTBOUND_SLOTS: OutboundSlotsOptions = {
  maxInFlight: 20,
  maxPerHost: 4,
};

/** A slot held by one outbound request. */
export interface OutboundSlot {
  /** Gives the slot back once the request has ended; later calls do nothing. */
  release(): void;
}

/**
 * The slot policy of the outbound guard: at most `maxInFlight` requests at
 * once, and `maxPerHost` to one host; beyond that a request is refused.
 */
export class OutboundSlots {
  readonly #options: OutboundSlotsOptions;
  readonly #running = new Map<string, number>();
  #total = 0;

  constructor(options: Partial<OutboundSlotsOptions> = {}) {
    this.#options = { ...DEFAULT_OUTBOUND_SLOTS, ...options };
  }

  /** A slot for a request to `host`, or `undefined` when the policy refuses one. */
  acquire(host: string): OutboundSlot | undefined {
    const mine = this.#running.get(host) ?? 0;
    if (this.#total >= this.#options.maxInFlight || mine >= this.#options.maxPerHost) return undefined;
    this.#running.set(host, mine + 1);
    this.#total++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        const left = (this.#running.get(host) ?? 1) - 1;
        if (left > 0) this.#running.set(host, left);
        else this.#running.delete(host);
      },
    };
  }
}
