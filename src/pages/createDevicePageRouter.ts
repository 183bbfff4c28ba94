import type { AuthService } from '@backstage/backend-plugin-api';
import { InputError } from '@backstage/errors';
import type { Request, Response } from 'express';
import express from 'express';
import Router from 'express-promise-router';
import type { DeviceCodeRecord, DeviceCodeStore } from '../oauth/DeviceCodeStore';
import { hmacUserCode } from '../oauth/crypto/hmacUserCode';
import { formatUserCode, normalizeUserCode } from '../oauth/crypto/userCode';
import type { RateLimit } from '../config/readOidcProviderConfig';
import { describeClient } from '../oauth/clients/describeClient';
import { displayHeaderText, displayText } from '../oauth/displayText';
import type { ClientResolver, Clock, SecurityAuditor } from '../oauth/model';
import { clientNameWithVouching, clientVouching } from './clientVouching';
import type { LimitStore } from '../oauth/http/LimitStore';
import { DEVICE_CODE_SCRIPT } from './deviceCodeScript';
import { html, sendPage, type Html } from './html';
import { renderErrorPage } from './pageErrors';
import { checkCsrf, csrfToken, currentUser, rejectForbiddenFormCharacters, setPageHeaders } from './pageSecurity';
import type { PagesConfig } from './readPagesConfig';
import { renderSignIn } from './signInShell';
import { requestAddressKey } from '../oauth/http/rateLimit';
import { SCOPE_TEXT } from './scopeText';

/** What the device verification page needs. */
export interface DevicePageDeps {
  baseUrl: string;
  auth: AuthService;
  clock: Clock;
  audit: SecurityAuditor;
  clients: ClientResolver;
  deviceCodes: DeviceCodeStore;
  /** Where wrong codes count (per instance, or shared by every instance). */
  limits: LimitStore;
  pages: PagesConfig;
  /**
   * `auth.oidcProvider.rateLimits.verification`: wrong code entries allowed
   * per signed-in user in the window; an address gets
   * {@link ADDRESS_BUDGET_FACTOR} times as many. Nothing else is counted.
   */
  wrongCodeLimit: RateLimit;
}

/**
 * A person must be signed in to try a code, so the user's budget is what
 * makes guessing slow (RFC 8628 §5.1). The address budget only stops one
 * person with many accounts; it is larger because an office behind one
 * address shares it, and one colleague's typos must not lock out the rest.
 */
export const ADDRESS_BUDGET_FACTOR = 10;

const formParser = express.urlencoded({ extended: false, limit: 64 * 1024 });

/** The form's buttons and the decision they record. */
const DECISIONS: Readonly<Record<string, 'approved' | 'denied'>> = { approve: 'approved', deny: 'denied' };

/** What the user sees after deciding (or finding the request gone). */
const DONE_PAGES: Readonly<Record<string, Html>> = {
  approved: html`<h1>Device connected</h1><p class="ok">You approved the request. Return to your device; it will finish signing in by itself.</p>`,
  denied: html`<h1>Request denied</h1><p class="ok">The device was not given access. You can close this page.</p>`,
  expired: html`<h1>Request expired</h1><p class="error">This request was already decided or has expired. Start again on your device.</p>`,
};

/**
 * The RFC 8628 §3.3 verification page at `GET /v1/device`: sign in, enter or
 * confirm the user code (`POST /v1/device`, so the code is never in a URL),
 * review the request, approve or deny (`POST /v1/device/decision`, answered
 * with 303 to `/v1/device/done`).
 */
export function createDevicePageRouter(deps: DevicePageDeps): express.Router {
  const { baseUrl, auth, clock, deviceCodes } = deps;
  const basePath = new URL(baseUrl).pathname.replace(/\/$/, '');
  const { requests, windowSeconds } = deps.wrongCodeLimit;
  const byUser = deps.limits.failureCount('verification:user', { maxFailures: requests, windowSeconds });
  const byAddress = deps.limits.failureCount('verification:address', {
    maxFailures: requests * ADDRESS_BUDGET_FACTOR,
    windowSeconds,
  });
  const router = Router();

  /**
   * Looks a typed code up. Only a code that matches no request counts toward
   * the limits: a code that did match one, since decided or expired, is not
   * a guess, just late.
   */
  async function lookUp(
    req: Request,
    userEntityRef: string,
    typed: string,
  ): Promise<
    | { kind: 'found'; record: DeviceCodeRecord; userCode: string }
    | { kind: 'limited'; retryAfterSeconds: number }
    | { kind: 'wrong' }
    | { kind: 'gone' }
  > {
    // Charged before the lookup and refunded if the code matched a request,
    // so concurrent guesses cannot all pass the check before any is counted.
    const userKey = `user:${userEntityRef}`;
    const addressKey = `ip:${requestAddressKey(req)}`;
    const user = await byUser.charge(userKey);
    if (!user.allowed) return { kind: 'limited', retryAfterSeconds: user.retryAfterSeconds };
    const address = await byAddress.charge(addressKey);
    if (!address.allowed) {
      await user.refund();
      return { kind: 'limited', retryAfterSeconds: address.retryAfterSeconds };
    }
    const refund = () => Promise.all([user.refund(), address.refund()]);
    const userCode = normalizeUserCode(typed);
    let record: DeviceCodeRecord | undefined;
    try {
      if (userCode) {
        const hashes = (await deviceCodes.userCodeKeys()).map(key => hmacUserCode(userCode, key));
        record = await deviceCodes.findByUserCodeHashes(hashes);
      }
    } catch (error) {
      // Not the user's failure (the database is away, say): it costs them nothing.
      await refund();
      throw error;
    }
    if (!record || !userCode) {
      // Audited once per key and window, so guessing cannot flood the audit log.
      for (const [scope, reached] of [
        ['user', user.reachedLimit],
        ['address', address.reachedLimit],
      ] as const) {
        if (reached) {
          deps.audit({ eventId: 'rate-limited', userEntityRef, meta: { endpoint: 'verification', scope, reason: 'wrong user codes' } });
        }
      }
      return { kind: 'wrong' };
    }
    await refund();
    if (record.status !== 'pending' || record.expiresAt <= clock()) return { kind: 'gone' };
    return { kind: 'found', record, userCode };
  }

  function renderEntry(req: Request, res: Response, status: number, typed: string, message?: Html) {
    setPageHeaders(res);
    const csrf = csrfToken(req, res, baseUrl);
    sendPage(res, {
      status,
      title: 'Connect a device',
      script: DEVICE_CODE_SCRIPT,
      body: html`
<h1>Connect a device</h1>
${message}
<p>Enter the code shown on your device.</p>
<form method="post" action="${baseUrl}/v1/device">
  <input type="hidden" name="csrf" value="${csrf}">
  <p><input type="text" id="user-code-input" name="user_code" value="${typed}" placeholder="XXXX-XXXX"
    autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="20" autofocus required></p>
  <p><button type="submit">Continue</button></p>
</form>`,
    });
  }

  function renderLimited(res: Response, retryAfterSeconds: number) {
    renderErrorPage(res, {
      status: 429,
      title: 'Too many attempts',
      message: `Too many wrong codes were entered. Wait ${Math.ceil(retryAfterSeconds / 60)} minute(s) and try again.`,
      back: { href: `${basePath}/v1/device`, text: 'Back to “Connect a device”' },
      retryAfterSeconds,
    });
  }

  async function renderConfirm(req: Request, res: Response, record: DeviceCodeRecord, userCode: string, userEntityRef: string) {
    setPageHeaders(res);
    const csrf = csrfToken(req, res, baseUrl);
    const client = describeClient(await deps.clients.findClient(record.clientId), record.clientId);
    sendPage(res, {
      status: 200,
      title: 'Approve device',
      body: html`
<h1>Connect ${client.name}?</h1>
${clientVouching(client)}
<p class="code" id="user-code">${formatUserCode(userCode)}</p>
<div class="warning"><strong>Only approve if you started this on a device you hold</strong> and the code above
matches the one it shows. Someone who sends you a code is trying to get into your account.</div>
<dl>
  <dt>Application</dt><dd>${clientNameWithVouching(client)} <span class="muted">(${displayText(record.clientId)})</span></dd>
  <dt>Signed in as</dt><dd>${userEntityRef}</dd>
  <dt>Access</dt><dd>${record.scopes.length ? html`<ul>${record.scopes.map(s => html`<li>${SCOPE_TEXT[s] ?? s}</li>`)}</ul>` : 'Basic sign-in'}</dd>
  <dt>Requested from</dt><dd>${record.requestIp ?? 'unknown address'}</dd>
  <dt>Device software</dt><dd>${displayHeaderText(record.requestUserAgent ?? '') || 'unknown'}</dd>
  <dt>Requested at</dt><dd>${record.createdAt.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}</dd>
</dl>
<form method="post" action="${baseUrl}/v1/device/decision">
  <input type="hidden" name="csrf" value="${csrf}">
  <input type="hidden" name="request" value="${record.deviceCodeHash}">
  <button type="submit" name="decision" value="approve">Approve</button>
  <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`,
    });
  }

  function renderSignInFor(req: Request, res: Response, typed = '') {
    renderSignIn(req, res, {
      baseUrl,
      pages: deps.pages,
      returnTo: `${basePath}/v1/device`,
      failed: req.query.signin_failed === '1',
      extra: {
        script: DEVICE_CODE_SCRIPT,
        body: typed ? html`<span id="typed-user-code" data-user-code="${typed}" hidden></span>` : undefined,
      },
    });
  }

  router.get('/v1/device', async (req, res) => {
    if (typeof req.query.user_code === 'string') {
      // An old verification_uri_complete (`?user_code=`): move the code into
      // the fragment, so no later request (or log line) carries it.
      const fragment = encodeURIComponent(req.query.user_code.slice(0, 64));
      res.redirect(303, `${basePath}/v1/device#user_code=${fragment}`);
      return;
    }
    const user = await currentUser(req, res, { auth, baseUrl });
    if (!user) {
      renderSignInFor(req, res);
      return;
    }
    renderEntry(req, res, 200, '');
  });

  router.post('/v1/device', formParser, rejectForbiddenFormCharacters, checkCsrf, async (req, res) => {
    const body = req.body as Record<string, unknown>;
    const typed = typeof body.user_code === 'string' ? body.user_code.slice(0, 64) : '';
    const user = await currentUser(req, res, { auth, baseUrl });
    if (!user) {
      renderSignInFor(req, res, typed);
      return;
    }
    const result = await lookUp(req, user.userEntityRef, typed);
    if (result.kind === 'limited') {
      renderLimited(res, result.retryAfterSeconds);
    } else if (result.kind === 'wrong') {
      renderEntry(req, res, 400, typed, html`<p class="error">That code is not valid. Check it and try again; codes expire after a few minutes.</p>`);
    } else if (result.kind === 'gone') {
      renderEntry(req, res, 400, '', html`<p class="error">That code was already used or has expired. Start again on your device to get a new one.</p>`);
    } else {
      await renderConfirm(req, res, result.record, result.userCode, user.userEntityRef);
    }
  });

  router.post('/v1/device/decision', formParser, rejectForbiddenFormCharacters, checkCsrf, async (req, res) => {
    const body = req.body as Record<string, unknown>;
    const user = await currentUser(req, res, { auth, baseUrl });
    if (!user) {
      res.redirect(303, `${basePath}/v1/device`);
      return;
    }
    const decision =
      typeof body.decision === 'string' && Object.hasOwn(DECISIONS, body.decision)
        ? DECISIONS[body.decision]
        : undefined;
    if (!decision) throw new InputError('The form did not say whether to approve or deny. Go back and choose again.');
    // The form names the request by the hash it is stored under, which only
    // a correct code entry shows: unguessable, so a decision is no way to
    // try codes and is never counted as an attempt.
    const deviceCodeHash = typeof body.request === 'string' && /^[0-9a-f]{64}$/.test(body.request) ? body.request : undefined;
    if (!deviceCodeHash) throw new InputError('The form did not say which request to decide. Go back and enter the code again.');
    const record = await deviceCodes.findByDeviceCodeHash(deviceCodeHash);
    const decided =
      record !== undefined &&
      (await deviceCodes.decide({ deviceCodeHash, decision, userEntityRef: user.userEntityRef, now: clock() }));
    if (decided) {
      deps.audit({
        eventId: decision === 'approved' ? 'device-approved' : 'device-denied',
        clientId: record.clientId,
        userEntityRef: user.userEntityRef,
        meta: { scope: record.scopes.join(' ') },
      });
    }
    res.redirect(303, `${basePath}/v1/device/done?result=${decided ? decision : 'expired'}`);
  });

  router.get('/v1/device/done', async (req, res) => {
    setPageHeaders(res);
    const result = req.query.result;
    const outcome = typeof result === 'string' && Object.hasOwn(DONE_PAGES, result) ? result : 'expired';
    const back = html`<p><a id="back" href="${basePath}/v1/device">Enter another code</a></p>`;
    sendPage(res, { status: 200, title: 'Device', body: html`${DONE_PAGES[outcome]}${outcome === 'expired' ? back : ''}` });
  });

  return router;
}
