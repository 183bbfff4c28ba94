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
    const reached: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterSeconds(['ip:a'])).toBe(0);
      reached.push(limiter.recordFailure(['ip:a', 'user:x']));
    }
    expect(reached).toEqual([false, false, true]);
    expect(limiter.retryAfterSeconds(['ip:a'])).toBe(60);
    expect(limiter.retryAfterSeconds(['ip:b', 'user:x'])).toBe(60); // same user, new address
    expect(limiter.retryAfterSeconds(['ip:b', 'user:y'])).toBe(0);
    now = new Date(now.getTime() + 60_000);
    expect(limiter.retryAfterSeconds(['ip:a'])).toBe(0);
  });
});
