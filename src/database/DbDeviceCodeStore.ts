import type { Knex } from 'knex';
import type { UserCodeKey } from '../oauth/crypto/hmacUserCode';
import type {
  DeviceCodeRecord,
  DeviceCodeStatus,
  DeviceCodeStore,
} from '../oauth/DeviceCodeStore';
import type { Clock } from '../oauth/model';
import { DbSecretKeyRing } from './DbSecretKeyRing';
import { parseDbDate } from './parseDbDate';
import { LITERAL_LIMIT } from './literalLimit';

/** `oidc_device_codes`: one row per device authorization request. */
export interface DbDeviceCodeRow {
  device_code_hash: string;
  user_code_hash: string;
  user_code_key_version: string;
  client_id: string;
  /** Space-separated scopes. */
  scope: string | null;
  resource?: string | null;
  status: DeviceCodeStatus;
  user_entity_ref: string | null;
  interval_seconds: number;
  last_polled_at: Date | string | number | null;
  request_ip: string | null;
  request_user_agent: string | null;
  created_at: Date | string | number;
  expires_at: Date | string | number;
  decided_at: Date | string | number | null;
}

const CODES = 'oidc_device_codes';

/** Device authorization requests in the plugin database. */
export class DbDeviceCodeStore implements DeviceCodeStore {
  readonly #db: Knex;
  readonly #keys: DbSecretKeyRing;

  /** `keys`: the deployment's shared keys, when the caller already holds them. */
  static create(options: { knex: Knex; clock?: Clock; keys?: DbSecretKeyRing }): DbDeviceCodeStore {
    return new DbDeviceCodeStore(options.knex, options.keys ?? DbSecretKeyRing.create(options));
  }

  private constructor(db: Knex, keys: DbSecretKeyRing) {
    this.#db = db;
    this.#keys = keys;
  }

  async userCodeKeys(): Promise<UserCodeKey[]> {
    return this.#keys.secretKeys();
  }

  async create(
    record: Omit<DeviceCodeRecord, 'status' | 'lastPolledAt' | 'decidedAt' | 'userEntityRef'>,
  ): Promise<boolean> {
    const taken = await this.#db<DbDeviceCodeRow>(CODES)
      .where({ user_code_hash: record.userCodeHash })
      .first('device_code_hash')
      .limit(1, LITERAL_LIMIT);
    if (taken) return false;
    try {
      await this.#db<DbDeviceCodeRow>(CODES).insert(
        this.#toRow({ ...record, status: 'pending' }),
      );
      return true;
    } catch (error) {
      // A concurrent request drew the same user code between check and insert.
      const again = await this.#db<DbDeviceCodeRow>(CODES)
        .where({ user_code_hash: record.userCodeHash })
        .first('device_code_hash')
        .limit(1, LITERAL_LIMIT);
      if (again && again.device_code_hash !== record.deviceCodeHash) return false;
      throw error;
    }
  }

  async findByDeviceCodeHash(deviceCodeHash: string): Promise<DeviceCodeRecord | undefined> {
    const row = await this.#db<DbDeviceCodeRow>(CODES)
      .where({ device_code_hash: deviceCodeHash })
      .first()
      .limit(1, LITERAL_LIMIT);
    return row ? this.#fromRow(row) : undefined;
  }

  async findByUserCodeHashes(userCodeHashes: string[]): Promise<DeviceCodeRecord | undefined> {
    if (userCodeHashes.length === 0) return undefined;
    const row = await this.#db<DbDeviceCodeRow>(CODES)
      .whereIn('user_code_hash', userCodeHashes)
      .first()
      .limit(1, LITERAL_LIMIT);
    return row ? this.#fromRow(row) : undefined;
  }

  async decide(params: {
    deviceCodeHash: string;
    decision: 'approved' | 'denied';
    userEntityRef: string;
    now: Date;
  }): Promise<boolean> {
    const changed = await this.#db<DbDeviceCodeRow>(CODES)
      .where({ device_code_hash: params.deviceCodeHash, status: 'pending' })
      .andWhere('expires_at', '>', params.now)
      .update({
        status: params.decision,
        user_entity_ref: params.userEntityRef,
        decided_at: params.now,
      });
    return changed === 1;
  }

  async recordPoll(params: { record: DeviceCodeRecord; now: Date }): Promise<boolean> {
    const { record, now } = params;
    const earliest = new Date(now.getTime() - record.intervalSeconds * 1000);
    // Compare-and-set on the interval and the previous poll: two racing
    // polls cannot both count as on time.
    const changed = await this.#db<DbDeviceCodeRow>(CODES)
      .where({ device_code_hash: record.deviceCodeHash, interval_seconds: record.intervalSeconds })
      .andWhere(q => {
        if (record.lastPolledAt) {
          q.where('last_polled_at', '=', record.lastPolledAt).andWhere('last_polled_at', '<=', earliest);
        } else {
          q.whereNull('last_polled_at');
        }
      })
      .update({ last_polled_at: now });
    return changed === 1;
  }

  async slowDown(params: { deviceCodeHash: string; increaseSeconds: number; now: Date }): Promise<void> {
    await this.#db<DbDeviceCodeRow>(CODES)
      .where({ device_code_hash: params.deviceCodeHash })
      .update({
        interval_seconds: this.#db.raw('interval_seconds + ?', [params.increaseSeconds]) as any,
        last_polled_at: params.now,
      });
  }

  async consume(params: { deviceCodeHash: string; now: Date }): Promise<boolean> {
    const changed = await this.#db<DbDeviceCodeRow>(CODES)
      .where({ device_code_hash: params.deviceCodeHash, status: 'approved' })
      .andWhere('expires_at', '>', params.now)
      .update({ status: 'consumed' });
    return changed === 1;
  }

  /** Internals for tests: the raw rows, to check what is (not) stored. */
  forTest() {
    return { rows: () => this.#db<DbDeviceCodeRow>(CODES).select() };
  }

  #toRow(record: Omit<DeviceCodeRecord, 'lastPolledAt' | 'decidedAt' | 'userEntityRef'>): DbDeviceCodeRow {
    return {
      device_code_hash: record.deviceCodeHash,
      user_code_hash: record.userCodeHash,
      user_code_key_version: record.userCodeKeyVersion,
      client_id: record.clientId,
      scope: record.scopes.length ? record.scopes.join(' ') : null,
      ...(record.resource ? { resource: record.resource } : {}),
      status: record.status,
      user_entity_ref: null,
      interval_seconds: record.intervalSeconds,
      last_polled_at: null,
      request_ip: record.requestIp ?? null,
      request_user_agent: record.requestUserAgent ?? null,
      created_at: record.createdAt,
      expires_at: record.expiresAt,
      decided_at: null,
    };
  }

  #fromRow(row: DbDeviceCodeRow): DeviceCodeRecord {
    return {
      deviceCodeHash: row.device_code_hash,
      userCodeHash: row.user_code_hash,
      userCodeKeyVersion: row.user_code_key_version,
      clientId: row.client_id,
      scopes: row.scope ? row.scope.split(' ') : [],
      ...(row.resource ? { resource: row.resource } : {}),
      status: row.status,
      userEntityRef: row.user_entity_ref ?? undefined,
      intervalSeconds: Number(row.interval_seconds),
      lastPolledAt: row.last_polled_at === null ? undefined : parseDbDate(row.last_polled_at),
      requestIp: row.request_ip ?? undefined,
      requestUserAgent: row.request_user_agent ?? undefined,
      createdAt: parseDbDate(row.created_at),
      expiresAt: parseDbDate(row.expires_at),
      decidedAt: row.decided_at === null ? undefined : parseDbDate(row.decided_at),
    };
  }
}
