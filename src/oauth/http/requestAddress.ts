import type { Request } from 'express';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * `text` as an IP address in canonical form, or `undefined` when it is not
 * one: IPv6 compressed and lower-case (RFC 5952), an IPv4-mapped IPv6
 * address as its IPv4 address, a zone (`%eth0`, meaningless off the host
 * that wrote it) dropped. The result is at most 39 characters.
 */
export function parseAddress(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (isIPv4(text)) return text;
  // isIPv6 allows a zone of letters, digits and `-.:` only, of any length.
  if (!isIPv6(text)) return undefined;
  const bare = text.split('%')[0];
  // The WHATWG URL parser writes an IPv6 host the RFC 5952 way.
  const canonical = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (!mapped) return canonical;
  const [high, low] = [parseInt(mapped[1], 16), parseInt(mapped[2], 16)];
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/**
 * The IP address a request came from: `req.ip` (behind proxies that
 * `backend.trustProxy` trusts, the address they forwarded) when it is one,
 * else the address of the connection. Express takes X-Forwarded-For entries
 * as text without checking them (proxy-addr), so with `trustProxy: true` a
 * client writes its own `req.ip`; junk there is never stored, shown or used
 * as a budget's key. It falls back to the connection, not to a shared
 * "unknown", so that without a proxy the sender is still charged where it
 * is, and behind one all junk shares the proxy's budget. `undefined` only
 * once the connection is gone.
 */
export function requestAddress(req: Request): string | undefined {
  return parseAddress(req.ip) ?? parseAddress(req.socket.remoteAddress);
}
