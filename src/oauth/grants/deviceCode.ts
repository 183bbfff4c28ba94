import { requireParams } from '../checks/requireParams';
import type { OAuthContext } from '../context';
import { sha256 } from '../crypto/sha256';
import {
  AccessDenied,
  AuthorizationPending,
  ExpiredToken,
  InvalidGrant,
  SlowDown,
  UnauthorizedClient,
} from '../errors';
import type { Client } from '../model';
import { DEVICE_CODE_GRANT_TYPE } from '../supportedScopes';
import type { Grant } from './grant';
import { grantResource } from './grantResource';
import { buildTokenResponse, startRefreshFamily, wantsRefreshToken, type GrantedAccess } from './issueTokens';

/** RFC 8628 §3.5: on `slow_down` the interval grows by 5 seconds for all later polls. */
export const SLOW_DOWN_INCREASE_SECONDS = 5;

/**
 * Whether a client may use the device grant: it is registered for the grant
 * type and, when `auth.oidcProvider.deviceAuthorization.allowedClientIds` is
 * set, listed there.
 */
export function checkDeviceGrantAllowed(ctx: OAuthContext, client: Client): void {
  const { allowedClientIds } = ctx.config.deviceAuthorization;
  if (!client.grantTypes.includes(DEVICE_CODE_GRANT_TYPE)) {
    throw new UnauthorizedClient('the client is not registered for the device authorization grant');
  }
  if (allowedClientIds && !allowedClientIds.includes(client.clientId)) {
    throw new UnauthorizedClient('the client is not allowed to use the device authorization grant');
  }
}

/**
 * RFC 8628 §3.4–3.5: the device polls with its device code. Tokens are
 * minted only here, when the poll finds the request approved and wins the
 * conditional update that consumes it; nothing is stored in advance.
 */
export const deviceCodeGrant: Grant = {
  grantType: DEVICE_CODE_GRANT_TYPE,
  isEnabled: ctx => ctx.config.deviceAuthorization.enabled,
  async handle({ params, client, chargeUser }, ctx) {
    checkDeviceGrantAllowed(ctx, client);
    requireParams(params, 'device_code');
    const now = ctx.clock();
    const record = await ctx.deviceCodes.findByDeviceCodeHash(sha256(params.device_code));
    // A code issued to another client is as unknown as a made-up one.
    if (!record || record.clientId !== client.clientId) {
      throw new InvalidGrant('device code is invalid');
    }
    if (record.status === 'consumed') {
      throw new InvalidGrant('device code was already used');
    }
    if (record.expiresAt <= now) {
      throw new ExpiredToken('device code has expired; start a new device authorization');
    }
    const resource = grantResource(ctx, record.resource, params.resource, client);
    if (!(await ctx.deviceCodes.recordPoll({ record, now }))) {
      await ctx.deviceCodes.slowDown({
        deviceCodeHash: record.deviceCodeHash,
        increaseSeconds: SLOW_DOWN_INCREASE_SECONDS,
        now,
      });
      throw new SlowDown(
        `polling too fast; wait at least ${record.intervalSeconds + SLOW_DOWN_INCREASE_SECONDS} seconds between requests`,
      );
    }
    if (record.status === 'pending') {
      throw new AuthorizationPending('the user has not yet approved the request');
    }
    if (record.status === 'denied') {
      throw new AccessDenied('the user denied the request');
    }
    // Before consuming: a device refused as over budget keeps the approval and polls again.
    if (record.userEntityRef) await chargeUser(record.userEntityRef);
    if (!record.userEntityRef || !(await ctx.deviceCodes.consume({ deviceCodeHash: record.deviceCodeHash, now }))) {
      throw new InvalidGrant('device code was already used');
    }
    // The user's last sign-in through a provider (issue 14); the decision
    // when none is recorded.
    const signIn = await ctx.signIns.get(record.userEntityRef);
    const grantId = `device:${record.deviceCodeHash}`;
    const access: GrantedAccess = {
      client,
      userEntityRef: record.userEntityRef,
      scopes: record.scopes,
      authTime: signIn?.authTime ?? record.decidedAt ?? now,
      ...(signIn?.acr !== undefined ? { acr: signIn.acr } : {}),
      ...(signIn?.amr !== undefined ? { amr: signIn.amr } : {}),
      user:
        record.scopes.includes('profile') || record.scopes.includes('email')
          ? await ctx.users.findUser(record.userEntityRef)
          : undefined,
      ...(resource ? { resource } : {}),
      grantId,
    };
    let refreshToken: string | undefined;
    if (wantsRefreshToken(ctx, access)) {
      refreshToken = await startRefreshFamily(ctx, access, grantId);
    } else {
      // No family records the grant: record it, so revoking the user reaches its access token.
      await ctx.refreshTokens.recordGrant({
        id: grantId,
        clientId: client.clientId,
        userEntityRef: record.userEntityRef,
        now,
        expiresAt: new Date(now.getTime() + ctx.signer.tokenLifetimeSeconds * 1000),
      });
    }
    return buildTokenResponse(ctx, access, refreshToken);
  },
};
