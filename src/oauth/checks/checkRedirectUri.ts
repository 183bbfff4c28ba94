const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

function parse(uri: string): URL | undefined {
  try {
    return new URL(uri);
  } catch {
    return undefined;
  }
}

/**
 * Whether `presented` matches one of the client's registered redirect URIs:
 * exact string comparison, except that the port of an http loopback URI may
 * differ (RFC 8252 §7.3, native apps bind an ephemeral port). Returns the
 * matching registered URI, or undefined.
 */
export function checkRedirectUri(
  registered: readonly string[],
  presented: string,
): string | undefined {
  if (registered.includes(presented)) return presented;
  const p = parse(presented);
  if (!p || p.protocol !== 'http:' || !LOOPBACK_HOSTS.has(p.hostname) || p.hash) {
    return undefined;
  }
  return registered.find(candidate => {
    const r = parse(candidate);
    return (
      r !== undefined &&
      r.protocol === 'http:' &&
      r.hostname === p.hostname &&
      r.pathname === p.pathname &&
      r.search === p.search &&
      r.username === p.username &&
      r.password === p.password &&
      !r.hash
    );
  });
}
