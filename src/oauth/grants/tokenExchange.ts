import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import { tokenTypes } from '@backstage/plugin-auth-node';
import type { Request } from 'express';
import { resolveResource } from '../checks/checkResource';
import { requireParams } from '../checks/requireParams';
import type { OAuthContext } from '../context';
import {
  InvalidClient,
  InvalidGrant,
  InvalidRequest,
  InvalidScope,
  InvalidTarget,
  UnsupportedGrantType,
} from '../errors';
import type { OAuthParams } from '../http/parseParams';
import { OAUTH_CLIENT_ID_CLAIM } from '../oauthClientTokens';
import { TOKEN_EXCHANGE_GRANT_TYPE } from '../supportedScopes';
import { signResourceAccessToken } from './resourceAccessToken';

/** RFC 8693 §3 token type identifiers. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
/** A Backstage user entity ref as the subject, for services a resource server names explicitly. */
export const USER_ENTITY_REF_TYPE = 'urn:backstage:params:oauth:token-type:user-entity-ref';

/** RFC 8693 §2.2.1. */
export interface TokenExchangeResponse {
  access_token: string;
  issued_token_type: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

/** Whom the exchanged token is for, and until when at most. */
interface Subject {
  userEntityRef: string;
  /** The subject token's own expiry; the new token never outlives it. */
  notAfter?: Date;
}

/**
 * Token exchange (RFC 8693) for Backstage backend plugins acting for a user,
 * e.g. an MCP proxy calling an external MCP server: the plugin authenticates
 * with its service credentials, presents the user (their Backstage user token,
 * or — where the resource server allows that plugin by name — their entity
 * ref) and gets an RFC 9068 token for a configured resource server whose
 * `act` names the plugin. Scopes only narrow to what the resource
 * understands; the token never outlives the subject token; every exchange
 * is audited.
 */
export async function exchangeToken(
  ctx: OAuthContext,
  req: Request,
  params: OAuthParams,
): Promise<TokenExchangeResponse> {
  if (ctx.config.resources.length === 0) {
    throw new UnsupportedGrantType(`grant_type '${TOKEN_EXCHANGE_GRANT_TYPE}' is not supported`);
  }
  const actor = await ctx.verifyServiceCaller(req);
  if (actor === undefined) {
    throw new InvalidClient('token exchange needs the Backstage service credentials of the acting plugin');
  }
  requireParams(params, 'subject_token', 'subject_token_type');
  if (params.actor_token !== undefined) {
    throw new InvalidRequest('the acting party is the service whose credentials call; actor_token is not supported');
  }
  if (params.requested_token_type !== undefined && ![ACCESS_TOKEN_TYPE, JWT_TYPE].includes(params.requested_token_type)) {
    throw new InvalidRequest(`requested_token_type must be '${ACCESS_TOKEN_TYPE}'`);
  }
  const target = params.resource ?? params.audience;
  if (target === undefined || (params.resource !== undefined && params.audience !== undefined && params.resource !== params.audience)) {
    throw new InvalidTarget('name exactly one configured resource server with resource (or audience)');
  }
  const resolved = resolveResource(target, { issuer: ctx.issuer, resources: ctx.config.resources, actor });
  if (resolved.kind !== 'server') {
    throw new InvalidTarget('token exchange issues tokens for configured resource servers only');
  }
  const { server } = resolved;
  const subject = await readSubject(ctx, params, actor, server.allowedClients);
  const scopes = narrowToResource(params.scope, server.scopes);

  const { token, expiresInSeconds } = await signResourceAccessToken(ctx, {
    server,
    userEntityRef: subject.userEntityRef,
    clientId: actor,
    scopes,
    actor,
    ...(subject.notAfter ? { notAfter: subject.notAfter } : {}),
  });
  ctx.audit({
    eventId: 'token-exchanged',
    clientId: actor,
    userEntityRef: subject.userEntityRef,
    meta: { resource: server.resource, scope: scopes.join(' '), subjectTokenType: params.subject_token_type },
  });
  return {
    access_token: token,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: 'Bearer',
    expires_in: expiresInSeconds,
    scope: scopes.join(' '),
  };
}

async function readSubject(
  ctx: OAuthContext,
  params: OAuthParams,
  actor: string,
  allowedClients: string[] | undefined,
): Promise<Subject> {
  const type = params.subject_token_type;
  if (type === ACCESS_TOKEN_TYPE || type === JWT_TYPE) {
    const jwt = await ctx.signer.verifyJwt(params.subject_token);
    if (!jwt || jwt.typ !== tokenTypes.user.typParam || typeof jwt.payload.sub !== 'string') {
      throw new InvalidGrant('subject_token is not a valid Backstage user token');
    }
    // A client's token may call APIs, never lend its user to someone else.
    if (jwt.payload[OAUTH_CLIENT_ID_CLAIM] !== undefined) {
      throw new InvalidGrant('subject_token was issued to an OAuth client; only a portal sign-in can be exchanged');
    }
    return {
      userEntityRef: jwt.payload.sub,
      ...(jwt.payload.exp ? { notAfter: new Date(jwt.payload.exp * 1000) } : {}),
    };
  }
  if (type === USER_ENTITY_REF_TYPE) {
    // Acting for a user without their token only where the resource names this service.
    if (!allowedClients?.includes(actor)) {
      throw new InvalidGrant(`'${actor}' may act for a user without their token only where a resource lists it in allowedClients`);
    }
    const userEntityRef = canonicalUserRef(params.subject_token);
    if (!(await ctx.users.findUser(userEntityRef))) {
      throw new InvalidGrant(`the user '${userEntityRef}' is not in the catalog`);
    }
    return { userEntityRef };
  }
  throw new InvalidRequest(`subject_token_type '${type}' is not supported`);
}

function canonicalUserRef(ref: string): string {
  try {
    const parsed = parseEntityRef(ref, { defaultKind: 'user', defaultNamespace: 'default' });
    if (parsed.kind.toLocaleLowerCase('en-US') !== 'user') throw new Error('not a user');
    return stringifyEntityRef(parsed);
  } catch {
    throw new InvalidGrant('subject_token must be a user entity ref');
  }
}

/** RFC 8693 §2.1: scopes may only narrow, to those the resource understands. */
function narrowToResource(requested: string | undefined, resourceScopes: string[]): string[] {
  if (requested === undefined) return resourceScopes;
  const scopes = [...new Set(requested.split(' ').filter(Boolean))];
  const extra = scopes.find(scope => !resourceScopes.includes(scope));
  if (extra !== undefined) {
    throw new InvalidScope(`scope '${extra}' is not a scope of the resource`);
  }
  return scopes;
}
