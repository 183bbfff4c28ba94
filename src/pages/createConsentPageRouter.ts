import type { AuthService } from '@backstage/backend-plugin-api';
import type { Response } from 'express';
import express from 'express';
import Router from 'express-promise-router';
import { describeClient } from '../oauth/clients/describeClient';
import type { OAuthContext } from '../oauth/context';
import { displayText, displayUri } from '../oauth/displayText';
import { clientVouching } from './clientVouching';
import type { AuthorizationRequest } from '../oauth/authorizationRequests';
import type { UnmetRequirement } from '../oauth/checks/findUnmetRequirement';
import { checkSignInForRequest, type SignInVerdict } from '../oauth/endpoints/checkSignInForRequest';
import { approveRequest, openRequest, rejectRequest } from '../oauth/endpoints/decideRequest';
import { html, page, type Html } from './html';
import { renderErrorPage } from './pageErrors';
import {
  USER_COOKIE,
  checkCsrf,
  cookieOptions,
  csrfToken,
  currentUser,
  rejectForbiddenFormCharacters,
  setPageHeaders,
} from './pageSecurity';
import type { PagesConfig } from './readPagesConfig';
import { renderSignIn } from './signInShell';
import { SCOPE_TEXT } from './scopeText';

/** What the built-in consent page needs. */
export interface ConsentPageDeps {
  ctx: OAuthContext;
  baseUrl: string;
  auth: AuthService;
  pages: PagesConfig;
}

/** The URL the built-in consent page has for a request's handle. */
export function builtinConsentPageUrl(baseUrl: string, handle: string): string {
  return `${baseUrl}/v1/consent/${encodeURIComponent(handle)}`;
}

/**
 * CSP source for where the form's 303 lands: Chromium applies `form-action`
 * to the redirect after a form post, so the client's redirect URI must be
 * allowed (its origin, or its scheme for private-use schemes, RFC 8252 §7.1).
 */
function redirectSource(redirectUri: string): string {
  const url = new URL(redirectUri);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
}

/**
 * `GET /v1/consent/:id`, used instead of the app's `/oauth2/authorize/:id`
 * when `auth.oidcProvider.consentPage` is `builtin`: the signed-in user sees
 * which application asks for what and approves or denies with
 * `POST /v1/consent/:id/decision`, answered by a 303 back to the client.
 */
export function createConsentPageRouter(deps: ConsentPageDeps): express.Router {
  const { ctx, baseUrl, auth } = deps;
  const basePath = new URL(baseUrl).pathname.replace(/\/$/, '');
  const router = Router();

  const send = (res: Response, status: number, title: string, body: Html) =>
    res.status(status).type('html').send(page({ title, nonce: res.locals.cspNonce!, body }));

  /** The request behind a handle while it waits for its decision. */
  async function undecidedRequest(handle: string): Promise<AuthorizationRequest | undefined> {
    const request = await openRequest(ctx, handle);
    return request && !(await ctx.sessions.isDecided(request.id)) ? request : undefined;
  }

  function renderGone(res: Response) {
    renderErrorPage(res, {
      status: 404,
      title: 'This sign-in request is no longer valid',
      message: 'It was already answered or has expired. Go back to the application and start again.',
      back: { href: deps.pages.appBaseUrl, text: 'Return to the portal' },
    });
  }

  const consentPath = (id: string, step?: ReauthenticationStep) =>
    `${basePath}/v1/consent/${encodeURIComponent(id)}${step ? `?reauth=${step}` : ''}`;

  router.get('/v1/consent/:id', async (req, res) => {
    const id = req.params.id;
    const step = readReauthenticationStep(req.query.reauth);
    const user = await currentUser(req, res, { auth, baseUrl });
    const pending = await undecidedRequest(id);
    // After signing in, this page may send the user straight on to the client.
    const formTargets = pending ? [redirectSource(pending.redirectUri)] : [];
    if (!user) {
      // Signing in through the provider's refresh is the first step of a
      // re-authentication, when the request asks for one.
      const requirements = step ? undefined : pending?.requirements;
      const asksLogin = requirements?.promptLogin || requirements?.maxAgeSeconds !== undefined;
      renderSignIn(req, res, {
        baseUrl,
        pages: deps.pages,
        returnTo: consentPath(id, step ?? (asksLogin ? 'refreshed' : undefined)),
        failed: req.query.signin_failed === '1',
        formTargets,
      });
      return;
    }
    if (!pending) {
      renderGone(res);
      return;
    }
    const verdict = await checkSignInForRequest(ctx, pending, user.userEntityRef);
    if (verdict.kind === 'unmet') {
      const next = nextReauthenticationStep(verdict.requirement, step);
      if (next) {
        // The page session holds the sign-in that falls short: sign in again.
        res.clearCookie(USER_COOKIE, cookieOptions(baseUrl));
        renderSignIn(req, res, {
          baseUrl,
          pages: deps.pages,
          returnTo: consentPath(id, next),
          atProvider: next === 'started',
          formTargets,
        });
        return;
      }
      await refuseUnmet(res, pending, user.userEntityRef, verdict);
      return;
    }
    setPageHeaders(res, formTargets);
    const csrf = csrfToken(req, res, baseUrl);
    const client = describeClient(await ctx.clients.findClient(pending.clientId), pending.clientId);
    send(res, 200, 'Authorize application', html`
<h1>Authorize ${client.name}?</h1>
${clientVouching(client)}
<p><strong>${client.label}</strong> wants to sign you in with your portal account.</p>
<dl>
  <dt>Signed in as</dt><dd>${user.userEntityRef}</dd>
  <dt>Access</dt><dd><ul>${pending.scopes.map(s => html`<li>${SCOPE_TEXT[s] ?? s}</li>`)}</ul></dd>
  ${resourceLine(ctx, pending.resource)}
  <dt>Returns to</dt><dd>${displayUri(pending.redirectUri)}</dd>
  <dt>Client ID</dt><dd>${displayText(pending.clientId)}</dd>
</dl>
<p class="muted">Only approve applications you trust and were trying to use just now.</p>
<form method="post" action="${baseUrl}/v1/consent/${encodeURIComponent(id)}/decision">
  <input type="hidden" name="csrf" value="${csrf}">
  <button type="submit" name="decision" value="approve">Approve</button>
  <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`);
  });

  router.post(
    '/v1/consent/:id/decision',
    express.urlencoded({ extended: false, limit: 16 * 1024 }),
    rejectForbiddenFormCharacters,
    checkCsrf,
    async (req, res) => {
      const id = req.params.id;
      const back = `${basePath}/v1/consent/${encodeURIComponent(id)}`;
      const user = await currentUser(req, res, { auth, baseUrl });
      const decision = (req.body as Record<string, unknown>).decision;
      const request = await undecidedRequest(id);
      if (!user || !request || (decision !== 'approve' && decision !== 'deny')) {
        res.redirect(303, back);
        return;
      }
      if (decision === 'approve' && (await checkSignInForRequest(ctx, request, user.userEntityRef)).kind === 'unmet') {
        // The sign-in fell short since the page was shown: the page asks again.
        res.redirect(303, back);
        return;
      }
      // The decision's row decides a race; the loser sees "no longer valid".
      const redirectUrl =
        decision === 'approve'
          ? await approveRequest(ctx, request, user.userEntityRef)
          : await rejectRequest(ctx, request, user.userEntityRef);
      res.redirect(303, redirectUrl ?? back);
    },
  );
  /**
   * Ends a request whose requirements a fresh sign-in still did not meet:
   * a client from config gets the error (OIDC Core §3.1.2.6); a client
   * anyone could create gets no redirect, the user an error page
   * (RFC 9700 §4.11.2).
   */
  async function refuseUnmet(
    res: Response,
    pending: AuthorizationRequest,
    userEntityRef: string,
    verdict: SignInVerdict,
  ): Promise<void> {
    const redirectUrl = await rejectRequest(ctx, pending, userEntityRef, verdict);
    if (!redirectUrl) {
      renderGone(res);
      return;
    }
    if ((await ctx.clients.findClient(pending.clientId))?.kind === 'static') {
      res.redirect(303, redirectUrl);
      return;
    }
    renderErrorPage(res, {
      status: 403,
      title: 'Your sign-in does not meet this request',
      message:
        verdict.kind === 'unmet' && verdict.requirement === 'acr'
          ? 'The application asked for a stronger sign-in than the one you used. Go back to the application and start again.'
          : 'The application asked you to sign in again, and the sign-in did not happen. Go back to the application and start again.',
      back: { href: deps.pages.appBaseUrl, text: 'Return to the portal' },
    });
  }
  return router;
}

/** Names the resource server a request is for (RFC 8707), when it is one outside Backstage. */
function resourceLine(ctx: OAuthContext, resource: string | undefined): Html | undefined {
  if (resource === undefined) return undefined;
  const server = ctx.config.resources.find(r => r.resource === resource);
  return html`<dt>For</dt><dd>${server?.name ?? displayUri(resource)} <span class="muted">(${displayUri(resource)})</span></dd>`;
}

/**
 * Where a re-authentication stands (issue 14): `refreshed` once the
 * provider's refresh signed the user in again (a proxy provider's refresh
 * is a sign-in; an OAuth session refresh is not), `started` once the user
 * went through the provider's sign-in. After that, an unmet request ends.
 */
type ReauthenticationStep = 'refreshed' | 'started';

function readReauthenticationStep(value: unknown): ReauthenticationStep | undefined {
  return value === 'refreshed' || value === 'started' ? value : undefined;
}

function nextReauthenticationStep(
  requirement: UnmetRequirement,
  step: ReauthenticationStep | undefined,
): ReauthenticationStep | undefined {
  if (step === 'started') return undefined;
  // A refresh cannot change how the user authenticated, only when.
  return step === undefined && requirement === 'login' ? 'refreshed' : 'started';
}
