import { redirectUriRuleViolation } from '../checks/redirectUriRule';
import { displayClientName, escapeForLog } from '../displayText';
import type { Client } from '../model';
import { type OutboundGuard, OutboundRequestError } from '../outbound/createOutboundGuard';

/** client_id is a varchar(255) in upstream's tables. */
export const MAX_CLIENT_ID_URL_LENGTH = 255;

/**
 * Why a client-ID metadata document could not be used; the message is safe
 * to log. `reason` is one of a few words for metrics: the outbound guard's
 * error code, `http-status`, or `invalid-document`.
 */
export class ClientMetadataDocumentError extends Error {
  constructor(
    message: string,
    readonly reason: string = 'invalid-document',
  ) {
    super(message);
    this.name = 'ClientMetadataDocumentError';
  }
}

export interface ClientMetadataDocumentPolicy {
  /** Dev/test only: allow http URLs and loopback or private addresses. */
  allowInsecure: boolean;
  isClientIdAllowed(url: string): boolean;
  isRedirectUriAllowed(url: string): boolean;
  /** Grant types enabled on this server; the document's are intersected with them. */
  grantTypes: string[];
  scopes: string[];
  /** The JWS algorithms ID tokens can be signed with. */
  idTokenAlgorithms?: readonly string[];
}

/**
 * Whether a client_id should be treated as a metadata document URL
 * (draft-ietf-oauth-client-id-metadata-document §3).
 */
export function looksLikeClientMetadataDocumentUrl(clientId: string): boolean {
  return /^https?:\/\//i.test(clientId);
}

/**
 * Checks the client_id URL itself (§3: https, a path, no fragment, no
 * credentials, no dot segments) and the allow-list; returns the parsed URL.
 */
export function checkClientIdUrl(clientId: string, policy: ClientMetadataDocumentPolicy): URL {
  if (clientId.length > MAX_CLIENT_ID_URL_LENGTH) {
    throw new ClientMetadataDocumentError(
      `client_id URL is longer than ${MAX_CLIENT_ID_URL_LENGTH} characters`,
    );
  }
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    throw new ClientMetadataDocumentError('client_id is not a valid URL');
  }
  if (url.protocol !== 'https:' && !(policy.allowInsecure && url.protocol === 'http:')) {
    throw new ClientMetadataDocumentError('client_id URL must use https');
  }
  if (url.username || url.password) {
    throw new ClientMetadataDocumentError('client_id URL must not contain credentials');
  }
  if (url.hash || clientId.includes('#')) {
    throw new ClientMetadataDocumentError('client_id URL must not contain a fragment');
  }
  if (url.pathname === '/') {
    throw new ClientMetadataDocumentError('client_id URL must have a path');
  }
  // The WHATWG parser removes dot segments and normalizes case, so any
  // difference means the URL was not in the canonical form the draft requires.
  if (url.href !== clientId) {
    throw new ClientMetadataDocumentError('client_id URL must be normalized, without dot segments');
  }
  if (!policy.isClientIdAllowed(clientId)) {
    throw new ClientMetadataDocumentError('client_id URL is not in allowedClientIdPatterns');
  }
  return url;
}

/**
 * Fetches a metadata document through the outbound guard (SSRF guards, size
 * cap, timeout, fair slots) and reads it as JSON. A retryable
 * {@link OutboundRequestError} (the guard held the fetch back for other
 * hosts) is passed on as it is: it says nothing about the document.
 */
export async function fetchClientMetadataDocument(url: URL, outbound: OutboundGuard): Promise<unknown> {
  let response;
  try {
    response = await outbound.get(url, { accept: 'application/json' });
  } catch (error) {
    if (error instanceof OutboundRequestError && !error.retryable) {
      throw new ClientMetadataDocumentError(`fetching the document failed: ${error.message}`, error.code);
    }
    throw error;
  }
  if (response.status !== 200) {
    throw new ClientMetadataDocumentError(`the document URL answered HTTP ${response.status}`, 'http-status');
  }
  const type = String(response.headers['content-type'] ?? '');
  if (!/^application\/([a-z0-9.+-]+\+)?json\b/i.test(type)) {
    throw new ClientMetadataDocumentError('the document is not application/json');
  }
  try {
    return JSON.parse(response.body.toString('utf8'));
  } catch {
    throw new ClientMetadataDocumentError('the document is not valid JSON');
  }
}

/**
 * Turns a fetched document into a public client, enforcing the rules of the
 * draft (§4: client_id equals the URL, no shared secret) and our allow-lists.
 */
export function parseClientMetadataDocument(
  clientId: string,
  document: unknown,
  policy: ClientMetadataDocumentPolicy,
): Client {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new ClientMetadataDocumentError('the document is not a JSON object');
  }
  const doc = document as Record<string, unknown>;
  if (doc.client_id !== clientId) {
    throw new ClientMetadataDocumentError('the document client_id does not equal its URL');
  }
  if ('client_secret' in doc || 'client_secret_expires_at' in doc) {
    throw new ClientMetadataDocumentError('the document must not contain a client_secret');
  }
  const method = doc.token_endpoint_auth_method ?? 'none';
  if (method !== 'none') {
    throw new ClientMetadataDocumentError("token_endpoint_auth_method must be 'none'");
  }
  const redirectUris = doc.redirect_uris;
  if (
    !Array.isArray(redirectUris) ||
    redirectUris.length === 0 ||
    !redirectUris.every(uri => typeof uri === 'string')
  ) {
    throw new ClientMetadataDocumentError('redirect_uris must be a non-empty array of strings');
  }
  // A URI that breaks the redirect rule or the allow-list is left out; a
  // document left with none cannot be used (the authorization endpoint only
  // accepts a redirect_uri from this filtered list).
  const usable = (redirectUris as string[]).filter(
    uri => redirectUriRuleViolation(uri) === undefined && policy.isRedirectUriAllowed(uri),
  );
  if (usable.length === 0) {
    const [first] = redirectUris as string[];
    const why = redirectUriRuleViolation(first) ?? 'is not in allowedRedirectUriPatterns';
    throw new ClientMetadataDocumentError(
      `no usable redirect URI: '${escapeForLog(first)}' ${why}${redirectUris.length > 1 ? ', and so do the others' : ''}`,
    );
  }
  const requestedGrants = Array.isArray(doc.grant_types)
    ? doc.grant_types.filter((g): g is string => typeof g === 'string')
    : ['authorization_code'];
  const grantTypes = requestedGrants.filter(g => policy.grantTypes.includes(g));
  if (grantTypes.length === 0) {
    throw new ClientMetadataDocumentError('the document lists no grant type this server supports');
  }
  const scopes =
    typeof doc.scope === 'string'
      ? doc.scope.split(' ').filter(s => policy.scopes.includes(s))
      : undefined;
  // Issue 25 item 7: a third party wrote this name. Refusing the document
  // would lock its users out over an invisible character; the client works
  // and its name is shown only as far as it is honest: without what hides or
  // reorders text, and not at all when it imitates the portal's "(host)".
  const name = typeof doc.client_name === 'string' ? displayClientName(doc.client_name.slice(0, 255)) : undefined;
  const idTokenAlg = doc.id_token_signed_response_alg;
  if (idTokenAlg !== undefined && (typeof idTokenAlg !== 'string' || !policy.idTokenAlgorithms?.includes(idTokenAlg))) {
    throw new ClientMetadataDocumentError(
      `id_token_signed_response_alg must be one of ${(policy.idTokenAlgorithms ?? []).join(', ')}`,
    );
  }

  return {
    clientId,
    clientName: name ?? new URL(clientId).host,
    kind: 'metadata-document',
    redirectUris: usable,
    grantTypes,
    responseTypes: ['code'],
    ...(scopes ? { scopes } : {}),
    tokenEndpointAuthMethod: 'none',
    ...(typeof idTokenAlg === 'string' ? { idTokenSignedResponseAlg: idTokenAlg } : {}),
    metadata: doc,
  };
}
