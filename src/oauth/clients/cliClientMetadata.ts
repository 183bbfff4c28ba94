/** Where the plugin serves the Backstage CLI's client-ID metadata document. */
export const CLI_CLIENT_METADATA_PATH = '/.well-known/oauth-client/cli.json';
/** The loopback redirect the Backstage CLI listens on (RFC 8252 §7.3). */
export const CLI_REDIRECT_URI = 'http://127.0.0.1:8055/callback';

/** The client_id of the built-in CLI client: the URL of its own metadata document. */
export function cliClientId(issuer: string): string {
  return `${issuer}${CLI_CLIENT_METADATA_PATH}`;
}

/**
 * The Backstage CLI's metadata document. It is public (`none` + PKCE) and
 * resolved in process, never fetched, so it works wherever the plugin runs.
 */
export function cliClientMetadataDocument(
  issuer: string,
  grantTypes: string[],
): Record<string, unknown> {
  return {
    client_id: cliClientId(issuer),
    client_name: 'Backstage CLI',
    redirect_uris: [CLI_REDIRECT_URI],
    grant_types: grantTypes,
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  };
}
