import type { Entity } from '@backstage/catalog-model';
import type { Knex } from 'knex';
import request from 'supertest';
import { CLI_REDIRECT_URI, cliClientId } from '../oauth/clients/cliClientMetadata';
import { sha256 } from '../oauth/crypto/sha256';
import { createTestDatabases } from '../testUtils/databases';
import { CONFIDENTIAL } from './fixtures/codeFlowClients';
import { recordingAuditor } from './fixtures/recordingAuditor';
import { type LoopbackResponse, requestFrom } from './fixtures/requestFrom';
import { CodeFlow } from './harness/codeFlow';
import { DEVICE_GRANT } from './harness/devicePage';
import { headerUserProviderModule, signInWithHeader } from './harness/headerUserProviderModule';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);

/**
 * Issue 25, item 2: one user cannot spend a shared public client's budget.
 * Every user here signs in to the Backstage CLI (the built-in public client)
 * through the real consent API and uses its tokens as the CLI does: JSON
 * bodies, and no client_id on refresh. Requests come from chosen loopback
 * addresses (127.0.0.0/8), so each address is a client address of its own.
 */
const databases = createTestDatabases();

/** `rateLimits.token.requests`: per address, and per user of a public client. */
const BUDGET = 6;
const MALLORY = 'user:default/mallory';
const VERA = 'user:default/vera';
const TRENT = 'user:default/trent';

function aUser(ref: string): Entity {
  const name = ref.split('/')[1];
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'User',
    metadata: { name, namespace: 'default' },
    spec: { profile: { displayName: name }, memberOf: [] },
  };
}

/** 127.0.0.2 … 127.0.0.40: the attacker's addresses. */
const ATTACKER_ADDRESSES = Array.from({ length: 39 }, (_, i) => `127.0.0.${i + 2}`);
const VICTIM_ADDRESS = '127.0.0.1';

describe.each(databases.eachSupportedId())('issue 25: public client budgets on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let cli: CodeFlow;
  let cliId: string;
  const auditor = recordingAuditor();

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    backend = await startAuthBackend({
      knex,
      entities: [aUser(MALLORY), aUser(VERA), aUser(TRENT)],
      features: [headerUserProviderModule, auditor.factory],
      config: {
        auth: {
          providers: { header: {} },
          clientIdMetadataDocuments: { enabled: true },
          experimentalRefreshToken: { enabled: true },
          oidcProvider: {
            deviceAuthorization: { enabled: true },
            // An hour, so no budget frees up while a test runs, however slowly.
            rateLimits: { token: { requests: BUDGET, window: '1h' } },
            clients: [
              {
                clientId: CONFIDENTIAL.clientId,
                clientSecret: CONFIDENTIAL.clientSecret,
                redirectUris: [CONFIDENTIAL.redirectUri],
              },
            ],
          },
        },
      },
    });
    cliId = cliClientId(backend.issuer);
    cli = new CodeFlow(backend, { clientId: cliId, redirectUri: CLI_REDIRECT_URI });
  });
  afterAll(() => backend?.stop());

  /** A token request from `address` with a JSON body, as the Backstage CLI sends it. */
  const tokenFrom = (address: string, body: Record<string, string>) =>
    requestFrom(address, `${backend.baseUrl}/api/auth/v1/token`, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  /** `auth login`: authorize and approve as `user`, then redeem the code from `address`. */
  async function signIn(user: string, address: string): Promise<LoopbackResponse> {
    const { token } = await signInWithHeader(backend, user);
    const { code, verifier } = await cli.approvedCode({ scope: 'openid offline_access' }, token);
    return tokenFrom(address, {
      grant_type: 'authorization_code',
      client_id: cliId,
      code,
      redirect_uri: CLI_REDIRECT_URI,
      code_verifier: verifier,
    });
  }

  /** A refresh as the CLI sends it: no client_id. */
  const refreshFrom = (address: string, refreshToken: string) =>
    tokenFrom(address, { grant_type: 'refresh_token', refresh_token: refreshToken });

  const whoAmI = (accessToken: string) =>
    request(backend.server).get('/api/whoami/me').auth(accessToken, { type: 'bearer' });

  const rateLimitedEvents = () =>
    auditor.createEvent.mock.calls.map(([e]) => e).filter(e => e.eventId === 'rate-limited');

  it('lets a victim sign in and refresh while another user refreshes from 39 addresses', async () => {
    const signedIn = await signIn(MALLORY, ATTACKER_ADDRESSES[0]);
    expect(signedIn.status).toBe(200);
    let attackerToken: string = signedIn.body.refresh_token;
    /** 200, or the status and error of a refusal. */
    const attacker: Array<200 | string> = [200];
    /** Every address's whole budget, each refresh with the newest token. */
    async function attack(addresses: string[]) {
      for (const address of addresses) {
        for (let i = address === ATTACKER_ADDRESSES[0] ? 1 : 0; i < BUDGET; i++) {
          const res = await refreshFrom(address, attackerToken);
          if (res.status === 200) attackerToken = res.body.refresh_token;
          attacker.push(res.status === 200 ? 200 : `${res.status} ${res.body.error}`);
        }
      }
    }

    // Five rounds of the attack; after each, the victim takes one step.
    const rounds = [0, 8, 16, 24, 32].map(start => ATTACKER_ADDRESSES.slice(start, start + 8));
    const victim: number[] = [];
    let victimTokens: { access_token: string; refresh_token: string } | undefined;
    for (const round of rounds) {
      await attack(round);
      const res = victimTokens
        ? await refreshFrom(VICTIM_ADDRESS, victimTokens.refresh_token)
        : await signIn(VERA, VICTIM_ADDRESS);
      victim.push(res.status);
      if (res.status === 200) victimTokens = res.body;
    }

    // The victim signed in and refreshed four times, never refused.
    expect(victim).toEqual([200, 200, 200, 200, 200]);
    const me = await whoAmI(victimTokens!.access_token);
    expect(me.status).toBe(200);
    expect(me.body.userEntityRef).toBe(VERA);
    // The attacker got the budget of one user, and nothing more, from 39 addresses.
    expect(attacker.slice(0, BUDGET)).toEqual(Array(BUDGET).fill(200));
    expect(attacker.slice(BUDGET)).toEqual(
      Array(ATTACKER_ADDRESSES.length * BUDGET - BUDGET).fill('429 too_many_requests'),
    );
    // A refused refresh rotated nothing: the attacker's newest token is still live.
    const newest = await knex('oidc_refresh_tokens').where({ token_hash: sha256(attackerToken) }).first();
    expect(newest.status).toBe('active');
    expect(rateLimitedEvents()).toContainEqual(
      expect.objectContaining({
        severityLevel: 'medium',
        meta: expect.objectContaining({ endpoint: 'token', scope: 'user', clientId: cliId, userEntityRef: MALLORY }),
      }),
    );
  });

  it('refuses an over-budget user at every grant, leaving refresh and device codes unspent', async () => {
    const address = '127.0.0.41';
    const first = await signIn(TRENT, address);
    expect(first.status).toBe(200);
    let refreshToken: string = first.body.refresh_token;
    for (let i = 1; i < BUDGET; i++) {
      const res = await refreshFrom(address, refreshToken);
      expect(res.status).toBe(200);
      refreshToken = res.body.refresh_token;
    }

    // From fresh addresses: the refresh is refused, and again, as over budget,
    // not as a reused token, since the refused one was never rotated.
    for (const fresh of ['127.0.0.42', '127.0.0.43']) {
      const refused = await refreshFrom(fresh, refreshToken);
      expect(refused.status).toBe(429);
      expect(refused.body).toEqual({
        error: 'too_many_requests',
        error_description: expect.stringMatching(/^too many token requests; retry after \d+ seconds$/),
      });
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    }
    const refusedSignIn = await signIn(TRENT, '127.0.0.44');
    expect(refusedSignIn.status).toBe(429);
    expect(refusedSignIn.body.error).toBe('too_many_requests');

    // A device request the user approves is refused before it is consumed:
    // the device is told to slow down (RFC 8628 §3.5) and the approval stays.
    const started = await request(backend.server)
      .post('/api/auth/v1/device_authorization')
      .type('form')
      .send({ client_id: cliId, scope: 'openid offline_access' });
    expect(started.status).toBe(200);
    await approveDevice(TRENT, started.body.user_code);
    const poll = await requestFrom('127.0.0.45', `${backend.baseUrl}/api/auth/v1/token`, {
      form: { grant_type: DEVICE_GRANT, device_code: started.body.device_code, client_id: cliId },
    });
    expect(poll.status).toBe(400);
    expect(poll.body.error).toBe('slow_down');
    const [device] = await knex('oidc_device_codes').where({ client_id: cliId, user_entity_ref: TRENT });
    expect(device.status).toBe('approved');
    expect(Number(device.interval_seconds)).toBe(started.body.interval);
  });

  /** The verification page's two form posts, as a signed-in browser sends them. */
  async function approveDevice(user: string, userCode: string) {
    const { token } = await signInWithHeader(backend, user);
    const csrf = 'c'.repeat(43);
    const cookies = [`oidc-pages-user=${token}`, `oidc-pages-csrf=${csrf}`];
    const entered = await request(backend.server)
      .post('/api/auth/v1/device')
      .set('Cookie', cookies)
      .type('form')
      .send({ csrf, user_code: userCode });
    expect(entered.status).toBe(200);
    const requestHash = /name="request" value="([0-9a-f]{64})"/.exec(entered.text)?.[1];
    const decided = await request(backend.server)
      .post('/api/auth/v1/device/decision')
      .set('Cookie', cookies)
      .type('form')
      .send({ csrf, request: requestHash, decision: 'approve' });
    expect(decided.headers.location).toMatch(/result=approved$/);
  }

  it('still charges a confidential client once it authenticated, across addresses', async () => {
    const statuses: number[] = [];
    // Eleven addresses, each within its own budget: only the client's (10 × 6) runs out.
    for (let host = 101; host <= 111; host++) {
      for (let i = 0; i < BUDGET; i++) {
        const res = await requestFrom(`127.0.0.${host}`, `${backend.baseUrl}/api/auth/v1/token`, {
          headers: {
            authorization: `Basic ${Buffer.from(`${CONFIDENTIAL.clientId}:${CONFIDENTIAL.clientSecret}`).toString('base64')}`,
          },
          form: { grant_type: 'authorization_code', code: `x-${host}-${i}`, redirect_uri: CONFIDENTIAL.redirectUri },
        });
        statuses.push(res.status);
      }
    }
    expect(statuses.slice(0, 10 * BUDGET).every(status => status === 400)).toBe(true);
    expect(statuses.slice(10 * BUDGET)).toEqual(Array(BUDGET).fill(429));
    expect(rateLimitedEvents()).toContainEqual(
      expect.objectContaining({
        meta: expect.objectContaining({ endpoint: 'token', scope: 'client', clientId: CONFIDENTIAL.clientId }),
      }),
    );
  });
});
