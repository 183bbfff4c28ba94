import { createHash } from 'node:crypto';
import type express from 'express';

/** A JSON document serialized once, with its entity tag. */
export interface PrebuiltJson {
  body: Buffer;
  etag: string;
}

/** Serializes `value` once, for {@link sendPrebuiltJson}. */
export function prebuildJson(value: unknown): PrebuiltJson {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url')}"` };
}

/**
 * Sends a document that is the same for every request (server metadata, the
 * JWKS while its keys stay the same) as Express's `res.json` would, with an
 * ETag and `304 Not Modified` for a matching `If-None-Match`, but without
 * serializing, encoding and hashing it again for each request.
 */
export function sendPrebuiltJson(req: express.Request, res: express.Response, doc: PrebuiltJson): void {
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('ETag', doc.etag);
  if (req.fresh) {
    res.status(304).end();
    return;
  }
  res.setHeader('Content-Length', String(doc.body.length));
  res.end(req.method === 'HEAD' ? undefined : doc.body);
}
