import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { redirectUriRuleViolation } from '../checks/redirectUriRule';
import { displayClientName, escapeForLog } from '../displayText';
import type { Client } from '../model';
import { isPublicAddress } from './isPublicAddress';

/** A metadata document larger than this is refused; real ones are a few hundred bytes. */
export const MAX_CLIENT_METADATA_DOCUMENT_BYTES = 5 * 1024;
/** How long a fetch may take in total, connection included. */
export const CLIENT_METADATA_FETCH_TIMEOUT_MS = 5000;
/** client_id is a varchar(255) in upstream's tables. */
export const MAX_CLIENT_ID_URL_LENGTH = 255;

/** Why a client-ID metadata document could not be used; the message is safe to log. */
export class ClientMetadataDocumentError extends Error {
  constructor(message: string) {
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
 * Fetches a metadata document with SSRF guards: public addresses only (every
 * resolved address is checked in the connection's own DNS lookup, so a
 * rebinding name cannot slip through), no redirects, a total timeout and a
 * size cap.
 */
export async function fetchClientMetadataDocument(
  url: URL,
  options: { allowInsecure: boolean },
): Promise<unknown> {
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(hostname) && !options.allowInsecure && !isPublicAddress(hostname)) {
    throw new ClientMetadataDocumentError(`${hostname} is not a public address`);
  }
  const lookup: LookupFunction = (name, lookupOptions, callback) => {
    dns.lookup(name, { all: true, verbatim: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const refused = addresses.find(a => !isPublicAddress(a.address));
      if (!options.allowInsecure && refused) {
        return callback(
          new ClientMetadataDocumentError(`${name} resolves to a non-public address`),
          '',
          0,
        );
      }
      if (addresses.length === 0) {
        return callback(new ClientMetadataDocumentError(`${name} has no address`), '', 0);
      }
      if (lookupOptions.all) {
        return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
      }
      return callback(null, addresses[0].address, addresses[0].family);
    });
  };

  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<unknown>((resolve, reject) => {
    let settled = false;
    // Filled right below; `fail` only runs once both exist.
    const handles: { timer?: NodeJS.Timeout; request?: http.ClientRequest } = {};
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(handles.timer);
      handles.request?.destroy();
      reject(
        error instanceof ClientMetadataDocumentError
          ? error
          : new ClientMetadataDocumentError(`fetching the document failed: ${error.message}`),
      );
    };
    handles.timer = setTimeout(
      () => fail(new ClientMetadataDocumentError('fetching the document timed out')),
      CLIENT_METADATA_FETCH_TIMEOUT_MS,
    );
    const request = transport.get(
      url,
      {
        lookup,
        agent: false,
        headers: { accept: 'application/json' },
        timeout: CLIENT_METADATA_FETCH_TIMEOUT_MS,
      },
      response => {
        const status = response.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          fail(new ClientMetadataDocumentError('the document URL redirects; redirects are not followed'));
          return;
        }
        if (status !== 200) {
          fail(new ClientMetadataDocumentError(`the document URL answered HTTP ${status}`));
          return;
        }
        const type = String(response.headers['content-type'] ?? '');
        if (!/^application\/([a-z0-9.+-]+\+)?json\b/i.test(type)) {
          fail(new ClientMetadataDocumentError('the document is not application/json'));
          return;
        }
        const declared = Number(response.headers['content-length'] ?? 0);
        if (declared > MAX_CLIENT_METADATA_DOCUMENT_BYTES) {
          fail(documentTooLarge());
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_CLIENT_METADATA_DOCUMENT_BYTES) {
            fail(documentTooLarge());
            return;
          }
          chunks.push(chunk);
        });
        response.on('error', fail);
        response.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(handles.timer);
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch {
            reject(new ClientMetadataDocumentError('the document is not valid JSON'));
          }
        });
      },
    );
    handles.request = request;
    request.on('timeout', () =>
      fail(new ClientMetadataDocumentError('fetching the document timed out')),
    );
    request.on('error', fail);
  });
}

function documentTooLarge(): ClientMetadataDocumentError {
  return new ClientMetadataDocumentError(
    `the document is larger than ${MAX_CLIENT_METADATA_DOCUMENT_BYTES} bytes`,
  );
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
