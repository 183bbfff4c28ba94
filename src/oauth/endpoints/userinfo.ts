import Router from 'express-promise-router';
import type express from 'express';
import type { OAuthContext } from '../context';
import { InvalidToken } from '../errors';
import { noStore } from '../http/noStore';
import { profileClaims } from '../grants/profileClaims';

/** Standard claims (OpenID Connect Core §5.1) copied to the top level for portal tokens. */
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

/**
 * `GET|POST /v1/userinfo` (OIDC Core §5.3), serving two kinds of caller:
 * - a token an OAuth client obtained gets `sub` and the claims of the scopes
 *   it was granted (§5.4), plus `claims: { sub, ent }`: the framework's
 *   UserInfoService forwards such a token here to learn the ownership refs
 *   every Backstage API needs. Other claims saved at sign-in are withheld.
 *   So is everything but `sub` and `ent` from the limited token rebuilt from
 *   it, sent as it is or on the user's behalf by a plugin: its key id says
 *   whose it is, but not which scopes (issue 25 item 8);
 * - a token from a portal sign-in (full or limited) gets the claims saved at
 *   sign-in, top-level `sub` for OIDC clients and the whole `claims` object,
 *   which the framework's UserInfoService reads (SPEC §1.6).
 * A missing, bad or revoked token is RFC 6750 `invalid_token` with WWW-Authenticate.
 */
export function createUserInfoEndpoint(ctx: OAuthContext): express.Router {
  const router = Router();
  const userinfo: express.RequestHandler = async (req, res) => {
    const caller = await ctx.verifyUserToken(req);
    // A token of a revoked grant is no longer the client's to use (issue 25 item 4).
    const grantId = caller.oauthClient?.grantId;
    if (grantId !== undefined && (await ctx.refreshTokens.isGrantRevoked(grantId))) {
      throw new InvalidToken('the access token was revoked');
    }
    const info = await ctx.signer.getUserInfo(caller.userEntityRef);
    if (!info) {
      // Every sign-in and token exchange saves user info; signing in again restores it.
      throw new InvalidToken('no user info is saved for this user; sign in again');
    }
    if (caller.oauthClient) {
      const { scopes } = caller.oauthClient;
      const wantsProfile = scopes.includes('profile') || scopes.includes('email');
      const user = wantsProfile ? await ctx.users.findUser(caller.userEntityRef) : undefined;
      const { sub, ent } = info.claims;
      res.json({ sub, ...profileClaims(user, scopes), claims: { sub, ...(ent ? { ent } : {}) } });
      return;
    }
    const standard = Object.fromEntries(
      STANDARD_CLAIMS.filter(name => name in info.claims).map(name => [name, info.claims[name]]),
    );
    res.json({ sub: info.claims.sub, ...standard, claims: info.claims });
  };
  router.get('/v1/userinfo', noStore, userinfo);
  router.post('/v1/userinfo', noStore, userinfo);
  return router;
}
