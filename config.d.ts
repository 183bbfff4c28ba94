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
          /**
           * The `kid` that identifies this key in the JWKS. The key is listed
           * a second time as `oauth-client:<keyId>`, the kid OAuth clients'
           * access tokens are signed under, so no keyId may start with
           * `oauth-client:`.
           */
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

    /**
     * Pre-registered OAuth clients, as in `@backstage/plugin-auth-backend`
     * 0.31. Read together with `auth.oidcProvider.clients` as one set: a
     * client id may appear under only one of the two keys. Every client uses
     * PKCE (S256); grants are `authorization_code`, plus `refresh_token` when
     * refresh tokens are enabled.
     */
    staticClients?: Array<{
      /** Unique across both keys, at most 255 characters, not an http(s) URL. */
      clientId: string;
      /** Shown on the consent page. Defaults to the client ID. */
      clientName?: string;
      /**
       * When set, the client must authenticate at the token endpoint
       * (`client_secret_basic` or `client_secret_post`); when left out, it is
       * a public client (PKCE only; it may send HTTP Basic with an empty
       * secret). Write it as `${ENV_VAR}`; only its SHA-256 hash is kept in memory.
       * @visibility secret
       */
      clientSecret?: string;
      /**
       * Redirect URIs, compared exactly (a loopback redirect may use any port,
       * RFC 8252): https, http on a loopback host, or a reverse-domain
       * private-use scheme.
       */
      redirectUris: string[];
    }>;

    /** OAuth Client ID Metadata Documents: a URL as `client_id`. */
    clientIdMetadataDocuments?: {
      /** Defaults to false. */
      enabled?: boolean;
      /**
       * URL patterns a `client_id` URL must match. Defaults to the well-known
       * MCP clients (claude.ai, vscode.dev, ChatGPT Codex, Cursor); the
       * built-in Backstage CLI document is always allowed.
       */
      allowedClientIdPatterns?: string[];
      /**
       * URL patterns a redirect URI must match to be used. Defaults to
       * loopback only (`http://localhost:*` and the 127.0.0.1 and [::1] forms).
       */
      allowedRedirectUriPatterns?: string[];
    };

    /**
     * Deprecated alias of `auth.clientIdMetadataDocuments`, read only when
     * that key is absent.
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
      /**
       * Refresh tokens of users missing from the catalog keep working (the
       * default revokes them). For portals whose users sign in without a
       * catalog entity; removed users keep access until their tokens expire.
       */
      dangerouslyDisableCatalogPresenceCheck?: boolean;
    };

    /**
     * Settings new in this plugin: pre-registered clients, the device grant,
     * the built-in pages, rate limits and flow lifetimes.
     */
    oidcProvider?: {
      /**
       * Clients registered in config, so internal tools can use the portal
       * for single sign-on without an open registration endpoint. Read
       * together with `auth.staticClients` (upstream's key) as one set; this
       * key adds `scopes`, `grantTypes` and an explicit `public`.
       */
      clients?: Array<{
        /** At most 255 characters, unique across both keys, not an http(s) URL. */
        clientId: string;
        /**
         * Required for confidential clients, forbidden for public ones.
         * Write it as `${ENV_VAR}`; only its SHA-256 hash is kept in memory.
         * @visibility secret
         */
        clientSecret?: string;
        /** Shown on the consent page. Defaults to the client ID. */
        clientName?: string;
        /** Exact redirect URIs (a loopback redirect may use any port, RFC 8252). */
        redirectUris: string[];
        /** Scopes the client may ask for; defaults to all supported scopes. */
        scopes?: string[];
        /**
         * Grants the client may use: `authorization_code` (default),
         * `refresh_token`, `urn:ietf:params:oauth:grant-type:device_code`.
         */
        grantTypes?: string[];
        /** A public client (no secret, token auth method `none`, PKCE). Defaults to false. */
        public?: boolean;
        /**
         * JWS algorithm of its ID tokens (OIDC Registration `id_token_signed_response_alg`):
         * the configured `auth.identityTokenAlgorithm` by default, or `RS256`.
         */
        idTokenSignedResponseAlg?: string;
      }>;

      /**
       * Resource servers outside Backstage (a company's own MCP servers and
       * APIs) that may receive access tokens from the portal. A token request
       * whose `resource` (RFC 8707) names one gets an RFC 9068 JWT access
       * token with `aud` = that resource, which no Backstage API accepts.
       */
      resources?: Array<{
        /** Its identifier: an absolute https URL (http only on loopback), e.g. `https://mcp.example.com/mcp`. */
        resource: string;
        /** Shown at consent. Defaults to the identifier's host. */
        name?: string;
        /** The scopes it understands (besides openid, profile, email, offline_access). */
        scopes?: string[];
        /** Only these clients (and, for token exchange, acting services `plugin:<id>`) may get tokens for it. */
        allowedClients?: string[];
        /** The confidential client from config it authenticates as at `/v1/introspect`. */
        introspectionClientId?: string;
      }>;

      /** Lifetime of an authorization code; at most (and by default) 60 seconds. */
      authorizationCodeLifetime?: HumanDuration | string;

      /** Lifetime of a pending consent request; at most (and by default) 10 minutes. */
      consentSessionLifetime?: HumanDuration | string;

      /**
       * No longer used, and ignored: a consent request is stored only once
       * the user decides it, so there is no pending request to cap.
       * @deprecated Remove it from your config.
       */
      maxPendingConsentSessions?: {
        perClient?: number;
        perAddress?: number;
      };

      /**
       * Where `/v1/authorize` sends the user: `app` (default) is the frontend's
       * `/oauth2/authorize/:sessionId` page from `@backstage/plugin-auth`;
       * `builtin` is the plugin's own server-rendered page.
       */
      consentPage?: 'app' | 'builtin';

      /**
       * The sign-in provider the built-in pages use to identify the user.
       * Defaults to the first provider under `auth.providers`.
       */
      signInProvider?: string;

      /**
       * The `acr` (authentication context class) values that sign-ins through
       * your identity provider can carry, as its ID tokens report them; advertised
       * as `acr_values_supported`. A client's `acr_values` must name at least one
       * of them, and the user's sign-in must have one of those it named, or the
       * request ends with `unmet_authentication_requirements`. Defaults to none:
       * every `acr_values` is refused.
       */
      acrValuesSupported?: string[];

      /** OAuth 2.0 Device Authorization Grant (RFC 8628). */
      deviceAuthorization?: {
        /** Defaults to false. */
        enabled?: boolean;
        /** When set, only these client IDs may use the device grant. */
        allowedClientIds?: string[];
        /** Lifetime of a device code; 1–10 minutes, default 10 minutes. */
        lifetime?: HumanDuration | string;
        /** Minimum polling interval; 1–60 seconds, default 5 seconds. */
        interval?: HumanDuration | string;
      };

      /**
       * Per-address request budgets; answers beyond them are 429. Each
       * instance counts on its own.
       */
      rateLimits?: {
        /** `GET|POST /v1/authorize`; default 120 per minute. */
        authorization?: RateLimitConfig;
        /** `POST /v1/register`; default 20 per hour. */
        registration?: RateLimitConfig;
        /**
         * `POST /v1/token`; default 300 per minute. The same budget is each
         * user's per public client (that user's code exchanges, refreshes
         * and device codes, from any address), and ten times it is an
         * authenticated confidential client's, across addresses.
         */
        token?: RateLimitConfig;
        /** `POST /v1/device_authorization`; default 30 per minute. */
        deviceAuthorization?: RateLimitConfig;
        /**
         * Wrong user codes entered on the device verification page, per
         * signed-in user; each address may enter ten times as many (people
         * behind one office address share it). Only codes that match no
         * request count: page views, sign-ins and approve/deny decisions
         * never do. Over budget the page answers with a 429 page and
         * Retry-After. Default 5 per 5 minutes.
         */
        verification?: RateLimitConfig;
      };

      /**
       * Development and tests only: allow http and loopback/private-address
       * client ID metadata document URLs. Never enable in production (SSRF).
       */
      dangerouslyAllowInsecureClientIdMetadataDocuments?: boolean;
    };
  };
}

/** A request budget: `requests` per `window`. */
interface RateLimitConfig {
  /** Requests allowed per window. */
  requests?: number;
  /** Window length, 1 second – 24 hours. */
  window?: HumanDuration | string;
}
