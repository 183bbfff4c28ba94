import { InputError } from '@backstage/errors';
import { minimatch } from 'minimatch';

/**
 * Builds the allowed-origin check: the app's own origin, plus glob patterns
 * from `auth.experimentalExtraAllowedOrigins` (e.g. `https://*.example.com`).
 */
export function compileOriginMatcher(
  appOrigin: string,
  patterns: string[],
): (origin: string) => boolean {
  const matchers = patterns.map((pattern, index) => {
    if (typeof pattern !== 'string' || pattern.trim() === '') {
      throw new InputError(
        `auth.experimentalExtraAllowedOrigins[${index}]: must be a non-empty origin glob`,
      );
    }
    return (origin: string) => minimatch(origin, pattern, { nocase: true, nocomment: true });
  });
  return origin => origin === appOrigin || matchers.some(match => match(origin));
}
