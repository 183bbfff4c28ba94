import express from 'express';
import request from 'supertest';
import { mockServices } from '@backstage/backend-test-utils';
import {
  DEFAULT_RATE_LIMITS,
  type RateLimit,
  type RateLimitedEndpoint,
} from '../../config/readOidcProviderConfig';
import type { SecurityEvent } from '../model';
import { oauthErrorHandler } from './oauthErrorHandler';
import { parseParams } from './parseParams';
import { clientAddressKey, rateLimit } from './rateLimit';

type Limits = Record<RateLimitedEndpoint, RateLimit>;

function appWith(limits: Limits) {
  const events: SecurityEvent[] = [];
  const deps = { limits, clock: () => new Date(), audit: (e: SecurityEvent) => events.push(e) };
  const app = express();
  app.set('trust proxy', true); // lets a test speak from several addresses
  app.use('/token', rateLimit(deps, 'token'));
  app.post('/token', ...parseParams(), (req: express.Request, res: express.Response) => {
    res.json({ params: req.oauthParams });
  });
  app.use('/register', rateLimit(deps, 'registration'));
  app.post('/register', (_req, res) => {
    res.status(201).json({});
  });
  app.use(oauthErrorHandler(mockServices.logger.mock()));
  return { app, events };
}

// token: 1 per address, so 10 per client_id (CLIENT_BUDGET_FACTOR).
const tight: Limits = {
  ...DEFAULT_RATE_LIMITS,
  registration: { requests: 2, windowSeconds: 60 },
  token: { requests: 1, windowSeconds: 60 },
};

describe('rateLimit', () => {
  it('answers 429 too_many_requests with Retry-After once an address is over budget', async () => {
    const { app, events } = appWith(tight);
    expect((await request(app).post('/register')).status).toBe(201);
    expect((await request(app).post('/register')).status).toBe(201);
    const res = await request(app).post('/register');
    expect(res.status).toBe(429);
    expect(res.body).toEqual({
      error: 'too_many_requests',
      error_description: expect.stringMatching(/^too many registration requests; retry after \d+ seconds$/),
    });
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(res.headers['cache-control']).toBe('no-store');
    await request(app).post('/register').expect(429);
    expect(events).toEqual([
      {
        eventId: 'rate-limited',
        meta: { endpoint: 'registration', scope: 'address', address: '127.0.0.1' },
      },
    ]);
  });

  it('limits a client_id named in the form body across addresses and still hands the body on', async () => {
    const { app, events } = appWith(tight);
    // One request per address, so only the client budget (1 × 10) can run out.
    const send = (clientId: string, i: number) =>
      request(app)
        .post('/token')
        .set('x-forwarded-for', `10.0.0.${i}`)
        .type('form')
        .send({ client_id: clientId, grant_type: 'x' });
    for (let i = 1; i <= 10; i++) {
      const res = await send('cli', i);
      expect(res.status).toBe(200);
      expect(res.body.params).toEqual({ client_id: 'cli', grant_type: 'x' });
    }
    await send('cli', 11).expect(429);
    await send('other', 12).expect(200);
    expect(events).toEqual([
      {
        eventId: 'rate-limited',
        clientId: 'cli',
        meta: { endpoint: 'token', scope: 'client', address: '10.0.0.11' },
      },
    ]);
  });

  it('limits a client_id presented with HTTP Basic (RFC 6749 §2.3.1 encoding)', async () => {
    const { app, events } = appWith(tight);
    const send = (i: number) =>
      request(app)
        .post('/token')
        .set('x-forwarded-for', `10.0.1.${i}`)
        .auth('conf%20client', 'secret')
        .type('form')
        .send({ grant_type: 'x' });
    for (let i = 1; i <= 10; i++) await send(i).expect(200);
    const res = await send(11).expect(429);
    expect(res.body.error).toBe('too_many_requests');
    expect(events[0].clientId).toBe('conf client');
  });

  it('lets malformed bodies reach the usual invalid_request answer', async () => {
    const { app } = appWith(tight);
    const res = await request(app)
      .post('/token')
      .set('content-type', 'application/json')
      .send('{"client_id":');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'request body is not valid JSON' });
  });

});

describe('clientAddressKey', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::7', '2001:db8:1:2::/64'],
    ['2001:0db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    [undefined, 'unknown'],
  ])('charges %s to %s', (address, key) => {
    expect(clientAddressKey(address)).toBe(key);
  });
});
