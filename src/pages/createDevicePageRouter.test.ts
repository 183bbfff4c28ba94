import type { AuthService } from '@backstage/backend-plugin-api';
import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import cookieParser from 'cookie-parser';
import express from 'express';
import { memoryLimitStore } from '../oauth/http/LimitStore';
import request from 'supertest';
import type { DeviceCodeRecord, DeviceCodeStore } from '../oauth/DeviceCodeStore';
import { hmacUserCode } from '../oauth/crypto/hmacUserCode';
import { sha256 } from '../oauth/crypto/sha256';
import type { Client, SecurityEvent } from '../oauth/model';
import { ADDRESS_BUDGET_FACTOR, createDevicePageRouter } from './createDevicePageRouter';
import { pageErrorHandler } from './pageErrors';

const BASE = 'http://localhost:7007/api/auth';
const KEY = { version: '1', secret: Buffer.alloc(32, 7) };
const CSRF = 'c'.repeat(43);

/** Accepts `user:default/<name>` as a token for that user, as the framework would a signed one. */
const fakeAuth = {
  async authenticate(token: string) {
    if (!token.startsWith('user:')) throw new Error('bad token');
    return mockCredentials.user(token);
  },
  isPrincipal: (credentials: { principal: { type: string } }, type: string) =>
    credentials.principal.type === type,
} as unknown as AuthService;

/** An in-memory store holding one pending request per `add`. */
function memoryDeviceCodes() {
  const rows: DeviceCodeRecord[] = [];
  const store: Partial<DeviceCodeStore> = {
    userCodeKeys: async () => [KEY],
    findByUserCodeHashes: async hashes => rows.find(r => hashes.includes(r.userCodeHash)),
    findByDeviceCodeHash: async hash => rows.find(r => r.deviceCodeHash === hash),
    async decide({ deviceCodeHash, decision, userEntityRef, now }) {
      const row = rows.find(r => r.deviceCodeHash === deviceCodeHash && r.status === 'pending');
      if (!row || row.expiresAt <= now) return false;
      Object.assign(row, { status: decision, userEntityRef, decidedAt: now });
      return true;
    },
  };
  let n = 0;
  return {
    store: store as DeviceCodeStore,
    add(userCode: string): DeviceCodeRecord {
      const record: DeviceCodeRecord = {
        deviceCodeHash: sha256(`device-${n++}`),
        userCodeHash: hmacUserCode(userCode, KEY),
        userCodeKeyVersion: KEY.version,
        clientId: 'cli',
        scopes: ['openid'],
        status: 'pending',
        intervalSeconds: 5,
        createdAt: new Date(),
        expiresAt: new Date(Date.now() + 600_000),
      };
      rows.push(record);
      return record;
    },
  };
}

function setup(wrongCodeLimit = { requests: 5, windowSeconds: 300 }, client?: Client) {
  const deviceCodes = memoryDeviceCodes();
  const events: SecurityEvent[] = [];
  const app = express();
  app.set('trust proxy', true); // lets each request say its address in X-Forwarded-For
  app.use(cookieParser());
  app.use(
    createDevicePageRouter({
      baseUrl: BASE,
      auth: fakeAuth,
      clock: () => new Date(),
      limits: memoryLimitStore(() => new Date()),
      audit: e => events.push(e),
      clients: { findClient: async () => client, verifySecret: async () => false },
      deviceCodes: deviceCodes.store,
      pages: { signInProvider: 'guest', environment: 'development', appBaseUrl: 'http://localhost:3000' },
      wrongCodeLimit,
    }),
  );
  app.use(
    pageErrorHandler({
      logger: mockServices.logger.mock(),
      backLink: () => ({ href: '/api/auth/v1/device', text: 'Back' }),
    }),
  );
  const as = (user: string, address: string) => ({
    enter: (userCode: string) =>
      request(app)
        .post('/v1/device')
        .set('X-Forwarded-For', address)
        .set('Cookie', [`oidc-pages-user=user:default/${user}`, `oidc-pages-csrf=${CSRF}`])
        .type('form')
        .send({ csrf: CSRF, user_code: userCode }),
    decide: (deviceCodeHash: string, decision = 'approve') =>
      request(app)
        .post('/v1/device/decision')
        .set('X-Forwarded-For', address)
        .set('Cookie', [`oidc-pages-user=user:default/${user}`, `oidc-pages-csrf=${CSRF}`])
        .type('form')
        .send({ csrf: CSRF, request: deviceCodeHash, decision }),
    view: () =>
      request(app)
        .get('/v1/device')
        .set('X-Forwarded-For', address)
        .set('Cookie', [`oidc-pages-user=user:default/${user}`]),
  });
  return { as, deviceCodes, events };
}

/** Wrong codes, different each time (a guess is never the same code twice). */
const wrong = (i: number) => `BBBB-${'BCDFGHJKLMNPQRSTVWXZ'[Math.floor(i / 20) % 20]}BB${'BCDFGHJKLMNPQRSTVWXZ'[i % 20]}`;

describe('device page wrong-code limits', () => {
  it('refuses a user’s sixth wrong code with an HTML 429 page, whatever the address', async () => {
    const { as, events } = setup();
    const alice = as('alice', '203.0.113.7');
    for (let i = 0; i < 5; i++) expect((await alice.enter(wrong(i))).status).toBe(400);
    const refused = await alice.enter(wrong(5));
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toMatch(/^text\/html/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(290);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(300);
    expect(refused.text).toContain('Too many wrong codes');
    expect(refused.text).toContain('href="/api/auth/v1/device"');
    expect((await as('alice', '198.51.100.1').enter(wrong(6))).status).toBe(429);
    // A colleague behind the same office address is not locked out.
    expect((await as('bob', '203.0.113.7').enter(wrong(7))).status).toBe(400);
    expect(events).toEqual([
      expect.objectContaining({ eventId: 'rate-limited', userEntityRef: 'user:default/alice', meta: expect.objectContaining({ scope: 'user' }) }),
    ]);
  });

  it(`gives an address ${ADDRESS_BUDGET_FACTOR} times a user’s budget, then refuses everyone there`, async () => {
    const { as } = setup({ requests: 2, windowSeconds: 60 });
    let n = 0;
    for (let user = 0; user < ADDRESS_BUDGET_FACTOR; user++) {
      for (let i = 0; i < 2; i++) expect((await as(`u${user}`, '203.0.113.7').enter(wrong(n++))).status).toBe(400);
    }
    expect((await as('newcomer', '203.0.113.7').enter(wrong(n++))).status).toBe(429);
    expect((await as('newcomer', '198.51.100.1').enter(wrong(n++))).status).toBe(400);
  });

  it('never counts page views, decisions or a code that was valid but is now used', async () => {
    const { as, deviceCodes } = setup({ requests: 1, windowSeconds: 60 });
    const alice = as('alice', '203.0.113.7');
    for (let i = 0; i < 20; i++) expect((await alice.view()).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const record = deviceCodes.add(`BCDF${'GHJK'[i]}LMN`);
      const confirm = await alice.enter(`BCDF-${'GHJK'[i]}LMN`);
      expect(confirm.status).toBe(200);
      expect(confirm.text).toContain(`name="request" value="${record.deviceCodeHash}"`);
      // The user code itself is not in the decision form.
      expect(confirm.text).not.toContain(`name="user_code"`);
      expect((await alice.decide(record.deviceCodeHash)).headers.location).toBe('/api/auth/v1/device/done?result=approved');
      // Sent again (a double click, a second tab): too late, but not a guess.
      expect((await alice.decide(record.deviceCodeHash, 'deny')).headers.location).toBe('/api/auth/v1/device/done?result=expired');
      expect((await alice.decide(sha256(`unknown-${i}`))).headers.location).toBe('/api/auth/v1/device/done?result=expired');
      const late = await alice.enter(`BCDF-${'GHJK'[i]}LMN`);
      expect(late.status).toBe(400);
      expect(late.text).toContain('already used or has expired');
    }
    expect((await alice.enter(wrong(0))).status).toBe(400);
    expect((await alice.enter(wrong(1))).status).toBe(429);
  });
});

describe('device page client names', () => {
  const client = (kind: Client['kind'], clientId: string): Client => ({
    clientId,
    clientName: 'Example CLI',
    kind,
    redirectUris: ['http://127.0.0.1/callback'],
    grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'],
    responseTypes: ['code'],
    tokenEndpointAuthMethod: 'none',
    metadata: {},
  });
  const confirmPageFor = async (c: Client) => {
    const { as, deviceCodes } = setup(undefined, c);
    deviceCodes.add('BCDFGHJK');
    const res = await as('alice', '203.0.113.7').enter('BCDF-GHJK');
    expect(res.status).toBe(200);
    return res.text;
  };

  it('shows a metadata-document client with the host that published it', async () => {
    const text = await confirmPageFor(client('metadata-document', 'https://tools.example.org/cli.json'));
    expect(text).toContain('<h1>Connect Example CLI?</h1>\n<p class="host" id="client-host">from <strong>tools.example.org</strong></p>');
  });

  it('marks a dynamically registered client’s name as unverified', async () => {
    const text = await confirmPageFor(client('dynamic', 'abc123'));
    expect(text).toContain('<span class="badge">unverified</span> This application named itself');
  });

  it('shows a client from app-config by its name alone', async () => {
    const text = await confirmPageFor(client('static', 'example-cli'));
    expect(text).toContain('<h1>Connect Example CLI?</h1>');
    expect(text).not.toContain('id="client-host"');
  });
});
