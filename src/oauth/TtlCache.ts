import type { Clock } from './model';

/**
 * A bounded in-memory cache whose entries expire; when full, the oldest entry
 * makes room. `get` tells a cached `undefined` (a remembered miss) apart
 * from no entry.
 */
export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();
  readonly #maxEntries: number;
  readonly #clock: Clock;

  constructor(options: { maxEntries: number; clock: Clock }) {
    this.#maxEntries = options.maxEntries;
    this.#clock = options.clock;
  }

  get(key: string): { value: V } | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > this.#clock().getTime()) return { value: entry.value };
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, ttlSeconds: number): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(key, { value, expiresAt: this.#clock().getTime() + ttlSeconds * 1000 });
  }
}
