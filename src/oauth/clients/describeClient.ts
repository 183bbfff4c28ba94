import { displayClientName, displayText } from '../displayText';
import type { Client } from '../model';

/** How a client is named to a person deciding whether to trust it. */
export interface ClientDescription {
  /** The name the client gave itself (or its client_id). */
  name: string;
  /**
   * The host that vouches for the name: a metadata-document client's
   * `client_id` host, which served the document over https. Undefined for
   * clients from config (the portal's operators vouch) and DCR clients.
   */
  verifiedHost?: string;
  /** True when nothing vouches for the name (dynamically registered clients). */
  unverified: boolean;
  /** One line for places that show a single string: `Name (host)`. */
  label: string;
}

/**
 * Names a client for consent: a name a client chose for itself is never shown
 * alone (SPEC §2 Authorization), so a document at `evil.example` calling
 * itself "Backstage CLI" reads as "Backstage CLI (evil.example)".
 *
 * Every name passes the display rules (issue 25 item 7), whenever and by
 * whomever it was stored: nothing in it hides or reorders text, and a
 * self-chosen name that imitates the part in brackets the portal adds is
 * replaced by what the portal knows (the host, the client_id). Names from
 * app-config are the operators' own and get no such part, so only the first
 * rule applies to them.
 */
export function describeClient(client: Client | undefined, clientId: string): ClientDescription {
  if (!client) {
    const name = displayText(clientId);
    return { name, unverified: true, label: name };
  }
  const ownId = displayText(client.clientId);
  if (client.kind === 'metadata-document') {
    const verifiedHost = new URL(client.clientId).host;
    const name = displayClientName(client.clientName) ?? verifiedHost;
    const label = name === verifiedHost ? verifiedHost : `${name} (${verifiedHost})`;
    return { name, verifiedHost, unverified: false, label };
  }
  if (client.kind === 'dynamic') {
    const name = displayClientName(client.clientName) ?? ownId;
    return { name, unverified: true, label: `${name} (unverified)` };
  }
  const name = displayText(client.clientName) || ownId;
  return { name, unverified: false, label: name };
}
