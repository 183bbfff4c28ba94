import { ForwardedError } from '@backstage/errors';
import { readFile } from 'node:fs/promises';
import { KeyObject, type webcrypto } from 'node:crypto';
import { compactVerify, CompactSign, exportJWK, importPKCS8, importSPKI } from 'jose';
import type { StaticKeyConfig } from '../config/readIdentityConfig';
import type { PublicSigningJwk } from './KeyStore';
import type { SigningKey, SigningKeys } from './SigningKeys';

/**
 * Key pairs read from PEM files (`auth.keyStore.static.keys`): the first one
 * signs, all of them are listed. Rotation is the operator's job: add the new
 * pair first, and drop the old one once its tokens have expired.
 */
export class StaticSigningKeys implements SigningKeys {
  readonly algorithm: string;
  readonly #signing: SigningKey;
  readonly #publicKeys: PublicSigningJwk[];

  static async create(options: { keys: StaticKeyConfig[] }): Promise<StaticSigningKeys> {
    const loaded = await Promise.all(options.keys.map((key, index) => loadPair(key, index)));
    return new StaticSigningKeys(loaded[0].signing, loaded.map(pair => pair.publicJwk));
  }

  private constructor(signing: SigningKey, publicKeys: PublicSigningJwk[]) {
    this.algorithm = signing.alg;
    this.#signing = signing;
    this.#publicKeys = publicKeys;
  }

  async currentKey(): Promise<SigningKey> {
    return this.#signing;
  }

  async listPublicKeys(): Promise<PublicSigningJwk[]> {
    return this.#publicKeys;
  }
}

async function loadPair(config: StaticKeyConfig, index: number) {
  const prefix = `auth.keyStore.static.keys[${index}]`;
  const read = async (field: 'publicKeyFile' | 'privateKeyFile') => {
    try {
      return await readFile(config[field], 'utf8');
    } catch (error) {
      throw new ForwardedError(`${prefix}.${field}: cannot read '${config[field]}'`, error);
    }
  };
  const [publicPem, privatePem] = await Promise.all([read('publicKeyFile'), read('privateKeyFile')]);
  let publicKey;
  let privateKey;
  try {
    publicKey = await importSPKI(publicPem, config.algorithm, { extractable: true });
  } catch (error) {
    throw new ForwardedError(
      `${prefix}.publicKeyFile: not a PEM SPKI public key for ${config.algorithm}`,
      error,
    );
  }
  try {
    privateKey = await importPKCS8(privatePem, config.algorithm);
  } catch (error) {
    throw new ForwardedError(
      `${prefix}.privateKeyFile: not a PEM PKCS#8 private key for ${config.algorithm}`,
      error,
    );
  }
  await assertSamePair(prefix, config.algorithm, privateKey, publicKey);
  const jwk = await exportJWK(publicKey);
  return {
    signing: { kid: config.keyId, alg: config.algorithm, privateKey: KeyObject.from(privateKey) },
    publicJwk: { ...jwk, kid: config.keyId, alg: config.algorithm, use: 'sig' },
  };
}

/** A swapped or mismatched file would otherwise only show as every token being refused. */
async function assertSamePair(
  prefix: string,
  alg: string,
  privateKey: webcrypto.CryptoKey,
  publicKey: webcrypto.CryptoKey,
) {
  const probe = await new CompactSign(new TextEncoder().encode('probe'))
    .setProtectedHeader({ alg })
    .sign(privateKey);
  try {
    await compactVerify(probe, publicKey);
  } catch {
    throw new Error(`${prefix}: privateKeyFile and publicKeyFile are not the same key pair`);
  }
}
