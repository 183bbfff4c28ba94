import { cliClientId } from './clients/cliClientMetadata';
import type { Client } from './model';
import { DEVICE_CODE_GRANT_TYPE, TOKEN_EXCHANGE_GRANT_TYPE } from './supportedScopes';

/**
 * What a metric says about the party a token or request is for: where the
 * client's registration came from, the built-in Backstage CLI client, or a
 * Backstage plugin exchanging a user's token (RFC 8693). A handful of
 * values, never a client id (docs/metrics.md).
 */
export type ClientKindAttribute = Client['kind'] | 'backstage-cli' | 'backstage-service';

/** The value OpenTelemetry's conventions give an attribute outside its known set. */
export const OTHER = '_OTHER';

const GRANT_TYPES: ReadonlySet<string> = new Set([
  'authorization_code',
  'refresh_token',
  DEVICE_CODE_GRANT_TYPE,
  TOKEN_EXCHANGE_GRANT_TYPE,
]);

/** A request's `grant_type` as an attribute: one the server knows, else {@link OTHER}. */
export function grantTypeAttribute(grantType: unknown): string {
  return typeof grantType === 'string' && GRANT_TYPES.has(grantType) ? grantType : OTHER;
}

/** The {@link ClientKindAttribute} of a client of this issuer. */
export function clientKindOf(issuer: string, client: Client): ClientKindAttribute {
  return client.kind === 'metadata-document' && client.clientId === cliClientId(issuer) ? 'backstage-cli' : client.kind;
}

/**
 * The provider's counters and histograms (issue 26), named and documented in
 * docs/metrics.md. Every attribute takes a few known values; callers pass
 * nothing a client or user chose.
 */
export interface OAuthMetrics {
  /** A successful token response (RFC 6749 §5.1, RFC 8693 §2.2) was sent. */
  tokensIssued(attributes: { grantType: string; clientKind: ClientKindAttribute }): void;
  /** A token endpoint request was answered; `errorType` is the OAuth error code of a refusal. */
  tokenRequestDuration(seconds: number, attributes: { grantType: string; errorType?: string }): void;
  /** An OAuth endpoint answered with an OAuth error (RFC 6749 §5.2, §4.1.2.1). */
  refused(attributes: { endpoint: string; errorType: string }): void;
  /**
   * A rate limit refused a request: `limit` is the budget's name (the
   * endpoint, `introspection`, `verification`), `scope` what it counts
   * (`address`, `client`, `user`).
   */
  rateLimited(attributes: { limit: string; scope: string }): void;
  /** An authorization request was sealed into a handle and waits for the user's decision. */
  authorizationRequested(attributes: { clientKind: ClientKindAttribute }): void;
  /** A user decided an authorization request; `errorType` is the error a denial sends the client. */
  authorizationDecided(attributes: { decision: 'approved' | 'denied'; errorType?: string }): void;
  /** A client-ID metadata document was fetched; `errorType` says why it could not be used. */
  clientMetadataFetched(attributes: { errorType?: string }): void;
}
