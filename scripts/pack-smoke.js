#!/usr/bin/env node
/* eslint-disable no-console */
// Proves the published artefact works, produced the way anyone would produce
// it: a fresh `git clone` of this repository (its HEAD), `npm ci`, and a
// plain `npm pack` (whose prepack builds dist/). The tarball is installed
// into a fresh directory next to a stock Backstage backend
// (@backstage/backend-defaults, the guest provider module, better-sqlite3),
// which is started on a free port with
// `backend.add(import('@portal-oidc/plugin-auth-backend'))`; the test checks
// that /api/auth answers, a user signs in, and the shipped migrations ran.
//
//   node scripts/pack-smoke.js [--keep]
//
// --keep leaves the temporary directory in place for inspection.
const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const { spawn, spawnSync, execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const keep = process.argv.includes('--keep');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const STARTUP_ATTEMPTS = 240; // × 500 ms
const ownPkg = readJson(path.join(root, 'package.json'));

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function step(message) {
  console.log(`\n▶ ${message}`);
}

function sh(command, args, cwd) {
  execFileSync(command, args, { cwd, stdio: 'inherit' });
}

/** The version installed in the clone, so the smoke install is served from the npm cache. */
function installedVersion(clone, name) {
  return readJson(path.join(clone, 'node_modules', name, 'package.json')).version;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

function writeBackend(dir, clone, tarball, port) {
  const guest = '@backstage/plugin-auth-backend-module-guest-provider';
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify(
      {
        name: 'pack-smoke-backend',
        version: '0.0.0',
        private: true,
        dependencies: {
          [ownPkg.name]: `file:${tarball}`,
          '@backstage/backend-defaults': `^${installedVersion(clone, '@backstage/backend-defaults')}`,
          [guest]: `^${installedVersion(clone, guest)}`,
          // The copy `npm ci` just compiled in the clone (same major, 12):
          // without a reachable prebuilt binary, building the native addon
          // again would add minutes and test nothing of ours.
          'better-sqlite3': `file:${fs.realpathSync(path.join(clone, 'node_modules', 'better-sqlite3'))}`,
        },
        // npm 11 runs install scripts only for packages allowed here.
        allowScripts: { 'better-sqlite3': true },
      },
      null,
      2,
    ),
  );
  // Backstage packages' peer ranges do not always agree; same as this repo.
  fs.writeFileSync(path.join(dir, '.npmrc'), 'legacy-peer-deps=true\n');
  fs.writeFileSync(
    path.join(dir, 'index.js'),
    [
      "const { createBackend } = require('@backstage/backend-defaults');",
      '',
      'const backend = createBackend();',
      `backend.add(import('${ownPkg.name}'));`,
      `backend.add(import('${guest}'));`,
      'backend.start();',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(
    path.join(dir, 'app-config.yaml'),
    [
      'app:',
      '  baseUrl: http://localhost:3000',
      'backend:',
      `  baseUrl: http://127.0.0.1:${port}`,
      '  listen:',
      `    port: ${port}`,
      '    host: 127.0.0.1',
      '  database:',
      '    client: better-sqlite3',
      '    connection:',
      `      directory: ${JSON.stringify(path.join(dir, 'db'))}`,
      'auth:',
      '  providers:',
      '    guest:',
      '      dangerouslyAllowOutsideDevelopment: true',
      '',
    ].join('\n'),
  );
}

async function waitForJwks(baseUrl, child, logs) {
  for (let attempt = 0; attempt < STARTUP_ATTEMPTS; attempt++) {
    if (child.exitCode !== null) {
      throw new Error(`the backend exited with code ${child.exitCode}:\n${logs.join('')}`);
    }
    try {
      const res = await fetch(`${baseUrl}/.well-known/jwks.json`);
      if (res.status === 200) {
        return await res.json();
      }
    } catch {
      // not listening yet
    }
    await sleep(500);
  }
  throw new Error(`the backend did not serve its JWKS in time:\n${logs.join('')}`);
}

function assert(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
  console.log(`  ✓ ${message}`);
}

async function checkBackend(dir, baseUrl, child, logs) {
  const jwks = await waitForJwks(baseUrl, child, logs);
  assert(
    Array.isArray(jwks.keys) && jwks.keys.length > 0,
    `GET ${baseUrl}/.well-known/jwks.json → 200 with ${jwks.keys?.length} key(s)`,
  );

  const discovery = await fetch(`${baseUrl}/.well-known/openid-configuration`);
  const metadata = discovery.status === 200 ? await discovery.json() : {};
  assert(
    metadata.issuer === baseUrl,
    `GET …/.well-known/openid-configuration → ${discovery.status}, issuer ${metadata.issuer}`,
  );

  // The guest provider module, installed from npm, plugged into the packed
  // plugin's extension point and can sign a user in.
  const refresh = await fetch(`${baseUrl}/guest/refresh`, {
    method: 'POST',
    headers: { 'X-Requested-With': 'XMLHttpRequest' },
  });
  const session = refresh.status === 200 ? await refresh.json() : {};
  assert(
    typeof session.backstageIdentity?.token === 'string',
    `POST …/guest/refresh → ${refresh.status} with a Backstage token for ${session.backstageIdentity?.identity?.userEntityRef}`,
  );

  const unknown = await fetch(`${baseUrl}/no-such-route`);
  assert(unknown.status === 404, `GET …/no-such-route → ${unknown.status}`);

  const Database = require(path.join(dir, 'node_modules', 'better-sqlite3'));
  const db = new Database(path.join(dir, 'db', 'auth.sqlite'), { readonly: true });
  try {
    const tables = new Set(
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all().map(r => r.name),
    );
    const expected = ['signing_keys', 'sessions', 'user_info', 'oidc_clients',
      'oauth_authorization_sessions', 'oidc_authorization_codes'];
    const missing = expected.filter(t => !tables.has(t));
    assert(missing.length === 0, `tables exist: ${expected.join(', ')}${missing.length ? ` (missing ${missing})` : ''}`);

    const shipped = fs
      .readdirSync(path.join(dir, 'node_modules', ownPkg.name, 'migrations'))
      .filter(f => /\.(c?js)$/.test(f));
    const applied = new Set(db.prepare('SELECT name FROM knex_migrations').all().map(r => r.name));
    const notApplied = shipped.filter(f => !applied.has(f));
    assert(
      shipped.length > 0 && notApplied.length === 0,
      `all ${shipped.length} migrations shipped in the tarball were applied${notApplied.length ? ` (not: ${notApplied})` : ''}`,
    );
  } finally {
    db.close();
  }
}

/** Framework packages that must exist once in a backend, or plugins would not share services. */
const FRAMEWORK = [
  '@backstage/backend-plugin-api',
  '@backstage/backend-app-api',
  '@backstage/backend-defaults',
  '@backstage/plugin-auth-node',
  '@backstage/plugin-catalog-node',
  '@backstage/catalog-model',
  '@backstage/config',
  '@backstage/errors',
  '@backstage/types',
];

/** `npm ls`: each framework package at one version in the whole tree. */
function checkSingleFrameworkCopies(dir) {
  // npm ls exits non-zero for the linked better-sqlite3's missing dev dependencies; the tree is still printed.
  const listed = spawnSync(npm, ['ls', '--all', '--json'], { cwd: dir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const tree = JSON.parse(listed.stdout);
  const versions = new Map(FRAMEWORK.map(name => [name, new Set()]));
  const walk = node => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      if (versions.has(name) && child.version) versions.get(name).add(child.version);
      walk(child);
    }
  };
  walk(tree);
  for (const [name, found] of versions) {
    assert(found.size <= 1, `one copy of ${name} (${[...found].join(', ') || 'not used'})`);
  }
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portal-oidc-pack-smoke-'));
  let child;
  try {
    const clone = path.join(dir, 'clone');
    step(`git clone ${root} (HEAD) → ${clone}`);
    if (execFileSync('git', ['status', '--porcelain'], { cwd: root, encoding: 'utf8' }).trim()) {
      console.log('  (uncommitted changes are not part of the clone)');
    }
    sh('git', ['clone', '--quiet', root, clone], dir);

    step('npm ci (in the clone)');
    sh(npm, ['ci', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], clone);

    step('npm pack (in the clone, nothing built before)');
    const packed = JSON.parse(
      execFileSync(npm, ['pack', '--json', '--pack-destination', dir], {
        cwd: clone,
        stdio: ['ignore', 'pipe', 'inherit'],
        encoding: 'utf8',
      }),
    )[0];
    const tarball = path.join(dir, packed.filename);
    const files = packed.files.map(f => f.path);
    console.log(`  ${packed.filename}: ${files.length} files, ${packed.size} bytes`);
    for (const required of ['dist/index.cjs.js', 'dist/index.d.ts', 'config.schema.json', 'package.json']) {
      assert(files.includes(required), `tarball contains ${required}`);
    }
    assert(files.some(f => f.startsWith('migrations/')), 'tarball contains migrations/');
    assert(!files.some(f => f.startsWith('src/')), 'tarball contains no src/');
    const manifest = JSON.parse(
      execFileSync('tar', ['-xOzf', tarball, 'package/package.json'], { encoding: 'utf8' }),
    );
    assert(
      manifest.main === 'dist/index.cjs.js' && manifest.exports?.['.']?.require === './dist/index.cjs.js',
      `the packed package.json points main and exports at dist/ (main: ${manifest.main})`,
    );

    const port = await freePort();
    const app = path.join(dir, 'backend');
    fs.mkdirSync(app);
    writeBackend(app, clone, tarball, port);

    step(`npm install (stock backend + the tarball) in ${app}`);
    sh(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app);

    checkSingleFrameworkCopies(app);

    step(`node index.js --config app-config.yaml (port ${port})`);
    const logs = [];
    child = spawn(process.execPath, ['index.js', '--config', 'app-config.yaml'], {
      cwd: app,
      env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', d => logs.push(String(d)));
    child.stderr.on('data', d => logs.push(String(d)));

    await checkBackend(app, `http://127.0.0.1:${port}/api/auth`, child, logs);
    console.log('\nPack smoke test passed.');
  } finally {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise(resolve => child.once('exit', resolve));
    }
    if (keep) {
      console.log(`Kept ${dir}`);
    } else {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

main().catch(error => {
  console.error(`\nPack smoke test FAILED: ${error.message}`);
  process.exit(1);
});
