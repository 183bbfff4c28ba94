import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOutboundGuard, type OutboundGuardOptions, OutboundRequestError } from './createOutboundGuard';

/** What an {@link OutboundRequestError} of `code` whose message contains `message` matches. */
function failure(code: string, message = '') {
  return { name: OutboundRequestError.name, code, message: expect.stringContaining(message) };
}

/** What `request` failed with, or `undefined` if it succeeded; handled at once, so never unhandled. */
function errorOf(request: Promise<unknown>): Promise<unknown> {
  return request.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('createOutboundGuard', () => {
  const hits: string[] = [];
  let server: http.Server;
  let port: number;
  const at = (host: string, path: string) => new URL(`http://${host}:${port}${path}`);
  const guard = (options: Partial<OutboundGuardOptions> = {}) =>
    createOutboundGuard({ allowInsecure: true, clock: () => new Date(), ...options });
  /** Requests under /never, which the server holds without answering. */
  const held = new Map<string, http.ServerResponse>();
  const waiting = new Map<string, () => void>();
  const arrival = (path: string) =>
    held.has(path) ? Promise.resolve() : new Promise<void>(resolve => waiting.set(path, resolve));
  const cutHeld = () => {
    held.forEach(res => res.socket?.destroy());
    held.clear();
  };

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const path = req.url ?? '';
      hits.push(path);
      if (path.startsWith('/never')) {
        held.set(path, res);
        waiting.get(path)?.();
        return;
      }
      if (path === '/redirect') res.writeHead(301, { Location: '/ok' }).end();
      else if (path === '/missing') res.writeHead(404, { 'Content-Type': 'text/html' }).end('x'.repeat(9000));
      else if (path === '/big') res.writeHead(200).end('x'.repeat(6000));
      else if (path === '/streamed-big') {
        res.writeHead(200);
        for (let i = 0; i < 8; i++) res.write(' '.repeat(1024));
        res.end();
      } else {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ accept: req.headers.accept }));
      }
    });
    // On every loopback address, so that a test can be several hosts.
    await new Promise<void>(resolve => server.listen(0, '0.0.0.0', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    cutHeld();
    await new Promise<void>(resolve => server.close(() => resolve()));
  });

  it('GETs a response with the accept header asked for', async () => {
    const response = await guard().get(at('127.0.0.1', '/ok'), { accept: 'application/json' });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body.toString('utf8'))).toEqual({ accept: 'application/json' });
  });

  it('answers other statuses without reading the body, and never follows a redirect', async () => {
    const missing = await guard().get(at('127.0.0.1', '/missing'));
    expect({ status: missing.status, body: missing.body.length }).toEqual({ status: 404, body: 0 });
    const followed = hits.filter(path => path === '/ok').length;
    await expect(guard().get(at('127.0.0.1', '/redirect'))).rejects.toMatchObject(
      failure('redirect', 'redirects are not followed'),
    );
    expect(hits.filter(path => path === '/ok')).toHaveLength(followed);
  });

  it('refuses http, loopback and names resolving to loopback by default, before connecting', async () => {
    const before = hits.length;
    const secure = guard({ allowInsecure: false });
    await expect(secure.get(at('127.0.0.1', '/ok'))).rejects.toMatchObject(
      failure('forbidden-target', 'must use https'),
    );
    await expect(secure.get(new URL(`https://127.0.0.1:${port}/ok`))).rejects.toMatchObject(
      failure('forbidden-target', '127.0.0.1 is not a public address'),
    );
    await expect(secure.get(new URL(`https://localhost:${port}/ok`))).rejects.toMatchObject(
      failure('forbidden-target', 'localhost resolves to a non-public address'),
    );
    expect(hits.length).toBe(before);
  });

  it('caps the size of a response, declared or streamed', async () => {
    await expect(guard().get(at('127.0.0.1', '/big'))).rejects.toMatchObject(
      failure('too-large', 'larger than 5120 bytes'),
    );
    await expect(guard().get(at('127.0.0.1', '/streamed-big'))).rejects.toMatchObject(
      failure('too-large', 'larger than 5120 bytes'),
    );
  });

  it('gives up on a host that never answers after the timeout', async () => {
    await expect(guard({ timeoutMs: 50 }).get(at('127.0.0.1', '/never/timeout'))).rejects.toMatchObject(
      failure('timeout', 'timed out'),
    );
  });

  it('refuses a request beyond its host’s slots or the pool, and counts it as retryable', async () => {
    const shared = guard({ slots: { maxInFlight: 2, maxPerHost: 1, patienceMs: 60_000 } });
    const running = [errorOf(shared.get(at('127.0.0.2', '/never/1')))];
    await expect(shared.get(at('127.0.0.2', '/never/x'))).rejects.toMatchObject({ code: 'busy', retryable: true });
    running.push(errorOf(shared.get(at('127.0.0.3', '/never/2'))));
    // Each host runs its one request, none of them slow yet: nothing to take back.
    await expect(shared.get(at('127.0.0.1', '/ok'))).rejects.toMatchObject(failure('busy'));

    await Promise.all(['/never/1', '/never/2'].map(arrival));
    cutHeld();
    for (const error of await Promise.all(running)) expect(error).toMatchObject(failure('failed'));
    expect((await shared.get(at('127.0.0.1', '/ok'))).status).toBe(200);
  });

  it('takes a slot back from a host running more for a host running nothing (issue 25 item 5)', async () => {
    const shared = guard({ slots: { maxInFlight: 2, maxPerHost: 2 } });
    const running = [
      errorOf(shared.get(at('127.0.0.2', '/never/5'))),
      errorOf(shared.get(at('127.0.0.2', '/never/6'))),
    ];
    await expect(shared.get(at('127.0.0.1', '/ok'))).resolves.toMatchObject({ status: 200 });
    // 127.0.0.2 gave up its oldest request, which says so and may be retried.
    expect(await running[0]).toMatchObject({
      ...failure('reclaimed', 'the request to 127.0.0.2 gave its slot to another host'),
      retryable: true,
    });
    await arrival('/never/6');
    cutHeld();
    expect(await running[1]).toMatchObject(failure('failed'));
  });
});
