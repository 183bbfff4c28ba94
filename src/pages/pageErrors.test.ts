import { mockServices } from '@backstage/backend-test-utils';
import { NotAllowedError } from '@backstage/errors';
import express from 'express';
import Router from 'express-promise-router';
import request from 'supertest';
import { pageErrorHandler } from './pageErrors';

function appThrowing(error: unknown) {
  const logger = mockServices.logger.mock();
  const router = Router();
  router.post('/page', express.urlencoded({ extended: false, limit: 100 }), () => {
    throw error;
  });
  router.use(pageErrorHandler({ logger, backLink: () => ({ href: '/api/auth/v1/device', text: 'Back' }) }));
  return { app: express().use(router), logger };
}

const send = (app: express.Express, body = 'a=b') =>
  request(app).post('/page').type('form').send(body);

describe('pageErrorHandler', () => {
  it('answers a 4xx error with its status, its message and a link back, as HTML', async () => {
    const { app } = appThrowing(new NotAllowedError('The form has expired'));
    const res = await send(app);
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toMatch(/script-src 'nonce-/);
    expect(res.text).toContain('The form has expired');
    expect(res.text).toContain('<a id="back" href="/api/auth/v1/device">Back</a>');
  });

  it('hides the details of an unexpected error and logs it', async () => {
    const { app, logger } = appThrowing(new Error('secret detail from a driver'));
    const res = await send(app);
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).not.toContain('secret detail');
    expect(res.text).toContain('href="/api/auth/v1/device"');
    expect(logger.error).toHaveBeenCalled();
  });

  it('answers an unreachable database with 503 and Retry-After', async () => {
    const { app } = appThrowing(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
    const res = await send(app);
    expect(res.status).toBe(503);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(res.text).not.toContain('5432');
  });

  it('keeps a body parser status but not its wording', async () => {
    const { app } = appThrowing(new Error('unreachable'));
    const res = await send(app, `a=${'x'.repeat(200)}`);
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('The form could not be read');
  });

  it('carries Retry-After from an error that names it', async () => {
    const { app } = appThrowing(Object.assign(new Error('slow down'), { status: 429, retryAfterSeconds: 42 }));
    const res = await send(app);
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('42');
  });
});
