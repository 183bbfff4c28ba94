import type {
  AuditorService,
  AuthService,
  DatabaseService,
  DiscoveryService,
  HttpAuthService,
  LifecycleService,
  LoggerService,
  RootConfigService,
  RootHttpRouterService,
  SchedulerService,
} from '@backstage/backend-plugin-api';
import type { MetricsService } from '@backstage/backend-plugin-api/alpha';
import type { AuthOwnershipResolver, AuthProviderFactory } from '@backstage/plugin-auth-node';
import type { CatalogService } from '@backstage/plugin-catalog-node';
import type { AuthConfig } from '../config/readAuthConfig';

/** Everything the plugin hands to the router; see plugin.ts. */
export interface RouterOptions {
  config: AuthConfig;
  rootConfig: RootConfigService;
  logger: LoggerService;
  database: DatabaseService;
  discovery: DiscoveryService;
  auth: AuthService;
  httpAuth: HttpAuthService;
  scheduler: SchedulerService;
  lifecycle: LifecycleService;
  auditor: AuditorService;
  rootHttpRouter: RootHttpRouterService;
  catalog: CatalogService;
  /** The backend's alpha metrics service (docs/metrics.md). */
  metrics: MetricsService;
  providerFactories: ReadonlyMap<string, AuthProviderFactory>;
  ownershipResolver?: AuthOwnershipResolver;
}
