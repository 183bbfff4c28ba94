import { mockServices } from '@backstage/backend-test-utils';
import cookieParser from 'cookie-parser';
import express from 'express';
import Router from 'express-promise-router';
import request from 'supertest';
import { tamperedPayload } from '../e2e/fixtures/limitedTokenFrom';
import { OAUTH_CLIENT_ID_CLAIM } from '../oauth/oauthClientTokens';
import { signedUserTokens } from '../testUtils/signedUserTokens';
import { pageErrorHandler } from './pageErrors';
import { checkPageToken, currentUser, OAUTH_CLIENT_TOKEN_MESSAGE, safeReturnPath } from './pageSecurity';
import { createPageSessionRouter } from './signInShell';

const BASE = 'http://localhost:7007/api/auth';
const CSRF = 'c'.repeat(43);
const RETURN_TO = '/api/auth/v1/device';

function pagesApp(auth: ReturnType<typeof signedUserTokens>['auth']) {
  const app = express();
  app.use(cookieParser());
  app.use(createPageSessionRouter({ baseUrl: BASE, auth, fallbackPath: RETURN_TO }));
  const router = Router();
  app.use(router);
  router.get('/v1/whoami', async (req, res) => {
    res.json((await currentUser(req, res, { auth, baseUrl: BASE })) ?? null);
  });
  app.use(
    pageErrorHandler({
      logger: mockServices.logger.mock(),
      backLink: req => ({ href: safeReturnPath(BASE, req.body?.return_to, RETURN_TO), text: 'Try signing in again' }),
    }),
  );
  return app;
}

const openSession = (app: express.Express, token: string) =>
  request(app)
    .post('/v1/page-session')
    .set('Cookie', [`oidc-pages-csrf=${CSRF}`])
    .type('form')
    .send({ csrf: CSRF, token, return_to: RETURN_TO });

describe('checkPageToken', () => {
  it('accepts a portal sign-in and refuses a token minted for an OAuth client', async () => {
    const tokens = signedUserTokens();
    const signIn = await tokens.issue('user:default/alice');
    expect(await checkPageToken(signIn, tokens.auth)).toEqual({ kind: 'user', userEntityRef: 'user:default/alice' });
    const forClient = await tokens.issue('user:default/alice', { [OAUTH_CLIENT_ID_CLAIM]: 'mcp-client', scope: 'openid' });
    expect(await checkPageToken(forClient, tokens.auth)).toEqual({ kind: 'oauth-client', clientId: 'mcp-client' });
  });

  it('reads the claim only from a token whose signature holds', async () => {
    const tokens = signedUserTokens();
    const forClient = await tokens.issue('user:default/alice', { [OAUTH_CLIENT_ID_CLAIM]: 'mcp-client' });
    // Dropping the claim breaks the signature: the token is no sign-in either.
    const stripped = tamperedPayload(forClient, ({ client_id: _dropped, ...rest }) => rest);
    expect(await checkPageToken(stripped, tokens.auth)).toEqual({ kind: 'invalid' });
    const other = signedUserTokens();
    expect(await checkPageToken(await other.issue('user:default/alice'), tokens.auth)).toEqual({ kind: 'invalid' });
  });
});

describe('POST /v1/page-session', () => {
  it('keeps a portal sign-in token in the pages cookie', async () => {
    const tokens = signedUserTokens();
    const res = await openSession(pagesApp(tokens.auth), await tokens.issue('user:default/alice'));
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(RETURN_TO);
    expect(String(res.headers['set-cookie'])).toContain('oidc-pages-user=');
  });

  it('refuses a token issued to an OAuth client with an HTML 403 page, keeping nothing', async () => {
    const tokens = signedUserTokens();
    const forClient = await tokens.issue('user:default/alice', { [OAUTH_CLIENT_ID_CLAIM]: 'mcp-client' });
    const res = await openSession(pagesApp(tokens.auth), forClient);
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('This token was issued to an application and cannot be used to sign in here');
    expect(res.text).toContain(`href="${RETURN_TO}"`);
    expect(String(res.headers['set-cookie'] ?? '')).not.toContain('oidc-pages-user=');
  });
});

describe('currentUser', () => {
  it('refuses a pages cookie holding a token issued to an OAuth client, and clears it', async () => {
    const tokens = signedUserTokens();
    const app = pagesApp(tokens.auth);
    const signIn = await tokens.issue('user:default/alice');
    const ok = await request(app).get('/v1/whoami').set('Cookie', [`oidc-pages-user=${signIn}`]);
    expect(ok.body).toEqual({ userEntityRef: 'user:default/alice' });

    const forClient = await tokens.issue('user:default/alice', { [OAUTH_CLIENT_ID_CLAIM]: 'mcp-client' });
    const res = await request(app).get('/v1/whoami').set('Cookie', [`oidc-pages-user=${forClient}`]);
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain(OAUTH_CLIENT_TOKEN_MESSAGE.split('.')[0]);
    expect(String(res.headers['set-cookie'])).toMatch(/oidc-pages-user=;.*Expires=Thu, 01 Jan 1970/);
  });
});
