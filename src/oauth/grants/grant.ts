import type { OAuthContext } from '../context';
import type { OAuthParams } from '../http/parseParams';
import type { Client } from '../model';

/** A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3). */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  id_token?: string;
  refresh_token?: string;
}

/**
 * Charges the request to the budget of the user whose grant it presents
 * (issue 25 item 2: a public client's budget is kept per user; for a
 * confidential client, charged per client already, it does nothing). Throws
 * `too_many_requests` (`slow_down` for a device's poll) when that user is
 * over budget. A grant calls it once the request has proved whose grant it
 * is, and before it changes anything it would cost the user to lose.
 */
export type ChargeUser = (userEntityRef: string) => Promise<void>;

/**
 * One grant type of the token endpoint, in its own file (`grants/*.ts`). The
 * endpoint has already authenticated (or identified) the client and checked
 * that it is registered for this grant type.
 */
export interface Grant {
  grantType: string;
  /** Whether configuration switches this grant on; disabled grants are unsupported. */
  isEnabled(ctx: OAuthContext): boolean;
  handle(
    input: { params: OAuthParams; client: Client; chargeUser: ChargeUser },
    ctx: OAuthContext,
  ): Promise<TokenResponse>;
}
