import type { HttpAuthService } from '@backstage/backend-plugin-api';
import { NotFoundError } from '@backstage/errors';
import { createHash } from 'node:crypto';
import type express from 'express';
import Router from 'express-promise-router';
import type { SigningKeys } from './SigningKeys';
import type { UserTokenClaims } from './createIdentity';

/**
 * Short enough that a key published by another instance reaches shared HTTP
 * caches quickly; clients revalidate cheaply through the ETag.
 */
const JWKS_MAX_AGE_SECONDS = 60;

/** Standard claims (OpenID Connect Core §5.1) copied to the top level of userinfo. */
const STANDARD_CLAIMS = [
  'name',
  'given_name',
  'family_name',
  'middle_name',
  'nickname',
  'preferred_username',
  'profile',
  'picture',
  'website',
  'email',
  'email_verified',
  'gender',
  'birthdate',
  'zoneinfo',
  'locale',
  'phone_number',
  'phone_number_verified',
  'address',
  'updated_at',
];

/** `GET /.well-known/jwks.json` and `GET|POST /v1/userinfo`. */
export function createIdentityRouter(options: {
  keys: SigningKeys;
  httpAuth: HttpAuthService;
  getUserInfo(userEntityRef: string): Promise<{ claims: UserTokenClaims } | undefined>;
}): express.Router {
  const { keys, httpAuth, getUserInfo } = options;
  const router = Router();

  router.get('/.well-known/jwks.json', async (_req, res) => {
    const body = JSON.stringify({ keys: await keys.listPublicKeys() });
    const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;
    res.setHeader('Cache-Control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    res.setHeader('ETag', etag);
    // express answers 304 itself when If-None-Match matches the ETag set above.
    res.type('application/json').send(body);
  });

  const userinfo = async (req: express.Request, res: express.Response) => {
    const credentials = await httpAuth.credentials(req, {
      allow: ['user'],
      allowLimitedAccess: true,
    });
    const info = await getUserInfo(credentials.principal.userEntityRef);
    if (!info) {
      throw new NotFoundError('User info not found');
    }
    const standard = Object.fromEntries(
      STANDARD_CLAIMS.filter(name => name in info.claims).map(name => [name, info.claims[name]]),
    );
    res.setHeader('Cache-Control', 'no-store');
    // The framework's UserInfoService reads `claims`; OIDC clients read top-level `sub` (OIDC Core §5.3.2).
    res.json({ sub: info.claims.sub, ...standard, claims: info.claims });
  };
  router.get('/v1/userinfo', userinfo);
  router.post('/v1/userinfo', userinfo);

  return router;
}
