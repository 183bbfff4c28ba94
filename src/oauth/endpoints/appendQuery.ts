/**
 * Adds parameters to a redirect URI, keeping the query it was registered
 * with (RFC 6749 §3.1.2: the endpoint URI's query must be retained).
 */
export function appendQuery(uri: string, params: Record<string, string | undefined>): string {
  const url = new URL(uri);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) url.searchParams.append(name, value);
  }
  return url.toString();
}
