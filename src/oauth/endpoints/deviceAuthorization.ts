import type { Request } from 'express';
import Router from 'express-promise-router';
import type express from 'express';
import { resolveResource, resourceOf } from '../checks/checkResource';
import { checkScope } from '../checks/checkScope';
import { authenticateClient } from '../clients/authenticateClient';
import type { OAuthContext } from '../context';
import { hmacUserCode } from '../crypto/hmacUserCode';
import { randomToken } from '../crypto/randomToken';
import { sha256 } from '../crypto/sha256';
import { formatUserCode, generateUserCode } from '../crypto/userCode';
import { TemporarilyUnavailable } from '../errors';
import { checkDeviceGrantAllowed } from '../grants/deviceCode';
import { noStore } from '../http/noStore';
import { parseParams } from '../http/parseParams';
import { requestAddress } from '../http/requestAddress';
import type { Client } from '../model';

/** RFC 8628 §3.2 response. */
export interface DeviceAuthorizationResponse {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

/** Fresh user codes drawn before giving up; a clash needs ~10^5 live codes. */
const MAX_USER_CODE_DRAWS = 5;

/** The verification page a user opens (RFC 8628 §3.2 `verification_uri`). */
export function verificationUri(issuer: string): string {
  return `${issuer}/v1/device`;
}

/**
 * `POST /v1/device_authorization` (RFC 8628 §3.1–3.2): authenticate the
 * client (public clients identify themselves), check it may use the grant
 * and the scopes, then store the request with only hashes of its codes.
 * Rate limited in createOAuthRouter.ts.
 */
export function createDeviceAuthorizationEndpoint(ctx: OAuthContext): express.Router {
  const router = Router();
  router.post('/v1/device_authorization', noStore, ...parseParams('body'), async (req, res) => {
    const params = req.oauthParams ?? {};
    const client = await authenticateClient(req, params, ctx.clients);
    // Anyone can name a public client, so only authenticated clients are
    // charged a budget of their own; every request counts against its address.
    if (client.tokenEndpointAuthMethod !== 'none') await res.locals.clientBudget?.take(client.clientId);
    checkDeviceGrantAllowed(ctx, client);
    const target = resolveResource(params.resource, {
      issuer: ctx.issuer,
      resources: ctx.config.resources,
      client,
    });
    const scopes = checkScope(params.scope, {
      refreshEnabled: ctx.config.refreshToken.enabled,
      clientScopes: client.scopes,
      ...(target.kind === 'server' ? { resourceScopes: target.server.scopes } : {}),
    });
    res.json(await createDeviceRequest(ctx, req, client, scopes, resourceOf(target)));
  });
  return router;
}

async function createDeviceRequest(
  ctx: OAuthContext,
  req: Request,
  client: Client,
  scopes: string[],
  resource: string | undefined,
): Promise<DeviceAuthorizationResponse> {
  const { lifetimeSeconds, intervalSeconds } = ctx.config.deviceAuthorization;
  const [key] = await ctx.deviceCodes.userCodeKeys();
  const deviceCode = randomToken(); // 256 bits; RFC 8628 §5.2 asks for enough entropy
  const now = ctx.clock();
  for (let draw = 0; draw < MAX_USER_CODE_DRAWS; draw++) {
    const userCode = generateUserCode();
    const created = await ctx.deviceCodes.create({
      deviceCodeHash: sha256(deviceCode),
      userCodeHash: hmacUserCode(userCode, key),
      userCodeKeyVersion: key.version,
      clientId: client.clientId,
      scopes,
      ...(resource ? { resource } : {}),
      intervalSeconds,
      // Shown to the user on the verification page: an IP address, never what a client wrote.
      requestIp: requestAddress(req),
      requestUserAgent: req.get('user-agent')?.slice(0, 512),
      createdAt: now,
      expiresAt: new Date(now.getTime() + lifetimeSeconds * 1000),
    });
    if (created) {
      const shown = formatUserCode(userCode);
      const uri = verificationUri(ctx.issuer);
      return {
        device_code: deviceCode,
        user_code: shown,
        verification_uri: uri,
        // RFC 8628 §3.3.1 lets this URI carry the code in any form: in the
        // fragment it is never sent to the server, so never in a request log.
        verification_uri_complete: `${uri}#user_code=${shown}`,
        expires_in: lifetimeSeconds,
        interval: intervalSeconds,
      };
    }
  }
  throw new TemporarilyUnavailable('could not allocate a user code; try again');
}
