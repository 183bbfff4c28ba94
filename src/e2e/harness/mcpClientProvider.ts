import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';

/**
 * An in-memory OAuthClientProvider such as an MCP client implements: it keeps
 * what the SDK asks it to keep and records the authorization URL instead of
 * opening a browser.
 */
export class InMemoryMcpClientProvider implements OAuthClientProvider {
  authorizationUrl?: URL;
  savedTokens?: OAuthTokens;
  #clientInformation?: OAuthClientInformationMixed;
  #codeVerifier?: string;

  constructor(
    readonly redirectUrl: string,
    readonly clientMetadataUrl?: string,
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'Test MCP client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope: 'openid offline_access',
    };
  }

  clientInformation() {
    return this.#clientInformation;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.#clientInformation = info;
  }
  tokens() {
    return this.savedTokens;
  }
  saveTokens(tokens: OAuthTokens) {
    this.savedTokens = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.#codeVerifier = verifier;
  }
  codeVerifier() {
    if (!this.#codeVerifier) throw new Error('no code verifier saved');
    return this.#codeVerifier;
  }
}
