import { InvalidGrant, InvalidRequest, InvalidScope, InvalidTarget } from '../errors';
import { checkCodeChallenge, checkPkce, s256 } from './checkPkce';
import { checkRedirectUri } from './checkRedirectUri';
import type { Client } from '../model';
import { resolveResource } from './checkResource';
import { checkScope } from './checkScope';
import { requireParams } from './requireParams';

const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const challenge = s256(verifier);

it('computes the RFC 7636 appendix B challenge', () => {
  expect(challenge).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
});

describe('checkCodeChallenge', () => {
  it('accepts S256', () => {
    expect(checkCodeChallenge({ code_challenge: challenge, code_challenge_method: 'S256' })).toEqual({
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
    });
  });
  it.each([
    [{}, 'code_challenge is required (PKCE with S256)'],
    [{ code_challenge: challenge }, "code_challenge_method must be 'S256'; 'plain' is not supported"],
    [{ code_challenge: challenge, code_challenge_method: 'plain' }, "code_challenge_method must be 'S256'; 'plain' is not supported"],
    [{ code_challenge: 'short', code_challenge_method: 'S256' }, 'code_challenge must be 43 base64url characters'],
  ])('refuses %j', (params, description) => {
    expect(() => checkCodeChallenge(params)).toThrow(new InvalidRequest(description));
  });
});

describe('checkPkce', () => {
  const saved = { codeChallenge: challenge, codeChallengeMethod: 'S256' };
  it('accepts the matching verifier', () => {
    expect(() => checkPkce(saved, verifier)).not.toThrow();
  });
  it('refuses a wrong, missing or malformed verifier', () => {
    expect(() => checkPkce(saved, `${verifier.slice(0, -1)}A`)).toThrow(InvalidGrant);
    expect(() => checkPkce(saved, undefined)).toThrow(InvalidGrant);
    expect(() => checkPkce(saved, 'x')).toThrow(InvalidGrant);
  });
  it('refuses a verifier for a code issued without a challenge (downgrade)', () => {
    expect(() => checkPkce({}, verifier)).toThrow(
      new InvalidGrant('code_verifier sent for a code issued without a code_challenge'),
    );
  });
});

describe('checkRedirectUri', () => {
  const registered = ['https://app.example.com/cb', 'http://127.0.0.1:8055/callback', 'http://[::1]/cb', 'http://localhost:3000/cb?x=1'];
  it('matches exactly', () => {
    expect(checkRedirectUri(registered, 'https://app.example.com/cb')).toBe('https://app.example.com/cb');
    expect(checkRedirectUri(registered, 'https://app.example.com/cb/')).toBeUndefined();
    expect(checkRedirectUri(registered, 'https://app.example.com:8443/cb')).toBeUndefined();
    expect(checkRedirectUri(registered, 'https://APP.example.com/cb')).toBeUndefined();
  });
  it('lets only the port of a loopback redirect vary (RFC 8252 §7.3)', () => {
    expect(checkRedirectUri(registered, 'http://127.0.0.1:51234/callback')).toBe('http://127.0.0.1:8055/callback');
    expect(checkRedirectUri(registered, 'http://[::1]:9999/cb')).toBe('http://[::1]/cb');
    expect(checkRedirectUri(registered, 'http://localhost:1/cb?x=1')).toBe('http://localhost:3000/cb?x=1');
    expect(checkRedirectUri(registered, 'http://127.0.0.1:51234/other')).toBeUndefined();
    expect(checkRedirectUri(registered, 'http://localhost:51234/callback')).toBeUndefined();
    expect(checkRedirectUri(registered, 'http://localhost:1/cb?x=2')).toBeUndefined();
    expect(checkRedirectUri(registered, 'not a url')).toBeUndefined();
  });
});

describe('checkScope', () => {
  it('accepts supported scopes and drops duplicates', () => {
    expect(checkScope('openid email openid', { refreshEnabled: false })).toEqual(['openid', 'email']);
  });
  it('accepts offline_access only when refresh is on', () => {
    expect(checkScope('openid offline_access', { refreshEnabled: true })).toEqual(['openid', 'offline_access']);
    expect(() => checkScope('openid offline_access', { refreshEnabled: false })).toThrow(
      new InvalidScope("scope 'offline_access' is not supported"),
    );
  });
  it('refuses unknown scopes, scopes outside the registration, and malformed lists', () => {
    expect(() => checkScope('openid admin', { refreshEnabled: true })).toThrow(InvalidScope);
    expect(() => checkScope('openid email', { refreshEnabled: true, clientScopes: ['openid'] })).toThrow(InvalidScope);
    expect(() => checkScope('openid  email', { refreshEnabled: true })).toThrow(InvalidScope);
  });
  it('defaults to the registered scopes without offline_access', () => {
    expect(checkScope(undefined, { refreshEnabled: true })).toEqual(['openid']);
    expect(checkScope(undefined, { refreshEnabled: true, clientScopes: ['openid', 'profile', 'offline_access'] })).toEqual(['openid', 'profile']);
  });
});

describe('resolveResource', () => {
  const issuer = 'http://localhost:7007/api/auth';
  const server = { resource: 'https://mcp.example.com/mcp', name: 'MCP', scopes: ['tools'], allowedClients: ['cli'] };
  const options = { issuer, resources: [server] };
  const client = (clientId: string) => ({ clientId }) as Client;
  it('gives a Backstage token for no resource, or one inside the installation', () => {
    expect(resolveResource('http://localhost:7007/api/mcp-actions/v1', options)).toEqual({ kind: 'backstage' });
    expect(resolveResource(undefined, options)).toEqual({ kind: 'backstage' });
  });
  it('names a configured resource server, for the clients it allows', () => {
    expect(resolveResource(server.resource, { ...options, client: client('cli') })).toEqual({ kind: 'server', server });
    expect(() => resolveResource(server.resource, { ...options, client: client('other') })).toThrow(
      new InvalidTarget(`the client may not have tokens for resource '${server.resource}'`),
    );
  });
  it.each(['https://evil.example/api/x', 'http://localhost:7008/api/x', 'http://localhost:7007/other', 'http://localhost:7007/api/x#f', 'relative/path', 'https://mcp.example.com/mcp/'])(
    'refuses %s with invalid_target',
    resource => {
      expect(() => resolveResource(resource, { ...options, client: client('cli') })).toThrow(InvalidTarget);
    },
  );
});

describe('requireParams', () => {
  it('names the first missing parameter', () => {
    expect(() => requireParams({ a: '1' }, 'a', 'b')).toThrow(new InvalidRequest("missing required parameter 'b'"));
  });
});
