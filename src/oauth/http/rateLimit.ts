import express, { type Request, type RequestHandler } from 'express';
import { isIPv6 } from 'node:net';
import type { RateLimit, RateLimitedEndpoint } from '../../config/readOidcProviderConfig';
import { TooManyRequests } from '../errors';
import type { Clock, SecurityAuditor } from '../model';
import { MAX_BODY_BYTES } from './parseParams';
import { SlidingWindowLimiter } from './SlidingWindowLimiter';

/** What the limiter needs from the OAuth context. */
export interface RateLimitDeps {
  /** `auth.oidcProvider.rateLimits`: the budget per client address. */
  limits: Readonly<Record<RateLimitedEndpoint, RateLimit>>;
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

/** The client_id a request names, from HTTP Basic (RFC 6749 §2.3.1), body or query. */
function presentedClientId(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (header && /^basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      try {
        return decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
      } catch {
        return undefined; // malformed; the endpoint will say so
      }
    }
  }
  const fromBody = (req.body as Record<string, unknown> | undefined)?.client_id;
  if (typeof fromBody === 'string' && fromBody) return fromBody;
  const fromQuery = req.query?.client_id;
  return typeof fromQuery === 'string' && fromQuery ? fromQuery : undefined;
}

/**
 * A client_id shared by many people (the Backstage CLI, an MCP client) makes
 * requests from many addresses, so its own budget is this many times the
 * per-address one; it stops a single client flooding from many addresses.
 */
export const CLIENT_BUDGET_FACTOR = 10;

/** Endpoints where requests name a client (registration and pages do not). */
const NAMES_CLIENT: ReadonlySet<RateLimitedEndpoint> = new Set(['token', 'deviceAuthorization']);

/**
 * Rate limits one endpoint: a budget per client address and, where the
 * request names a client, a budget per client_id. Over budget → 429
 * `too_many_requests` with Retry-After (RFC 6585 §4), and one `rate-limited`
 * audit event per key and window so an attack cannot flood the audit log.
 *
 * Counters are kept in memory per backend instance: N instances behind a load
 * balancer allow up to N times the configured budget in total.
 */
export function rateLimit(deps: RateLimitDeps, endpoint: RateLimitedEndpoint): RequestHandler[] {
  const { requests, windowSeconds } = deps.limits[endpoint];
  const byAddress = new SlidingWindowLimiter({ limit: requests, windowSeconds, clock: deps.clock });
  const byClient = NAMES_CLIENT.has(endpoint)
    ? new SlidingWindowLimiter({
        limit: requests * CLIENT_BUDGET_FACTOR,
        windowSeconds,
        clock: deps.clock,
      })
    : undefined;

  const reject = (
    res: express.Response,
    decision: { retryAfterSeconds: number; firstInWindow: boolean },
    event: { clientId?: string; scope: 'address' | 'client'; address: string },
  ): never => {
    if (decision.firstInWindow) {
      deps.audit({
        eventId: 'rate-limited',
        clientId: event.clientId,
        meta: { endpoint, scope: event.scope, address: event.address },
      });
    }
    // Set here too so the header survives when a Backstage (non-OAuth) error
    // handler writes the response, as on the verification page.
    res.setHeader('Retry-After', String(decision.retryAfterSeconds));
    throw new TooManyRequests(
      `too many ${endpoint} requests; retry after ${decision.retryAfterSeconds} seconds`,
      decision.retryAfterSeconds,
    );
  };

  const checkAddress: RequestHandler = (req, res, next) => {
    const address = clientAddressKey(req.ip ?? req.socket.remoteAddress);
    const decision = byAddress.take(address);
    if (!decision.allowed) reject(res, decision, { scope: 'address', address });
    next();
  };
  if (!byClient) return [checkAddress];

  const checkClient: RequestHandler = (req, res, next) => {
    const clientId = presentedClientId(req);
    if (clientId !== undefined) {
      const decision = byClient.take(clientId);
      const address = clientAddressKey(req.ip ?? req.socket.remoteAddress);
      if (!decision.allowed) reject(res, decision, { scope: 'client', clientId, address });
    }
    next();
  };
  return [checkAddress, formParser, jsonParser, checkClient];
}
