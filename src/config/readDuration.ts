import type { Config } from '@backstage/config';
import { readDurationFromConfig } from '@backstage/config';
import { InputError } from '@backstage/errors';
import { durationToMilliseconds } from '@backstage/types';

/**
 * Reads an optional duration; `config` is the root config and `key` the full
 * dotted key, so errors name exactly what the adopter wrote.
 * Accepts a HumanDuration object or a string like '15m' or 'P1D' and returns
 * whole seconds, clamped to [min, max].
 * A malformed value throws an InputError naming the key.
 */
export function readDurationSeconds(
  config: Config,
  key: string,
  limits: { defaultSeconds: number; minSeconds?: number; maxSeconds?: number },
): number {
  if (!config.has(key)) return limits.defaultSeconds;
  let seconds: number;
  try {
    seconds = Math.floor(durationToMilliseconds(readDurationFromConfig(config, { key })) / 1000);
  } catch (error) {
    throw new InputError(`${key}: not a valid duration (${(error as Error).message})`);
  }
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new InputError(`${key}: must be a positive duration`);
  }
  return Math.min(limits.maxSeconds ?? Infinity, Math.max(limits.minSeconds ?? 0, seconds));
}

/** Reads a key with Config's own type checks, rethrowing with the key named. */
export function readWith<T>(key: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    const message = (error as Error).message;
    throw new InputError(message.includes(key) ? message : `${key}: ${message}`);
  }
}
