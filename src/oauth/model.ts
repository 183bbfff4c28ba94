/**
 * Domain types shared by the OAuth endpoints, grants and stores. The OAuth
 * layer declares the store interfaces it needs; `database/` implements them.
 */

export type TokenEndpointAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post';

/** Where a client's registration came from. */
export type ClientKind = 'static' | 'dynamic' | 'metadata-document';

/** A client as the protocol sees it, whatever its source. */
export interface Client {
  clientId: string;
  clientName: string;
  kind: ClientKind;
  redirectUris: string[];
  grantTypes: string[];
  responseTypes: string[];
  /** Scopes this client may ask for; undefined means every supported scope. */
  scopes?: string[];
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /** OIDC Registration §2 `id_token_signed_response_alg`; the portal's configured algorithm when unset. */
  idTokenSignedResponseAlg?: string;
  /** The registered metadata as echoed back by DCR (RFC 7591 §3.2.1). */
  metadata: Record<string, unknown>;
}

/** Finds clients from every source (config, database, metadata documents). */
export interface ClientResolver {
  /** The client, or undefined when it is unknown or its metadata is unusable. */
  findClient(clientId: string): Promise<Client | undefined>;
  /** Constant-time check of a presented secret against the stored hash. */
  verifySecret(client: Client, presentedSecret: string): Promise<boolean>;
}

/** Injected clock so tests can move time. */
export type Clock = () => Date;

/** Security-relevant events (SPEC §2 Operations); never carry secret values. */
export interface SecurityEvent {
  eventId:
    | 'client-registered'
    | 'consent-granted'
    | 'consent-denied'
    | 'device-approved'
    | 'device-denied'
    | 'code-replayed'
    | 'refresh-token-reused'
    | 'token-revoked'
    | 'offline-sessions-revoked'
    | 'token-exchanged'
    | 'rate-limited';
  clientId?: string;
  userEntityRef?: string;
  /** Identifiers only (grant ids, reasons) — never tokens, codes or secrets. */
  meta?: Record<string, string | number | boolean>;
}

/** Fire-and-forget audit sink; see service/createSecurityAuditor.ts. */
export type SecurityAuditor = (event: SecurityEvent) => void;
