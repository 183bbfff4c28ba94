import type { UserCodeKey } from './crypto/hmacUserCode';

/** Where a device authorization request stands (RFC 8628 §3.4–3.5). */
export type DeviceCodeStatus = 'pending' | 'approved' | 'denied' | 'consumed';

/** A device authorization request as stored: secrets only as hashes. */
export interface DeviceCodeRecord {
  /** SHA-256 of the device code. */
  deviceCodeHash: string;
  /** Keyed HMAC of the normalized user code. */
  userCodeHash: string;
  userCodeKeyVersion: string;
  clientId: string;
  scopes: string[];
  /** The resource server the tokens are for (RFC 8707), if one outside Backstage. */
  resource?: string;
  status: DeviceCodeStatus;
  /** The user who approved or denied. */
  userEntityRef?: string;
  /** The current polling interval; raised by 5 s on every `slow_down`. */
  intervalSeconds: number;
  lastPolledAt?: Date;
  /** Where the request came from, shown on the verification page. */
  requestIp?: string;
  requestUserAgent?: string;
  createdAt: Date;
  expiresAt: Date;
  decidedAt?: Date;
}

/** Storage of device authorization requests; implemented in database/. */
export interface DeviceCodeStore {
  /** HMAC keys for user codes, the one to hash new codes with first. */
  userCodeKeys(): Promise<UserCodeKey[]>;
  /** Saves a new request; false when the user code hash is already taken. */
  create(record: Omit<DeviceCodeRecord, 'status' | 'lastPolledAt' | 'decidedAt' | 'userEntityRef'>): Promise<boolean>;
  findByDeviceCodeHash(deviceCodeHash: string): Promise<DeviceCodeRecord | undefined>;
  /** The request whose user code hash is one of these (one per key version). */
  findByUserCodeHashes(userCodeHashes: string[]): Promise<DeviceCodeRecord | undefined>;
  /** Records the user's decision once; false if it was no longer pending or has expired. */
  decide(params: {
    deviceCodeHash: string;
    decision: 'approved' | 'denied';
    userEntityRef: string;
    now: Date;
  }): Promise<boolean>;
  /**
   * Records a poll if it came at least `intervalSeconds` after the previous
   * one; false (and nothing recorded) when the client polled too early.
   */
  recordPoll(params: { record: DeviceCodeRecord; now: Date }): Promise<boolean>;
  /** RFC 8628 §3.5: raises the interval by `increaseSeconds` for all later polls. */
  slowDown(params: { deviceCodeHash: string; increaseSeconds: number; now: Date }): Promise<void>;
  /** Marks an approved request consumed; true for exactly one caller. */
  consume(params: { deviceCodeHash: string; now: Date }): Promise<boolean>;
}
