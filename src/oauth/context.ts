import type { LoggerService } from '@backstage/backend-plugin-api';
import type express from 'express';
import type { OidcProviderConfig } from '../config/readOidcProviderConfig';
import type { UserSignInStore } from './authenticationContext';
import type { AuthorizationRequestHandles } from './authorizationRequests';
import type { ClientStore } from './clients/ClientStore';
import type { DeviceCodeStore } from './DeviceCodeStore';
import type { LimitStore } from './http/LimitStore';
import type { OAuthMetrics } from './metrics';
import type { ClientResolver, Clock, SecurityAuditor } from './model';
import type {
  AuthorizationCodeStore,
  AuthorizationSessionStore,
  RefreshTokenStore,
  TokenSigner,
  UpstreamRefreshTokenStore,
  UserDirectory,
} from './stores';

/**
 * Everything the OAuth endpoints need, built once in service/createOidcProvider.ts.
 * Protocol code sees only interfaces here: no knex, no coreServices.
 */
export interface OAuthContext {
  /** The issuer identifier: the plugin's external base URL, exactly. */
  issuer: string;
  config: OidcProviderConfig;
  logger: LoggerService;
  clock: Clock;
  clients: ClientResolver;
  /** Where dynamically registered clients are stored (RFC 7591). */
  clientStore: ClientStore;
  audit: SecurityAuditor;
  /** Counters and histograms for operators (docs/metrics.md); audit events are separate. */
  metrics: OAuthMetrics;
  /** Where the rate limits count (per instance, or shared by every instance). */
  limits: LimitStore;
  /** Authorization code flow (SPEC §2 Authorization, Tokens): requests until decided, in their handles. */
  authorizationRequests: AuthorizationRequestHandles;
  /** Decided requests. */
  sessions: AuthorizationSessionStore;
  codes: AuthorizationCodeStore;
  refreshTokens: RefreshTokenStore;
  /** Upstream's refresh tokens, in a database taken over from upstream. */
  upstreamRefreshTokens: UpstreamRefreshTokenStore;
  signer: TokenSigner;
  users: UserDirectory;
  /** Each user's last sign-in through a provider, and what requests asked of it (issue 14). */
  signIns: UserSignInStore;
  /** Device authorization requests (RFC 8628). */
  deviceCodes: DeviceCodeStore;
  /** Where `/v1/authorize` sends the user to approve a request's handle (the app's consent page by default). */
  consentPageUrl(handle: string): string;
  /**
   * Verifies the Backstage user token (full or limited) a request carries,
   * through the framework; throws InvalidToken when there is none or it is
   * bad. `oauthClient` is set when the token was issued to an OAuth client,
   * or is a limited token rebuilt from one (sent as it is or on the user's
   * behalf by a plugin), which names no client and is granted no scope.
   */
  verifyUserToken(req: express.Request): Promise<{
    userEntityRef: string;
    oauthClient?: { clientId?: string; scopes: string[]; grantId?: string };
  }>;
  /**
   * The Backstage service (`plugin:<id>`) whose credentials a request carries
   * as a Bearer token; undefined when it carries none; InvalidClient when they
   * are not valid service credentials.
   */
  verifyServiceCaller(req: express.Request): Promise<string | undefined>;
  /** Shows a browser an authorization error that is not redirected (an HTML page). */
  renderAuthorizationError(
    res: express.Response,
    error: { status: number; code: string; description: string },
  ): void;
}
