import type { Knex } from 'knex';
import request from 'supertest';
import { CLI_REDIRECT_URI, cliClientId } from '../oauth/clients/cliClientMetadata';
import { createTestDatabases } from '../testUtils/databases';
import { guestUser } from './fixtures/guestUser';
import { pkcePair } from './fixtures/pkcePair';
import { requestFrom } from './fixtures/requestFrom';
import { CodeFlow, approveWithToken } from './harness/codeFlow';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(180_000);
const databases = createTestDatabases();

/** The attack of issue 25 item 1: 20 addresses, 50 requests each, nothing but the client's public id. */
const ATTACKERS = Array.from({ length: 20 }, (_, i) => `127.0.0.${2 + i}`);
const REQUESTS_PER_ATTACKER = 50;
const VICTIM = '127.0.0.40';

/**
 * Issue 25 item 1: nobody can lock a client out of sign-in. Anonymous
 * authorization requests cost the server no row, so however many arrive —
 * here the 1000 that filled the Backstage CLI's whole share of pending
 * consent requests before — every real user of the client still signs in
 * and refreshes, from another address, throughout.
 */
describe.each(databases.eachSupportedId())('no lockout by strangers on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let cli: string;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    // The defaults an adopter runs with: the CLI's built-in metadata document, refresh on.
    backend = await startAuthBackend({
      knex,
      entities: [guestUser()],
      config: { auth: { clientIdMetadataDocuments: { enabled: true }, experimentalRefreshToken: { enabled: true } } },
    });
    cli = cliClientId(backend.issuer);
  });
  afterAll(() => backend?.stop());

  /** The CLI's authorization request, as anyone can send it. */
  const authorizeUrl = (state = 'st', codeChallenge = pkcePair().challenge, target = backend) =>
    `${target.baseUrl}/api/auth/v1/authorize?${new URLSearchParams({
      response_type: 'code',
      client_id: cliClientId(target.issuer),
      redirect_uri: CLI_REDIRECT_URI,
      scope: 'openid offline_access',
      state,
      code_challenge: codeChallenge,
      code_challenge_method: 'S256',
    })}`;

  /** The real user's whole sign-in from the victim's address: authorize, approve, exchange, refresh. */
  async function victimSignsIn(token: string): Promise<string[]> {
    const pkce = pkcePair();
    const authorize = await requestFrom(VICTIM, authorizeUrl('victim', pkce.challenge));
    if (authorize.status !== 302) return [`authorize ${authorize.status} ${JSON.stringify(authorize.body)}`];
    const redirect = await approveWithToken(backend, CodeFlow.sessionIdOf(authorize.headers.location), token);
    const exchange = await requestFrom(VICTIM, `${backend.baseUrl}/api/auth/v1/token`, {
      form: {
        grant_type: 'authorization_code',
        client_id: cli,
        code: redirect.searchParams.get('code')!,
        redirect_uri: CLI_REDIRECT_URI,
        code_verifier: pkce.verifier,
      },
    });
    if (exchange.status !== 200) return [`token ${exchange.status} ${JSON.stringify(exchange.body)}`];
    const refresh = await requestFrom(VICTIM, `${backend.baseUrl}/api/auth/v1/token`, {
      form: { grant_type: 'refresh_token', refresh_token: exchange.body.refresh_token },
    });
    return refresh.status === 200 ? [] : [`refresh ${refresh.status} ${JSON.stringify(refresh.body)}`];
  }

  it('lets a real user sign in and refresh while strangers send a thousand requests for the client', async () => {
    const { token } = await backend.signInAsGuest();
    const attackStatuses: Record<number, number> = {};
    let attackDone = false;
    const attack = Promise.all(
      ATTACKERS.map(async address => {
        for (let i = 0; i < REQUESTS_PER_ATTACKER; i++) {
          const { status } = await requestFrom(address, authorizeUrl());
          attackStatuses[status] = (attackStatuses[status] ?? 0) + 1;
        }
      }),
    ).finally(() => {
      attackDone = true;
    });

    const failures: string[] = [];
    let signIns = 0;
    while (!attackDone) {
      failures.push(...(await victimSignsIn(token)));
      signIns++;
    }
    await attack;
    // And once every stranger's request is in.
    failures.push(...(await victimSignsIn(token)));
    signIns++;

    expect(failures).toEqual([]);
    // The strangers were not refused either: nothing they send is spent on anyone else.
    expect(attackStatuses).toEqual({ 302: ATTACKERS.length * REQUESTS_PER_ATTACKER });
    // Their requests left no row; the victim's decisions did, one each.
    const rows = await knex('oauth_authorization_sessions').select('client_id', 'user_entity_ref', 'status');
    expect(rows).toHaveLength(signIns);
    expect(rows.every(row => row.status === 'approved' && row.user_entity_ref === 'user:development/guest')).toBe(true);
  });

  it('refuses a handle changed in any way, and records nothing for it', async () => {
    const res = await requestFrom(ATTACKERS[0], authorizeUrl());
    const handle = CodeFlow.sessionIdOf(res.headers.location);
    const { token } = await backend.signInAsGuest();
    const before = await knex('oauth_authorization_sessions').count({ n: '*' });
    // Every other last character and every appended one (base64url decoders forgive both), a
    // cut, and another key version.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const altered = [
      ...[...alphabet].map(c => `${handle.slice(0, -1)}${c}`).filter(h => h !== handle),
      ...[...alphabet].map(c => `${handle}${c}`),
      handle.slice(0, -4),
      `v2${handle.slice(2)}`,
    ];
    const shown = await Promise.all(
      altered.map(async h => (await request(backend.server).get(`/api/auth/v1/sessions/${h}`)).status),
    );
    expect(new Set(shown)).toEqual(new Set([404]));
    for (const h of [altered[0], `${handle}A`, `${handle}_`]) {
      const approve = await request(backend.server)
        .post(`/api/auth/v1/sessions/${h}/approve`)
        .auth(token, { type: 'bearer' })
        .set('Content-Type', 'application/json');
      expect(approve.status).toBe(404);
    }
    expect(await knex('oauth_authorization_sessions').count({ n: '*' })).toEqual(before);
    // The handle as it was still opens.
    expect((await request(backend.server).get(`/api/auth/v1/sessions/${handle}`)).status).toBe(200);
  });

  it('ignores the pending-session caps of an earlier version’s config', async () => {
    const old = await startAuthBackend({
      knex,
      entities: [guestUser()],
      config: {
        auth: {
          clientIdMetadataDocuments: { enabled: true },
          experimentalRefreshToken: { enabled: true },
          oidcProvider: { maxPendingConsentSessions: { perClient: 1, perAddress: 1 } },
        },
      },
    });
    try {
      const url = authorizeUrl('st', pkcePair().challenge, old);
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await requestFrom(ATTACKERS[1], url)).status);
      expect(statuses).toEqual([302, 302, 302]);
    } finally {
      await old.stop();
    }
  });
});
