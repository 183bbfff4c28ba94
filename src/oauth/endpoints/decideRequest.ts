import type { AuthorizationRequest } from '../authorizationRequests';
import type { OAuthContext } from '../context';
import { randomToken } from '../crypto/randomToken';
import { sha256 } from '../crypto/sha256';
import { appendQuery } from './appendQuery';
import { judgeSignIn, type SignInVerdict } from './checkSignInForRequest';

/**
 * The decision on an authorization request, shared by the consent API and
 * the built-in consent page. A request waits for it in its handle; the
 * decision records it once (the row's key decides a race), bound to the
 * deciding user, and sends the user back to the client with `state` and
 * `iss` (RFC 9207).
 */

/** The request a handle carries, if it is one of ours and has not expired (no database read). */
export async function openRequest(ctx: OAuthContext, handle: string): Promise<AuthorizationRequest | undefined> {
  const request = await ctx.authorizationRequests.open(handle);
  return request && request.expiresAt > ctx.clock() ? request : undefined;
}

/**
 * Approves the request for the user, with its code: the decision, the code
 * and the approving authentication in one step (issue 15). The code leaves
 * only once the user's sign-in met what the request asked (issue 14);
 * otherwise the approval is withdrawn and the client told why. Undefined
 * when the request was decided before.
 */
export async function approveRequest(
  ctx: OAuthContext,
  request: AuthorizationRequest,
  userEntityRef: string,
): Promise<string | undefined> {
  const code = randomToken();
  const now = ctx.clock();
  const codeExpiresAt = new Date(now.getTime() + ctx.config.authorizationCodeLifetimeSeconds * 1000);
  const approved = await ctx.codes.createApproved({
    request,
    userEntityRef,
    codeHash: sha256(code),
    codeExpiresAt,
    now,
    // The code's access token, redeemed at the last moment, lives this long.
    grantExpiresAt: new Date(codeExpiresAt.getTime() + ctx.signer.tokenLifetimeSeconds * 1000),
  });
  if (!approved) return undefined;
  const verdict = judgeSignIn(request.requirements, approved.signIn, ctx.clock());
  if (verdict.kind === 'unmet') {
    await ctx.codes.withdraw(request.id);
    return deniedRedirect(ctx, request, userEntityRef, verdict);
  }
  ctx.metrics.authorizationDecided({ decision: 'approved' });
  ctx.audit({
    eventId: 'consent-granted',
    clientId: request.clientId,
    userEntityRef,
    meta: { sessionId: request.id, scope: request.scopes.join(' ') },
  });
  return appendQuery(request.redirectUri, { code, state: request.state, iss: ctx.issuer });
}

/**
 * Rejects the request for the user: `access_denied`, or the error of a
 * sign-in that fell short (`verdict`). Undefined when it was decided before.
 */
export async function rejectRequest(
  ctx: OAuthContext,
  request: AuthorizationRequest,
  userEntityRef: string,
  verdict?: SignInVerdict,
): Promise<string | undefined> {
  if (!(await ctx.sessions.reject(request, userEntityRef))) return undefined;
  return deniedRedirect(ctx, request, userEntityRef, verdict);
}

/** Where a denied (or unmet) request's user goes back to the client, audited. */
function deniedRedirect(
  ctx: OAuthContext,
  request: AuthorizationRequest,
  userEntityRef: string,
  verdict?: SignInVerdict,
): string {
  const error = verdict?.kind === 'unmet' ? verdict.error : undefined;
  ctx.metrics.authorizationDecided({ decision: 'denied', errorType: error?.code ?? 'access_denied' });
  ctx.audit({
    eventId: 'consent-denied',
    clientId: request.clientId,
    userEntityRef,
    meta: { sessionId: request.id, ...(error ? { reason: error.code } : {}) },
  });
  return appendQuery(request.redirectUri, {
    error: error?.code ?? 'access_denied',
    error_description: error?.description ?? 'the user denied the request',
    state: request.state,
    iss: ctx.issuer,
  });
}
