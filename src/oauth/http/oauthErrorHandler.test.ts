import express from 'express';
import request from 'supertest';
import { mockServices } from '@backstage/backend-test-utils';
import { InvalidClient, InvalidGrant, TooManyRequests } from '../errors';
import { oauthErrorHandler } from './oauthErrorHandler';

function appThrowing(error: unknown) {
  const logger = mockServices.logger.mock();
  const app = express();
  app.post('/token', () => {
    throw error;
  });
  app.use(oauthErrorHandler(logger));
  return { app, logger };
}

describe('oauthErrorHandler', () => {
  it('writes an OAuth error with its status and no-store', async () => {
    const { app } = appThrowing(new InvalidGrant('code is invalid or expired'));
    const res = await request(app).post('/token');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_grant', error_description: 'code is invalid or expired' });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.pragma).toBe('no-cache');
  });

  it('adds WWW-Authenticate to invalid_client (RFC 6749 §5.2)', async () => {
    const { app } = appThrowing(new InvalidClient('client authentication failed'));
    const res = await request(app).post('/token');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="oauth", error="invalid_client"');
  });

  it('adds Retry-After to too_many_requests', async () => {
    const { app } = appThrowing(new TooManyRequests('slow down', 7));
    const res = await request(app).post('/token');
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
  });

  it('answers an unreachable database with 503 temporarily_unavailable', async () => {
    const terminated = Object.assign(
      new Error('terminating connection due to administrator command'),
      { code: '57P01' },
    );
    const { app, logger } = appThrowing(terminated);
    const res = await request(app).post('/token');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'the authorization server is temporarily unavailable; retry later',
    });
    expect(logger.error).not.toHaveBeenCalled();
    expect(logger.warn).toHaveBeenCalled();
  });

  it('answers a body whose Content-Encoding lies with invalid_request', async () => {
    const app = express();
    app.post('/token', express.json(), (_req, res) => {
      res.json({});
    });
    app.use(oauthErrorHandler(mockServices.logger.mock()));
    const res = await request(app)
      .post('/token')
      .set('content-type', 'application/json')
      .set('content-encoding', 'gzip')
      .send('{"not":"gzip"}');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: 'invalid_request',
      error_description: 'request body could not be read',
    });
  });

  it('hides anything else behind server_error and logs it', async () => {
    const { app, logger } = appThrowing(new TypeError('boom'));
    const res = await request(app).post('/token');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'server_error', error_description: 'internal server error' });
    expect(logger.error).toHaveBeenCalled();
  });
});
