import express from 'express';
import request from 'supertest';
import { mockServices } from '@backstage/backend-test-utils';
import { MiddlewareFactory } from '@backstage/backend-defaults/rootHttpRouter';
import { NotFoundError } from '@backstage/errors';
import { databaseUnavailableHandler } from './databaseUnavailableHandler';

function appThrowing(error: unknown) {
  const app = express();
  app.get('/thing', () => {
    throw error;
  });
  app.use(databaseUnavailableHandler(mockServices.logger.mock()));
  // The framework's own error middleware writes the Backstage body.
  const middleware = MiddlewareFactory.create({
    config: mockServices.rootConfig(),
    logger: mockServices.logger.mock(),
  });
  app.use(middleware.error());
  return app;
}

describe('databaseUnavailableHandler', () => {
  it('answers an unreachable database with a Backstage 503 and Retry-After', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    const res = await request(appThrowing(refused)).get('/thing');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).toMatchObject({
      error: {
        name: 'ServiceUnavailableError',
        message: 'The auth database is temporarily unavailable; retry later',
      },
      request: { method: 'GET', url: '/thing' },
      response: { statusCode: 503 },
    });
  });

  it('leaves other errors to the framework', async () => {
    const res = await request(appThrowing(new NotFoundError('no such thing'))).get('/thing');
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ name: 'NotFoundError', message: 'no such thing' });
  });
});
