import type { ClientDescription } from '../oauth/clients/describeClient';
import { html, type Html } from './html';

/**
 * The line under a page's heading that says who vouches for the client's
 * name (SPEC §2 Authorization): the host that published a metadata
 * document, or a warning that the name is the client's own claim. Nothing
 * for clients from app-config, whose names the portal's operators chose.
 */
export function clientVouching(client: ClientDescription): Html {
  if (client.verifiedHost) {
    return html`<p class="host" id="client-host">from <strong>${client.verifiedHost}</strong></p>`;
  }
  if (client.unverified) {
    return html`<p class="host" id="client-host"><span class="badge">unverified</span> This application named itself; nothing confirms the name.</p>`;
  }
  return html``;
}

/** The client's name with the same vouching, for a table row. */
export function clientNameWithVouching(client: ClientDescription): Html {
  if (client.verifiedHost) return html`${client.name} <span class="muted">from</span> <strong>${client.verifiedHost}</strong>`;
  if (client.unverified) return html`${client.name}<span class="badge">unverified</span>`;
  return html`${client.name}`;
}
