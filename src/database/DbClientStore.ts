import type { Knex } from 'knex';
import type { ClientStore, StoredClient } from '../oauth/clients/ClientStore';
import type { Client, ClientKind, TokenEndpointAuthMethod } from '../oauth/model';
import { sha256 } from '../oauth/crypto/sha256';
import { LITERAL_LIMIT } from './literalLimit';

/** `oidc_clients`: upstream's table; `client_secret` holds the SHA-256 hash, never the secret. */
export interface DbOidcClientRow {
  client_id: string;
  /** Hex SHA-256 of the secret; '' for public clients (the column is NOT NULL). */
  client_secret: string;
  client_name: string;
  /** JSON arrays. */
  response_types: string;
  grant_types: string;
  redirect_uris: string;
  /** Space-separated scopes the client may request, or null for all. */
  scope: string | null;
  /** JSON of {@link DbClientMetadata}; null on rows written by upstream. */
  metadata: string | null;
}

/** What we keep in `metadata` beyond upstream's columns. */
interface DbClientMetadata {
  kind: ClientKind;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /** The registration as echoed by DCR (RFC 7591 §3.2.1). */
  registration: Record<string, unknown>;
}

const TABLE = 'oidc_clients';
/** Kinds that earlier versions copied into the table; see deleteMirrors. */
const MIRRORED_KINDS: ReadonlySet<string> = new Set<ClientKind>(['static', 'metadata-document']);
const MIRROR_PAGE_SIZE = 500;
const HASH_SHAPE = /^[0-9a-f]{64}$/;

/** Registered and mirrored OAuth clients in the plugin database. */
export class DbClientStore implements ClientStore {
  readonly #db: Knex;

  static create(options: { knex: Knex }): DbClientStore {
    return new DbClientStore(options.knex);
  }

  private constructor(db: Knex) {
    this.#db = db;
  }

  async get(clientId: string): Promise<StoredClient | undefined> {
    const row = await this.#db<DbOidcClientRow>(TABLE)
      .where({ client_id: clientId })
      .first()
      .limit(1, LITERAL_LIMIT);
    return row ? this.#fromRow(row) : undefined;
  }

  async create(client: StoredClient): Promise<void> {
    await this.#db<DbOidcClientRow>(TABLE).insert(this.#toRow(client));
  }

  async deleteMirrors(): Promise<number> {
    let deleted = 0;
    let after = '';
    // Keyset pages, so a table grown large before this version stays cheap to scan.
    for (;;) {
      const rows: Array<Pick<DbOidcClientRow, 'client_id' | 'metadata'>> = await this.#db<DbOidcClientRow>(TABLE)
        .whereNotNull('metadata')
        .andWhere('client_id', '>', after)
        .orderBy('client_id')
        .limit(MIRROR_PAGE_SIZE)
        .select('client_id', 'metadata');
      const mirrors = rows
        .filter(row => MIRRORED_KINDS.has(parseJson<Partial<DbClientMetadata>>(row.metadata)?.kind ?? 'dynamic'))
        .map(row => row.client_id);
      if (mirrors.length > 0) {
        deleted += await this.#db<DbOidcClientRow>(TABLE).whereIn('client_id', mirrors).delete();
      }
      if (rows.length < MIRROR_PAGE_SIZE) return deleted;
      after = rows[rows.length - 1].client_id;
    }
  }

  /**
   * Upstream stored DCR client secrets in clear. Replaces each with its
   * SHA-256 hash; the conditional update makes concurrent instances harmless.
   * Returns how many rows were converted.
   */
  async hashLegacySecrets(): Promise<number> {
    const rows = await this.#db<DbOidcClientRow>(TABLE)
      .whereNull('metadata')
      .andWhereNot('client_secret', '')
      .select('client_id', 'client_secret');
    let converted = 0;
    for (const row of rows) {
      if (HASH_SHAPE.test(row.client_secret)) continue;
      converted += await this.#db<DbOidcClientRow>(TABLE)
        .where({ client_id: row.client_id, client_secret: row.client_secret })
        .update({ client_secret: sha256(row.client_secret) });
    }
    return converted;
  }

  #toRow({ client, secretHash }: StoredClient): DbOidcClientRow {
    const metadata: DbClientMetadata = {
      kind: client.kind,
      tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
      registration: client.metadata,
    };
    return {
      client_id: client.clientId,
      client_secret: secretHash ?? '',
      client_name: client.clientName,
      response_types: JSON.stringify(client.responseTypes),
      grant_types: JSON.stringify(client.grantTypes),
      redirect_uris: JSON.stringify(client.redirectUris),
      scope: client.scopes ? client.scopes.join(' ') : null,
      metadata: JSON.stringify(metadata),
    };
  }

  #fromRow(row: DbOidcClientRow): StoredClient {
    const metadata = parseJson<Partial<DbClientMetadata>>(row.metadata) ?? {};
    // Rows registered by upstream have no metadata: they are confidential DCR clients.
    const method: TokenEndpointAuthMethod =
      metadata.tokenEndpointAuthMethod ?? (row.client_secret ? 'client_secret_basic' : 'none');
    const client: Client = {
      clientId: row.client_id,
      clientName: row.client_name,
      kind: metadata.kind ?? 'dynamic',
      redirectUris: parseJson<string[]>(row.redirect_uris) ?? [],
      grantTypes: parseJson<string[]>(row.grant_types) ?? ['authorization_code'],
      responseTypes: parseJson<string[]>(row.response_types) ?? ['code'],
      ...(row.scope ? { scopes: row.scope.split(' ').filter(Boolean) } : {}),
      tokenEndpointAuthMethod: method,
      ...(typeof metadata.registration?.id_token_signed_response_alg === 'string'
        ? { idTokenSignedResponseAlg: metadata.registration.id_token_signed_response_alg }
        : {}),
      metadata: metadata.registration ?? {},
    };
    return { client, ...(row.client_secret ? { secretHash: row.client_secret } : {}) };
  }
}

function parseJson<T>(value: string | null): T | undefined {
  if (value === null || value === '') return undefined;
  try {
    return JSON.parse(value) as T;
  } catch {
    return undefined;
  }
}
