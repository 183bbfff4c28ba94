import { randomBytes } from 'node:crypto';
import type { AuthService } from '@backstage/backend-plugin-api';
import { InputError, NotAllowedError } from '@backstage/errors';
import type { Request, RequestHandler, Response } from 'express';
import { constantEquals } from '../oauth/crypto/constantEquals';
import { findForbiddenCharacterIn } from '../oauth/http/findForbiddenCharacter';
import { isPluginActingForUser, oauthClientOfToken } from '../oauth/oauthClientTokens';

/** Holds the user's Backstage token for the pages (HttpOnly, plugin path only). */
export const USER_COOKIE = 'oidc-pages-user';
/** Double-submit CSRF token: this cookie must equal the form's `csrf` field. */
export const CSRF_COOKIE = 'oidc-pages-csrf';

declare module 'express-serve-static-core' {
  interface Locals {
    cspNonce?: string;
  }
}

/**
 * Security headers for every page: a strict CSP whose scripts and styles
 * need this response's nonce, no framing (clickjacking an Approve button is
 * the classic attack on consent pages), no caching, no referrer.
 * `formTargets` are origins a form may end up at after a 303 (Chromium
 * applies form-action to redirects), e.g. a client's redirect URI.
 */
export function setPageHeaders(res: Response, formTargets: string[] = []): string {
  const nonce = randomBytes(16).toString('base64');
  res.locals.cspNonce = nonce;
  const formAction = ["'self'", ...formTargets].join(' ');
  res.setHeader(
    'Content-Security-Policy',
    [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src 'nonce-${nonce}'`,
      "img-src 'self' data:",
      "connect-src 'self'",
      `form-action ${formAction}`,
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join('; '),
  );
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  return nonce;
}

/** Cookie attributes shared by the page cookies. */
export function cookieOptions(baseUrl: string, maxAgeMs?: number) {
  const url = new URL(baseUrl);
  return {
    httpOnly: true,
    secure: url.protocol === 'https:',
    sameSite: 'lax' as const,
    path: `${url.pathname.replace(/\/$/, '')}/v1/`,
    ...(maxAgeMs !== undefined ? { maxAge: maxAgeMs } : {}),
  };
}

/** The CSRF token for forms on this page, creating the cookie if needed. */
export function csrfToken(req: Request, res: Response, baseUrl: string): string {
  const existing = req.cookies?.[CSRF_COOKIE];
  if (typeof existing === 'string' && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
  const token = randomBytes(32).toString('base64url');
  res.cookie(CSRF_COOKIE, token, { ...cookieOptions(baseUrl), sameSite: 'strict' });
  return token;
}

/** Refuses a state-changing POST whose form token does not match its cookie. */
export const checkCsrf: RequestHandler = (req, _res, next) => {
  const cookie = req.cookies?.[CSRF_COOKIE];
  const field = (req.body as Record<string, unknown> | undefined)?.csrf;
  if (
    typeof cookie !== 'string' ||
    typeof field !== 'string' ||
    cookie === '' ||
    !constantEquals(cookie, field)
  ) {
    throw new NotAllowedError(
      'The form has expired or did not come from this site. Go back, reload the page and try again.',
    );
  }
  next();
};

/** What a Backstage token offered to the pages turned out to be. */
export type PageToken =
  | { kind: 'user'; userEntityRef: string }
  | { kind: 'oauth-client'; clientId: string }
  | { kind: 'invalid' };

/** What a person sees when the pages refuse a token minted for an OAuth client. */
export const OAUTH_CLIENT_TOKEN_MESSAGE =
  'This token was issued to an application and cannot be used to sign in here. Sign in to the portal instead.';

/**
 * Accepts only a user token from a portal sign-in (SPEC §2 Authorization).
 * A user token that the token endpoint minted for an OAuth client verifies
 * just as well, but carries the client's id: letting it open a page session
 * would let a client approve consent and devices, gaining more than it was
 * given (issue 12 item 3).
 */
export async function checkPageToken(token: string, auth: AuthService): Promise<PageToken> {
  let credentials;
  try {
    // The framework's AuthService verifies it against our JWKS, like any plugin would.
    credentials = await auth.authenticate(token);
  } catch {
    return { kind: 'invalid' };
  }
  // A plugin's token acting for a user authenticates as that user: not here.
  if (!auth.isPrincipal(credentials, 'user') || isPluginActingForUser(token)) return { kind: 'invalid' };
  // Read only now: the signature is checked, so the claim is the issuer's word.
  const clientId = oauthClientOfToken(token);
  if (clientId !== undefined) return { kind: 'oauth-client', clientId };
  return { kind: 'user', userEntityRef: credentials.principal.userEntityRef };
}

/**
 * The signed-in user, from the Backstage token the pages keep in a cookie;
 * undefined when there is none or it no longer verifies. A token minted for
 * an OAuth client is refused outright (its cookie cleared): the error page
 * says why, and its way back starts a real sign-in.
 */
export async function currentUser(
  req: Request,
  res: Response,
  options: { auth: AuthService; baseUrl: string },
): Promise<{ userEntityRef: string } | undefined> {
  const token = req.cookies?.[USER_COOKIE];
  if (typeof token !== 'string' || token === '') return undefined;
  const checked = await checkPageToken(token, options.auth);
  if (checked.kind === 'oauth-client') {
    res.clearCookie(USER_COOKIE, cookieOptions(options.baseUrl));
    throw new NotAllowedError(OAUTH_CLIENT_TOKEN_MESSAGE);
  }
  return checked.kind === 'user' ? { userEntityRef: checked.userEntityRef } : undefined;
}

/** A path under the pages (`<base>/v1/…`) to return to, or the fallback. */
export function safeReturnPath(baseUrl: string, candidate: unknown, fallback: string): string {
  const prefix = `${new URL(baseUrl).pathname.replace(/\/$/, '')}/v1/`;
  if (
    typeof candidate === 'string' &&
    candidate.startsWith(prefix) &&
    !candidate.includes('//') &&
    !candidate.includes('\\') &&
    candidate.length < 2048
  ) {
    return candidate;
  }
  return fallback;
}

/**
 * Refuses a page form whose fields carry a control character, a lone
 * surrogate or U+FFFD (issue 12 item 8: bad bytes are bad requests), as a
 * 400 the pages show as HTML. Mount it right after the form parser.
 */
export const rejectForbiddenFormCharacters: RequestHandler = (req, _res, next) => {
  const found = findForbiddenCharacterIn(req.body);
  if (found) {
    const field = found.path.length > 0 ? `form field '${found.path[0]}'` : 'the form';
    throw new InputError(`${field} contains ${found.description}`);
  }
  next();
};
