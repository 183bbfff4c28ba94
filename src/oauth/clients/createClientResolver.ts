import { InputError } from '@backstage/errors';
import type { LoggerService } from '@backstage/backend-plugin-api';
import type { OidcProviderConfig, StaticClientConfig } from '../../config/readOidcProviderConfig';
import { constantEquals } from '../crypto/constantEquals';
import { sha256 } from '../crypto/sha256';
import { TemporarilyUnavailable } from '../errors';
import { type OAuthMetrics, OTHER } from '../metrics';
import type { Client, ClientResolver, Clock } from '../model';
import { type OutboundGuard, OutboundRequestError } from '../outbound/createOutboundGuard';
import { supportedGrantTypes, supportedScopes } from '../supportedScopes';
import { TtlCache } from '../TtlCache';
import { cliClientId, cliClientMetadataDocument } from './cliClientMetadata';
import {
  checkClientIdUrl,
  ClientMetadataDocumentError,
  fetchClientMetadataDocument,
  looksLikeClientMetadataDocumentUrl,
  parseClientMetadataDocument,
  type ClientMetadataDocumentPolicy,
} from './clientMetadataDocument';
import type { ClientStore, StoredClient } from './ClientStore';

/** How long a fetched metadata document is trusted before it is fetched again. */
export const CLIENT_METADATA_CACHE_SECONDS = 5 * 60;
/** How long a failed fetch is remembered, so a bad URL cannot make us fetch in a loop. */
export const CLIENT_METADATA_FAILURE_CACHE_SECONDS = 30;
const MAX_CACHED_DOCUMENTS = 1000;
/** Refusals are kept apart, so a flood of bad URLs cannot evict good documents. */
const MAX_CACHED_FAILURES = 10_000;
/**
 * How long a DCR client read from the database is reused. Registrations never
 * change, but cleanup deletes unused clients, so keep this short. Only found
 * clients are cached: another instance may register one at any time.
 */
export const DYNAMIC_CLIENT_CACHE_SECONDS = 30;
const MAX_CACHED_DYNAMIC_CLIENTS = 1000;


/** Keys remembered for a while by every instance; never throws (a lost store remembers nothing). */
export interface SharedMarks {
  has(key: string): Promise<boolean>;
  remember(key: string, ttlSeconds: number): Promise<void>;
}

/**
 * Finds clients in order: pre-registered (app-config), the built-in CLI
 * document, client-ID metadata documents (URL client ids), and clients
 * registered through DCR. Static secrets are hashed here at startup; the
 * clear values are not kept.
 */
export async function createClientResolver(options: {
  config: OidcProviderConfig;
  store: ClientStore;
  issuer: string;
  logger: LoggerService;
  clock: Clock;
  /** Fetches metadata documents; shared with everything else the server fetches. */
  outbound: OutboundGuard;
  /** The JWS algorithms ID tokens can be signed with (`id_token_signed_response_alg`). */
  idTokenAlgorithms?: readonly string[];
  /**
   * Refused documents remembered for every instance (the backend's cache),
   * so a URL one instance found bad is not fetched by the others meanwhile.
   */
  sharedFailures?: SharedMarks;
  /** Counts each document fetch and why it failed (docs/metrics.md). */
  metrics?: Pick<OAuthMetrics, 'clientMetadataFetched'>;
}): Promise<ClientResolver> {
  const { config, store, issuer, logger, clock, outbound, sharedFailures, metrics } = options;
  const idTokenAlgorithms = options.idTokenAlgorithms ?? [];
  const features = {
    refreshEnabled: config.refreshToken.enabled,
    deviceEnabled: config.deviceAuthorization.enabled,
  };
  const policy: ClientMetadataDocumentPolicy = {
    allowInsecure: config.dangerouslyAllowInsecureClientIdMetadataDocuments,
    isClientIdAllowed: config.clientIdMetadataDocuments.isClientIdAllowed,
    isRedirectUriAllowed: config.clientIdMetadataDocuments.isRedirectUriAllowed,
    grantTypes: supportedGrantTypes(features),
    scopes: supportedScopes(features),
    idTokenAlgorithms,
  };

  const cimdEnabled = config.clientIdMetadataDocuments.enabled;
  if (cimdEnabled && policy.allowInsecure) {
    logger.warn(
      'auth.oidcProvider.dangerouslyAllowInsecureClientIdMetadataDocuments is on: client-ID ' +
        'metadata documents are fetched over http and from loopback and private addresses. ' +
        'Use it only for development and tests.',
    );
  }

  const statics = new Map<string, { client: Client; secretHash?: string }>();
  for (const entry of config.clients) {
    const alg = entry.idTokenSignedResponseAlg;
    if (alg !== undefined && !idTokenAlgorithms.includes(alg)) {
      throw new InputError(
        `auth.oidcProvider.clients: '${entry.clientId}' asks for ID tokens signed with '${alg}', but the portal signs with ${idTokenAlgorithms.join(', ')}`,
      );
    }
    statics.set(entry.clientId, toStaticClient(entry));
  }
  const cli = cimdEnabled
    ? parseClientMetadataDocument(
        cliClientId(issuer),
        cliClientMetadataDocument(issuer, policy.grantTypes),
        { ...policy, isRedirectUriAllowed: () => true },
      )
    : undefined;

  const mirrors = await store.deleteMirrors();
  if (mirrors > 0) {
    logger.info(`Deleted ${mirrors} copies of config and metadata-document clients from oidc_clients`);
  }
  const converted = await store.hashLegacySecrets();
  if (converted > 0) {
    logger.info(`Replaced ${converted} clear-text client secrets in oidc_clients by their hashes`);
  }

  const documents = new TtlCache<Client>({ maxEntries: MAX_CACHED_DOCUMENTS, clock });
  const failures = new TtlCache<true>({ maxEntries: MAX_CACHED_FAILURES, clock });
  const inFlight = new Map<string, Promise<Client | undefined>>();
  const dynamicClients = new TtlCache<StoredClient>({ maxEntries: MAX_CACHED_DYNAMIC_CLIENTS, clock });

  /** A DCR client (with its secret hash) from the short-lived cache or the database. */
  async function getDynamic(clientId: string): Promise<StoredClient | undefined> {
    const cached = dynamicClients.get(clientId);
    if (cached) return cached.value;
    const stored = await store.get(clientId);
    // Mirrored rows of static clients removed from config must not resurrect them.
    if (stored?.client.kind !== 'dynamic') return undefined;
    dynamicClients.set(clientId, stored, DYNAMIC_CLIENT_CACHE_SECONDS);
    return stored;
  }

  async function resolveDocument(clientId: string, url: URL): Promise<Client | undefined> {
    if (await sharedFailures?.has(clientId)) {
      failures.set(clientId, true, CLIENT_METADATA_FAILURE_CACHE_SECONDS);
      return undefined;
    }
    let client: Client | undefined;
    try {
      const document = await fetchClientMetadataDocument(url, outbound);
      client = parseClientMetadataDocument(clientId, document, policy);
      metrics?.clientMetadataFetched({});
    } catch (error) {
      metrics?.clientMetadataFetched({ errorType: fetchErrorType(error) });
      // Held back for other hosts: not the document's fault, so nothing is remembered.
      if (error instanceof OutboundRequestError && error.retryable) {
        throw new TemporarilyUnavailable(
          `the client metadata document was not fetched: ${error.message}; retry in a moment`,
        );
      }
      if (!(error instanceof ClientMetadataDocumentError)) throw error;
      logger.warn(`Refused client-ID metadata document ${clientId}: ${error.message}`);
    }
    if (client) documents.set(clientId, client, CLIENT_METADATA_CACHE_SECONDS);
    else {
      failures.set(clientId, true, CLIENT_METADATA_FAILURE_CACHE_SECONDS);
      await sharedFailures?.remember(clientId, CLIENT_METADATA_FAILURE_CACHE_SECONDS);
    }
    return client;
  }

  /** The document behind a URL client_id: cached, joined to a running fetch, or fetched. */
  function findDocumentClient(clientId: string): Client | undefined | Promise<Client | undefined> {
    const cached = documents.get(clientId);
    if (cached) return cached.value;
    if (failures.get(clientId)) return undefined;
    // One fetch per URL at a time, however many requests name it.
    const running = inFlight.get(clientId);
    if (running) return running;
    let url: URL;
    try {
      url = checkClientIdUrl(clientId, policy);
    } catch (error) {
      if (!(error instanceof ClientMetadataDocumentError)) throw error;
      return undefined;
    }
    // The outbound guard decides whether the fetch may run now (fair slots per host).
    const pending = resolveDocument(clientId, url).finally(() => inFlight.delete(clientId));
    inFlight.set(clientId, pending);
    return pending;
  }

  return {
    async findClient(clientId) {
      const fromConfig = statics.get(clientId);
      if (fromConfig) return fromConfig.client;
      if (cli && clientId === cli.clientId) return cli;
      if (looksLikeClientMetadataDocumentUrl(clientId)) {
        return cimdEnabled ? findDocumentClient(clientId) : undefined;
      }
      return (await getDynamic(clientId))?.client;
    },

    async verifySecret(client, presentedSecret) {
      let secretHash: string | undefined;
      if (client.kind === 'static') secretHash = statics.get(client.clientId)?.secretHash;
      else if (client.kind === 'dynamic') secretHash = (await getDynamic(client.clientId))?.secretHash;
      if (!secretHash) return false;
      return constantEquals(sha256(presentedSecret), secretHash);
    },
  };
}

/** A failed fetch's `error.type`: the guard's code, the document's fault, or `_OTHER` for a bug. */
function fetchErrorType(error: unknown): string {
  if (error instanceof ClientMetadataDocumentError) return error.reason;
  if (error instanceof OutboundRequestError) return error.code;
  return OTHER;
}

function toStaticClient(entry: StaticClientConfig): { client: Client; secretHash?: string } {
  const method = entry.public ? 'none' : 'client_secret_basic';
  const client: Client = {
    clientId: entry.clientId,
    clientName: entry.clientName,
    kind: 'static',
    redirectUris: entry.redirectUris,
    grantTypes: entry.grantTypes,
    responseTypes: ['code'],
    ...(entry.scopes ? { scopes: entry.scopes } : {}),
    tokenEndpointAuthMethod: method,
    ...(entry.idTokenSignedResponseAlg ? { idTokenSignedResponseAlg: entry.idTokenSignedResponseAlg } : {}),
    metadata: {
      client_id: entry.clientId,
      client_name: entry.clientName,
      redirect_uris: entry.redirectUris,
      grant_types: entry.grantTypes,
      response_types: ['code'],
      token_endpoint_auth_method: method,
      ...(entry.scopes ? { scope: entry.scopes.join(' ') } : {}),
    },
  };
  return { client, ...(entry.clientSecret ? { secretHash: sha256(entry.clientSecret) } : {}) };
}
