import express, { type Request, type RequestHandler } from 'express';
import { isIPv6 } from 'node:net';
import type { RateLimit, RateLimitedEndpoint } from '../../config/readOidcProviderConfig';
import { SlowDown, TooManyRequests } from '../errors';
import { DEVICE_CODE_GRANT_TYPE } from '../supportedScopes';
import type { Clock, SecurityAuditor } from '../model';
import { MAX_BODY_BYTES } from './parseParams';
import type { LimitStore } from './LimitStore';
import { requestAddress } from './requestAddress';

/** What the limiter needs from the OAuth context. */
export interface RateLimitDeps {
  /** `auth.oidcProvider.rateLimits`: the budget per client address. */
  limits: Readonly<Record<RateLimitedEndpoint, RateLimit>>;
  /** Where the budgets count: this instance's memory, or a store all instances share. */
  store: LimitStore;
  clock: Clock;
  audit: SecurityAuditor;
}

// The same parsers (and options) as parseParams: body-parser marks the body as
// read, so the endpoint's own parsers skip it instead of parsing twice.
const formParser = express.urlencoded({ extended: false, limit: MAX_BODY_BYTES });
const jsonParser = express.json({ limit: MAX_BODY_BYTES, strict: true });

/**
 * The address a budget is charged to. IPv6 clients usually own a whole /64,
 * so they are counted per /64 rather than per address; IPv4-mapped IPv6
 * addresses count as their IPv4 address. Behind a proxy, `backend.trustProxy`
 * must be set for `req.ip` to be the client's address.
 */
export function clientAddressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (!isIPv6(address)) return address;
  const [head, tail = ''] = address.toLowerCase().split('::');
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const missing = 8 - headParts.length - tailParts.length;
  const groups = [...headParts, ...Array(Math.max(0, missing)).fill('0'), ...tailParts];
  return `${groups.slice(0, 4).map(g => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** Each request's address key, worked out once: `req.ip` parses X-Forwarded-For on every read. */
const addressKeys = new WeakMap<Request, string>();

/**
 * {@link clientAddressKey} of the IP address a request came from (behind
 * trusted proxies, the one they forwarded; see {@link requestAddress}).
 */
export function requestAddressKey(req: Request): string {
  let key = addressKeys.get(req);
  if (key === undefined) {
    key = clientAddressKey(requestAddress(req));
    addressKeys.set(req, key);
  }
  return key;
}

/**
 * A client_id shared by many people (an MCP client's confidential backend, a
 * build server) makes requests from many addresses, so an authenticated
 * client's own budget is this many times the per-address one; it stops a
 * single client flooding from many addresses.
 */
export const CLIENT_BUDGET_FACTOR = 10;

/** Endpoints where requests name a client (registration and pages do not). */
const NAMES_CLIENT: ReadonlySet<RateLimitedEndpoint> = new Set(['token', 'deviceAuthorization']);

/**
 * The budgets beyond the sender's address, each charged only to a party that
 * proved who it is, so nobody can spend another's (SPEC §5; issue 25 item 2):
 * a confidential client once it authenticated; a public client's grants to
 * the user whose code, refresh token or device code the request presented,
 * since anyone may send a public client's id and many people share one (the
 * Backstage CLI). Failed requests are charged to the sender's address only,
 * like every request.
 */
export interface ClientBudget {
  /** Counts one request of an authenticated client; refuses it when over budget. */
  take(clientId: string): Promise<void>;
  /**
   * Counts one grant of a public client for the user it belongs to; refuses
   * it when that user is over budget (`slow_down` for a device's poll).
   */
  takeForUser(clientId: string, userEntityRef: string): Promise<void>;
}

/** The key of a (client, user) budget; JSON, so no two pairs share one. */
function userBudgetKey(clientId: string, userEntityRef: string): string {
  return JSON.stringify([clientId, userEntityRef]);
}

declare module 'express-serve-static-core' {
  interface Locals {
    /** Set by {@link rateLimit} on the endpoints where requests name a client. */
    clientBudget?: ClientBudget;
  }
}

/** RFC 8628 §3.5: a device polling too fast is told to slow down, not refused. */
function isDevicePoll(req: Request): boolean {
  return (req.body as Record<string, unknown> | undefined)?.grant_type === DEVICE_CODE_GRANT_TYPE;
}

/**
 * Rate limits one endpoint: a budget per client address, charged for every
 * request, and, where requests name a client, the {@link ClientBudget} the
 * endpoint charges through `res.locals.clientBudget`. Over budget → 429
 * `too_many_requests` with Retry-After (RFC 6585 §4) — or `slow_down` for a
 * device polling the token endpoint — and one `rate-limited` audit event per
 * key and window so an attack cannot flood the audit log.
 *
 * The counts live in `deps.store`: each instance's memory by default (N
 * instances allow N times the budget), or the shared store every instance
 * counts in. `name` keeps budgets of endpoints that share one configured
 * limit apart (`introspection` uses the `token` limit).
 */
export function rateLimit(
  deps: RateLimitDeps,
  endpoint: RateLimitedEndpoint,
  name: string = endpoint,
): RequestHandler[] {
  const { requests, windowSeconds } = deps.limits[endpoint];
  const budget = (scope: string, limit: number) => deps.store.windowBudget(`${name}:${scope}`, { limit, windowSeconds });
  const byAddress = budget('address', requests);
  const namesClient = NAMES_CLIENT.has(endpoint);
  const byClient = namesClient ? budget('client', requests * CLIENT_BUDGET_FACTOR) : undefined;
  // One user of a public client gets what one address gets: a person's use of
  // a CLI never needs more, and sending it from more addresses adds nothing.
  const byUser = namesClient ? budget('user', requests) : undefined;

  const reject = (
    req: Request,
    res: express.Response,
    decision: { retryAfterSeconds: number; firstInWindow: boolean },
    event: { clientId?: string; userEntityRef?: string; scope: 'address' | 'client' | 'user'; address: string },
  ): never => {
    if (decision.firstInWindow) {
      deps.audit({
        eventId: 'rate-limited',
        clientId: event.clientId,
        userEntityRef: event.userEntityRef,
        meta: { endpoint, scope: event.scope, address: event.address },
      });
    }
    if (endpoint === 'token' && isDevicePoll(req)) {
      throw new SlowDown(
        `polling too fast; wait at least ${decision.retryAfterSeconds} seconds between requests`,
      );
    }
    // Set here too so the header survives when a Backstage (non-OAuth) error
    // handler writes the response, as on the verification page.
    res.setHeader('Retry-After', String(decision.retryAfterSeconds));
    throw new TooManyRequests(
      `too many ${endpoint} requests; retry after ${decision.retryAfterSeconds} seconds`,
      decision.retryAfterSeconds,
    );
  };

  const checkAddress = async (req: Request, res: express.Response): Promise<void> => {
    const address = requestAddressKey(req);
    const decision = await byAddress.take(address);
    if (!decision.allowed) reject(req, res, decision, { scope: 'address', address });
    if (byClient && byUser) {
      res.locals.clientBudget = {
        take: async clientId => {
          const result = await byClient.take(clientId);
          if (!result.allowed) reject(req, res, result, { scope: 'client', clientId, address });
        },
        takeForUser: async (clientId, userEntityRef) => {
          const result = await byUser.take(userBudgetKey(clientId, userEntityRef));
          if (!result.allowed) reject(req, res, result, { scope: 'user', clientId, userEntityRef, address });
        },
      };
    }
  };
  const handler: RequestHandler = (req, res, next) => {
    checkAddress(req, res).then(() => next(), next);
  };
  // The token endpoint reads the body first: a device's poll over budget gets `slow_down`.
  return endpoint === 'token' ? [formParser, jsonParser, handler] : [handler];
}
