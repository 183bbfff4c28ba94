import { constants, KeyObject, sign, type SignKeyObjectInput, type webcrypto } from 'node:crypto';
import type { SigningAlgorithm } from '../config/readIdentityConfig';

/**
 * JWS signing (RFC 7515 compact serialization) straight on node:crypto.
 * Tokens are signed on every sign-in and token exchange (three signatures per
 * exchange); jose's SignJWT spent about four times the private-key operation
 * around it, and signed on the event loop. Verification stays with jose. Keys
 * come from our key stores, which create or import them for their algorithm;
 * the first use of a key still checks that it fits.
 */

interface AlgorithmSpec {
  /** Digest for node:crypto's sign; null for EdDSA, which hashes internally. */
  digest: string | null;
  keyType: string;
  /** EC algorithms fix the curve (RFC 7518 §3.4). */
  namedCurve?: string;
  options?: Omit<SignKeyObjectInput, 'key'>;
}

const pss = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
// RFC 7518 §3.4: ECDSA signatures are R || S, not DER.
const ecdsa = { dsaEncoding: 'ieee-p1363' } as const;

const ALGORITHMS: Record<SigningAlgorithm, AlgorithmSpec> = {
  ES256: { digest: 'sha256', keyType: 'ec', namedCurve: 'prime256v1', options: ecdsa },
  ES384: { digest: 'sha384', keyType: 'ec', namedCurve: 'secp384r1', options: ecdsa },
  ES512: { digest: 'sha512', keyType: 'ec', namedCurve: 'secp521r1', options: ecdsa },
  RS256: { digest: 'sha256', keyType: 'rsa' },
  RS384: { digest: 'sha384', keyType: 'rsa' },
  RS512: { digest: 'sha512', keyType: 'rsa' },
  PS256: { digest: 'sha256', keyType: 'rsa', options: pss },
  PS384: { digest: 'sha384', keyType: 'rsa', options: pss },
  PS512: { digest: 'sha512', keyType: 'rsa', options: pss },
  EdDSA: { digest: null, keyType: 'ed25519' },
};

/** What signs: a Node KeyObject, or a WebCrypto CryptoKey (converted each time; prefer KeyObject). */
type SigningPrivateKey = KeyObject | webcrypto.CryptoKey;

/** Keys already checked against the algorithm they sign with. */
const checked = new WeakMap<KeyObject, string>();

function signingKey(alg: string, key: SigningPrivateKey): { spec: AlgorithmSpec; keyObject: KeyObject } {
  const spec = (ALGORITHMS as Record<string, AlgorithmSpec | undefined>)[alg];
  if (!spec) throw new Error(`Unsupported JWS algorithm '${alg}'`);
  const keyObject = key instanceof KeyObject ? key : KeyObject.from(key);
  if (checked.get(keyObject) !== alg) {
    const type = keyObject.asymmetricKeyType;
    const fits =
      keyObject.type === 'private' &&
      (type === spec.keyType ||
        (alg === 'EdDSA' && type === 'ed448') ||
        (spec.keyType === 'rsa' && spec.options === pss && type === 'rsa-pss')) &&
      (!spec.namedCurve || keyObject.asymmetricKeyDetails?.namedCurve === spec.namedCurve) &&
      // RFC 7518 §3.3: RSA keys of 2048 bits or more.
      (spec.keyType !== 'rsa' || (keyObject.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048);
    if (!fits) throw new Error(`The signing key does not fit the JWS algorithm '${alg}'`);
    checked.set(keyObject, alg);
  }
  return { spec, keyObject };
}

function encodeJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/**
 * The compact JWS of `payload` under `header` (which must name `alg`), in
 * the header's own key order, so its serialization is predictable.
 */
export async function signCompactJws(
  header: { alg: string; [name: string]: unknown },
  payload: Record<string, unknown>,
  key: SigningPrivateKey,
): Promise<string> {
  const signingInput = `${encodeJson(header)}.${encodeJson(payload)}`;
  return `${signingInput}.${await jwsSignature(header.alg, key, signingInput)}`;
}

/** Only the base64url signature of the JWS with this header and payload. */
export function detachedJwsSignature(
  header: { alg: string; [name: string]: unknown },
  payload: Record<string, unknown>,
  key: SigningPrivateKey,
): Promise<string> {
  return jwsSignature(header.alg, key, `${encodeJson(header)}.${encodeJson(payload)}`);
}

/**
 * Signs on the event loop. node:crypto's callback form would run the
 * private-key operation on libuv's thread pool, but handing it over costs
 * more than it saves where the process has no idle core to give it: in the
 * benchmark (2 vCPUs shared with the load generator and PostgreSQL) an ES256
 * signature cost ~20 µs of CPU signed here and ~33 µs handed over, and the
 * token exchange on PostgreSQL went from 0.81 to 0.54 CPU ms per request,
 * 1.24× the requests per second (issue 15). Backstage usually runs in
 * containers of one or two CPUs.
 */
async function jwsSignature(alg: string, key: SigningPrivateKey, signingInput: string): Promise<string> {
  const { spec, keyObject } = signingKey(alg, key);
  const data = Buffer.from(signingInput, 'ascii');
  const signature = sign(spec.digest, data, { key: keyObject, ...spec.options });
  return signature.toString('base64url');
}
