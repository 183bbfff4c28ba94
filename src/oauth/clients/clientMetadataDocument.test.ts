import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  checkClientIdUrl,
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

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(301, { Location: '/ok' });
        res.end();
        return;
      }
      if (req.url === '/big') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ pad: 'x'.repeat(6000) }));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
      res.end('{"client_id":"x"}');
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>(resolve => server.close(() => resolve())));

  it('reads a document when insecure targets are allowed', async () => {
    await expect(
      fetchClientMetadataDocument(new URL(`${base}/ok`), { allowInsecure: true }),
    ).resolves.toEqual({ client_id: 'x' });
  });

  it('refuses loopback targets by default, before connecting', async () => {
    await expect(
      fetchClientMetadataDocument(new URL(`${base}/ok`), { allowInsecure: false }),
    ).rejects.toThrow('127.0.0.1 is not a public address');
    await expect(
      fetchClientMetadataDocument(new URL(`${base.replace('127.0.0.1', 'localhost')}/ok`), {
        allowInsecure: false,
      }),
    ).rejects.toThrow('localhost resolves to a non-public address');
  });

  it('does not follow redirects and caps the size', async () => {
    await expect(
      fetchClientMetadataDocument(new URL(`${base}/redirect`), { allowInsecure: true }),
    ).rejects.toThrow('redirects are not followed');
    await expect(
      fetchClientMetadataDocument(new URL(`${base}/big`), { allowInsecure: true }),
    ).rejects.toThrow('larger than 5120 bytes');
  });
});
