/*
 * A real OpenID Connect identity provider for the browser tests of issue 14:
 * panva's oidc-provider on loopback, with a plain login page of its own.
 * It runs in its own Node process (oidc-provider is ESM only; the tests run
 * under Jest's CommonJS), started by startIdentityProvider.ts, and prints
 * `{"issuer": "http://127.0.0.1:<port>"}` on its first line once it listens.
 *
 * - One confidential client, `portal` / `portal-secret`, for the portal's
 *   OIDC sign-in provider module. Its redirect URI may be any loopback
 *   `…/api/auth/oidc/handler/frame` (the test backend's port is chosen later).
 * - Every account `<name>` exists, with email `<name>@example.com` (verified).
 * - The login page asks for a name and a method: `pwd` (acr
 *   `urn:test:loa:1`, amr `["pwd"]`) or `otp` (acr `urn:test:loa:2`, amr
 *   `["pwd","otp"]`). ID tokens carry `auth_time`, `acr` and `amr`, also when
 *   refreshed, as most identity providers do.
 * - `GET /_test/logins` lists every interactive login so far:
 *   `[{ accountId, method, authTime }]` (authTime in epoch seconds).
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const METHODS = {
  pwd: { acr: 'urn:test:loa:1', amr: ['pwd'] },
  otp: { acr: 'urn:test:loa:2', amr: ['pwd', 'otp'] },
};
const CALLBACK = /^http:\/\/(localhost|127\.0\.0\.1):\d+\/api\/auth\/oidc\/handler\/frame$/;

/** @type {Array<{ accountId: string, method: string, authTime: number }>} */
const logins = [];
// Listening first: the issuer URL holds the port. Requests are answered once the provider exists.
const server = createServer();
await new Promise(resolve => server.listen(0, '127.0.0.1', () => resolve(undefined)));
const address = server.address();
const issuer = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'portal',
      client_secret: 'portal-secret',
      redirect_uris: ['http://localhost/api/auth/oidc/handler/frame'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      require_auth_time: true,
    },
  ],
  jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'idp-key', use: 'sig', alg: 'RS256' }] },
  cookies: { keys: ['identity-provider-test-key'] },
  claims: {
    // acr, amr and auth_time with the openid scope, as Keycloak, Entra ID and Okta send them.
    openid: ['sub', 'acr', 'amr', 'auth_time'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  acrValues: Object.values(METHODS).map(m => m.acr),
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  pkce: { required: () => false },
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      claims: async () => ({
        sub,
        email: `${sub}@example.com`,
        email_verified: true,
        name: `${sub[0].toUpperCase()}${sub.slice(1)} Doe`,
      }),
    };
  },
  // The portal is first-party: its grant covers what it asks for, no consent screen.
  async loadExistingGrant(ctx) {
    const { oidc } = ctx;
    const grantId = oidc.result?.consent?.grantId || oidc.session?.grantIdFor(oidc.client.clientId);
    const found = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
    if (found) return found;
    const grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
    grant.addOIDCScope('openid email profile offline_access');
    await grant.save();
    return grant;
  },
  // Sessions of the portal's provider module are refreshed (its `refresh` endpoint).
  async issueRefreshToken(_ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
});
// The test backend listens on a port chosen after this process started.
provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(uri) {
  return CALLBACK.test(uri);
};
const oidcCallback = provider.callback();

/** @param {import('node:http').IncomingMessage} req */
async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

/** @param {string} text */
function escapeHtml(text) {
  return text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);
}

server.on('request', async (req, res) => {
  const url = new URL(req.url ?? '/', issuer);
  try {
    if (url.pathname === '/_test/logins') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(logins));
      return;
    }
    const interaction = /^\/interaction\/([\w-]+)(\/login)?$/.exec(url.pathname);
    if (!interaction) {
      oidcCallback(req, res);
      return;
    }
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'POST' && interaction[2]) {
      const form = await readForm(req);
      const accountId = form.get('username') ?? '';
      const method = form.get('method') === 'otp' ? 'otp' : 'pwd';
      const authTime = Math.floor(Date.now() / 1000);
      logins.push({ accountId, method, authTime });
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId, ts: authTime, ...METHODS[method] } },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    const uid = escapeHtml(details.uid);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html>
<html><head><title>Test IdP sign-in</title></head><body>
<h1>Test identity provider</h1>
<form method="post" action="/interaction/${uid}/login">
  <label>Username <input name="username" autocomplete="off"></label>
  <label>Method <select name="method"><option value="pwd">Password</option><option value="otp">Password and one-time code</option></select></label>
  <button type="submit">Sign in</button>
</form></body></html>`);
  } catch (error) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
  }
});

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
