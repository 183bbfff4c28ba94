import type { Request } from 'express';
import { InvalidClient, InvalidRequest } from '../errors';
import { findForbiddenCharacter } from '../http/findForbiddenCharacter';
import type { OAuthParams } from '../http/parseParams';
import type { Client, ClientResolver } from '../model';

/**
 * Authenticates (confidential) or identifies (public) the client of a token,
 * revocation or device authorization request:
 * - `client_secret_basic`: HTTP Basic with form-encoded id and secret (RFC 6749 §2.3.1);
 * - `client_secret_post`: `client_id` + `client_secret` in the body;
 * - `none`: `client_id` alone, for public clients, which must then use PKCE.
 * Using more than one method, or Basic credentials that do not decode to
 * clean UTF-8 text (issue 12 item 8), is `invalid_request`; an unknown client,
 * a wrong secret or a confidential client without one is `invalid_client` (401).
 */
export async function authenticateClient(
  req: Request,
  params: OAuthParams,
  clients: ClientResolver,
  options?: {
    /**
     * The client the presented grant (a code, a refresh token) belongs to,
     * for requests that name no client: RFC 6749 §6 asks authentication only
     * of confidential clients, and the Backstage CLI refreshes without
     * `client_id`. Only a public client may be identified this way.
     */
    clientOfGrant?: () => Promise<string | undefined>;
  },
): Promise<Client> {
  const basic = readBasicCredentials(req);
  const postSecret = params.client_secret;

  if (basic && postSecret !== undefined) {
    throw new InvalidRequest('use only one client authentication method (RFC 6749 §2.3)');
  }
  if (basic && params.client_id !== undefined && params.client_id !== basic.clientId) {
    throw new InvalidRequest('client_id does not match the client authenticating');
  }

  const clientId = basic?.clientId ?? params.client_id;
  if (!clientId) {
    return identifyByGrant(clients, options?.clientOfGrant);
  }
  const client = await clients.findClient(clientId);
  if (!client) {
    throw new InvalidClient('client authentication failed');
  }

  const presentedSecret = basic?.clientSecret ?? postSecret;
  if (client.tokenEndpointAuthMethod === 'none') {
    // A public client has no secret; presenting one means it is confused or an impostor.
    if (presentedSecret !== undefined && presentedSecret !== '') {
      throw new InvalidClient('client authentication failed');
    }
    return client;
  }
  if (presentedSecret === undefined || presentedSecret === '') {
    throw new InvalidClient('client authentication is required for this client');
  }
  if (!(await clients.verifySecret(client, presentedSecret))) {
    throw new InvalidClient('client authentication failed');
  }
  return client;
}

/** A request that names no client: the grant it presents may identify a public one. */
async function identifyByGrant(
  clients: ClientResolver,
  clientOfGrant: (() => Promise<string | undefined>) | undefined,
): Promise<Client> {
  const clientId = clientOfGrant ? await clientOfGrant() : undefined;
  const client = clientId === undefined ? undefined : await clients.findClient(clientId);
  if (!client || client.tokenEndpointAuthMethod !== 'none') {
    throw new InvalidClient('client authentication is required');
  }
  return client;
}

function readBasicCredentials(
  req: Request,
): { clientId: string; clientSecret: string } | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  if (!match) {
    if (/^Basic\b/i.test(header)) {
      throw new InvalidClient('malformed Basic credentials');
    }
    // Another scheme (e.g. a Bearer token) is not client authentication.
    return undefined;
  }
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) {
    throw new InvalidClient('malformed Basic credentials');
  }
  let credentials: { clientId: string; clientSecret: string };
  try {
    // RFC 6749 §2.3.1: id and secret are application/x-www-form-urlencoded first.
    credentials = {
      clientId: formDecode(decoded.slice(0, colon)),
      clientSecret: formDecode(decoded.slice(colon + 1)),
    };
  } catch {
    // A malformed escape or one that is not UTF-8 (`%C0%80`): bad bytes, as in a query.
    throw new InvalidRequest('the Basic client credentials are not percent-encoded UTF-8');
  }
  // Issue 12 item 8: checked once decoded, since base64 and the form step can each
  // hide a NUL byte (PostgreSQL fails on it) or bytes that were not UTF-8.
  const problem =
    findForbiddenCharacter(credentials.clientId) ?? findForbiddenCharacter(credentials.clientSecret);
  if (problem) {
    throw new InvalidRequest(`the Basic client credentials contain ${problem}`);
  }
  return credentials;
}

function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}
