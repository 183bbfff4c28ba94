import { ConflictError, InputError, NotFoundError } from '@backstage/errors';
import Router from 'express-promise-router';
import express from 'express';
import { redirectUriRuleViolation } from '../checks/redirectUriRule';
import { describeClient } from '../clients/describeClient';
import type { OAuthContext } from '../context';
import { displayUri } from '../displayText';
import { randomToken } from '../crypto/randomToken';
import { sha256 } from '../crypto/sha256';
import type { AuthorizationSession } from '../stores';
import { appendQuery } from './appendQuery';
import { judgeSignIn, type SignInVerdict } from './checkSignInForSession';

/** Who is calling: resolves the Backstage user behind a request, or throws. */
export type AuthenticateUser = (req: express.Request) => Promise<{ userEntityRef: string }>;

/** The consent API's folder: `/v1/sessions/:id`, `…/approve`, `…/reject`. */
export const CONSENT_API_PATH = '/v1/sessions';

/**
 * The consent API behind `@backstage/plugin-auth`'s consent page (SPEC §1.8).
 * It speaks Backstage's error format, so it is mounted outside the OAuth
 * router. Only a signed-in user can decide, each session gets exactly one
 * decision, and the decision binds the session to that user.
 */
export function createConsentRouter(
  ctx: OAuthContext,
  authenticateUser: AuthenticateUser,
): express.Router {
  const router = Router();
  router.use(CONSENT_API_PATH, express.json({ limit: '1kb' }));

  router.get('/v1/sessions/:id', async (req, res) => {
    const session = await findPendingSession(ctx, req.params.id);
    const client = describeClient(await ctx.clients.findClient(session.clientId), session.clientId);
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      id: session.id,
      clientId: session.clientId,
      // @backstage/plugin-auth's page shows this one string: it carries the
      // host that vouches for a self-chosen name (SPEC §2 Authorization).
      clientName: client.label,
      ...(client.verifiedHost ? { clientHost: client.verifiedHost } : {}),
      scope: session.scopes.join(' '),
      // Shown to the user: as a browser would go there (issue 25 item 7).
      // The redirect itself is approve's `redirectUrl`, built from the original.
      redirectUri: displayUri(session.redirectUri),
      // RFC 8707: the resource server outside Backstage the tokens would be for.
      ...(session.resource ? { resource: displayUri(session.resource) } : {}),
    });
  });

  router.post('/v1/sessions/:id/approve', async (req, res) => {
    const { userEntityRef } = await authenticateUser(req);
    // Approved with its code in one step (issue 15); the code leaves only
    // once the checks below passed, and is withdrawn otherwise.
    const code = randomToken();
    const approved =
      (await ctx.codes.createApproved({
        codeHash: sha256(code),
        sessionId: req.params.id,
        expiresAt: codeExpiry(ctx),
        userEntityRef,
        now: ctx.clock(),
      })) ?? (await explainLostDecision(ctx, req.params.id));
    const { session } = approved;
    // The app's page cannot send the user to sign in again: a sign-in that
    // does not meet max_age or acr_values ends the request (issue 14).
    const verdict = judgeSignIn(approved.requirements, approved.signIn, ctx.clock());
    const violation = redirectUriRuleViolation(session.redirectUri);
    if (verdict.kind === 'unmet' || violation !== undefined) await ctx.codes.withdraw(session.id);
    leaveDecidedSession(ctx, session, violation);
    const redirectUrl =
      verdict.kind === 'met'
        ? grantedRedirect(ctx, session, userEntityRef, code)
        : deniedRedirect(ctx, session, userEntityRef, verdict);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ redirectUrl });
  });

  router.post('/v1/sessions/:id/reject', async (req, res) => {
    const { userEntityRef } = await authenticateUser(req);
    const session = await decide(ctx, req.params.id, 'rejected', userEntityRef);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ redirectUrl: await redirectAfterDecision(ctx, session, 'rejected', userEntityRef) });
  });
  return router;
}

async function findPendingSession(ctx: OAuthContext, id: string): Promise<AuthorizationSession> {
  const session = await ctx.sessions.get(id);
  if (!session || session.expiresAt <= ctx.clock()) {
    throw new NotFoundError('authorization session not found or expired');
  }
  if (session.status !== 'pending') {
    throw new ConflictError('authorization session was already decided');
  }
  return session;
}

async function decide(
  ctx: OAuthContext,
  id: string,
  status: 'approved' | 'rejected',
  userEntityRef: string,
): Promise<AuthorizationSession> {
  // The conditional update decides, and a race too; only when it changed
  // nothing does a read tell the caller why.
  const session = await ctx.sessions.decide(id, { status, userEntityRef, now: ctx.clock() });
  if (session) return session;
  return explainLostDecision(ctx, id);
}

/** A decision changed nothing: says why (no such session, expired, or decided already). */
async function explainLostDecision(ctx: OAuthContext, id: string): Promise<never> {
  await findPendingSession(ctx, id);
  throw new ConflictError('authorization session was already decided');
}

function codeExpiry(ctx: OAuthContext): Date {
  return new Date(ctx.clock().getTime() + ctx.config.authorizationCodeLifetimeSeconds * 1000);
}

/**
 * After a session got its decision: mints the code (or the denial), audits
 * it, and returns where the user goes back to the client with `state` and
 * `iss` (RFC 9207). Shared by this API and the built-in consent page.
 */
export async function redirectAfterDecision(
  ctx: OAuthContext,
  session: AuthorizationSession,
  status: 'approved' | 'rejected',
  userEntityRef: string,
  /** The user's sign-in, checked against the request (issue 14): what approved, or why not. */
  verdict?: SignInVerdict,
): Promise<string> {
  leaveDecidedSession(ctx, session);
  if (status === 'rejected') return deniedRedirect(ctx, session, userEntityRef, verdict);
  const code = randomToken();
  await ctx.codes.create({
    codeHash: sha256(code),
    sessionId: session.id,
    expiresAt: codeExpiry(ctx),
    // What the code's exchange puts into the ID token.
    ...(verdict?.kind === 'met' && verdict.authentication ? { approvedBy: verdict.authentication } : {}),
  });
  return grantedRedirect(ctx, session, userEntityRef, code);
}

/**
 * A decided session no longer counts as pending. Sessions are created only
 * for redirect URIs that keep the rule; one stored before it existed (e.g.
 * by upstream) is refused here, never followed.
 */
function leaveDecidedSession(
  ctx: OAuthContext,
  session: AuthorizationSession,
  violation = redirectUriRuleViolation(session.redirectUri),
): void {
  ctx.pendingSessions.release(session.id);
  if (violation !== undefined) {
    throw new InputError(`the redirect URI of this request ${violation}`);
  }
}

/** Where a denied (or unmet) session's user goes back to the client, audited. */
function deniedRedirect(
  ctx: OAuthContext,
  session: AuthorizationSession,
  userEntityRef: string,
  verdict?: SignInVerdict,
): string {
  const error = verdict?.kind === 'unmet' ? verdict.error : undefined;
  ctx.audit({
    eventId: 'consent-denied',
    clientId: session.clientId,
    userEntityRef,
    meta: { sessionId: session.id, ...(error ? { reason: error.code } : {}) },
  });
  return appendQuery(session.redirectUri, {
    error: error?.code ?? 'access_denied',
    error_description: error?.description ?? 'the user denied the request',
    state: session.state,
    iss: ctx.issuer,
  });
}

/** Where an approved session's user goes back to the client with its code, audited. */
function grantedRedirect(
  ctx: OAuthContext,
  session: AuthorizationSession,
  userEntityRef: string,
  code: string,
): string {
  ctx.audit({
    eventId: 'consent-granted',
    clientId: session.clientId,
    userEntityRef,
    meta: { sessionId: session.id, scope: session.scopes.join(' ') },
  });
  return appendQuery(session.redirectUri, { code, state: session.state, iss: ctx.issuer });
}
