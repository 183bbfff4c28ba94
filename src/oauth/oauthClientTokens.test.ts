import { base64url } from 'jose';
import { limitedTokenFrom } from '../e2e/fixtures/limitedTokenFrom';
import { oauthGrantBehindToken } from './oauthClientTokens';

/** An unsigned stand-in: the function reads tokens the framework has already verified. */
function jwt(header: object, payload: object): string {
  const part = (value: object) => base64url.encode(JSON.stringify(value));
  return `${part(header)}.${part(payload)}.c2ln`;
}

const TIMES = { iat: 1_800_000_000, exp: 1_800_003_600 };
const portal = jwt(
  { typ: 'vnd.backstage.user', alg: 'ES256', kid: 'k1' },
  { sub: 'user:default/a', ...TIMES, uip: 'c2ln', department: 'x' },
);
const client = jwt(
  { typ: 'vnd.backstage.user', alg: 'ES256', kid: 'oauth-client:k1' },
  { sub: 'user:default/a', ...TIMES, uip: 'c2ln', client_id: 'web', scope: 'openid profile' },
);
const onBehalfOf = (userToken: string) =>
  jwt({ typ: 'vnd.backstage.plugin', alg: 'EdDSA', kid: 'p' }, { sub: 'whoami', aud: 'auth', ...TIMES, obo: userToken });

describe('oauthGrantBehindToken (issue 25 item 8)', () => {
  it("names the client and scopes of a client's full token", () => {
    expect(oauthGrantBehindToken(client)).toEqual({ clientId: 'web', scopes: ['openid', 'profile'] });
  });

  it("knows the limited token rebuilt from a client's token by its key id, sent directly or on the user's behalf", () => {
    expect(oauthGrantBehindToken(limitedTokenFrom(client))).toEqual({ scopes: [] });
    expect(oauthGrantBehindToken(onBehalfOf(limitedTokenFrom(client)))).toEqual({ scopes: [] });
  });

  it("finds no client behind the portal's own tokens", () => {
    for (const token of [portal, limitedTokenFrom(portal), onBehalfOf(limitedTokenFrom(portal))]) {
      expect(oauthGrantBehindToken(token)).toBeUndefined();
    }
  });

  it('finds no client behind what is not a token', () => {
    const serviceOnly = jwt({ typ: 'vnd.backstage.plugin', alg: 'EdDSA', kid: 'p' }, { sub: 'whoami', ...TIMES });
    for (const token of ['', 'a.b.c', serviceOnly, onBehalfOf('not-a-token')]) {
      expect(oauthGrantBehindToken(token)).toBeUndefined();
    }
  });
});
