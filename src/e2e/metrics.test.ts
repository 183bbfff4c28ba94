import { metrics } from '@opentelemetry/api';
import type { MeterProvider } from '@opentelemetry/sdk-metrics';
import { coreServices, createServiceFactory } from '@backstage/backend-plugin-api';
import { mockServices } from '@backstage/backend-test-utils';
import type { JsonObject } from '@backstage/types';
import type { Knex } from 'knex';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import request from 'supertest';
import { CLI_REDIRECT_URI, cliClientId } from '../oauth/clients/cliClientMetadata';
import { CLEANUP_TASK_ID } from '../service/cleanupTask';
import { createTestDatabases } from '../testUtils/databases';
import { CONFIDENTIAL, PUBLIC, codeFlowConfig } from './fixtures/codeFlowClients';
import { guestUser } from './fixtures/guestUser';
import { recordingAuditor } from './fixtures/recordingAuditor';
import { CodeFlow } from './harness/codeFlow';
import { type MetadataDocumentServer, startMetadataDocumentServer } from './harness/metadataDocumentServer';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(120_000);
const databases = createTestDatabases();

const docs = fs.readFileSync(path.resolve(__dirname, '../../docs/metrics.md'), 'utf8');
const TOOL_REDIRECT_URI = 'http://127.0.0.1:6000/callback';

/** A port nobody listens on now. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise(resolve => server.close(resolve));
  return port;
}

/**
 * Runs the `instrumentation.js` of docs/metrics.md as it is written there,
 * but on a free port instead of 9464.
 */
function runDocumentedInstrumentation(port: number): void {
  const block = /```js\n(\/\/ packages\/backend\/src\/instrumentation\.js\n[\s\S]*?)```/.exec(docs)?.[1];
  if (!block?.includes('port: 9464')) throw new Error('docs/metrics.md has no instrumentation.js on port 9464');
  // eslint-disable-next-line no-new-func
  new Function('require', block.replace('port: 9464', `port: ${port}`))(require);
}

/** A Prometheus text exposition: its samples keyed `name{label="value",…}` with sorted labels, scope labels apart. */
interface Scrape {
  text: string;
  samples: Map<string, number>;
  scopes: Set<string>;
}

async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`scrape failed: ${res.status}`);
  const samples = new Map<string, number>();
  const scopes = new Set<string>();
  const text = await res.text();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: string[] = [];
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      if (key.startsWith('otel_scope_')) scopes.add(`${key}=${value}`);
      else labels.push(`${key}="${value}"`);
    }
    samples.set(`${match[1]}{${labels.sort().join(',')}}`, Number(match[3]));
  }
  return { text, samples, scopes };
}

/** How much each of the plugin's series grew between two scrapes (bucket and sum series left out). */
function increases(before: Scrape, after: Scrape): Record<string, number> {
  const grown: Record<string, number> = {};
  for (const [key, value] of after.samples) {
    if (!key.startsWith('auth_oidc_') || /^\w+_(bucket|sum)\{/.test(key)) continue;
    const delta = value - (before.samples.get(key) ?? 0);
    if (delta !== 0) grown[key] = delta;
  }
  return grown;
}

function metricsConfig(): JsonObject {
  const { auth } = codeFlowConfig() as { auth: JsonObject & { oidcProvider: JsonObject } };
  return {
    auth: {
      ...auth,
      clientIdMetadataDocuments: {
        enabled: true,
        allowedClientIdPatterns: ['http://127.0.0.1:*/**'],
        allowedRedirectUriPatterns: ['http://127.0.0.1:*/callback'],
      },
      oidcProvider: {
        ...auth.oidcProvider,
        dangerouslyAllowInsecureClientIdMetadataDocuments: true,
        // A second registration request is over budget.
        rateLimits: { registration: { requests: 1 } },
      },
    },
  };
}

let scrapeUrl: string;

beforeAll(async () => {
  const port = await freePort();
  runDocumentedInstrumentation(port);
  scrapeUrl = `http://127.0.0.1:${port}/metrics`;
});

afterAll(async () => {
  await (metrics.getMeterProvider() as MeterProvider).shutdown();
  metrics.disable();
});

describe.each(databases.eachSupportedId())('metrics on %s', databaseId => {
  let knex: Knex;
  let backend: AuthBackend;
  let documents: MetadataDocumentServer;
  const scheduler = mockServices.scheduler();
  const auditor = recordingAuditor();

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    documents = await startMetadataDocumentServer({
      '/tool.json': {
        client_name: 'Loopback tool',
        redirect_uris: [TOOL_REDIRECT_URI],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'none',
      },
    });
    // startTestBackend gives the plugin the default backend's metrics
    // service; the cleanup task runs when the test triggers it.
    const schedulerFactory = createServiceFactory({ service: coreServices.scheduler, deps: {}, factory: () => scheduler });
    backend = await startAuthBackend({
      knex,
      entities: [guestUser()],
      config: metricsConfig(),
      features: [schedulerFactory, auditor.factory],
    });
  });

  afterAll(async () => {
    await backend?.stop();
    await documents?.close();
  });

  it('counts a scripted flow exactly, as Prometheus scrapes it', async () => {
    const before = await scrape(scrapeUrl);
    const confidential = new CodeFlow(backend, CONFIDENTIAL);
    const publicClient = new CodeFlow(backend, PUBLIC);
    const cli = new CodeFlow(backend, { clientId: cliClientId(backend.issuer), redirectUri: CLI_REDIRECT_URI });
    const tool = new CodeFlow(backend, { clientId: documents.url('/tool.json'), redirectUri: TOOL_REDIRECT_URI });

    // A confidential client's code flow, then a refresh.
    const tokens = await confidential.tokens();
    expect((await confidential.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! })).status).toBe(200);
    // A code nobody issued.
    const bad = await confidential.redeem('not-a-code-we-issued', 'a'.repeat(43));
    expect(bad.body.error).toBe('invalid_grant');
    // A grant type the server does not know.
    expect((await confidential.token({ grant_type: 'password' })).body.error).toBe('unsupported_grant_type');
    // Refusals the authorization endpoint redirects to the client, and shows a browser.
    const redirected = await confidential.authorize({ response_type: 'token' });
    expect(new URL(redirected.res.headers.location).searchParams.get('error')).toBe('unsupported_response_type');
    const page = await request(backend.server)
      .get('/api/auth/v1/authorize')
      .set('Accept', 'text/html')
      .query({ response_type: 'code', client_id: 'nobody', redirect_uri: TOOL_REDIRECT_URI });
    expect(page.type).toBe('text/html');
    // A user denies a request.
    const { res } = await publicClient.authorize();
    const { token } = await backend.signInAsGuest();
    const denied = await request(backend.server)
      .post(`/api/auth/v1/sessions/${CodeFlow.sessionIdOf(res.headers.location)}/reject`)
      .auth(token, { type: 'bearer' });
    expect(denied.status).toBe(200);
    // The Backstage CLI signs in.
    await cli.tokens();
    // A metadata document fetched, and one that is not there; each once,
    // the second request served from the cache or the memory of the failure.
    const missing = new CodeFlow(backend, { clientId: documents.url('/missing.json'), redirectUri: TOOL_REDIRECT_URI });
    for (let i = 0; i < 2; i++) {
      expect((await tool.authorize()).res.status).toBe(302);
      expect((await missing.authorize()).res.body.error).toBe('invalid_client');
    }
    // Registration is off; the second attempt is over the registration budget.
    const register = () => request(backend.server).post('/api/auth/v1/register').send({ redirect_uris: [TOOL_REDIRECT_URI] });
    expect((await register()).status).toBe(404);
    expect((await register()).status).toBe(429);
    // Two expired browser sessions for the cleanup.
    const expired = new Date(Date.now() - 60_000).toISOString();
    await knex('sessions').insert(['a', 'b'].map(sid => ({ sid: `metrics-${sid}`, sess: '{}', expired })));
    await scheduler.triggerTask(CLEANUP_TASK_ID);

    const after = await scrape(scrapeUrl);
    expect(increases(before, after)).toEqual({
      'auth_oidc_tokens_issued_total{oauth_client_kind="static",oauth_grant_type="authorization_code"}': 1,
      'auth_oidc_tokens_issued_total{oauth_client_kind="static",oauth_grant_type="refresh_token"}': 1,
      'auth_oidc_tokens_issued_total{oauth_client_kind="backstage-cli",oauth_grant_type="authorization_code"}': 1,
      'auth_oidc_token_duration_count{oauth_grant_type="authorization_code"}': 2,
      'auth_oidc_token_duration_count{oauth_grant_type="refresh_token"}': 1,
      'auth_oidc_token_duration_count{error_type="invalid_grant",oauth_grant_type="authorization_code"}': 1,
      'auth_oidc_token_duration_count{error_type="unsupported_grant_type",oauth_grant_type="_OTHER"}': 1,
      'auth_oidc_refusals_total{error_type="invalid_grant",oauth_endpoint="token"}': 1,
      'auth_oidc_refusals_total{error_type="unsupported_grant_type",oauth_endpoint="token"}': 1,
      'auth_oidc_refusals_total{error_type="unsupported_response_type",oauth_endpoint="authorize"}': 1,
      'auth_oidc_refusals_total{error_type="invalid_client",oauth_endpoint="authorize"}': 3,
      'auth_oidc_refusals_total{error_type="invalid_request",oauth_endpoint="register"}': 1,
      'auth_oidc_refusals_total{error_type="too_many_requests",oauth_endpoint="register"}': 1,
      'auth_oidc_rate_limit_hits_total{oauth_rate_limit_name="registration",oauth_rate_limit_scope="address"}': 1,
      'auth_oidc_authorization_requests_total{oauth_client_kind="static"}': 2,
      'auth_oidc_authorization_requests_total{oauth_client_kind="backstage-cli"}': 1,
      'auth_oidc_authorization_requests_total{oauth_client_kind="metadata-document"}': 2,
      'auth_oidc_authorization_decisions_total{oauth_decision="approved"}': 2,
      'auth_oidc_authorization_decisions_total{error_type="access_denied",oauth_decision="denied"}': 1,
      'auth_oidc_client_metadata_fetches_total{}': 1,
      'auth_oidc_client_metadata_fetches_total{error_type="http-status"}': 1,
      'auth_oidc_cleanup_deleted_total{db_collection_name="sessions"}': 2,
    });

    // Every table's cleanup series exists, zeros included.
    for (const table of ['oidc_authorization_codes', 'oauth_authorization_sessions', 'sessions', 'oidc_refresh_tokens', 'oidc_device_codes', 'oidc_grants', 'oidc_clients']) {
      expect(after.samples.has(`auth_oidc_cleanup_deleted_total{db_collection_name="${table}"}`)).toBe(true);
    }
    // The meter's scope, and the histogram's buckets in seconds.
    expect(after.scopes).toEqual(new Set(['otel_scope_name=backstage-plugin-auth']));
    const buckets = [...after.samples.keys()]
      .filter(key => key.startsWith('auth_oidc_token_duration_bucket{') && key.includes('oauth_grant_type="refresh_token"'))
      .map(key => /le="([^"]+)"/.exec(key)![1]);
    expect(buckets).toEqual(['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '+Inf']);
    // The page's example series, as scraped (values aside: they add up over the databases).
    const examples = /```text\n([\s\S]*?)```/.exec(docs)![1].trim().split('\n');
    expect(examples.length).toBeGreaterThan(0);
    for (const example of examples) {
      expect(after.text).toContain(`${example.slice(0, example.lastIndexOf(' '))} `);
    }
    // Audit events are what they were.
    expect(auditor.createEvent.mock.calls.map(([event]) => event.eventId)).toEqual([
      'consent-granted',
      'consent-denied',
      'consent-granted',
      'rate-limited',
    ]);
  });
});
