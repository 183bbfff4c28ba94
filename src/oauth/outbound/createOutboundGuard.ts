import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { Clock } from '../model';
import { isPublicAddress } from './isPublicAddress';
import { type OutboundSlot, OutboundSlots, type OutboundSlotsOptions } from './OutboundSlots';

/** How long a request may take in total, connection included. */
export const OUTBOUND_TIMEOUT_MS = 5000;
/** A response body larger than this is refused; metadata documents are a few hundred bytes. */
export const MAX_OUTBOUND_RESPONSE_BYTES = 5 * 1024;

/** Why an outbound request got no usable answer. */
export type OutboundErrorCode =
  | 'forbidden-target'
  | 'redirect'
  | 'too-large'
  | 'timeout'
  | 'failed'
  | 'busy'
  | 'reclaimed';

/** An outbound request that got no usable answer; the message is safe to log. */
export class OutboundRequestError extends Error {
  constructor(
    readonly code: OutboundErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'OutboundRequestError';
  }

  /** True when the guard held the request back for other hosts: it says nothing about the target. */
  get retryable(): boolean {
    return this.code === 'busy' || this.code === 'reclaimed';
  }
}

/** A response with a 2xx or 4xx/5xx status (a 3xx is an error). */
export interface OutboundResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body of a 2xx response; empty for others, which are not read. */
  body: Buffer;
}

/** Makes the requests the server sends on a client's behalf. */
export interface OutboundGuard {
  /** GETs `url`; rejects with {@link OutboundRequestError}. */
  get(url: URL, options?: { accept?: string }): Promise<OutboundResponse>;
}

/** Options of {@link createOutboundGuard}. */
export interface OutboundGuardOptions {
  /** Development and tests only: allow http, and loopback and private addresses. */
  allowInsecure: boolean;
  /** Defaults to {@link OUTBOUND_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Defaults to {@link MAX_OUTBOUND_RESPONSE_BYTES}. */
  maxResponseBytes?: number;
  /** Overrides of the slot policy's defaults (see {@link OutboundSlots}). */
  slots?: Partial<OutboundSlotsOptions>;
  /** Measures how long requests have run, for the slot policy. */
  clock: Clock;
}

/**
 * The one outbound guard (SPEC §5) for every request the server makes on a
 * client's behalf: https only, public addresses only (every resolved address
 * is checked in the connection's own DNS lookup, so a rebinding name cannot
 * slip through), no redirects, a total timeout, a size cap, and per-host fair
 * slots ({@link OutboundSlots}). Create one per server and share it, so that
 * all kinds of requests count against the same slots.
 */
export function createOutboundGuard(options: OutboundGuardOptions): OutboundGuard {
  const slots = new OutboundSlots({ ...options.slots, clock: options.clock });
  const limits = {
    allowInsecure: options.allowInsecure,
    timeoutMs: options.timeoutMs ?? OUTBOUND_TIMEOUT_MS,
    maxResponseBytes: options.maxResponseBytes ?? MAX_OUTBOUND_RESPONSE_BYTES,
  };
  return {
    async get(url, { accept } = {}) {
      checkTarget(url, limits.allowInsecure);
      // By name without the port: one party's ports are one host, and share its slots.
      const slot = slots.acquire(url.hostname);
      if (!slot) {
        const why = `too many requests to ${url.hostname}, or in all, are running`;
        throw new OutboundRequestError('busy', why);
      }
      return send(url, { ...limits, slot, headers: accept ? { accept } : {} });
    },
  };
}

function checkTarget(url: URL, allowInsecure: boolean): void {
  if (url.protocol !== 'https:' && !(allowInsecure && url.protocol === 'http:')) {
    throw new OutboundRequestError('forbidden-target', 'the URL must use https');
  }
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(hostname) && !allowInsecure && !isPublicAddress(hostname)) {
    throw new OutboundRequestError('forbidden-target', `${hostname} is not a public address`);
  }
}

/** The connection's DNS lookup, refusing names that resolve to any address that is not public. */
function publicOnlyLookup(allowInsecure: boolean): LookupFunction {
  return (name, lookupOptions, callback) => {
    dns.lookup(name, { all: true, verbatim: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      if (!allowInsecure && addresses.some(a => !isPublicAddress(a.address))) {
        return callback(
          new OutboundRequestError('forbidden-target', `${name} resolves to a non-public address`),
          '',
          0,
        );
      }
      if (addresses.length === 0) {
        return callback(new OutboundRequestError('failed', `${name} has no address`), '', 0);
      }
      if (lookupOptions.all) {
        return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
      }
      return callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

function send(
  url: URL,
  options: {
    allowInsecure: boolean;
    timeoutMs: number;
    maxResponseBytes: number;
    slot: OutboundSlot;
    headers: Record<string, string>;
  },
): Promise<OutboundResponse> {
  const { slot, maxResponseBytes } = options;
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<OutboundResponse>((resolve, reject) => {
    let settled = false;
    // Filled right below; `settle` only runs once both exist.
    const handles: { timer?: NodeJS.Timeout; request?: http.ClientRequest } = {};
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(handles.timer);
      slot.release();
      outcome();
    };
    const fail = (error: Error) =>
      settle(() => {
        handles.request?.destroy();
        reject(
          error instanceof OutboundRequestError
            ? error
            : new OutboundRequestError('failed', `the request failed: ${error.message}`),
        );
      });
    const tooLarge = () =>
      new OutboundRequestError('too-large', `the response is larger than ${maxResponseBytes} bytes`);

    handles.timer = setTimeout(
      () => fail(new OutboundRequestError('timeout', 'the request timed out')),
      options.timeoutMs,
    );
    const request = transport.get(
      url,
      {
        lookup: publicOnlyLookup(options.allowInsecure),
        agent: false,
        headers: options.headers,
        timeout: options.timeoutMs,
      },
      response => {
        const status = response.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          fail(new OutboundRequestError('redirect', 'the URL redirects; redirects are not followed'));
          return;
        }
        if (status < 200 || status >= 300) {
          settle(() => {
            handles.request?.destroy();
            resolve({ status, headers: response.headers, body: Buffer.alloc(0) });
          });
          return;
        }
        if (Number(response.headers['content-length'] ?? 0) > maxResponseBytes) {
          fail(tooLarge());
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxResponseBytes) fail(tooLarge());
          else chunks.push(chunk);
        });
        response.on('error', fail);
        response.on('end', () =>
          settle(() => resolve({ status, headers: response.headers, body: Buffer.concat(chunks) })),
        );
      },
    );
    handles.request = request;
    request.on('timeout', () => fail(new OutboundRequestError('timeout', 'the request timed out')));
    request.on('error', fail);
    // The slot policy took the slot back for another host (OutboundSlots).
    const reclaimed = `the request to ${url.hostname} gave its slot to another host`;
    slot.signal.addEventListener('abort', () => fail(new OutboundRequestError('reclaimed', reclaimed)), {
      once: true,
    });
  });
}
