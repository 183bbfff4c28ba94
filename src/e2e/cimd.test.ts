import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import request from 'supertest';
import { createTestDatabases } from '../testUtils/databases';
import { pkcePair } from './fixtures/pkcePair';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(60_000);

const databases = createTestDatabases();
const REDIRECT_URI = 'http://127.0.0.1:6000/callback';

/**
 * A loopback server publishing client-ID metadata documents, good and bad.
 * `/good/*` documents name their own URL as client_id.
 */
async function startDocumentServer() {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    const self = `http://${req.headers.host}${req.url}`;
    const doc = (body: unknown, type = 'application/json') => {
      res.writeHead(200, { 'Content-Type': type });
      res.end(JSON.stringify(body));
    };
    const valid = {
      client_id: self,
      client_name: 'Loopback tool',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
    };
    const path = req.url ?? '';
    if (path.startsWith('/good/')) return doc(valid);
    if (path === '/redirect.json') {
      res.writeHead(302, { Location: '/good/target.json' });
      return res.end();
    }
    if (path === '/big.json') return doc({ ...valid, padding: 'x'.repeat(6 * 1024) });
    if (path === '/chunked-big.json') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      for (let i = 0; i < 8; i++) res.write(' '.repeat(1024));
      return res.end(JSON.stringify(valid));
    }
    if (path === '/mismatch.json') return doc({ ...valid, client_id: 'http://127.0.0.1/other.json' });
    if (path === '/secret.json') return doc({ ...valid, client_secret: 'shh' });
    if (path === '/basic-auth.json') return doc({ ...valid, token_endpoint_auth_method: 'client_secret_basic' });
    if (path === '/evil-redirect.json') return doc({ ...valid, redirect_uris: ['https://evil.test/cb'] });
    if (path === '/html.json') return doc(valid, 'text/html');
    if (path === '/not-json.json') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end('{not json');
    }
    res.writeHead(404);
    return res.end();
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    port,
    hits,
    close: () => new Promise<void>(resolve => server.close(() => resolve())),
  };
}

function authorize(backend: AuthBackend, clientId: string, redirectUri = REDIRECT_URI) {
  return request(backend.server).get('/api/auth/v1/authorize').query({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: 'openid',
    state: 'st',
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
  });
}

describe.each(databases.eachSupportedId())('client-ID metadata documents on %s', databaseId => {
  let knex: Knex;
  let documents: Awaited<ReturnType<typeof startDocumentServer>>;

  beforeAll(async () => {
    knex = await databases.init(databaseId);
    documents = await startDocumentServer();
  });
  afterAll(() => documents?.close());

  describe('with the dev/test setting that allows loopback http documents', () => {
    let backend: AuthBackend;
    beforeAll(async () => {
      backend = await startAuthBackend({
        knex,
        config: {
          auth: {
            clientIdMetadataDocuments: {
              enabled: true,
              allowedClientIdPatterns: ['http://127.0.0.1:*/**'],
              allowedRedirectUriPatterns: ['http://127.0.0.1:*/callback'],
            },
            oidcProvider: { dangerouslyAllowInsecureClientIdMetadataDocuments: true },
          },
        },
      });
    });
    afterAll(() => backend?.stop());

    it('fetches a valid document and starts the authorization', async () => {
      const clientId = documents.url('/good/tool.json');
      const res = await authorize(backend, clientId);
      expect(res.status).toBe(302);
      expect(res.headers.location).toMatch(/^http:\/\/localhost:3000\/oauth2\/authorize\//);
      // The document is the client's only record: nothing is stored for it.
      expect(await knex('oidc_clients').where({ client_id: clientId }).first()).toBeUndefined();

      const session = await request(backend.server).get(
        `/api/auth/v1/sessions/${encodeURIComponent(res.headers.location.split('/').pop()!)}`,
      );
      // A name the document chose is shown with the host that served it.
      expect(session.body.clientName).toBe(`Loopback tool (127.0.0.1:${documents.port})`);
      expect(session.body.clientHost).toBe(`127.0.0.1:${documents.port}`);
    });

    it('fetches a document once while it is cached', async () => {
      const clientId = documents.url('/good/cached.json');
      await authorize(backend, clientId);
      await authorize(backend, clientId);
      expect(documents.hits.filter(h => h === '/good/cached.json')).toHaveLength(1);
    });

    it.each([
      ['a redirect', '/redirect.json'],
      ['a document over 5 kB', '/big.json'],
      ['a streamed document over 5 kB', '/chunked-big.json'],
      ['a client_id that is not the document URL', '/mismatch.json'],
      ['a document with a client_secret', '/secret.json'],
      ['a document asking for secret authentication', '/basic-auth.json'],
      ['a redirect URI outside allowedRedirectUriPatterns', '/evil-redirect.json'],
      ['a document that is not application/json', '/html.json'],
      ['a document that is not JSON', '/not-json.json'],
      ['a missing document', '/missing.json'],
    ])('refuses %s as an unknown client, without redirecting', async (_name, path) => {
      const clientId = documents.url(path);
      const res = await authorize(backend, clientId);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_client');
      expect(res.headers.location).toBeUndefined();
      expect(await knex('oidc_clients').where({ client_id: clientId })).toHaveLength(0);
    });

    it('refuses a client_id outside allowedClientIdPatterns without fetching it', async () => {
      const clientId = `http://localhost:${documents.port}/good/elsewhere.json`;
      const res = await authorize(backend, clientId);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_client');
      expect(documents.hits).not.toContain('/good/elsewhere.json');
    });

    it('refuses a redirect URI that the document does not list', async () => {
      const res = await authorize(
        backend,
        documents.url('/good/other-redirect.json'),
        'http://127.0.0.1:6000/elsewhere',
      );
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
    });
  });

  describe('with the secure defaults (https, public addresses only)', () => {
    let backend: AuthBackend;
    beforeAll(async () => {
      backend = await startAuthBackend({
        knex,
        config: { auth: { clientIdMetadataDocuments: { enabled: true } } },
      });
    });
    afterAll(() => backend?.stop());

    it.each([
      ['an http URL', (port: number) => `http://127.0.0.1:${port}/good/plain.json`],
      ['a loopback IP', (port: number) => `https://127.0.0.1:${port}/good/a.json`],
      ['a name resolving to loopback', (port: number) => `https://localhost:${port}/good/b.json`],
      ['an IPv6 loopback', (port: number) => `https://[::1]:${port}/good/c.json`],
      ['a private address', () => 'https://10.1.2.3/client.json'],
      ['a link-local metadata address', () => 'https://169.254.169.254/latest/client.json'],
      ['an IPv4-mapped loopback', (port: number) => `https://[::ffff:127.0.0.1]:${port}/good/d.json`],
      ['a URL without a path', () => 'https://example.com/'],
      ['a URL with dot segments', () => 'https://example.com/a/../client.json'],
      ['a URL with credentials', () => 'https://user:pw@example.com/client.json'],
    ])('refuses %s (SSRF) without fetching it', async (_name, makeUrl) => {
      const before = documents.hits.length;
      const res = await authorize(backend, makeUrl(documents.port));
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_client');
      expect(documents.hits.length).toBe(before);
    });

    it('serves the Backstage CLI document and resolves it without fetching', async () => {
      const doc = await request(backend.server).get('/api/auth/.well-known/oauth-client/cli.json');
      expect(doc.status).toBe(200);
      expect(doc.body).toEqual({
        client_id: `${backend.issuer}/.well-known/oauth-client/cli.json`,
        client_name: 'Backstage CLI',
        redirect_uris: ['http://127.0.0.1:8055/callback'],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      });
      // The issuer is http on localhost: a fetch would be refused, so a 302 proves it is local.
      const res = await authorize(backend, doc.body.client_id, 'http://127.0.0.1:8055/callback');
      expect(res.status).toBe(302);
      expect(res.headers.location).toMatch(/\/oauth2\/authorize\//);
    });
  });

  describe('when switched off', () => {
    let backend: AuthBackend;
    beforeAll(async () => {
      backend = await startAuthBackend({ knex });
    });
    afterAll(() => backend?.stop());

    it('treats a URL client_id as unknown and never fetches it', async () => {
      const before = documents.hits.length;
      const res = await authorize(backend, documents.url('/good/off.json'));
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_client');
      expect(documents.hits.length).toBe(before);
    });
  });
});
