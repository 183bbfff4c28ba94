const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** Schemes that run or read content in the user agent instead of navigating to a client. */
// eslint-disable-next-line no-script-url -- listed to be refused
const ACTIVE_SCHEMES = ['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:', 'filesystem:'];

/** RFC 8252 §7.1: a private-use scheme is a domain the app's author controls, reversed. */
const REVERSE_DOMAIN_SCHEME = /^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+:$/;

/**
 * The one rule every redirect URI must satisfy, whatever kind of client
 * registered it (config, DCR, client-ID metadata document): `https`
 * anywhere, `http` only on a loopback host (RFC 8252 §7.3, §8.3), or a
 * reverse-domain private-use scheme (RFC 8252 §7.1); never user info or a
 * fragment (RFC 6749 §3.1.2). Returns why a URI breaks the rule, or
 * undefined when it is fine.
 *
 * The raw string is checked as well as the parsed URL: the URL parser drops
 * tabs, newlines and leading control characters, so `java\tscript:` parses
 * as `javascript:` here and in the browser that would later navigate to it.
 */
export function redirectUriRuleViolation(uri: string): string | undefined {
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\u0000-\u0020\u007f-\u009f]/.test(uri)) {
    return 'must not contain spaces or control characters';
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URL';
  }
  const scheme = url.protocol;
  if (uri.slice(0, scheme.length).toLowerCase() !== scheme) {
    return 'is not a well-formed URL';
  }
  if (uri.includes('#')) return 'must not contain a fragment';
  if (url.username !== '' || url.password !== '') return 'must not contain user information';
  if (ACTIVE_SCHEMES.includes(scheme)) return `must not use the '${scheme}' scheme`;
  if (scheme === 'https:') {
    return url.hostname === '' ? 'must name a host' : undefined;
  }
  if (scheme === 'http:') {
    return LOOPBACK_HOSTS.has(url.hostname)
      ? undefined
      : 'may use http only on a loopback host (127.0.0.1, [::1], localhost); use https';
  }
  if (!REVERSE_DOMAIN_SCHEME.test(scheme)) {
    return `must use https, loopback http, or a reverse-domain private-use scheme such as 'com.example.app:' (got '${scheme}')`;
  }
  return undefined;
}
