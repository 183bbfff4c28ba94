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
import { memoryLimitStore } from './LimitStore';
import { clientAddressKey, rateLimit } from './rateLimit';

type Limits = Record<RateLimitedEndpoint, RateLimit>;

function appWith(limits: Limits) {
  const events: SecurityEvent[] = [];
  const clock = () => new Date();
  const deps = { limits, store: memoryLimitStore(clock), clock, audit: (e: SecurityEvent) => events.push(e) };
  const app = express();
  app.set('trust proxy', true); // lets a test speak from several addresses
  app.use('/token', rateLimit(deps, 'token'));
  // Stands in for the token endpoint: 'good' authenticates, and only then is
  // the client's own budget charged; a `user` stands for a public client's
  // grant that proved whose it is, charged to that user.
  app.post('/token', ...parseParams('body'), (req: express.Request, res: express.Response, next) => {
    const params = req.oauthParams ?? {};
    if (params.user === undefined && params.client_secret !== 'good') {
      res.status(401).json({ error: 'invalid_client' });
      return;
    }
    const budget = res.locals.clientBudget!;
    const charged =
      params.user !== undefined ? budget.takeForUser(params.client_id, params.user) : budget.take(params.client_id);
    charged.then(() => res.json({ params }), next);
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

  it('charges a client its own budget across addresses once it authenticated', async () => {
    const { app, events } = appWith(tight);
    // One request per address, so only the client budget (1 × 10) can run out.
    const send = (clientId: string, i: number) =>
      request(app)
        .post('/token')
        .set('x-forwarded-for', `10.0.0.${i}`)
        .type('form')
        .send({ client_id: clientId, client_secret: 'good', grant_type: 'x' });
    for (let i = 1; i <= 10; i++) {
      const res = await send('cli', i);
      expect(res.status).toBe(200);
      expect(res.body.params).toEqual({ client_id: 'cli', client_secret: 'good', grant_type: 'x' });
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

  it('charges failed authentications to the sender, never to the client it names', async () => {
    const { app } = appWith({ ...tight, token: { requests: 5, windowSeconds: 60 } });
    const attack = () =>
      request(app)
        .post('/token')
        .set('x-forwarded-for', '10.9.9.9')
        .type('form')
        .send({ client_id: 'victim', client_secret: 'guess', grant_type: 'x' });
    const statuses = [];
    for (let i = 0; i < 60; i++) statuses.push((await attack()).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(new Set(statuses.slice(5))).toEqual(new Set([429]));
    // The victim's own budget (5 × 10) is untouched by the 60 attempts.
    for (let i = 1; i <= 50; i++) {
      await request(app)
        .post('/token')
        .set('x-forwarded-for', `10.0.2.${i}`)
        .type('form')
        .send({ client_id: 'victim', client_secret: 'good', grant_type: 'x' })
        .expect(200);
    }
  });

  it("charges a public client's grants per user, so one user cannot spend another's", async () => {
    const { app, events } = appWith(tight);
    const grant = (address: string, user: string, clientId = 'cli') =>
      request(app)
        .post('/token')
        .set('x-forwarded-for', address)
        .type('form')
        .send({ client_id: clientId, user, grant_type: 'refresh_token' });
    // One user, ten addresses: the user's budget is one address's (1).
    expect((await grant('10.0.3.1', 'user:default/mallory')).status).toBe(200);
    for (let i = 2; i <= 10; i++) {
      const res = await grant(`10.0.3.${i}`, 'user:default/mallory');
      expect(res.status).toBe(429);
      expect(res.body.error).toBe('too_many_requests');
    }
    // The client has no budget everyone shares: twenty other users, each from an address of their own.
    for (let i = 1; i <= 20; i++) {
      expect((await grant(`10.0.4.${i}`, `user:default/u${i}`)).status).toBe(200);
    }
    // The same user through another client is another budget.
    expect((await grant('10.0.5.1', 'user:default/mallory', 'other-cli')).status).toBe(200);
    expect(events).toEqual([
      {
        eventId: 'rate-limited',
        clientId: 'cli',
        userEntityRef: 'user:default/mallory',
        meta: { endpoint: 'token', scope: 'user', address: '10.0.3.2' },
      },
    ]);
  });

  it('keeps the budgets of (client, user) pairs apart however their names are spelled', async () => {
    const { app } = appWith(tight);
    const grant = (address: string, clientId: string, user: string) =>
      request(app)
        .post('/token')
        .set('x-forwarded-for', address)
        .type('form')
        .send({ client_id: clientId, user, grant_type: 'refresh_token' });
    // Joined with any separator, these two pairs would be one key.
    expect((await grant('10.0.6.1', 'a b', 'c')).status).toBe(200);
    expect((await grant('10.0.6.2', 'a', 'b c')).status).toBe(200);
    expect((await grant('10.0.6.3', 'a","b', 'c')).status).toBe(200);
    expect((await grant('10.0.6.4', 'a', 'b","c')).status).toBe(200);
  });

  it('tells a device polling over budget to slow down (RFC 8628 §3.5)', async () => {
    const { app } = appWith(tight);
    const poll = () =>
      request(app)
        .post('/token')
        .type('form')
        .send({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'd' });
    await poll().expect(401);
    const res = await poll();
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: 'slow_down',
      error_description: expect.stringMatching(/^polling too fast; wait at least \d+ seconds/),
    });
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
