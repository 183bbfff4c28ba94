import type { AuthService } from '@backstage/backend-plugin-api';
import { NotAllowedError } from '@backstage/errors';
import type { Request, Response } from 'express';
import Router from 'express-promise-router';
import express from 'express';
import { decodeJwt } from 'jose';
import { html, page, type Html } from './html';
import type { PagesConfig } from './readPagesConfig';
import {
  OAUTH_CLIENT_TOKEN_MESSAGE,
  USER_COOKIE,
  checkCsrf,
  checkPageToken,
  cookieOptions,
  csrfToken,
  rejectForbiddenFormCharacters,
  safeReturnPath,
  setPageHeaders,
  type PageToken,
} from './pageSecurity';

/**
 * Gets the user's Backstage token the way the portal frontend does: the
 * sign-in provider's refresh endpoint (with X-Requested-With, which a
 * cross-site form cannot send); when that fails the provider's start
 * endpoint with `flow=redirect` brings the user back here afterwards.
 */
const SCRIPT = `
(function(){
  var el=document.getElementById('signin');
  var form=document.getElementById('session');
  function toStart(){
    // Back from the provider and still no session: say so instead of looping.
    if(el.dataset.redirected==='1'){ document.getElementById('status').textContent='Sign-in did not complete. Use the link below to try again.'; return; }
    if(el.dataset.start){ location.assign(el.dataset.start); }
  }
  if(el.dataset.failed==='1'){ return; }
  if(el.dataset.atProvider==='1'){ toStart(); return; }
  fetch(el.dataset.refresh,{credentials:'include',headers:{'X-Requested-With':'XMLHttpRequest'}})
    .then(function(r){ if(!r.ok){ throw new Error(String(r.status)); } return r.json(); })
    .then(function(b){
      var t=b&&b.backstageIdentity&&b.backstageIdentity.token;
      if(!t){ throw new Error('no token'); }
      form.elements.token.value=t; form.submit();
    })
    .catch(toStart);
})();
`;

/**
 * Renders the "signing you in" page that leads back to `returnTo`. A page
 * may add `extra`: its own script, run first, and markup for it, e.g. to
 * keep state the round trip through the provider would lose.
 */
export function renderSignIn(
  req: Request,
  res: Response,
  options: {
    baseUrl: string;
    pages: PagesConfig;
    returnTo: string;
    failed?: boolean;
    /** Go to the provider's sign-in without trying its refresh (a re-authentication, issue 14). */
    atProvider?: boolean;
    /**
     * Where the sign-in form's redirects may end (see setPageHeaders): the
     * page it returns to may send the user on to a client.
     */
    formTargets?: string[];
    extra?: { script: string; body?: Html };
  },
): void {
  const redirected = req.query.signin_redirected === '1';
  const { baseUrl, pages, returnTo } = options;
  const nonce = setPageHeaders(res, options.formTargets);
  const csrf = csrfToken(req, res, baseUrl);
  const provider = pages.signInProvider;
  const env = encodeURIComponent(pages.environment);
  const origin = new URL(baseUrl).origin;
  const refresh = provider ? `${baseUrl}/${provider}/refresh?optional&env=${env}` : '';
  const back = `${origin}${returnTo}${returnTo.includes('?') ? '&' : '?'}signin_redirected=1`;
  const start = provider
    ? `${baseUrl}/${provider}/start?scope=&env=${env}&flow=redirect&redirectUrl=${encodeURIComponent(back)}`
    : '';
  const body = html`
<h1>Sign in to continue</h1>
<div id="signin" data-refresh="${refresh}" data-start="${start}" data-failed="${options.failed ? '1' : '0'}" data-redirected="${redirected ? '1' : '0'}" data-at-provider="${options.atProvider ? '1' : '0'}">
  ${
    options.failed
      ? html`<p class="error">Your sign-in could not be verified. Try signing in again.</p>`
      : html`<p id="status">Checking who you are…</p>`
  }
  ${start ? html`<p><a href="${start}">Sign in</a></p>` : html`<p class="error">No sign-in provider is configured.</p>`}
</div>
<form id="session" method="post" action="${baseUrl}/v1/page-session">
  <input type="hidden" name="csrf" value="${csrf}">
  <input type="hidden" name="token" value="">
  <input type="hidden" name="return_to" value="${returnTo}">
</form>
${options.extra?.body}`;
  const script = `${options.extra?.script ?? ''}${SCRIPT}`;
  res.status(200).type('html').send(page({ title: 'Sign in', nonce, body, script }));
}

/**
 * `POST /v1/page-session`: keeps the Backstage token from the page script in
 * an HttpOnly cookie for the pages, once the framework has verified it and
 * it has turned out to come from a portal sign-in (see checkPageToken).
 */
export function createPageSessionRouter(options: {
  baseUrl: string;
  auth: AuthService;
  fallbackPath: string;
}) {
  const { baseUrl, auth, fallbackPath } = options;
  const router = Router();
  router.post(
    '/v1/page-session',
    express.urlencoded({ extended: false, limit: 64 * 1024 }),
    rejectForbiddenFormCharacters,
    checkCsrf,
    async (req, res) => {
      const body = req.body as Record<string, unknown>;
      const returnTo = safeReturnPath(baseUrl, body.return_to, fallbackPath);
      const token = typeof body.token === 'string' ? body.token : '';
      const checked: PageToken = token ? await checkPageToken(token, auth) : { kind: 'invalid' };
      if (checked.kind === 'oauth-client') throw new NotAllowedError(OAUTH_CLIENT_TOKEN_MESSAGE);
      const exp = checked.kind === 'user' ? decodeJwt(token).exp : undefined;
      const maxAgeMs = exp ? exp * 1000 - Date.now() : 0;
      if (checked.kind !== 'user' || maxAgeMs <= 0) {
        const sep = returnTo.includes('?') ? '&' : '?';
        res.redirect(303, `${returnTo}${sep}signin_failed=1`);
        return;
      }
      res.cookie(USER_COOKIE, token, cookieOptions(baseUrl, Math.min(maxAgeMs, 3600_000)));
      res.redirect(303, returnTo);
    },
  );
  return router;
}
