import type { LoggerService } from '@backstage/backend-plugin-api';
import type { OidcProviderConfig } from '../config/readOidcProviderConfig';
import type { ClientStore } from './clients/ClientStore';
import type { DeviceCodeStore } from './DeviceCodeStore';
import type { ClientResolver, Clock, SecurityAuditor } from './model';
import type {
  AuthorizationCodeStore,
  AuthorizationSessionStore,
  RefreshTokenStore,
  TokenSigner,
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
  /** Authorization code flow (SPEC §2 Authorization, Tokens). */
  sessions: AuthorizationSessionStore;
  codes: AuthorizationCodeStore;
  refreshTokens: RefreshTokenStore;
  signer: TokenSigner;
  users: UserDirectory;
  /** Device authorization requests (RFC 8628). */
  deviceCodes: DeviceCodeStore;
  /** Where `/v1/authorize` sends the user to approve (the app's consent page by default). */
  consentPageUrl(sessionId: string): string;
}
