import type { AuthorizationRequest } from '../oauth/authorizationRequests';

/** An authorization request as the endpoint checks it, for store tests; `overrides` replace fields. */
export function anAuthorizationRequest(overrides: Partial<AuthorizationRequest> = {}): AuthorizationRequest {
  return {
    id: 'session-1',
    clientId: 'web-app',
    redirectUri: 'http://127.0.0.1:1234/cb',
    scopes: ['openid', 'offline_access'],
    codeChallenge: 'c'.repeat(43),
    codeChallengeMethod: 'S256',
    // Whole seconds: upstream's column keeps no fraction on MySQL.
    expiresAt: new Date('2030-01-02T03:04:05Z'),
    ...overrides,
  };
}
