import type { Request } from 'express';
import Router from 'express-promise-router';
import type express from 'express';
import { tokenTypes } from '@backstage/plugin-auth-node';
import { authenticateClient } from '../clients/authenticateClient';
import { requireParams } from '../checks/requireParams';
import type { OAuthContext } from '../context';
import { sha256 } from '../crypto/sha256';
import { InvalidClient } from '../errors';
import { RESOURCE_ACCESS_TOKEN_TYP } from '../grants/resourceAccessToken';
import { noStore } from '../http/noStore';
import { parseParams } from '../http/parseParams';
import { OAUTH_GRANT_CLAIM } from '../oauthClientTokens';
import type { VerifiedJwt } from '../stores';

/** Who asks: an authenticated confidential client, or a Backstage service. */
type Caller = { kind: 'client'; clientId: string } | { kind: 'service'; subject: string };

type Introspection = { active: false } | ({ active: true } & Record<string, unknown>);
const INACTIVE: Introspection = { active: false };
/** The claims of an RFC 9068 token that introspection repeats (RFC 7662 §2.2). */
const ACCESS_TOKEN_CLAIMS = ['iss', 'sub', 'aud', 'client_id', 'scope', 'exp', 'iat', 'jti', 'auth_time', 'act'];

/**
 * Token introspection (RFC 7662) for resource servers that prefer asking to
 * verifying. Only authenticated callers (§2.1): a confidential client, or a
 * Backstage backend plugin with its service credentials. A token is `active`
 * only while it is valid (signature, expiry, its grant not revoked) and only
 * to a caller entitled to it — the resource server it is for (its
 * `introspectionClientId`), Backstage services for Backstage tokens, the
 * owning client for refresh tokens; everyone else learns `active: false`
 * and nothing more (§4).
 */
export function createIntrospectEndpoint(ctx: OAuthContext): express.Router {
  const router = Router();
  router.post('/v1/introspect', noStore, ...parseParams('body'), async (req, res) => {
    const params = req.oauthParams ?? {};
    const caller = await authenticateCaller(ctx, req, params);
    requireParams(params, 'token');
    const token = params.token;
    const result = looksLikeJwt(token)
      ? await introspectJwt(ctx, caller, await ctx.signer.verifyJwt(token))
      : await introspectRefreshToken(ctx, caller, token);
    res.json(result);
  });
  return router;
}

async function authenticateCaller(
  ctx: OAuthContext,
  req: Request,
  params: Record<string, string>,
): Promise<Caller> {
  const service = await ctx.verifyServiceCaller(req);
  if (service !== undefined) return { kind: 'service', subject: service };
  const client = await authenticateClient(req, params, ctx.clients);
  // A public client proves nothing about itself (RFC 7662 §2.1).
  if (client.tokenEndpointAuthMethod === 'none') {
    throw new InvalidClient('introspection needs a confidential client or service credentials');
  }
  return { kind: 'client', clientId: client.clientId };
}

function looksLikeJwt(token: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token);
}

async function introspectJwt(
  ctx: OAuthContext,
  caller: Caller,
  jwt: VerifiedJwt | undefined,
): Promise<Introspection> {
  if (!jwt) return INACTIVE;
  const { payload } = jwt;
  if (jwt.typ === RESOURCE_ACCESS_TOKEN_TYP) {
    const server = ctx.config.resources.find(r => r.resource === payload.aud);
    const entitled =
      caller.kind === 'client' &&
      server?.introspectionClientId !== undefined &&
      server.introspectionClientId === caller.clientId;
    if (!entitled || (await isGrantRevoked(ctx, payload))) return INACTIVE;
    return { active: true, token_type: 'Bearer', ...pick(payload, ACCESS_TOKEN_CLAIMS) };
  }
  if (jwt.typ === tokenTypes.user.typParam) {
    // A Backstage user token: its audience is Backstage, whose plugins may
    // ask. One an OAuth client got ends with its grant (issue 25 item 4b);
    // a portal sign-in's has no grant and lives until it expires.
    if (caller.kind !== 'service' || (await isGrantRevoked(ctx, payload))) return INACTIVE;
    const claims = pick(payload, ['iss', 'sub', 'exp', 'iat', 'client_id', 'scope']);
    return { active: true, token_type: 'Bearer', aud: 'backstage', ...claims };
  }
  return INACTIVE;
}

async function introspectRefreshToken(ctx: OAuthContext, caller: Caller, token: string): Promise<Introspection> {
  const record = await ctx.refreshTokens.find(sha256(token));
  if (!record || caller.kind !== 'client' || record.clientId !== caller.clientId) return INACTIVE;
  const now = ctx.clock();
  if (record.status !== 'active' || record.expiresAt <= now || record.familyExpiresAt <= now) return INACTIVE;
  return {
    active: true,
    token_type: 'refresh_token',
    client_id: record.clientId,
    sub: record.userEntityRef,
    scope: record.scopes.join(' '),
    iss: ctx.issuer,
    iat: Math.floor(record.createdAt.getTime() / 1000),
    exp: Math.floor(Math.min(record.expiresAt.getTime(), record.familyExpiresAt.getTime()) / 1000),
    ...(record.resource ? { aud: record.resource } : {}),
  };
}

/**
 * Whether the grant a token came from (its `sid`) was revoked since: its
 * refresh family, a replayed code, an administrator. Revocations are kept
 * as long as the tokens they govern can live.
 */
async function isGrantRevoked(ctx: OAuthContext, payload: Record<string, unknown>): Promise<boolean> {
  const grantId = payload[OAUTH_GRANT_CLAIM];
  return typeof grantId === 'string' && ctx.refreshTokens.isGrantRevoked(grantId);
}

function pick(payload: Record<string, unknown>, names: string[]): Record<string, unknown> {
  return Object.fromEntries(names.filter(n => payload[n] !== undefined).map(n => [n, payload[n]]));
}
