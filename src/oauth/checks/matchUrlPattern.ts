/**
 * URL allow-list patterns for redirect URIs and client-ID metadata document
 * URLs, matched per URL component rather than as one string, so that
 * `https://*.example.com/cb` cannot be satisfied by
 * `https://evil.test/?x=.example.com/cb`.
 *
 * Pattern grammar (`*` alone matches every URL):
 * - scheme: exact, case-insensitive (`https`, `http`, `cursor`, `com.example.app`);
 * - host: a glob where `*` matches any run of characters, compared case-insensitively;
 * - port: absent = the URL must use the scheme's default port, `:*` = any port,
 *   `:8080` = exactly that port;
 * - path: a glob where `*` matches within one segment and `**` across segments;
 * - query: absent = the URL must have no query, otherwise a glob on the query.
 * A URL with a fragment never matches (RFC 6749 §3.1.2).
 */
export type UrlPattern = (url: string) => boolean;

const PATTERN_SYNTAX =
  /^([a-zA-Z][a-zA-Z0-9+.-]*):(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?$/;
const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443' };

/** Compiles one pattern; throws an Error explaining what is wrong with it. */
export function compileUrlPattern(pattern: string): UrlPattern {
  if (typeof pattern !== 'string' || pattern.trim() === '') {
    throw new Error('must be a non-empty URL pattern');
  }
  if (pattern === '*') return () => true;
  const parts = PATTERN_SYNTAX.exec(pattern);
  if (!parts) {
    throw new Error(`'${pattern}' is not a URL pattern like 'https://*.example.com/callback'`);
  }
  const [, rawScheme, authority, rawPath, rawQuery] = parts;
  const scheme = rawScheme.toLowerCase();
  const hostAndPort = authority === undefined ? undefined : splitAuthority(authority, pattern);
  const matchHost = hostAndPort ? globToRegExp(hostAndPort.host.toLowerCase(), 'host') : undefined;
  const port =
    hostAndPort?.port !== undefined && hostAndPort.port === DEFAULT_PORTS[scheme]
      ? ''
      : hostAndPort?.port ?? '';
  // A pattern without a path means the root path for hierarchical URLs.
  const matchPath = globToRegExp(rawPath === '' && authority !== undefined ? '/' : rawPath, 'path');
  const matchQuery = rawQuery === undefined ? undefined : globToRegExp(rawQuery, 'query');

  return (candidate: string) => {
    let url: URL;
    try {
      url = new URL(candidate);
    } catch {
      return false;
    }
    if (url.hash !== '' || candidate.includes('#')) return false;
    if (url.username !== '' || url.password !== '') return false;
    if (url.protocol !== `${scheme}:`) return false;
    const hasAuthority = candidate.slice(url.protocol.length).startsWith('//');
    if (hasAuthority !== (authority !== undefined)) return false;
    if (matchHost) {
      const host = url.hostname.toLowerCase();
      if (!matchHost.test(host)) return false;
      if (port !== '*' && url.port !== port) return false;
    }
    const path = url.pathname === '' && hasAuthority ? '/' : url.pathname;
    if (!matchPath.test(path)) return false;
    const query = url.search.replace(/^\?/, '');
    return matchQuery ? matchQuery.test(query) : query === '' && !candidate.includes('?');
  };
}

/** Compiles a list; the result matches when any pattern matches. */
export function compileUrlPatterns(patterns: string[]): UrlPattern {
  const compiled = patterns.map(compileUrlPattern);
  return url => compiled.some(match => match(url));
}

function splitAuthority(authority: string, pattern: string): { host: string; port?: string } {
  if (authority.includes('@')) {
    throw new Error(`'${pattern}' must not contain user information`);
  }
  const bracketed = /^(\[[^\]]*\])(?::([0-9]+|\*))?$/.exec(authority);
  const plain = /^([^:[\]]+)(?::([0-9]+|\*))?$/.exec(authority);
  const parts = bracketed ?? plain;
  if (!parts) {
    throw new Error(`'${pattern}' has an invalid host or port`);
  }
  return { host: parts[1], port: parts[2] };
}

function globToRegExp(glob: string, component: 'host' | 'path' | 'query'): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i];
    if (char === '*' && glob[i + 1] === '*' && component === 'path') {
      source += '.*';
      i++;
    } else if (char === '*') {
      // Within a path, a single star stays inside one segment.
      source += component === 'path' ? '[^/]*' : '.*';
    } else {
      source += char.replace(/[.+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`, component === 'host' ? 'i' : '');
}
