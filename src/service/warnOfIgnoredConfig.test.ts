import { mockServices } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import { warnOfIgnoredConfig } from './warnOfIgnoredConfig';

function warningsFor(oidcProvider: JsonObject): string[] {
  const logger = mockServices.logger.mock();
  warnOfIgnoredConfig(mockServices.rootConfig({ data: { auth: { oidcProvider } } }), logger);
  return logger.warn.mock.calls.map(([message]) => String(message));
}

describe('warnOfIgnoredConfig', () => {
  it('says once that the pending-session caps are ignored, and why', () => {
    expect(warningsFor({ maxPendingConsentSessions: { perClient: 5 } })).toEqual([
      'auth.oidcProvider.maxPendingConsentSessions is no longer used and is ignored: a consent request is stored only once the user decides it, so there is nothing to cap (issue 25)',
    ]);
  });

  it('stays quiet without them', () => {
    expect(warningsFor({ consentPage: 'builtin' })).toEqual([]);
  });
});
