#!/usr/bin/env node
/* eslint-disable no-console */
// Adds package-lock.json entries for optional, platform-specific binaries
// (`@swc/core-darwin-arm64`, `@rollup/rollup-win32-x64-msvc`, …) that npm left
// out of the lock.
//
// Why: when the registry cannot serve another platform's binary (the one
// reachable from this project's machines answers 404 for them), `npm install`
// silently drops it from the lock, and `npm ci` then refuses the lock with
// "Missing: <name>@ from lock file". An entry with the exact version and its
// os/cpu/libc lets `npm ci` validate the lock and skip the package on
// platforms it does not fit, without fetching it. npm keeps such entries on
// later installs.
//
//   node scripts/lock-optional-platforms.js   # after `npm install <pkg>`, if npm ci complains
const fs = require('node:fs');
const path = require('node:path');

const lockPath = path.resolve(__dirname, '..', 'package-lock.json');
const OSES = ['darwin', 'linux', 'win32', 'freebsd', 'android', 'openbsd', 'openharmony', 'netbsd', 'sunos', 'aix'];
// Longest first, so `arm64` wins over `arm`.
const CPUS = [
  ['arm-gnueabihf', 'arm'], ['arm-musleabihf', 'arm'], ['arm-eabi', 'arm'],
  ['riscv64', 'riscv64'], ['loong64', 'loong64'], ['arm64', 'arm64'], ['ppc64', 'ppc64'],
  ['s390x', 's390x'], ['ia32', 'ia32'], ['x64', 'x64'], ['arm', 'arm'],
];

/** Node's lookup: the nearest node_modules/<name> from `from` upwards. */
function isResolvable(packages, from, name) {
  let base = from;
  for (;;) {
    if (packages[`${base ? `${base}/` : ''}node_modules/${name}`]) return true;
    if (!base) return false;
    const i = base.lastIndexOf('/node_modules/');
    base = i === -1 ? '' : base.slice(0, i);
  }
}

function platformOf(name) {
  const short = name.split('/').pop();
  const os = OSES.find(o => short.includes(`-${o}-`) || short.endsWith(`-${o}`));
  const cpu = CPUS.find(([token]) => short.includes(`-${token}`))?.[1];
  let libc;
  if (os === 'linux' && short.includes('musl')) libc = 'musl';
  else if (os === 'linux' && short.includes('gnu')) libc = 'glibc';
  return {
    ...(os && { os: [os] }),
    ...(cpu && { cpu: [cpu] }),
    ...(libc && { libc: [libc] }),
  };
}

const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
const packages = lock.packages;
const added = [];
for (const [from, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    if (isResolvable(packages, from, name)) continue;
    const key = `node_modules/${name}`;
    if (packages[key]) {
      console.error(`skipped ${name}@${version} (needed by ${from}): ${key} holds ${packages[key].version}`);
      continue;
    }
    packages[key] = { version, dev: entry.dev, optional: true, ...platformOf(name) };
    added.push(`${name}@${version}`);
  }
}

lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => a.localeCompare(b, 'en')),
);
fs.writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(added.length ? `Added ${added.length} entries:\n  ${added.join('\n  ')}` : 'Nothing to add.');
