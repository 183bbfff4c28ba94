import type { Clock } from '../model';

/** Addresses tracked before expired entries are swept; bounds memory under address spraying. */
const SWEEP_AT_KEYS = 50_000;

/**
 * Counts undecided authorization sessions per client address, so one
 * address cannot fill `oauth_authorization_sessions` with requests nobody
 * will answer. A session stops counting when it is decided (on this
 * instance) or expires. People behind one office address each keep a
 * session pending for seconds, so the cap is on what is pending now, not on
 * how many were started.
 *
 * Kept in process memory: with N instances an address may hold N times the cap.
 */
export class PendingPerAddress {
  readonly #max: number;
  readonly #clock: Clock;
  /** address → session id → expiry (ms since the epoch). */
  readonly #byAddress = new Map<string, Map<string, number>>();
  readonly #addressOf = new Map<string, string>();

  constructor(options: { maxPerAddress: number; clock: Clock }) {
    this.#max = options.maxPerAddress;
    this.#clock = options.clock;
  }

  /** Records a new pending session unless the address already holds the maximum. */
  tryAdd(address: string, sessionId: string, expiresAt: Date): boolean {
    const now = this.#clock().getTime();
    if (this.#byAddress.size >= SWEEP_AT_KEYS) this.#sweep(now);
    let sessions = this.#byAddress.get(address);
    if (sessions) {
      // Sessions all live equally long, so insertion order is expiry order:
      // forgetting the expired ones stops at the first that is still live,
      // and a request costs the same however many sessions an address holds.
      for (const [id, expiry] of sessions) {
        if (expiry > now) break;
        this.#forget(id);
      }
      // Should the clock have stepped back, a full pass before refusing.
      if (sessions.size >= this.#max) {
        for (const [id, expiry] of sessions) {
          if (expiry <= now) this.#forget(id);
        }
      }
      sessions = this.#byAddress.get(address);
    }
    if (sessions && sessions.size >= this.#max) return false;
    if (!sessions) {
      sessions = new Map();
      this.#byAddress.set(address, sessions);
    }
    sessions.set(sessionId, expiresAt.getTime());
    this.#addressOf.set(sessionId, address);
    return true;
  }

  /** The session was decided: it no longer counts against its address. */
  release(sessionId: string): void {
    this.#forget(sessionId);
  }

  /** Number of addresses tracked (for tests). */
  get size(): number {
    return this.#byAddress.size;
  }

  #forget(sessionId: string): void {
    const address = this.#addressOf.get(sessionId);
    if (address === undefined) return;
    this.#addressOf.delete(sessionId);
    const sessions = this.#byAddress.get(address);
    sessions?.delete(sessionId);
    if (sessions?.size === 0) this.#byAddress.delete(address);
  }

  #sweep(now: number): void {
    for (const [id, address] of this.#addressOf) {
      const expiry = this.#byAddress.get(address)?.get(id);
      if (expiry === undefined || expiry <= now) this.#forget(id);
    }
  }
}
