import { InvalidGrant, InvalidRequest } from '../errors';
import type { OAuthParams } from '../http/parseParams';
import { constantEquals } from '../crypto/constantEquals';
import { createHash } from 'node:crypto';

// RFC 7636 §4.1 (verifier) and §4.2 (S256 challenge: base64url of 32 bytes)
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** The S256 transformation of RFC 7636 §4.2: BASE64URL(SHA256(verifier)). */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/**
 * Validates the PKCE parameters of an authorization request. Every client
 * must send an S256 challenge; a missing method means `plain` (RFC 7636 §4.3),
 * which is refused like an explicit `plain`.
 */
export function checkCodeChallenge(params: OAuthParams): {
  codeChallenge: string;
  codeChallengeMethod: 'S256';
} {
  const challenge = params.code_challenge;
  const method = params.code_challenge_method;
  if (challenge === undefined) {
    throw new InvalidRequest('code_challenge is required (PKCE with S256)');
  }
  if (method !== 'S256') {
    throw new InvalidRequest(
      method === undefined || method === 'plain'
        ? "code_challenge_method must be 'S256'; 'plain' is not supported"
        : `unsupported code_challenge_method '${method}'; use 'S256'`,
    );
  }
  if (!S256_CHALLENGE.test(challenge)) {
    throw new InvalidRequest('code_challenge must be 43 base64url characters');
  }
  return { codeChallenge: challenge, codeChallengeMethod: 'S256' };
}

/**
 * Checks a token request's `code_verifier` against the challenge saved with
 * the code (RFC 7636 §4.6). A verifier for a code issued without a challenge
 * is refused too: accepting it would let an attacker downgrade the flow.
 */
export function checkPkce(
  saved: { codeChallenge?: string; codeChallengeMethod?: string },
  verifier: string | undefined,
): void {
  if (!saved.codeChallenge) {
    if (verifier !== undefined) {
      throw new InvalidGrant('code_verifier sent for a code issued without a code_challenge');
    }
    throw new InvalidGrant('the authorization code was issued without PKCE');
  }
  if (verifier === undefined) {
    throw new InvalidGrant('code_verifier is required');
  }
  if (!VERIFIER.test(verifier)) {
    throw new InvalidGrant('code_verifier is malformed (RFC 7636 §4.1)');
  }
  if (saved.codeChallengeMethod !== 'S256' || !constantEquals(s256(verifier), saved.codeChallenge)) {
    throw new InvalidGrant('code_verifier does not match the code_challenge');
  }
}
