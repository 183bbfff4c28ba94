import { randomUUID } from 'node:crypto';
import express, { type RequestHandler } from 'express';
import Router from 'express-promise-router';
import type { OAuthContext } from '../context';
import { redirectUriRuleViolation } from '../checks/redirectUriRule';
import { randomToken } from '../crypto/randomToken';
import { sha256 } from '../crypto/sha256';
import { findForgedLabelPart, findHiddenCharacter } from '../displayText';
import { InvalidClientMetadata, InvalidRedirectUri, OAuthError } from '../errors';
import { findForbiddenCharacterIn } from '../http/findForbiddenCharacter';
import { MAX_BODY_BYTES } from '../http/parseParams';
import { noStore } from '../http/noStore';
import type { Client, TokenEndpointAuthMethod } from '../model';
import { supportedGrantTypes, supportedScopes } from '../supportedScopes';

/** Dynamic client registration is switched off: the endpoint does not exist. */
class RegistrationDisabled extends OAuthError {
  readonly code = 'invalid_request';
  readonly status = 404;
  readonly mayRedirect = false;
}

const AUTH_METHODS: TokenEndpointAuthMethod[] = ['none', 'client_secret_basic', 'client_secret_post'];
const URI_FIELDS = ['client_uri', 'logo_uri', 'tos_uri', 'policy_uri'] as const;
const STRING_FIELDS = ['software_id', 'software_version'] as const;
/** The members whose text is kept, echoed, shown on pages and in the consent API, or logged. */
const KEPT_TEXT_FIELDS = ['client_name', 'redirect_uris', ...URI_FIELDS, ...STRING_FIELDS, 'contacts'];
const MAX_CLIENT_NAME_LENGTH = 255;
const MAX_REDIRECT_URIS = 20;

const jsonBody = express.json({ limit: MAX_BODY_BYTES, strict: true });

function parseRegistrationBody(...[req, res, next]: Parameters<RequestHandler>): void {
  if (!req.is('application/json')) {
    throw new InvalidClientMetadata('the registration request must be application/json');
  }
  jsonBody(req, res, error => {
    if (error && (error as { type?: string }).type === 'entity.parse.failed') {
      next(new InvalidClientMetadata('the registration request is not valid JSON'));
      return;
    }
    next(error);
  });
}

/**
 * RFC 7591 §3: `POST /v1/register`. Validates the metadata, applies
 * `allowedRedirectUriPatterns`, stores the client (its secret only as a hash)
 * and echoes the registered metadata with 201.
 */
export function createRegisterEndpoint(ctx: OAuthContext): express.Router {
  const router = Router();
  router.post(
    '/v1/register',
    noStore,
    requireRegistrationEnabled(ctx),
    parseRegistrationBody,
    async (req, res) => {
      const registration = validateRegistration(req.body, ctx);
      const clientId = randomUUID();
      const clientSecret =
        registration.tokenEndpointAuthMethod === 'none' ? undefined : randomToken(32);
      const issuedAt = Math.floor(ctx.clock().getTime() / 1000);
      const client: Client = {
        clientId,
        clientName: registration.clientName ?? clientId,
        kind: 'dynamic',
        redirectUris: registration.redirectUris,
        grantTypes: registration.grantTypes,
        responseTypes: registration.responseTypes,
        ...(registration.scopes ? { scopes: registration.scopes } : {}),
        tokenEndpointAuthMethod: registration.tokenEndpointAuthMethod,
        ...(registration.idTokenSignedResponseAlg
          ? { idTokenSignedResponseAlg: registration.idTokenSignedResponseAlg }
          : {}),
        metadata: { ...registration.echo, client_id: clientId, client_id_issued_at: issuedAt },
      };
      await ctx.clientStore.create({
        client,
        ...(clientSecret ? { secretHash: sha256(clientSecret) } : {}),
      });
      ctx.audit({
        eventId: 'client-registered',
        clientId,
        meta: {
          tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
          redirectUris: client.redirectUris.join(' '),
        },
      });
      // RFC 7591 §3.2.1: the secret is shown once, here; it never expires (0).
      res.status(201).json({
        ...client.metadata,
        ...(clientSecret ? { client_secret: clientSecret, client_secret_expires_at: 0 } : {}),
      });
    },
  );
  return router;
}

function requireRegistrationEnabled(ctx: OAuthContext): RequestHandler {
  return (_req, _res, next) => {
    if (!ctx.config.dynamicClientRegistration.enabled) {
      throw new RegistrationDisabled('dynamic client registration is not enabled');
    }
    next();
  };
}

interface Registration {
  redirectUris: string[];
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  grantTypes: string[];
  responseTypes: string[];
  clientName?: string;
  scopes?: string[];
  idTokenSignedResponseAlg?: string;
  /** The metadata as registered, defaults included, for the response and the store. */
  echo: Record<string, unknown>;
}

/** RFC 7591 §2 and §3.2.2: every problem is `invalid_client_metadata` or `invalid_redirect_uri`. */
function validateRegistration(body: unknown, ctx: OAuthContext): Registration {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidClientMetadata('the registration request must be a JSON object');
  }
  const meta = body as Record<string, unknown>;
  rejectForbiddenCharacters(meta);
  const features = {
    refreshEnabled: ctx.config.refreshToken.enabled,
    deviceEnabled: ctx.config.deviceAuthorization.enabled,
  };

  const method = meta.token_endpoint_auth_method ?? 'client_secret_basic';
  if (!AUTH_METHODS.includes(method as TokenEndpointAuthMethod)) {
    throw new InvalidClientMetadata(
      `token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}`,
    );
  }

  const grantTypes = readStringArray(meta, 'grant_types') ?? ['authorization_code'];
  const allowedGrants = supportedGrantTypes(features);
  for (const grant of grantTypes) {
    if (!allowedGrants.includes(grant)) {
      throw new InvalidClientMetadata(`grant type '${grant}' is not supported`);
    }
  }
  const usesCode = grantTypes.includes('authorization_code');
  const responseTypes = readStringArray(meta, 'response_types') ?? (usesCode ? ['code'] : []);
  for (const type of responseTypes) {
    if (type !== 'code') {
      throw new InvalidClientMetadata(`response type '${type}' is not supported`);
    }
  }
  // RFC 7591 §2.1: grant_types and response_types must agree.
  if (usesCode !== responseTypes.includes('code')) {
    throw new InvalidClientMetadata(
      "grant type 'authorization_code' and response type 'code' must be registered together",
    );
  }

  const redirectUris = readStringArray(meta, 'redirect_uris', InvalidRedirectUri) ?? [];
  if (usesCode && redirectUris.length === 0) {
    throw new InvalidRedirectUri('redirect_uris is required for the authorization_code grant');
  }
  if (redirectUris.length > MAX_REDIRECT_URIS) {
    throw new InvalidRedirectUri(`at most ${MAX_REDIRECT_URIS} redirect URIs may be registered`);
  }
  for (const uri of redirectUris) checkRegisteredRedirectUri(uri, ctx);

  const clientName = readString(meta, 'client_name');
  if (clientName !== undefined && (clientName.trim() === '' || clientName.length > MAX_CLIENT_NAME_LENGTH)) {
    throw new InvalidClientMetadata(`client_name must be 1 to ${MAX_CLIENT_NAME_LENGTH} characters`);
  }
  const forged = clientName === undefined ? undefined : findForgedLabelPart(clientName);
  if (forged !== undefined) {
    throw new InvalidClientMetadata(
      `client_name must not contain '${forged}': the portal adds a part in brackets to a client's name ` +
        "(here '(unverified)') and a name may not imitate it",
    );
  }

  const scope = readString(meta, 'scope');
  let scopes: string[] | undefined;
  if (scope !== undefined) {
    scopes = [...new Set(scope.split(' ').filter(Boolean))];
    const allowed = supportedScopes(features);
    const unknown = scopes.find(s => !allowed.includes(s));
    if (unknown !== undefined || scopes.length === 0) {
      throw new InvalidClientMetadata(
        `scope '${unknown ?? scope}' is not supported (supported: ${allowed.join(' ')})`,
      );
    }
  }

  // OIDC Registration §2: the ID token's algorithm, one the portal signs with.
  const idTokenAlg = readString(meta, 'id_token_signed_response_alg');
  if (idTokenAlg !== undefined && !ctx.signer.jwtAlgorithms.includes(idTokenAlg)) {
    throw new InvalidClientMetadata(
      `id_token_signed_response_alg must be one of ${ctx.signer.jwtAlgorithms.join(', ')}`,
    );
  }

  const echo: Record<string, unknown> = {
    redirect_uris: redirectUris,
    token_endpoint_auth_method: method,
    grant_types: grantTypes,
    response_types: responseTypes,
    ...(clientName !== undefined ? { client_name: clientName } : {}),
    ...(scopes ? { scope: scopes.join(' ') } : {}),
    ...(idTokenAlg !== undefined ? { id_token_signed_response_alg: idTokenAlg } : {}),
  };
  for (const field of URI_FIELDS) {
    const value = readString(meta, field);
    if (value === undefined) continue;
    if (!/^https?:$/.test(safeProtocol(value))) {
      throw new InvalidClientMetadata(`${field} must be an http(s) URL`);
    }
    echo[field] = value;
  }
  for (const field of STRING_FIELDS) {
    const value = readString(meta, field);
    if (value !== undefined) echo[field] = value;
  }
  const contacts = readStringArray(meta, 'contacts');
  if (contacts) echo.contacts = contacts;

  return {
    redirectUris,
    tokenEndpointAuthMethod: method as TokenEndpointAuthMethod,
    grantTypes,
    responseTypes,
    ...(clientName !== undefined ? { clientName } : {}),
    ...(scopes ? { scopes } : {}),
    ...(idTokenAlg !== undefined ? { idTokenSignedResponseAlg: idTokenAlg } : {}),
    echo,
  };
}

/**
 * Issue 12 item 8: no string of the metadata, however nested and whether or
 * not we read that field, may hold a control character, a lone surrogate or
 * bytes that were not UTF-8 (see findForbiddenCharacter). PostgreSQL cannot
 * store U+0000, and the rest would be stored as the client never sent them.
 * Issue 25 item 7: nor may the text we keep hold a character that hides or
 * reorders text (findHiddenCharacter). A bidi override in client_name would
 * reverse the "(unverified)" the portal puts after it; the registrant is
 * told why, rather than having its name silently changed.
 */
function rejectForbiddenCharacters(meta: Record<string, unknown>): void {
  const kept = Object.fromEntries(KEPT_TEXT_FIELDS.filter(f => Object.hasOwn(meta, f)).map(f => [f, meta[f]]));
  const found = findForbiddenCharacterIn(meta) ?? findForbiddenCharacterIn(kept, findHiddenCharacter);
  if (!found) return;
  const field = found.path[0];
  if (field === undefined) {
    throw new InvalidClientMetadata(`a client metadata member name contains ${found.description}`);
  }
  const ErrorClass = field === 'redirect_uris' ? InvalidRedirectUri : InvalidClientMetadata;
  throw new ErrorClass(`${field} contains ${found.description}`);
}

function checkRegisteredRedirectUri(uri: string, ctx: OAuthContext): void {
  const violation = redirectUriRuleViolation(uri);
  if (violation !== undefined) {
    throw new InvalidRedirectUri(`redirect URI '${uri}' ${violation}`);
  }
  if (!ctx.config.dynamicClientRegistration.isRedirectUriAllowed(uri)) {
    throw new InvalidRedirectUri(`redirect URI '${uri}' is not allowed by this server`);
  }
}

function readString(meta: Record<string, unknown>, field: string): string | undefined {
  const value = meta[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new InvalidClientMetadata(`${field} must be a string`);
  }
  return value;
}

function readStringArray(
  meta: Record<string, unknown>,
  field: string,
  ErrorClass: typeof InvalidClientMetadata | typeof InvalidRedirectUri = InvalidClientMetadata,
): string[] | undefined {
  const value = meta[field];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every(item => typeof item === 'string')) {
    throw new ErrorClass(`${field} must be an array of strings`);
  }
  return [...new Set(value as string[])];
}

function safeProtocol(value: string): string {
  try {
    return new URL(value).protocol;
  } catch {
    return '';
  }
}
