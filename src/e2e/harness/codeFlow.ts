import request from 'supertest';
import { pkcePair } from '../fixtures/pkcePair';
import type { AuthBackend } from './startAuthBackend';

/** A client as the flow driver uses it. */
export interface FlowClient {
  clientId: string;
  clientSecret?: string;
  redirectUri: string;
}

/** The authorization request parameters a test may override or omit (`undefined`). */
export type AuthorizeParams = Record<string, string | undefined>;

/**
 * Drives the authorization code flow over HTTP the way a browser and the
 * consent page would: GET /v1/authorize, read the session id from the
 * redirect to the app, approve through the consent API with a guest token.
 */
export class CodeFlow {
  constructor(
    private readonly backend: AuthBackend,
    private readonly client: FlowClient,
  ) {}

  /** Sends an authorization request; `overrides` replace (or with undefined, drop) defaults. */
  async authorize(
    overrides: AuthorizeParams = {},
  ): Promise<{ res: request.Response; verifier: string; params: Record<string, string> }> {
    const pkce = pkcePair();
    const params: AuthorizeParams = {
      response_type: 'code',
      client_id: this.client.clientId,
      redirect_uri: this.client.redirectUri,
      scope: 'openid profile email offline_access',
      state: 'state-123',
      nonce: 'nonce-456',
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
      ...overrides,
    };
    const query = Object.fromEntries(
      Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined),
    );
    const res = await request(this.backend.server).get('/api/auth/v1/authorize').query(query);
    return { res, verifier: pkce.verifier, params: query };
  }

  /** The consent session id from a successful authorization response. */
  static sessionIdOf(location: string | undefined): string {
    const match = /\/oauth2\/authorize\/([^/?#]+)$/.exec(location ?? '');
    if (!match) throw new Error(`not a consent page redirect: ${location}`);
    return decodeURIComponent(match[1]);
  }

  /**
   * Authorizes and approves as the guest, or as the user whose Backstage
   * token `userToken` is; returns the code and its verifier.
   */
  async approvedCode(overrides: AuthorizeParams = {}, userToken?: string) {
    const { res, verifier, params } = await this.authorize(overrides);
    if (res.status !== 302) {
      throw new Error(`authorize failed: ${res.status} ${JSON.stringify(res.body)}`);
    }
    const sessionId = CodeFlow.sessionIdOf(res.headers.location);
    const redirect = userToken
      ? await approveWithToken(this.backend, sessionId, userToken)
      : await approveAsGuest(this.backend, sessionId);
    return {
      code: redirect.searchParams.get('code')!,
      redirect,
      verifier,
      params,
      sessionId,
    };
  }

  /** POSTs a form to the token endpoint, authenticating as the client. */
  token(form: Record<string, string>) {
    return this.#withClient(request(this.backend.server).post('/api/auth/v1/token'), form);
  }

  /** POSTs a form to the revocation endpoint, authenticating as the client. */
  revoke(form: Record<string, string>) {
    return this.#withClient(request(this.backend.server).post('/api/auth/v1/revoke'), form);
  }

  /** Redeems a code for tokens. */
  redeem(code: string, verifier: string, extra: Record<string, string> = {}) {
    return this.token({
      grant_type: 'authorization_code',
      code,
      redirect_uri: this.client.redirectUri,
      code_verifier: verifier,
      ...extra,
    });
  }

  /** Full flow: authorize, approve (as the guest, or the owner of `userToken`), redeem; returns the token response body. */
  async tokens(overrides: AuthorizeParams = {}, userToken?: string) {
    const { code, verifier } = await this.approvedCode(overrides, userToken);
    const res = await this.redeem(code, verifier);
    if (res.status !== 200) {
      throw new Error(`token failed: ${res.status} ${JSON.stringify(res.body)}`);
    }
    return res.body as {
      access_token: string;
      id_token?: string;
      refresh_token?: string;
      expires_in: number;
      scope: string;
      token_type: string;
    };
  }

  #withClient(req: request.Test, form: Record<string, string>) {
    const { clientId, clientSecret } = this.client;
    if (clientSecret !== undefined) {
      // RFC 6749 §2.3.1: form-encode id and secret before Basic encoding.
      req.auth(encodeURIComponent(clientId), encodeURIComponent(clientSecret));
      return req.type('form').send(form);
    }
    return req.type('form').send({ client_id: clientId, ...form });
  }
}

/** Approves a consent session through the consent API as the signed-in guest; returns the callback URL. */
export async function approveAsGuest(backend: AuthBackend, sessionId: string): Promise<URL> {
  const { token } = await backend.signInAsGuest();
  return approveWithToken(backend, sessionId, token);
}

/** Approves a consent session with a user's Backstage token; returns the callback URL. */
export async function approveWithToken(
  backend: AuthBackend,
  sessionId: string,
  token: string,
): Promise<URL> {
  const approval = await request(backend.server)
    .post(`/api/auth/v1/sessions/${sessionId}/approve`)
    .auth(token, { type: 'bearer' })
    .set('Content-Type', 'application/json');
  if (approval.status !== 200) {
    throw new Error(`approve failed: ${approval.status} ${JSON.stringify(approval.body)}`);
  }
  return new URL(approval.body.redirectUrl);
}

/**
 * The browser's part for a real client library: open its authorization URL,
 * land on the consent page, approve as the guest; returns the callback URL.
 */
export async function approveInBrowser(backend: AuthBackend, authorizationUrl: URL): Promise<URL> {
  const res = await fetch(authorizationUrl, { redirect: 'manual' });
  if (res.status !== 302) {
    throw new Error(`authorize failed: ${res.status} ${await res.text()}`);
  }
  return approveAsGuest(backend, CodeFlow.sessionIdOf(res.headers.get('location') ?? undefined));
}
