import { compileUrlPattern, compileUrlPatterns } from './matchUrlPattern';

describe('compileUrlPattern', () => {
  const cases: Array<[string, string, boolean]> = [
    ['*', 'https://anything.example/cb?x=1', true],
    ['https://app.example.com/callback', 'https://app.example.com/callback', true],
    ['https://app.example.com/callback', 'http://app.example.com/callback', false],
    ['https://app.example.com/callback', 'HTTPS://APP.example.com/callback', true],
    ['https://app.example.com/callback', 'https://app.example.com/callback/x', false],
    ['https://app.example.com/callback', 'https://app.example.com:8443/callback', false],
    ['https://app.example.com:443/callback', 'https://app.example.com/callback', true],
    ['https://app.example.com/callback', 'https://app.example.com/callback#frag', false],
    ['https://app.example.com/callback', 'https://app.example.com/callback?x=1', false],
    ['https://app.example.com/callback?*', 'https://app.example.com/callback?x=1', true],
    ['https://app.example.com/callback', 'https://user@app.example.com/callback', false],
    ['https://*.example.com/cb', 'https://a.example.com/cb', true],
    ['https://*.example.com/cb', 'https://a.b.example.com/cb', true],
    ['https://*.example.com/cb', 'https://example.com/cb', false],
    ['https://*.example.com/cb', 'https://evil.test/cb?.example.com/cb', false],
    ['https://*.example.com/cb', 'https://evil.test/.example.com/cb', false],
    ['https://*.example.com/cb', 'https://a.example.com.evil.test/cb', false],
    ['http://127.0.0.1:*/callback', 'http://127.0.0.1:53682/callback', true],
    ['http://127.0.0.1:*/callback', 'http://127.0.0.1/callback', true],
    ['http://127.0.0.1:*/callback', 'http://127.0.0.2:80/callback', false],
    ['http://localhost:8080/cb', 'http://localhost:8081/cb', false],
    ['http://[::1]:*/cb', 'http://[::1]:1234/cb', true],
    ['https://app.example.com/*', 'https://app.example.com/cb', true],
    ['https://app.example.com/*', 'https://app.example.com/a/b', false],
    ['https://app.example.com/**', 'https://app.example.com/a/b', true],
    ['https://app.example.com', 'https://app.example.com/', true],
    ['https://app.example.com', 'https://app.example.com/x', false],
    ['cursor://anysphere.cursor-retrieval/oauth/*/callback', 'cursor://anysphere.cursor-retrieval/oauth/user-x/callback', true],
    ['cursor://anysphere.cursor-retrieval/oauth/*/callback', 'vscode://anysphere.cursor-retrieval/oauth/x/callback', false],
    ['com.example.app:/oauth2redirect', 'com.example.app:/oauth2redirect', true],
    ['com.example.app:/oauth2redirect', 'com.example.app://oauth2redirect', false],
    ['https://app.example.com/cb', 'not a url', false],
  ];

  it.each(cases)('%s against %s → %s', (pattern, url, expected) => {
    expect(compileUrlPattern(pattern)(url)).toBe(expected);
  });

  it('refuses malformed patterns with a reason', () => {
    expect(() => compileUrlPattern('')).toThrow('non-empty');
    expect(() => compileUrlPattern('no-scheme')).toThrow('is not a URL pattern');
    expect(() => compileUrlPattern('https://u@host/cb')).toThrow('user information');
    expect(() => compileUrlPattern('https://host:port/cb')).toThrow('invalid host or port');
  });

  it('matches when any pattern of a list matches', () => {
    const match = compileUrlPatterns(['https://a.example/cb', 'http://127.0.0.1:*/cb']);
    expect(match('http://127.0.0.1:9/cb')).toBe(true);
    expect(match('https://b.example/cb')).toBe(false);
    expect(compileUrlPatterns([])('https://a.example/cb')).toBe(false);
  });
});
