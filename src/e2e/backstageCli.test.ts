import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createTestDatabases } from '../testUtils/databases';
import { guestUser } from './fixtures/guestUser';
import { CodeFlow, approveAsGuest } from './harness/codeFlow';
import { type AuthBackend, startAuthBackend } from './harness/startAuthBackend';

jest.setTimeout(180_000);

/**
 * The real Backstage CLI (`@backstage/cli-module-auth`, its own binary in its
 * own process with its own HOME) against the plugin: login with consent given
 * as the portal's consent page gives it, print-token, show, a refresh once
 * the stored expiry has passed, and logout, which must really revoke.
 * It listens on its fixed callback port, 8055, so these runs go one by one.
 */
const databases = createTestDatabases();
const CLI_BIN = path.join(
  path.dirname(require.resolve('@backstage/cli-module-auth/package.json')),
  'bin',
  'backstage-cli-module-auth',
);

/** A home of the CLI's own: its instance list and its secrets, as files. */
function cliHome() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'backstage-cli-home-'));
  const env = {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local', 'share'),
    NO_COLOR: '1',
  };
  const secret = (instance: string, name: string) =>
    fs.readFileSync(
      path.join(
        env.XDG_DATA_HOME,
        'backstage-cli',
        'auth-secrets',
        encodeURIComponent(`backstage-cli:auth-instance:${instance}`),
        `${name}.secret`,
      ),
      'utf8',
    );
  const instancesFile = path.join(env.XDG_CONFIG_HOME, 'backstage-cli', 'auth-instances.yaml');
  return { home, env, secret, instancesFile, remove: () => fs.rmSync(home, { recursive: true, force: true }) };
}

/** Runs the CLI to completion; resolves with its output, rejects on a non-zero exit. */
function runCli(env: NodeJS.ProcessEnv, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', d => (out += d));
    child.stderr.on('data', d => (out += d));
    child.on('error', reject);
    child.on('exit', code =>
      code === 0 ? resolve(out) : reject(new Error(`cli ${args.join(' ')} exited ${code}:\n${out}`)),
    );
  });
}

/** Starts `auth login --no-browser` and resolves with the URL it prints, and its exit. */
function startLogin(env: NodeJS.ProcessEnv, backendUrl: string) {
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI_BIN, 'auth', 'login', '--backend-url', backendUrl, '--no-browser'],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const exited = new Promise<string>((resolve, reject) => {
    child.on('exit', code => (code === 0 ? resolve(out) : reject(new Error(`login exited ${code}:\n${out}`))));
  });
  const url = new Promise<URL>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d;
      const match = /Open this URL to continue: (\S+)/.exec(out);
      if (match) resolve(new URL(match[1]));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    exited.catch(reject);
  });
  return { url, exited, kill: () => child.kill() };
}

describe.each(databases.eachSupportedId())('the Backstage CLI against the portal on %s', databaseId => {
  let backend: AuthBackend;
  let home: ReturnType<typeof cliHome>;

  beforeAll(async () => {
    const knex = await databases.init(databaseId);
    backend = await startAuthBackend({
      knex,
      entities: [guestUser()],
      config: {
        auth: { clientIdMetadataDocuments: { enabled: true }, experimentalRefreshToken: { enabled: true } },
      },
    });
    home = cliHome();
  });
  afterAll(async () => {
    await backend?.stop();
    home?.remove();
  });

  it('logs in, prints a token other plugins accept, shows the user, refreshes and logs out', async () => {
    const instance = new URL(backend.baseUrl).host;

    // auth login: the CLI prints the authorization URL and waits on 127.0.0.1:8055.
    const login = startLogin(home.env, backend.baseUrl);
    try {
      const authorizeUrl = await login.url;
      expect(authorizeUrl.searchParams.get('client_id')).toBe(`${backend.issuer}/.well-known/oauth-client/cli.json`);
      const authorize = await request(backend.server).get(`${authorizeUrl.pathname}${authorizeUrl.search}`);
      expect(authorize.status).toBe(302);
      // The portal's consent page: it reads the session, the signed-in user approves.
      const sessionId = CodeFlow.sessionIdOf(authorize.headers.location);
      const session = await request(backend.server).get(`/api/auth/v1/sessions/${sessionId}`);
      expect(session.body.clientName).toBe(`Backstage CLI (${new URL(backend.baseUrl).host})`);
      const callback = await approveAsGuest(backend, sessionId);
      expect(`${callback.origin}${callback.pathname}`).toBe('http://127.0.0.1:8055/callback');
      // The browser follows the redirect to the CLI's loopback server.
      expect((await fetch(callback)).status).toBe(200);
      expect(await login.exited).toContain('Login successful');
    } finally {
      login.kill();
    }

    // print-token: a token every Backstage API accepts.
    const token = (await runCli(home.env, ['auth', 'print-token'])).trim();
    const me = await request(backend.server).get('/api/whoami/me').auth(token, { type: 'bearer' });
    expect(me.status).toBe(200);
    expect(me.body.userEntityRef).toBe('user:development/guest');

    // show: reads /v1/userinfo with that token.
    const shown = await runCli(home.env, ['auth', 'show']);
    expect(shown).toContain('user:development/guest');

    // Once the stored expiry has passed, print-token refreshes (JSON body, no client_id).
    const firstRefreshToken = home.secret(instance, 'refreshToken');
    fs.writeFileSync(
      home.instancesFile,
      fs.readFileSync(home.instancesFile, 'utf8').replace(/accessTokenExpiresAt: \d+/, 'accessTokenExpiresAt: 0'),
    );
    const refreshed = (await runCli(home.env, ['auth', 'print-token'])).trim();
    expect(refreshed).not.toBe(token);
    expect((await request(backend.server).get('/api/whoami/me').auth(refreshed, { type: 'bearer' })).status).toBe(200);
    const rotatedRefreshToken = home.secret(instance, 'refreshToken');
    expect(rotatedRefreshToken).not.toBe(firstRefreshToken);

    // logout revokes: the refresh token is refused as revoked, not as malformed.
    expect(await runCli(home.env, ['auth', 'logout', '--instance', instance])).toContain('Logged out');
    const after = await request(backend.server)
      .post('/api/auth/v1/token')
      .set('Content-Type', 'application/json')
      .send({ grant_type: 'refresh_token', refresh_token: rotatedRefreshToken });
    expect(after.status).toBe(400);
    expect(after.body).toEqual({ error: 'invalid_grant', error_description: 'refresh token was revoked' });
  });
});
