import type { LoggerService, RootConfigService } from '@backstage/backend-plugin-api';

/**
 * Says once, at startup, what `backend.trustProxy: true` gives away.
 * backend-defaults hands the setting to Express (`app.set('trust proxy')`),
 * which then takes the first X-Forwarded-For entry as the client's address:
 * whoever sends the request writes it. This plugin's per-address limits are
 * always on, and a client that claims a new address each time escapes them.
 * A hop count or the proxies' own addresses make Express believe only what
 * those proxies wrote (https://expressjs.com/en/guide/behind-proxies.html).
 */
export function warnIfEveryProxyIsTrusted(rootConfig: RootConfigService, logger: LoggerService): void {
  if (rootConfig.getOptional('backend.trustProxy') !== true) return;
  logger.warn(
    'backend.trustProxy is true: Express believes every X-Forwarded-For entry, so any client can claim any address. ' +
      'The per-address limits of /api/auth (rate limits of authorization, registration, token and device ' +
      'authorization requests, undecided consent requests, wrong user codes on the device page) then bind only ' +
      'clients that do not lie, and the device page shows the address a client claimed. Set backend.trustProxy ' +
      "to the number of proxies in front of the backend (e.g. 1), or to their addresses or subnets (e.g. 'loopback, 10.0.0.0/8').",
  );
}
