import { oauthClientKeyId } from '../oauth/oauthClientTokens';
import type { PublicSigningJwk } from './KeyStore';
import type { SigningKeys } from './SigningKeys';

/**
 * The public keys as the JWKS publishes them and tokens are verified
 * against: each under its own kid, then again under its OAuth-client kid, so
 * that OAuth clients' access tokens, and the limited tokens rebuilt from
 * them, verify wherever Backstage verifies user tokens (issue 25 item 8).
 * The second names are derived from the listed keys, so every instance
 * verifies what another signed, whatever the key store.
 */
export async function listPublishedKeys(keys: SigningKeys): Promise<PublicSigningJwk[]> {
  const listed = await keys.listPublicKeys();
  return [...listed, ...listed.map(key => ({ ...key, kid: oauthClientKeyId(key.kid) }))];
}
