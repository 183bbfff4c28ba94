import { mockServices } from '@backstage/backend-test-utils';
import type { Knex } from 'knex';
import { ConfigReader } from '@backstage/config';
import { readOidcProviderConfig } from '../../config/readOidcProviderConfig';
import { applyDatabaseMigrations } from '../../database/migrations';
import { DbAuthorizationCodeStore } from '../../database/DbAuthorizationCodeStore';
import { DbAuthorizationSessionStore } from '../../database/DbAuthorizationSessionStore';
import { DbRefreshTokenStore } from '../../database/DbRefreshTokenStore';
import { createTestDatabases } from '../../testUtils/databases';
import { s256 } from '../checks/checkPkce';
import type { OAuthContext } from '../context';
import { sha256 } from '../crypto/sha256';
import { InvalidGrant, TooManyRequests } from '../errors';
import type { Client, SecurityEvent } from '../model';
import { authorizationCodeGrant } from './authorizationCode';
import type { ChargeUser } from './grant';
import { refreshTokenGrant } from './refreshToken';

jest.setTimeout(60_000);
const databases = createTestDatabases();

const VERIFIER = 'v'.repeat(43);
const REDIRECT_URI = 'https://app.example.com/cb';
const USER = 'user:default/alice';
const client: Client = {
  clientId: 'app',
  clientName: 'App',
  kind: 'static',
  redirectUris: [REDIRECT_URI],
  grantTypes: ['authorization_code', 'refresh_token'],
  responseTypes: ['code'],
  tokenEndpointAuthMethod: 'none',
  metadata: {},
};

describe.each(databases.eachSupportedId())('grants with a moving clock on %s', databaseId => {
  let now: Date;
  let events: SecurityEvent[];
  let users: Set<string>;
  let ctx: OAuthContext;
  let knex: Knex;
  const advance = (seconds: number) => {
    now = new Date(now.getTime() + seconds * 1000);
  };

  beforeEach(async () => {
    knex = await databases.init(databaseId);
    await applyDatabaseMigrations(knex);
    now = new Date('2026-11-23T12:00:00Z');
    events = [];
    users = new Set([USER]);
    ctx = {
      issuer: 'http://localhost:7007/api/auth',
      config: readOidcProviderConfig(
        new ConfigReader({
          auth: {
            experimentalRefreshToken: { enabled: true, tokenLifetime: '10m', maxRotationLifetime: '25m' },
          },
        }),
      ),
      logger: mockServices.logger.mock(),
      clock: () => now,
      audit: event => events.push(event),
      sessions: DbAuthorizationSessionStore.create({ knex }),
      codes: DbAuthorizationCodeStore.create({ knex }),
      refreshTokens: DbRefreshTokenStore.create({ knex }),
      signer: {
        issueUserToken: async ({ claims }) => ({ token: `user-token:${claims.sub}`, expiresInSeconds: 3600 }),
        tokenLifetimeSeconds: 3600,
        // Readable stand-in for a signed JWT: the payload itself.
        signJwt: async payload => JSON.stringify(payload),
        getUserInfo: async sub => ({ claims: { sub, ent: [sub] } }),
        verifyJwt: async () => undefined,
        jwtAlgorithms: ['ES256'],
      },
      users: { findUser: async ref => (users.has(ref) ? { displayName: 'Alice' } : undefined) },
      consentPageUrl: id => id,
    } as Partial<OAuthContext> as OAuthContext;
  });

  /** Creates an approved session and its code, as the consent API does. */
  async function approvedCode(sessionId: string, scopes = ['openid', 'profile', 'offline_access']) {
    const code = `code-${sessionId}`;
    await ctx.codes.createApproved({
      request: {
        id: sessionId,
        clientId: client.clientId,
        redirectUri: REDIRECT_URI,
        scopes,
        nonce: 'n-0S6',
        codeChallenge: s256(VERIFIER),
        codeChallengeMethod: 'S256',
        expiresAt: new Date(now.getTime() + 600_000),
      },
      userEntityRef: USER,
      codeHash: sha256(code),
      codeExpiresAt: new Date(now.getTime() + ctx.config.authorizationCodeLifetimeSeconds * 1000),
      now,
      grantExpiresAt: new Date(now.getTime() + 3_660_000),
    });
    return code;
  }

  const redeem = (code: string, chargeUser: ChargeUser = async () => undefined, verifier = VERIFIER) =>
    authorizationCodeGrant.handle(
      { params: { code, redirect_uri: REDIRECT_URI, code_verifier: verifier }, client, chargeUser },
      ctx,
    );
  const refresh = (token: string, chargeUser: ChargeUser = async () => undefined) =>
    refreshTokenGrant.handle({ params: { refresh_token: token }, client, chargeUser }, ctx);

  it("charges a code's user only once the verifier proved the code is the caller's (issue 25)", async () => {
    const charged: string[] = [];
    const charge = async (user: string) => {
      charged.push(user);
    };
    await expect(redeem(await approvedCode('s1'), charge, 'w'.repeat(43))).rejects.toThrow(InvalidGrant);
    expect(charged).toEqual([]);
    await redeem(await approvedCode('s2'), charge);
    expect(charged).toEqual([USER]);
  });

  it('refuses an over-budget refresh before rotating, so the token still works (issue 25)', async () => {
    const { refresh_token } = await redeem(await approvedCode('s1'));
    const overBudget = new TooManyRequests('too many token requests; retry after 60 seconds', 60);
    const refuse = async () => {
      throw overBudget;
    };
    await expect(refresh(refresh_token!, refuse)).rejects.toBe(overBudget);
    expect((await refresh(refresh_token!)).access_token).toBe(`user-token:${USER}`);
  });

  it('puts the approval time, nonce and profile into the ID token', async () => {
    const approvedAt = now;
    const code = await approvedCode('s1');
    advance(5);
    const response = await redeem(code);
    expect(response).toMatchObject({ access_token: `user-token:${USER}`, token_type: 'Bearer', expires_in: 3600 });
    expect(JSON.parse(response.id_token!)).toEqual({
      sub: USER,
      aud: 'app',
      azp: 'app',
      auth_time: approvedAt.getTime() / 1000,
      nonce: 'n-0S6',
      name: 'Alice',
    });
  });

  it('refuses a code after its lifetime', async () => {
    const code = await approvedCode('s1');
    advance(ctx.config.authorizationCodeLifetimeSeconds + 1);
    await expect(redeem(code)).rejects.toThrow(new InvalidGrant('authorization code is invalid or expired'));
  });

  it('audits a replayed code and revokes its refresh token', async () => {
    const code = await approvedCode('s1');
    const { refresh_token } = await redeem(code);
    await expect(redeem(code)).rejects.toThrow(new InvalidGrant('authorization code was already used'));
    expect(events).toEqual([
      { eventId: 'code-replayed', clientId: 'app', userEntityRef: USER, meta: { sessionId: 's1', revokedRefreshTokens: 1 } },
    ]);
    expect(JSON.stringify(events)).not.toContain(code);
    await expect(refresh(refresh_token!)).rejects.toThrow(new InvalidGrant('refresh token was revoked'));
  });

  it('revokes the refresh token of a code replayed before the first redemption stored it (issue 12)', async () => {
    const code = await approvedCode('s1');
    // The replay lands exactly between the winner's redemption and the insert
    // of its refresh token: the insert runs only after the replay finished.
    const store = ctx.refreshTokens;
    let replay: Promise<unknown> | undefined;
    const issue = async (...args: Parameters<typeof store.issue>) => {
      replay ??= redeem(code).catch(error => error);
      await replay;
      return store.issue(...args);
    };
    ctx.refreshTokens = new Proxy(store, {
      get: (target, name) =>
        name === 'issue' ? issue : (target as any)[name].bind(target),
    });
    // The first redemption still succeeds (exactly one does), but the replay
    // revoked the grant first, so no refresh token is stored or handed out.
    const response = await redeem(code);
    expect(response.access_token).toBe(`user-token:${USER}`);
    expect(response.refresh_token).toBeUndefined();
    expect(await replay).toEqual(new InvalidGrant('authorization code was already used'));
    expect(await knex('oidc_refresh_tokens').select('status')).toEqual([]);
    expect(await ctx.refreshTokens.isGrantRevoked('s1')).toBe(true);
  });

  it('expires an idle refresh token', async () => {
    const { refresh_token } = await redeem(await approvedCode('s1'));
    advance(10 * 60 + 1);
    await expect(refresh(refresh_token!)).rejects.toThrow(new InvalidGrant('refresh token has expired'));
  });

  it('ends a rotation family at its absolute lifetime, however often it is used', async () => {
    let token = (await redeem(await approvedCode('s1'))).refresh_token!;
    for (let i = 0; i < 2; i++) {
      advance(9 * 60);
      token = (await refresh(token)).refresh_token!;
    }
    // 18 minutes in: the successor's idle expiry is clamped to the family's 25 minutes.
    const successor = await ctx.refreshTokens.find(sha256(token));
    expect(successor!.expiresAt.getTime() - now.getTime()).toBe(7 * 60 * 1000);
    advance(7 * 60 + 1);
    await expect(refresh(token)).rejects.toThrow(new InvalidGrant('refresh token has expired'));
  });

  it('audits reuse of a rotated token without carrying the token', async () => {
    const first = (await redeem(await approvedCode('s1'))).refresh_token!;
    await refresh(first);
    await expect(refresh(first)).rejects.toThrow(new InvalidGrant('refresh token was already used'));
    expect(events).toEqual([
      { eventId: 'refresh-token-reused', clientId: 'app', userEntityRef: USER, meta: { familyId: 's1', revokedRefreshTokens: 1 } },
    ]);
    expect(JSON.stringify(events)).not.toContain(first);
  });

  it('revokes the family of a user removed from the catalog', async () => {
    const { refresh_token } = await redeem(await approvedCode('s1'));
    users.delete(USER);
    await expect(refresh(refresh_token!)).rejects.toThrow(new InvalidGrant('the user no longer exists in the catalog'));
    users.add(USER);
    await expect(refresh(refresh_token!)).rejects.toThrow(new InvalidGrant('refresh token was revoked'));
  });

  it('keeps refreshing for a user missing from the catalog when the check is disabled', async () => {
    ctx.config = readOidcProviderConfig(
      new ConfigReader({
        auth: { experimentalRefreshToken: { enabled: true, dangerouslyDisableCatalogPresenceCheck: true } },
      }),
    );
    const { refresh_token } = await redeem(await approvedCode('s1'));
    users.delete(USER);
    const refreshed = await refresh(refresh_token!);
    expect(refreshed.access_token).toBe(`user-token:${USER}`);
    expect(JSON.parse(refreshed.id_token!).name).toBeUndefined();
  });
});
