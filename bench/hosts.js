/*
 * Benchmark hosts for bench/run.js: bench/host.ts started in its own process
 * per target, its CPU time, and (with BENCH_PROFILE) its CPU profiler.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** USER_HZ of /proc/<pid>/stat; 100 on every Linux build Node supports. */
const CLOCK_TICKS = 100;
/** BENCH_PROFILE: a folder for V8 CPU profiles of the measured runs, or ''. */
const PROFILE = process.env.BENCH_PROFILE ? path.resolve(process.env.BENCH_PROFILE) : '';

/**
 * Upstream finds its migrations with resolvePackagePath('@backstage/plugin-auth-backend'),
 * but it is installed under an alias; NODE_PATH makes the real name resolve to it.
 */
function upstreamNodePath() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-upstream-'));
  fs.mkdirSync(path.join(dir, '@backstage'));
  fs.symlinkSync(
    path.dirname(require.resolve('upstream-auth-backend-0-30/package.json')),
    path.join(dir, '@backstage', 'plugin-auth-backend'),
  );
  return dir;
}

const children = new Set();
process.on('exit', () => children.forEach(child => child.kill('SIGKILL')));
// Interrupted runs must not leave hosts behind (the exit hook above kills them).
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

/** A free loopback port. */
async function freePort() {
  const server = require('node:net').createServer();
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise(resolve => server.close(resolve));
  return port;
}

/** Starts bench/host.ts in its own process and resolves once it listens. */
async function startHost(target, extraEnv = {}) {
  const port = await freePort();
  const targetEnv = target === 'upstream' ? { NODE_PATH: upstreamNodePath() } : {};
  const child = spawn(
    process.execPath,
    ['--require', require.resolve('@backstage/cli-node/config/nodeTransform.cjs'), path.join(__dirname, 'host.ts')],
    {
      env: { ...process.env, ...extraEnv, ...targetEnv, BENCH_PROFILE: PROFILE, BENCH_TARGET: target, BENCH_PORT: String(port), LOG_LEVEL: 'error', NODE_ENV: 'production' },
      stdio: [PROFILE ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    },
  );
  children.add(child);
  child.on('exit', () => children.delete(child));
  let stderr = '';
  child.stderr.on('data', d => {
    stderr = (stderr + d).slice(-4000);
  });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${target} host did not start:\n${stderr}`)), 120_000);
    child.stdout.on('data', d => {
      if (String(d).includes('READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', code => reject(new Error(`${target} host exited (${code}):\n${stderr}`)));
  }).catch(async error => {
    await stopHost(child);
    throw error;
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    target,
    base,
    stop: () => stopHost(child),
    profiler: command => profilerCommand(child, command),
    cpuSeconds: () => processCpuSeconds(child.pid),
    // A process's main thread is its own task: /proc/<pid>/task/<pid>.
    loopCpuSeconds: () => processCpuSeconds(`${child.pid}/task/${child.pid}`),
  };
}

/**
 * User + system CPU time a process (or, given `<pid>/task/<tid>`, one of its
 * threads) has used so far (Linux /proc), or NaN elsewhere.
 */
function processCpuSeconds(pid) {
  try {
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/**
 * With BENCH_PROFILE, the host takes `start <file>` and `stop` on stdin and
 * answers one line when done (bench/host.ts); without it this does nothing.
 */
function profilerCommand(child, command) {
  if (!PROFILE) return Promise.resolve();
  return new Promise(resolve => {
    const onData = d => {
      if (String(d).includes('PROFILER ')) {
        child.stdout.off('data', onData);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stdin.write(`${command}\n`);
  });
}

function stopHost(child) {
  return new Promise(resolve => {
    if (child.exitCode !== null) {
      resolve();
      return;
    }
    child.once('exit', resolve);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

/**
 * The machine's CPU time so far and the part of it stolen by the hypervisor
 * (Linux /proc/stat, in clock ticks), or undefined elsewhere.
 */
function machineCpuTicks() {
  try {
    const [, ...fields] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is counted in user)
    return { total: fields.slice(0, 8).reduce((a, b) => a + b, 0), steal: fields[7] };
  } catch {
    return undefined;
  }
}

module.exports = { PROFILE, machineCpuTicks, startHost };
