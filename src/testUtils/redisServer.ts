import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './freePort';

/** Whether Debian's `redis-server` binary is on PATH. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** Sends PING on a new connection; true on `+PONG`. */
function ping(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let answer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', chunk => {
      answer += chunk.toString('latin1');
      // A server that wants a password answers, too: it is up.
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG') || answer.startsWith('-NOAUTH'));
    });
  });
}

/** A `redis-server` process this test spawned on a loopback port of its own. */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`, for `backend.cache.connection`. */
  readonly url: string;
  /** Whether the process runs now. */
  readonly running: boolean;
  /**
   * Stops the server: SIGTERM, or SIGKILL (a crash); SIGKILL anyway if it has
   * not exited after 5 s. Keys are gone (nothing is persisted).
   */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts it again on the same port, empty; resolves once it answers PING. */
  start(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open and nothing answers, as on a hung host; or thaws it (SIGCONT). */
  freeze(frozen: boolean): void;
  /** Stops it for good and removes its directory. */
  close(): Promise<void>;
}

/**
 * Spawns `redis-server --save '' --appendonly no --port N --bind 127.0.0.1`
 * in a temporary directory, on a free port, and waits until it answers.
 */
export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cluster-redis-'));
  let proc: ChildProcess | undefined;
  let output = '';
  const killOnExit = () => proc?.kill('SIGKILL');
  process.once('exit', killOnExit);

  function spawnServer(): ChildProcess {
    const child = spawn(
      'redis-server',
      ['--save', '', '--appendonly', 'no', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...extraArgs],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('exit', () => {
      if (proc === child) proc = undefined;
    });
    return child;
  }

  async function start(): Promise<void> {
    if (proc) throw new Error('redis-server is already running');
    proc = spawnServer();
    // At most 10 s. Just after a stop the port may still be taken for a
    // moment: redis-server then exits at once, and is spawned again.
    for (let i = 0; i < 200; i++) {
      if (await ping(port)) return;
      if (!proc) proc = spawnServer();
      await sleep(50);
    }
    throw new Error(`redis-server did not answer on port ${port}:\n${output}`);
  }

  async function stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = proc;
    if (!child) return;
    const exited = new Promise<void>(resolve => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    if (proc === child) proc = undefined;
  }

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return proc !== undefined;
    },
    stop,
    start,
    freeze(frozen) {
      proc?.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
    },
    async close() {
      proc?.kill('SIGCONT');
      await stop('SIGKILL');
      process.off('exit', killOnExit);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
