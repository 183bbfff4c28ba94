import type { Clock } from '../model';
import type { AuthorizationSessionStore } from '../stores';

/**
 * While a client's pending sessions, as last counted plus those this
 * instance added since, stay under this share of its cap, the count may be
 * up to {@link RECOUNT_AFTER_MS} old. Up to four instances adding sessions
 * unseen by each other still stay within the cap.
 */
const TRUSTED_SHARE = 1 / 4;
/** How long a count is trusted below {@link TRUSTED_SHARE} of the cap. */
const RECOUNT_AFTER_MS = 1000;
/** Clients tracked before stale counts are swept; bounds memory under client spraying. */
const SWEEP_AT_KEYS = 10_000;

/**
 * Holds each client to its cap on undecided consent sessions, counted in the
 * database so that every instance sees the others' sessions (SPEC §2
 * Operations: bounded growth).
 *
 * Counting costs a scan of the client's pending sessions, on the request
 * path. Far below the cap the answer is not in doubt, so a count is reused
 * for a second as long as it, plus the sessions this instance added since,
 * stays under a quarter of the cap; nearer the cap every request counts.
 * Without that, a client whose users leave many requests undecided would
 * make each new request scan them all.
 */
export class PendingPerClient {
  readonly #max: number;
  readonly #clock: Clock;
  readonly #sessions: Pick<AuthorizationSessionStore, 'countPending'>;
  /** client id → pending sessions when counted, plus those added here since; and when counted. */
  readonly #known = new Map<string, { pending: number; countedAtMs: number }>();
  /** client id → the count under way. */
  readonly #counting = new Map<string, Promise<{ pending: number; countedAtMs: number }>>();

  constructor(options: {
    maxPerClient: number;
    clock: Clock;
    sessions: Pick<AuthorizationSessionStore, 'countPending'>;
  }) {
    this.#max = options.maxPerClient;
    this.#clock = options.clock;
    this.#sessions = options.sessions;
  }

  /**
   * Whether the client may start one more undecided session; if so, the
   * session counts against the client here from now on (a request refused
   * later only makes the next count come sooner).
   */
  async admit(clientId: string): Promise<boolean> {
    const now = this.#clock().getTime();
    const known = this.#known.get(clientId);
    if (
      known &&
      now >= known.countedAtMs &&
      now - known.countedAtMs < RECOUNT_AFTER_MS &&
      known.pending < this.#max * TRUSTED_SHARE
    ) {
      known.pending++;
      return true;
    }
    // Requests arriving while the client's sessions are being counted wait
    // for that count rather than each sending its own.
    const counted = await (this.#counting.get(clientId) ?? this.#startCount(clientId, now));
    // Each waiter takes one of the places the count left, in turn.
    if (counted.pending >= this.#max) return false;
    counted.pending++;
    return true;
  }

  #startCount(clientId: string, now: number): Promise<{ pending: number; countedAtMs: number }> {
    // `finally` runs its callback later, so the entry is always set first.
    const counting = this.#count(clientId, now).finally(() => {
      if (this.#counting.get(clientId) === counting) this.#counting.delete(clientId);
    });
    this.#counting.set(clientId, counting);
    return counting;
  }

  async #count(clientId: string, now: number): Promise<{ pending: number; countedAtMs: number }> {
    // Only whether the cap is reached matters, so the count stops there.
    const pending = await this.#sessions.countPending(clientId, new Date(now), this.#max);
    if (this.#known.size >= SWEEP_AT_KEYS) this.#sweep(now);
    const counted = { pending, countedAtMs: now };
    this.#known.set(clientId, counted);
    return counted;
  }

  /** Number of clients tracked (for tests). */
  get size(): number {
    return this.#known.size;
  }

  #sweep(nowMs: number): void {
    for (const [clientId, known] of this.#known) {
      if (nowMs - known.countedAtMs >= RECOUNT_AFTER_MS) this.#known.delete(clientId);
    }
  }
}
