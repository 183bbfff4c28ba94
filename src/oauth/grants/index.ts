import { authorizationCodeGrant } from './authorizationCode';
import { deviceCodeGrant } from './deviceCode';
import type { Grant } from './grant';
import { refreshTokenGrant } from './refreshToken';

export type { ChargeUser, Grant, TokenResponse } from './grant';

/**
 * The token endpoint's grants, keyed by `grant_type`. A new grant is one
 * file in this folder and one entry here.
 */
export const grants: ReadonlyMap<string, Grant> = new Map(
  [authorizationCodeGrant, refreshTokenGrant, deviceCodeGrant].map(grant => [grant.grantType, grant]),
);
