import type { AuthService } from '@backstage/backend-plugin-api';
import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { BackstageTokenIssuer } from '../identity/BackstageTokenIssuer';
import { MemoryKeyStore } from '../identity/MemoryKeyStore';
import { RotatingSigningKeys } from '../identity/RotatingSigningKeys';

/**
 * Real Backstage user tokens from the plugin's own issuer with a fresh key,
 * and an AuthService that verifies them as the framework's does (signature,
 * issuer, audience, typ) and answers with a user principal. For unit tests
 * that need a token the framework would accept, with claims of their
 * choosing, e.g. the `client_id` of a token minted for an OAuth client.
 */
export function signedUserTokens(issuer = 'http://localhost:7007/api/auth') {
  const keys = RotatingSigningKeys.create({
    store: MemoryKeyStore.create(),
    algorithm: 'ES256',
    rotationSeconds: 3600,
    maxTokenLifetimeSeconds: 86400,
    logger: mockServices.logger.mock(),
  });
  const tokens = BackstageTokenIssuer.create({ keys, issuer, lifetimeSeconds: 3600, omitOwnershipClaim: true });
  const auth = {
    async authenticate(token: string) {
      const jwks = createLocalJWKSet({ keys: await keys.listPublicKeys() });
      const { payload } = await jwtVerify(token, jwks, { issuer, audience: 'backstage', typ: 'vnd.backstage.user' });
      return mockCredentials.user(payload.sub!);
    },
    isPrincipal: (credentials: { principal: { type: string } }, type: string) =>
      credentials.principal.type === type,
  } as unknown as AuthService;
  return {
    auth,
    /** A user token for `sub` with `claims` added, signed like a sign-in's. */
    async issue(sub: string, claims: Record<string, unknown> = {}): Promise<string> {
      return (await tokens.issueUserToken({ sub, ...claims })).token;
    },
  };
}
