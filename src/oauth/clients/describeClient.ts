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
 */
export function describeClient(client: Client | undefined, clientId: string): ClientDescription {
  if (!client) return { name: clientId, unverified: true, label: clientId };
  const name = client.clientName;
  if (client.kind === 'metadata-document') {
    const verifiedHost = new URL(client.clientId).host;
    const label = name === verifiedHost ? verifiedHost : `${name} (${verifiedHost})`;
    return { name, verifiedHost, unverified: false, label };
  }
  if (client.kind === 'dynamic') {
    return { name, unverified: true, label: `${name} (unverified)` };
  }
  return { name, unverified: false, label: name };
}
