import type { LoggerService } from '@backstage/backend-plugin-api';
import type { OidcProviderConfig } from '../config/readOidcProviderConfig';
import type { ClientResolver, Clock, SecurityAuditor } from './model';

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
  audit: SecurityAuditor;
}
