import Router from 'express-promise-router';
import type express from 'express';
import { CLI_CLIENT_METADATA_PATH, cliClientMetadataDocument } from '../clients/cliClientMetadata';
import type { OAuthContext } from '../context';
import { prebuildJson, sendPrebuiltJson } from '../http/prebuiltJson';
import { authenticationMetadata } from './authenticationMetadata';
import { supportedGrantTypes, supportedScopes, TOKEN_EXCHANGE_GRANT_TYPE } from '../supportedScopes';

/** Where the two discovery documents live, relative to the issuer. */
export const OPENID_CONFIGURATION_PATH = '/.well-known/openid-configuration';
export const OAUTH_AUTHORIZATION_SERVER_PATH = '/.well-known/oauth-authorization-server';
/** Everything {@link createDiscoveryEndpoint} serves. */
export const DISCOVERY_PATHS = [OPENID_CONFIGURATION_PATH, OAUTH_AUTHORIZATION_SERVER_PATH, CLI_CLIENT_METADATA_PATH];

/**
 * The server metadata (OIDC Discovery §3, RFC 8414 §2), built from the same
 * configuration object that switches features on, so it advertises exactly
 * what works.
 */
export function buildServerMetadata(
  ctx: Pick<OAuthContext, 'issuer' | 'config'>,
  options: { signingAlgorithms: string[] },
): Record<string, unknown> {
  const { issuer, config } = ctx;
  const features = {
    refreshEnabled: config.refreshToken.enabled,
    deviceEnabled: config.deviceAuthorization.enabled,
  };
  const authMethods = ['client_secret_basic', 'client_secret_post', 'none'];
  return {
    issuer,
    authorization_endpoint: `${issuer}/v1/authorize`,
    token_endpoint: `${issuer}/v1/token`,
    userinfo_endpoint: `${issuer}/v1/userinfo`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    revocation_endpoint: `${issuer}/v1/revoke`,
    ...(config.dynamicClientRegistration.enabled
      ? { registration_endpoint: `${issuer}/v1/register` }
      : {}),
    ...(features.deviceEnabled
      ? { device_authorization_endpoint: `${issuer}/v1/device_authorization` }
      : {}),
    // RFC 7662, for the resource servers of auth.oidcProvider.resources.
    ...(config.resources.length > 0
      ? {
          introspection_endpoint: `${issuer}/v1/introspect`,
          introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        }
      : {}),
    // With the scopes of the configured resource servers (RFC 8707).
    scopes_supported: [...new Set([...supportedScopes(features), ...config.resources.flatMap(r => r.scopes)])],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: [
      ...supportedGrantTypes(features),
      // RFC 8693, for Backstage services acting for a user towards a resource server.
      ...(config.resources.length > 0 ? [TOKEN_EXCHANGE_GRANT_TYPE] : []),
    ],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: options.signingAlgorithms,
    token_endpoint_auth_methods_supported: authMethods,
    revocation_endpoint_auth_methods_supported: authMethods,
    // RFC 7636: only S256; `plain` is refused by /v1/authorize.
    code_challenge_methods_supported: ['S256'],
    // RFC 9207: authorization responses carry `iss`.
    authorization_response_iss_parameter_supported: true,
    // OIDC Discovery §3 defaults request_uri_parameter_supported to true; we support neither.
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    claims_parameter_supported: false,
    ...authenticationMetadata(config),
    ...(config.clientIdMetadataDocuments.enabled
      ? { client_id_metadata_document_supported: true }
      : {}),
  };
}

/** A handler that serves the metadata document at its router's root. */
export function createServerMetadataHandler(
  ctx: Pick<OAuthContext, 'issuer' | 'config'>,
  options: { signingAlgorithms: string[] },
): express.RequestHandler {
  const document = prebuildJson(buildServerMetadata(ctx, options));
  return (req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || (req.path !== '/' && req.path !== '')) {
      next();
      return;
    }
    res.setHeader('Cache-Control', 'public, max-age=300');
    sendPrebuiltJson(req, res, document);
  };
}

/**
 * The discovery documents under the plugin, and the Backstage CLI's client-ID
 * metadata document when CIMD is on. The path-inserted root forms
 * (RFC 8414 §3.1) are mounted by the service on the root router with
 * {@link createServerMetadataHandler}.
 */
export function createDiscoveryEndpoint(
  ctx: Pick<OAuthContext, 'issuer' | 'config'>,
  options: { signingAlgorithms: string[] },
): express.Router {
  const router = Router();
  const serveMetadata = createServerMetadataHandler(ctx, options);
  router.use(OPENID_CONFIGURATION_PATH, serveMetadata);
  router.use(OAUTH_AUTHORIZATION_SERVER_PATH, serveMetadata);
  if (ctx.config.clientIdMetadataDocuments.enabled) {
    const features = {
      refreshEnabled: ctx.config.refreshToken.enabled,
      deviceEnabled: ctx.config.deviceAuthorization.enabled,
    };
    const cliDocument = cliClientMetadataDocument(ctx.issuer, supportedGrantTypes(features));
    router.get(CLI_CLIENT_METADATA_PATH, (_req, res) => {
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.json(cliDocument);
    });
  }
  return router;
}
