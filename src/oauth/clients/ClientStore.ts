import type { Client } from '../model';

/** A client as persisted: its protocol view plus, for confidential clients, the secret's hash. */
export interface StoredClient {
  client: Client;
  /** Hex SHA-256 of the client secret; undefined for public clients. */
  secretHash?: string;
}

/**
 * Clients in `oidc_clients`. Dynamically registered clients live only here;
 * static and metadata-document clients are mirrored here so that rows in
 * other tables (authorization sessions) can reference them.
 */
export interface ClientStore {
  get(clientId: string): Promise<StoredClient | undefined>;
  /** Inserts a newly registered client (its id is freshly generated). */
  create(client: StoredClient): Promise<void>;
  /** Inserts or replaces a mirrored (static or metadata-document) client. */
  upsert(client: StoredClient): Promise<void>;
  /** Replaces clear-text secrets left by upstream with their hashes; returns how many. */
  hashLegacySecrets(): Promise<number>;
}
