import { FailedAttemptLimiter } from '../oauth/http/FailedAttemptLimiter';
import { escapeHtml, html } from './html';
import { safeReturnPath } from './pageSecurity';

const BASE = 'http://localhost:7007/api/auth';

describe('safeReturnPath', () => {
  it('keeps paths under the pages', () => {
    expect(safeReturnPath(BASE, '/api/auth/v1/device?user_code=BCDF-GHJK', '/x')).toBe(
      '/api/auth/v1/device?user_code=BCDF-GHJK',
    );
  });

  it('refuses anything that could leave the plugin', () => {
    for (const bad of ['https://evil.example/', '//evil.example/api/auth/v1/', '/api/auth/v1//evil', '/api/auth/v1/\\evil', '/other/v1/device', 42]) {
      expect(safeReturnPath(BASE, bad, '/fallback')).toBe('/fallback');
    }
  });
});

describe('html', () => {
  it('escapes interpolated text and attributes', () => {
    expect(html`<p title="${'"><script>'}">${'<b>&'}</p>`.__html).toBe(
      '<p title="&quot;&gt;&lt;script&gt;">&lt;b&gt;&amp;</p>',
    );
    expect(escapeHtml("'")).toBe('&#39;');
  });
});

describe('FailedAttemptLimiter', () => {
  it('blocks a key after too many failures until the window passes', () => {
    let now = new Date('2026-11-23T12:00:00Z');
    const limiter = new FailedAttemptLimiter({ maxFailures: 3, windowSeconds: 60, clock: () => now });
    const decisions = [1, 2, 3].map(() => limiter.charge('ip:a'));
    expect(decisions).toEqual([
      { allowed: true, reachedLimit: false },
      { allowed: true, reachedLimit: false },
      { allowed: true, reachedLimit: true },
    ]);
    expect(limiter.charge('ip:a')).toEqual({ allowed: false, retryAfterSeconds: 60 });
    expect(limiter.charge('ip:b')).toEqual({ allowed: true, reachedLimit: false });
    now = new Date(now.getTime() + 60_000);
    expect(limiter.charge('ip:a')).toEqual({ allowed: true, reachedLimit: false });
  });

  it('counts only attempts that were not refunded', () => {
    const limiter = new FailedAttemptLimiter({ maxFailures: 2, windowSeconds: 60, clock: () => new Date() });
    for (let i = 0; i < 5; i++) {
      expect(limiter.charge('user:x')).toMatchObject({ allowed: true });
      limiter.refund('user:x');
    }
    expect(limiter.charge('user:x')).toEqual({ allowed: true, reachedLimit: false });
    expect(limiter.charge('user:x')).toEqual({ allowed: true, reachedLimit: true });
    expect(limiter.charge('user:x')).toMatchObject({ allowed: false });
  });
});
