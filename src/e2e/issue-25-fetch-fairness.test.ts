import type { Knex } from 'knex';
import { createTestDatabases } from '../testUtils/databases';
import { authorizeUrl } from './fixtures/authorizeUrl';
import { withGenerousRateLimits } from './fixtures/generousRateLimits';
import { guestUser } from './fixtures/guestUser';
import { pkcePair } from './fixtures/pkcePair';
import { requestFrom } from './fixtures/requestFrom';
import { approveAsGuest, CodeFlow } from './harness/codeFlow';
import { type MetadataDocumentServer, startMetadataDocumentServer } from './harness/metadataDocumentServer';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';
import { startTarpitServers, type TarpitServers } from './harness/tarpitServers';

/**
 * Issue 25 item 5: slow documents cannot starve metadata-document clients.
 * Hosts on the allow-list that accept a fetch and never answer try to hold
 * every fetch slot, four fetches per host from eight hosts, re-sending a new
 * client_id the moment one is answered. Meanwhile a real client on another
 * host, whose document is not cached, must still sign a user in.
 */
const ATTACKER_HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7', '127.0.0.8', '127.0.0.9'];
const WORKERS_PER_HOST = 4;
const VICTIM_ROUNDS = 3;
const LOOPBACK = 'http://127.0.0.1:6000/callback';

jest.setTimeout(60_000);
const databases = createTestDatabases();

const pause = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** The attack: every worker keeps one authorization request for a slow document outstanding. */
function attack(backend: AuthBackend, tarpit: TarpitServers) {
  const state = { stopped: false };
  const statuses: number[] = [];
  const worker = async (index: number, landed: () => void) => {
    for (let i = 0; !state.stopped; i++) {
      const path = `/w${index}/${i}.json`;
      const clientId = tarpit.url(index % ATTACKER_HOSTS.length, path);
      const answer = requestFrom(`127.0.1.${1 + index}`, authorizeUrl(backend, clientId, LOOPBACK));
      // Landed: its fetch is being held by the tarpit, or it was answered.
      await Promise.race([answer, tarpit.arrival(path)]);
      landed();
      statuses.push((await answer).status);
      // A short breath between refusals, so the attack does not only measure the CPU.
      if (!state.stopped) await pause(20);
    }
  };
  const landed: Promise<void>[] = [];
  const workers: Promise<void>[] = [];
  for (let index = 0; index < ATTACKER_HOSTS.length * WORKERS_PER_HOST; index++) {
    let signal!: () => void;
    landed.push(new Promise<void>(resolve => (signal = resolve)));
    workers.push(worker(index, signal));
  }
  return {
    /** Resolves once every worker's first request holds a fetch or was refused. */
    underWay: Promise.all(landed).then(() => undefined),
    statuses,
    async stop() {
      state.stopped = true;
      await tarpit.close();
      await Promise.all(workers);
    },
  };
}

/** A sign-in by a client whose document is not cached, and a token request by another. */
async function victimRound(backend: AuthBackend, documents: MetadataDocumentServer, round: number) {
  const flow = new CodeFlow(backend, { clientId: documents.url(`/victim-${round}.json`), redirectUri: LOOPBACK });
  const { res, verifier } = await flow.authorize({ scope: 'openid' });
  const outcome: Record<string, unknown> = { authorize: res.status, error: res.body?.error };
  if (res.status === 302 && /\/oauth2\/authorize\//.test(res.headers.location)) {
    const callback = await approveAsGuest(backend, CodeFlow.sessionIdOf(res.headers.location));
    const tokens = await flow.redeem(callback.searchParams.get('code')!, verifier);
    outcome.token = tokens.status;
  }
  // The token endpoint fetches an uncached document too: a made-up code must
  // reach the grant (invalid_grant), not stop at the fetch.
  const stranger = new CodeFlow(backend, { clientId: documents.url(`/stranger-${round}.json`), redirectUri: LOOPBACK });
  const made = await stranger.redeem('made-up-code', pkcePair().verifier);
  outcome.strangerToken = made.body.error;
  return outcome;
}

describe.each(databases.eachSupportedId())('slow metadata-document hosts on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let documents: MetadataDocumentServer;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    const victimDocument = { client_name: 'Victim tool', redirect_uris: [LOOPBACK] };
    const paths: Record<string, Record<string, unknown>> = {};
    for (let round = 0; round < VICTIM_ROUNDS; round++) {
      paths[`/victim-${round}.json`] = victimDocument;
      paths[`/stranger-${round}.json`] = victimDocument;
    }
    documents = await startMetadataDocumentServer(paths);
    backend = await startAuthBackend({
      knex,
      entities: [guestUser()],
      // The attacker gets every request it asks for: only the fetch slots stand in its way.
      config: withGenerousRateLimits({
        auth: {
          clientIdMetadataDocuments: {
            enabled: true,
            // Like `https://*.example.com/**`: any host the pattern allows may be hostile.
            allowedClientIdPatterns: ['http://127.0.0.*:*/**'],
            allowedRedirectUriPatterns: [LOOPBACK],
          },
          oidcProvider: { dangerouslyAllowInsecureClientIdMetadataDocuments: true },
        },
      }),
    });
  });
  afterAll(async () => {
    await backend?.stop();
    await documents?.close();
  });

  it('lets a client whose document is not cached sign in while slow hosts hold every fetch they can', async () => {
    const tarpit = await startTarpitServers(ATTACKER_HOSTS);
    const attacker = attack(backend, tarpit);
    const outcomes = [];
    try {
      await attacker.underWay;
      for (let round = 0; round < VICTIM_ROUNDS; round++) {
        outcomes.push(await victimRound(backend, documents, round));
      }
    } finally {
      await attacker.stop();
    }

    expect(outcomes).toEqual(
      Array.from({ length: VICTIM_ROUNDS }, () => ({
        authorize: 302,
        error: undefined,
        token: 200,
        strangerToken: 'invalid_grant',
      })),
    );
    // The attack was real: the tarpit held fetches, and no attacker got a session.
    expect(tarpit.arrived).toBeGreaterThanOrEqual(20);
    expect(attacker.statuses).not.toContain(302);
    expect(await knex('oidc_clients').where('client_id', 'like', 'http%')).toEqual([]);
  });
});
