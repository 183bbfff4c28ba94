import { mockServices } from '@backstage/backend-test-utils';
import { ConfigReader } from '@backstage/config';
import { readOidcProviderConfig } from '../config/readOidcProviderConfig';
import type { ClientStore } from '../oauth/clients/ClientStore';
import { createClientResolver, type SharedMarks } from '../oauth/clients/createClientResolver';
import type { Clock } from '../oauth/model';
import { createOutboundGuard } from '../oauth/outbound/createOutboundGuard';

/** A client store with no registered clients. */
export const noClientStore: ClientStore = {
  get: async () => undefined,
  create: async () => {},
  deleteMirrors: async () => 0,
  hashLegacySecrets: async () => 0,
};

/**
 * A client resolver that accepts metadata documents from any loopback http
 * URL (development settings), for tests that serve documents themselves.
 */
export function documentClientResolver(options: { clock: Clock; sharedFailures?: SharedMarks }) {
  const { clock, sharedFailures } = options;
  return createClientResolver({
    config: readOidcProviderConfig(
      new ConfigReader({
        auth: {
          clientIdMetadataDocuments: { enabled: true, allowedClientIdPatterns: ['http://*:*/**'] },
          oidcProvider: { dangerouslyAllowInsecureClientIdMetadataDocuments: true },
        },
      }),
    ),
    store: noClientStore,
    issuer: 'http://localhost:7007/api/auth',
    logger: mockServices.logger.mock(),
    clock,
    outbound: createOutboundGuard({ allowInsecure: true, clock }),
    ...(sharedFailures ? { sharedFailures } : {}),
  });
}
