import type { LoggerService, RootConfigService } from '@backstage/backend-plugin-api';

/** Keys an earlier version read that no longer mean anything, and why. */
const IGNORED_KEYS: ReadonlyArray<{ key: string; why: string }> = [
  {
    key: 'auth.oidcProvider.maxPendingConsentSessions',
    why: 'a consent request is stored only once the user decides it, so there is nothing to cap (issue 25)',
  },
];

/**
 * Logs one warning per key of an earlier version that the config still
 * sets: it is ignored, so the backend starts as before, but the operator
 * should know it no longer does anything.
 */
export function warnOfIgnoredConfig(rootConfig: RootConfigService, logger: LoggerService): void {
  for (const { key, why } of IGNORED_KEYS) {
    if (rootConfig.has(key)) logger.warn(`${key} is no longer used and is ignored: ${why}`);
  }
}
