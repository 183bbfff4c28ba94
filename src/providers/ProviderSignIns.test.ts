import { executionAsyncResource } from 'node:async_hooks';
import { mockServices } from '@backstage/backend-test-utils';
import { sendWebMessageResponse } from '@backstage/plugin-auth-node';
import cookieParser from 'cookie-parser';
import express from 'express';
import Router from 'express-promise-router';
import request from 'supertest';
import type { SignInRecord, UserSignInStore } from '../oauth/authenticationContext';
import { ProviderSignIns } from './ProviderSignIns';
import { authenticationFromIdToken } from './providerIdToken';

const USER = 'user:default/jane';
const NOW = new Date('2026-12-10T12:00:00.000Z');
const nowSeconds = NOW.getTime() / 1000;

/** An unsigned JWT with these claims: the module's own exchange is what vouches for it. */
function idToken(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256' })}.${part(claims)}.c2ln`;
}

class MemorySignInStore implements UserSignInStore {
  readonly records = new Map<string, SignInRecord>();
  saves = 0;
  async get(ref: string) {
    return this.records.get(ref);
  }
  async save(record: SignInRecord) {
    this.saves += 1;
    this.records.set(record.userEntityRef, record);
  }
}

type Respond = (req: express.Request, res: express.Response) => void;

/** A provider whose frame and refresh handlers issue a token, then answer with `respond`. */
function providerApp(store: UserSignInStore, respond: Respond) {
  const signIns = ProviderSignIns.create({ store, logger: mockServices.logger.mock(), clock: () => NOW });
  const router = Router();
  router.use(cookieParser());
  const handler = (route: 'frame' | 'refresh'): express.RequestHandler => (req, res) =>
    signIns.run('oidc', route, req, res, async () => {
      await signIns.tokenIssued(USER);
      respond(req, res);
    });
  router.get('/oidc/handler/frame', handler('frame'));
  router.post('/oidc/refresh', handler('refresh'));
  return express().use(router);
}

describe('ProviderSignIns', () => {
  it('records a sign-in round trip, then what the provider’s ID token says at the next refresh', async () => {
    const store = new MemorySignInStore();
    let token = '';
    const app = providerApp(store, (_req, res) => {
      if (token) res.json({ providerInfo: { idToken: token }, backstageIdentity: {} });
      else res.redirect('http://localhost:3000/back'); // the redirect flow shows no ID token
    });
    await request(app).get('/oidc/handler/frame').expect(302);
    expect(store.records.get(USER)).toEqual({ userEntityRef: USER, providerId: 'oidc', authTime: NOW });

    token = idToken({ auth_time: nowSeconds - 3, acr: 'urn:loa:2', amr: ['pwd', 'otp'] });
    await request(app).post('/oidc/refresh').set('Cookie', 'oidc-refresh-token=rt').expect(200);
    expect(store.records.get(USER)).toEqual({
      userEntityRef: USER,
      providerId: 'oidc',
      authTime: new Date((nowSeconds - 3) * 1000),
      acr: 'urn:loa:2',
      amr: ['pwd', 'otp'],
    });

    // The same ID token at every later refresh writes nothing; one without acr/amr keeps them.
    const saves = store.saves;
    await request(app).post('/oidc/refresh').set('Cookie', 'oidc-refresh-token=rt').expect(200);
    token = idToken({ auth_time: nowSeconds - 3 });
    await request(app).post('/oidc/refresh').set('Cookie', 'oidc-refresh-token=rt').expect(200);
    expect(store.saves).toBe(saves);
    expect(store.records.get(USER)?.acr).toBe('urn:loa:2');
  });

  it('keeps the recorded sign-in through a session refresh whose provider says nothing', async () => {
    const store = new MemorySignInStore();
    const earlier = { userEntityRef: USER, providerId: 'oidc', authTime: new Date('2026-12-01T08:00:00Z') };
    await store.save(earlier);
    const app = providerApp(store, (_req, res) => res.json({ providerInfo: {} }));
    await request(app).post('/oidc/refresh').set('Cookie', 'oidc-refresh-token=rt').expect(200);
    expect(store.records.get(USER)).toEqual(earlier);
  });

  it('counts a refresh without a provider session as a proxy sign-in, and never reads its providerInfo', async () => {
    const store = new MemorySignInStore();
    // A proxy's providerInfo comes from request headers anyone can send.
    const app = providerApp(store, (_req, res) =>
      res.json({ providerInfo: { idToken: idToken({ auth_time: 1, acr: 'urn:loa:9' }) } }),
    );
    await request(app).post('/oidc/refresh').expect(200);
    expect(store.records.get(USER)).toEqual({ userEntityRef: USER, providerId: 'oidc', authTime: NOW });
  });

  it('reads the ID token from the popup flow’s page, and sends the page unchanged once recorded', async () => {
    const store = new MemorySignInStore();
    const response = {
      profile: {},
      providerInfo: { idToken: idToken({ auth_time: nowSeconds - 1, acr: 'urn:loa:1', amr: ['pwd'] }) },
    };
    const app = providerApp(store, (_req, res) =>
      sendWebMessageResponse(res, 'http://localhost:3000', { type: 'authorization_response', response } as never),
    );
    const res = await request(app).get('/oidc/handler/frame').expect(200);
    expect(res.text).toContain('window.opener || window.parent');
    expect(store.records.get(USER)).toEqual({
      userEntityRef: USER,
      providerId: 'oidc',
      authTime: new Date((nowSeconds - 1) * 1000),
      acr: 'urn:loa:1',
      amr: ['pwd'],
    });
  });
});

describe('authenticationFromIdToken', () => {
  it('leaves async hooks off once no provider call runs, and attributes the next call again', async () => {
    // Every enabled AsyncLocalStorage tags each new async resource with a
    // key of its own (the test runner may have some of its own on).
    const storesTagging = () =>
      new Promise<number>(resolve => {
        setImmediate(() => {
          const symbols = Object.getOwnPropertySymbols(executionAsyncResource());
          resolve(symbols.filter(symbol => symbol.description === 'kResourceStore').length);
        });
      });
    const before = await storesTagging();
    const store = new MemorySignInStore();
    const app = providerApp(store, (_req, res) => res.json({ backstageIdentity: {} }));
    await request(app).post('/oidc/refresh').expect(200);
    expect(store.records.get(USER)?.authTime).toEqual(NOW);
    expect(await storesTagging()).toBe(before);
    store.records.clear();
    await request(app).post('/oidc/refresh').expect(200);
    expect(store.records.get(USER)?.authTime).toEqual(NOW);
  });

  it('reads auth_time, acr and amr', () => {
    expect(authenticationFromIdToken(idToken({ auth_time: 1796000000.9, acr: 'a', amr: ['pwd'] }), NOW)).toEqual({
      authTime: new Date(1796000000 * 1000),
      acr: 'a',
      amr: ['pwd'],
    });
  });

  it.each([
    ['an auth_time in the future', { auth_time: nowSeconds + 3600 }],
    ['an auth_time that is a string', { auth_time: String(nowSeconds) }],
    ['an acr with a control character', { acr: 'a\u0000b' }],
    ['an over-long acr', { acr: 'a'.repeat(256) }],
    ['an amr that is not a list of names', { amr: 'pwd' }],
    ['an amr with a number', { amr: ['pwd', 1] }],
    ['an amr of 17 methods', { amr: Array.from({ length: 17 }, (_, i) => `m${i}`) }],
  ])('leaves out %s', (_name, claims) => {
    expect(authenticationFromIdToken(idToken(claims), NOW)).toEqual({});
  });

  it('reads nothing from a token that is not a JWS (an encrypted ID token)', () => {
    expect(authenticationFromIdToken('a.b.c.d.e', NOW)).toEqual({});
  });
});
