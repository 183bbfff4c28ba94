import type { Client, ClientKind } from '../model';
import { describeClient } from './describeClient';

const DOCUMENT_ID = 'https://tools.example.org/cli.json';

function client(kind: ClientKind, clientName: string): Client {
  return {
    clientId: kind === 'metadata-document' ? DOCUMENT_ID : 'abc123',
    clientName,
    kind,
    redirectUris: ['http://127.0.0.1/callback'],
    grantTypes: ['authorization_code'],
    responseTypes: ['code'],
    tokenEndpointAuthMethod: 'none',
    metadata: {},
  };
}

const label = (kind: ClientKind, name: string) => {
  const c = client(kind, name);
  return describeClient(c, c.clientId).label;
};

/** Issue 25 item 7: the label a person trusts cannot be made to lie. */
describe('describeClient', () => {
  it('labels each kind of client with who vouches for its name', () => {
    expect(label('metadata-document', 'Example CLI')).toBe('Example CLI (tools.example.org)');
    expect(label('dynamic', 'Example CLI')).toBe('Example CLI (unverified)');
    expect(label('static', 'Example CLI')).toBe('Example CLI');
  });

  it.each([
    ['NUL, backspace and ESC', 'Grafana\u0000\u0008\u001b Dashboards', 'Grafana Dashboards'],
    ['a right-to-left override that would reverse the portal’s part', 'Grafana\u202e', 'Grafana'],
    ['isolates and marks', '\u2068Grafana\u2069\u200f', 'Grafana'],
    ['zero-width characters', 'Gra\u200bfa\u2060na\ufeff', 'Grafana'],
    ['a line break', 'Grafana\u2028Dashboards', 'Grafana Dashboards'],
    ['spaces that push the portal’s part out of view', `Grafana${'\u00a0'.repeat(80)}Dashboards`, 'Grafana Dashboards'],
  ])('shows a name with %s without them', (_what, name, shown) => {
    expect(label('metadata-document', name)).toBe(`${shown} (tools.example.org)`);
    expect(label('dynamic', name)).toBe(`${shown} (unverified)`);
    expect(label('static', name)).toBe(shown);
  });

  it.each([
    ['a host', 'Backstage CLI (portal.example.com)'],
    ['a host with a port', 'Backstage CLI (portal.example.com:7007)'],
    ['the unverified mark', 'Backstage CLI (unverified)'],
    ['fullwidth parentheses and dots', 'Backstage CLI （portal．example．com）'],
    ['square brackets', 'Backstage CLI [portal.example.com]'],
    ['ornamental parentheses and a Cyrillic е', 'Backstage CLI ❨unv\u0435rified❩'],
    ['a host hidden behind a bidi override', 'Backstage CLI\u202e (portal.example.com)'],
    ['a host in the middle', 'Backstage (portal.example.com) CLI'],
  ])('never shows a self-chosen name that imitates the portal’s part: %s', (_what, name) => {
    // The name gives way to what is known: the host, or the client_id.
    expect(label('metadata-document', name)).toBe('tools.example.org');
    expect(label('dynamic', name)).toBe('abc123 (unverified)');
  });

  it('keeps the names the portal’s operators chose in config', () => {
    expect(label('static', 'Grafana (grafana.example.com)')).toBe('Grafana (grafana.example.com)');
  });

  it.each([
    ['Grafana (staging)'],
    ['Tool (v1.2.3)'],
    ['Café ☕ 😀'],
    ['می\u200cخواهم'],
    ['Dev \u{1f469}\u200d\u{1f4bb} \u2764\ufe0f'],
  ])('keeps %s as it is', name => {
    expect(label('metadata-document', name)).toBe(`${name} (tools.example.org)`);
  });

  it('names an unknown client by its client_id, made safe to show', () => {
    expect(describeClient(undefined, 'gone\u202eclient')).toEqual({
      name: 'goneclient',
      unverified: true,
      label: 'goneclient',
    });
  });
});
