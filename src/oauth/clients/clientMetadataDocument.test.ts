import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOutboundGuard, OutboundRequestError } from '../outbound/createOutboundGuard';
import {
  checkClientIdUrl,
  ClientMetadataDocumentError,
  fetchClientMetadataDocument,
  parseClientMetadataDocument,
  type ClientMetadataDocumentPolicy,
} from './clientMetadataDocument';

const policy: ClientMetadataDocumentPolicy = {
  allowInsecure: false,
  isClientIdAllowed: () => true,
  isRedirectUriAllowed: uri => uri.startsWith('http://127.0.0.1'),
  grantTypes: ['authorization_code', 'refresh_token'],
  scopes: ['openid', 'profile'],
};

describe('checkClientIdUrl', () => {
  it.each([
    ['http://example.com/c.json', 'must use https'],
    ['https://example.com/', 'must have a path'],
    ['https://example.com/a/../c.json', 'normalized'],
    ['https://EXAMPLE.com/c.json', 'normalized'],
    ['https://u:p@example.com/c.json', 'credentials'],
    ['https://example.com/c.json#x', 'fragment'],
    [`https://example.com/${'a'.repeat(260)}`, 'longer than 255'],
  ])('refuses %s', (url, reason) => {
    expect(() => checkClientIdUrl(url, policy)).toThrow(reason);
  });

  it('applies allowedClientIdPatterns', () => {
    expect(() =>
      checkClientIdUrl('https://example.com/c.json', { ...policy, isClientIdAllowed: () => false }),
    ).toThrow('allowedClientIdPatterns');
    expect(checkClientIdUrl('https://example.com/c.json', policy).host).toBe('example.com');
  });
});

describe('parseClientMetadataDocument', () => {
  const id = 'https://tool.example.com/client.json';
  const valid = { client_id: id, redirect_uris: ['http://127.0.0.1:9/callback'] };

  it('builds a public client, keeping only supported grants and scopes', () => {
    const client = parseClientMetadataDocument(
      id,
      { ...valid, grant_types: ['authorization_code', 'implicit'], scope: 'openid admin' },
      policy,
    );
    expect(client).toMatchObject({
      clientId: id,
      clientName: 'tool.example.com',
      kind: 'metadata-document',
      grantTypes: ['authorization_code'],
      scopes: ['openid'],
      tokenEndpointAuthMethod: 'none',
    });
  });

  it('keeps only the redirect URIs that keep the rule and the allow-list', () => {
    const client = parseClientMetadataDocument(
      id,
      {
        ...valid,
        redirect_uris: [
          // eslint-disable-next-line no-script-url -- the hostile entry under test
          'javascript:alert(document.domain)//',
          'http://127.0.0.1:9/callback',
          'http://user@127.0.0.1:9/callback',
        ],
      },
      policy,
    );
    expect(client.redirectUris).toEqual(['http://127.0.0.1:9/callback']);
  });

  it.each([
    [[], 'not a JSON object'],
    [{ ...valid, client_id: 'https://other.example.com/c.json' }, 'does not equal its URL'],
    [{ ...valid, client_secret: 'x' }, 'must not contain a client_secret'],
    [{ ...valid, token_endpoint_auth_method: 'private_key_jwt' }, "must be 'none'"],
    [{ ...valid, redirect_uris: [] }, 'non-empty array'],
    [{ ...valid, redirect_uris: ['https://evil.test/cb'] }, 'allowedRedirectUriPatterns'],
    [{ ...valid, redirect_uris: ['http://127.0.0.1/cb#f'] }, 'must not contain a fragment'],
    // eslint-disable-next-line no-script-url -- the hostile document under test
    [{ ...valid, redirect_uris: ['javascript:alert(document.domain)//'] }, "must not use the 'javascript:' scheme"],
    [{ ...valid, redirect_uris: ['java\tscript:alert(1)'] }, 'control characters'],
    [{ ...valid, redirect_uris: ['data:text/html,<script>alert(1)</script>'] }, "'data:' scheme"],
    [{ ...valid, grant_types: ['client_credentials'] }, 'no grant type'],
  ])('refuses %j', (doc, reason) => {
    expect(() => parseClientMetadataDocument(id, doc, policy)).toThrow(reason);
  });

  // Issue 25 item 7: a third party wrote the document; the client still
  // works, but its name is shown only as far as it is honest.
  it('drops controls, bidi controls and invisible characters from the name', () => {
    const doc = { ...valid, client_name: 'Grafana\u0000\u0008\u001b Dash\u200bboards\u202e' };
    expect(parseClientMetadataDocument(id, doc, policy).clientName).toBe('Grafana Dashboards');
  });

  it('names the client by its host when its name imitates the part the portal adds', () => {
    for (const name of ['Backstage CLI (portal.example.com)', 'Backstage CLI （unverified）', '\u200b\u2066']) {
      const doc = { ...valid, client_name: name };
      expect(parseClientMetadataDocument(id, doc, policy).clientName).toBe('tool.example.com');
    }
  });

  it('says why a redirect URI was refused in words safe for a log', () => {
    const doc = { ...valid, redirect_uris: ['http://127.0.0.1:9/\u202e\u001b[2Jcb'] };
    expect(() => parseClientMetadataDocument(id, doc, policy)).toThrow(
      "no usable redirect URI: 'http://127.0.0.1:9/<U+202E><U+001B>[2Jcb' must not contain spaces or control characters",
    );
  });
});

describe('fetchClientMetadataDocument', () => {
  let server: http.Server;
  let base: string;
  const outbound = createOutboundGuard({ allowInsecure: true, clock: () => new Date() });

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/redirect') return res.writeHead(301, { Location: '/ok' }).end();
      if (req.url === '/missing') return res.writeHead(404).end();
      if (req.url === '/html') return res.writeHead(200, { 'Content-Type': 'text/html' }).end('{}');
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
      return res.end(req.url === '/broken' ? '{"client_id":' : '{"client_id":"x"}');
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>(resolve => server.close(() => resolve())));

  it('reads a JSON document through the outbound guard', async () => {
    const document = await fetchClientMetadataDocument(new URL(`${base}/ok`), outbound);
    expect(document).toEqual({ client_id: 'x' });
  });

  it.each([
    ['/redirect', 'fetching the document failed: the URL redirects; redirects are not followed'],
    ['/missing', 'the document URL answered HTTP 404'],
    ['/html', 'the document is not application/json'],
    ['/broken', 'the document is not valid JSON'],
  ])('refuses %s as a bad document', async (path, reason) => {
    const fetched = fetchClientMetadataDocument(new URL(`${base}${path}`), outbound);
    await expect(fetched).rejects.toThrow(new ClientMetadataDocumentError(reason));
  });

  it('passes on a fetch the guard held back for other hosts, which says nothing about the document', async () => {
    const full = createOutboundGuard({ allowInsecure: true, clock: () => new Date(), slots: { maxPerHost: 0 } });
    const fetched = fetchClientMetadataDocument(new URL(`${base}/ok`), full);
    await expect(fetched).rejects.toBeInstanceOf(OutboundRequestError);
    await expect(fetched).rejects.toMatchObject({ code: 'busy', retryable: true });
  });
});
