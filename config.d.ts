import type { HumanDuration } from '@backstage/types';

/**
 * Configuration schema of `@portal-oidc/plugin-auth-backend`.
 *
 * The keys under `auth` keep the names and meaning of
 * `@backstage/plugin-auth-backend`, so an existing app-config.yaml works
 * unchanged. Everything new lives under `auth.oidcProvider`.
 */
export interface Config {
  app: {
    /**
     * The frontend's base URL. Its origin may receive sign-in results, and
     * the consent page is served under it.
     * @visibility frontend
     */
    baseUrl: string;
  };

  auth?: {
    /**
     * The 'environment' attribute, used by the frontend to pick provider
     * config.
     * @visibility frontend
     */
    environment?: string;

    /**
     * Provider configuration; each provider module declares its own keys.
     */
    providers?: { [providerId: string]: unknown };

    session?: {
      /**
       * Secret that signs the express-session cookie. When set, sessions are
       * stored in the `sessions` table for providers that need one.
       * @visibility secret
       */
      secret?: string;
    };

    /**
     * JWS `alg` of Backstage user tokens. Defaults to ES256.
     */
    identityTokenAlgorithm?: string;

    /**
     * Leave the ownership claim (`ent`) out of Backstage user tokens; it stays
     * available from `/v1/userinfo`. Defaults to true.
     */
    omitIdentityTokenOwnershipClaim?: boolean;

    /**
     * Lifetime of Backstage user tokens, clamped to 10 minutes – 24 hours.
     * Defaults to 1 hour.
     */
    backstageTokenExpiration?: HumanDuration | string;

    /** Where the signing keys' public halves are kept. */
    keyStore?: {
      /** Defaults to `database`. */
      provider?: 'database' | 'memory' | 'static';
      static?: {
        /** At least one key pair; the first one signs. */
        keys: Array<{
          /** Path to the public key file (SPKI PEM). */
          publicKeyFile: string;
          /**
           * Path to the matching private key file (PKCS#8 PEM).
           * @visibility secret
           */
          privateKeyFile: string;
          /** The `kid` that identifies this key in the JWKS. */
          keyId: string;
          /** JWS `alg` the key pair was generated for. Defaults to ES256. */
          algorithm?: string;
        }>;
      };
    };

    /**
     * Extra browser origins (glob patterns) that may receive sign-in results,
     * besides the origin of `app.baseUrl`.
     */
    experimentalExtraAllowedOrigins?: string[];

    /** OAuth 2.0 Dynamic Client Registration (RFC 7591). */
    experimentalDynamicClientRegistration?: {
      /** Defaults to false. */
      enabled?: boolean;
      /** Glob patterns a registered redirect URI must match. */
      allowedRedirectUriPatterns?: string[];
    };

    /** OAuth Client ID Metadata Documents: a URL as `client_id`. */
    clientIdMetadataDocuments?: {
      /** Defaults to false. */
      enabled?: boolean;
      /** Glob patterns a `client_id` URL must match. */
      allowedClientIdPatterns?: string[];
      /** Glob patterns the document's redirect URIs must match. */
      allowedRedirectUriPatterns?: string[];
    };

    /**
     * Deprecated alias of `auth.clientIdMetadataDocuments`.
     * @deprecated Use `auth.clientIdMetadataDocuments`.
     */
    experimentalClientIdMetadataDocuments?: {
      enabled?: boolean;
      allowedClientIdPatterns?: string[];
      allowedRedirectUriPatterns?: string[];
    };

    /** Refresh tokens for OAuth clients (`offline_access`). */
    experimentalRefreshToken?: {
      /** Defaults to false. */
      enabled?: boolean;
      /** Lifetime of one refresh token. */
      tokenLifetime?: HumanDuration | string;
      /** How long a chain of rotated refresh tokens may live in total. */
      maxRotationLifetime?: HumanDuration | string;
      /** Most active refresh tokens one user may hold. */
      maxTokensPerUser?: number;
    };

    // The keys new in this plugin (static clients, device grant, built-in
    // pages, rate limits, lifetimes) go in `oidcProvider?: { … }` here.
  };
}
