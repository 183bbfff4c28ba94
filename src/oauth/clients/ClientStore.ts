import type { Client } from '../model';

/** A client as persisted: its protocol view plus, for confidential clients, the secret's hash. */
export interface StoredClient {
  client: Client;
  /** Hex SHA-256 of the client secret; undefined for public clients. */
  secretHash?: string;
}

/**
 * Clients in `oidc_clients`: dynamically registered ones (and upstream's).
 * Clients from config and metadata documents are never stored: config and
 * the documents are their source, and storing them would put config secrets
 * in the database and let anyone with a document host grow the table.
 */
export interface ClientStore {
  get(clientId: string): Promise<StoredClient | undefined>;
  /** Inserts a newly registered client (its id is freshly generated). */
  create(client: StoredClient): Promise<void>;
  /**
   * Deletes the rows earlier versions mirrored for config and metadata-document
   * clients (with config secrets' unsalted hashes); returns how many.
   */
  deleteMirrors(): Promise<number>;
  /** Replaces clear-text secrets left by upstream with their hashes; returns how many. */
  hashLegacySecrets(): Promise<number>;
}
