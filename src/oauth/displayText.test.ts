import {
  displayClientName,
  displayHeaderText,
  displayText,
  displayUri,
  escapeForLog,
  findForgedLabelPart,
  findHiddenCharacter,
} from './displayText';

/** Issue 25 item 7: the display rules every page, the consent API and the logs share. */
describe('findHiddenCharacter', () => {
  it.each([
    ['Grafana\u202e', 'a bidirectional control (U+202E)'],
    ['Grafana\u202a', 'a bidirectional control (U+202A)'],
    ['\u2066Grafana\u2069', 'a bidirectional control (U+2066)'],
    ['Grafana\u200f', 'a bidirectional control (U+200F)'],
    ['Grafana\u061c', 'a bidirectional control (U+061C)'],
    ['Gra\u200bfana', 'an invisible character (U+200B)'],
    ['Gra\u2060fana', 'an invisible character (U+2060)'],
    ['\ufeffGrafana', 'an invisible character (U+FEFF)'],
    ['Graf\u00adana', 'an invisible character (U+00AD)'],
    ['Grafana\u3164', 'an invisible character (U+3164)'],
    ['Grafana\u{e0041}\u{e0042}', 'an invisible character (U+E0041)'],
    ['Grafana\ufff9note\ufffb', 'an invisible character (U+FFF9)'],
    ['Grafana\u2028(x)', 'a line or paragraph separator (U+2028)'],
    ['Grafana\u2029', 'a line or paragraph separator (U+2029)'],
    // What findForbiddenCharacter refuses, in its words.
    ['Grafana\u0000', 'a control character (U+0000)'],
    ['Grafana\u001b[2J', 'a control character (U+001B)'],
    ['Grafana\u0085', 'a control character (U+0085)'],
    ['Grafana\ud800', 'a lone surrogate (U+D800)'],
  ])('names what hides in %j', (text, description) => {
    expect(findHiddenCharacter(text)).toBe(description);
  });

  it.each([
    ['a zero-width joiner at the start', '\u200dGrafana', 'U+200D'],
    ['a zero-width joiner at the end', 'Grafana\u200d', 'U+200D'],
    ['two zero-width joiners in a row', 'Graf\u200d\u200dana', 'U+200D'],
    ['a joiner beside a space', 'Grafana \u200cTool', 'U+200C'],
    ['a variation selector with nothing before it', '\ufe0fGrafana', 'U+FE0F'],
    ['two variation selectors', 'a\ufe0f\ufe0f', 'U+FE0F'],
  ])('refuses %s, which joins nothing', (_what, text, point) => {
    expect(findHiddenCharacter(text)).toBe(`an invisible character (${point})`);
  });

  it.each([
    ['accents, symbols and emoji', 'Café ☕ 😀'],
    ['a Persian word with its zero-width non-joiner', 'می\u200cخواهم'],
    ['a Devanagari conjunct with a zero-width joiner', 'क्\u200dष'],
    ['emoji joined into one', '\u{1f469}\u200d\u{1f4bb} \u{1f468}\u200d\u{1f469}\u200d\u{1f467}'],
    ['an emoji with a variation selector, then joined', '\u2764\ufe0f\u200d\u{1f525}'],
    ['right-to-left letters without controls', 'שלום עולם'],
    ['no-break and ideographic spaces', 'Grafana\u00a0Tool\u3000X'],
  ])('accepts %s', (_what, text) => {
    expect(findHiddenCharacter(text)).toBeUndefined();
  });
});

describe('displayText', () => {
  it.each([
    ['Grafana\u0000\u0008\u001b Dashboards\u202e', 'Grafana Dashboards'],
    ['\u2067Grafana\u2069 \u200e(x)', 'Grafana (x)'],
    ['Gra\u200bfa\u2060na\ufeff\u00ad', 'Grafana'],
    ['Grafana\r\n\tDashboards\u2028\u0085', 'Grafana Dashboards'],
    [`Grafana${'\u00a0'.repeat(80)}(x)`, 'Grafana (x)'],
    ['\u2800\u3164 Grafana \u3164', 'Grafana'],
    ['Grafana\ud800', 'Grafana'],
    ['\u200b\u202e', ''],
  ])('shows %j as %j', (text, shown) => {
    expect(displayText(text)).toBe(shown);
  });

  it('keeps joiners and selectors where they join', () => {
    for (const text of ['می\u200cخواهم', '\u2764\ufe0f\u200d\u{1f525}', 'Dev \u{1f469}\u200d\u{1f4bb}']) {
      expect(displayText(text)).toBe(text);
    }
  });
});

describe('findForgedLabelPart', () => {
  it.each([
    ['Grafana (portal.example.com)', '(portal.example.com)'],
    ['Grafana (portal.example.com:7007)', '(portal.example.com:7007)'],
    ['Grafana (localhost:7007)', '(localhost:7007)'],
    ['Grafana (127.0.0.1:7007)', '(127.0.0.1:7007)'],
    ['Grafana ([::1]:7007)', '([::1]:7007)'],
    ['Grafana (https://portal.example.com/api/auth)', '(https://portal.example.com/api/auth)'],
    ['Grafana (from portal.example.com)', '(from portal.example.com)'],
    ['Grafana （portal．example．com）', '（portal．example．com）'],
    ['Grafana ⁽portal。example。com⁾', '⁽portal。example。com⁾'],
    ['Grafana [portal.example.com]', '[portal.example.com]'],
    ['Grafana ❨роrtal.example.com❩', '❨роrtal.example.com❩'],
    ['Grafana <portal.example.com>', '<portal.example.com>'],
    ['Grafana (portal.example.com', '(portal.example.com'],
    ['Grafana (x (y) portal.example.com)', '(x (y) portal.example.com)'],
    ['Grafana (unverified)', '(unverified)'],
    ['Grafana (Verified publisher)', '(Verified publisher)'],
    ['Grafana （ＵＮＶＥＲＩＦＩＥＤ）', '（ＵＮＶＥＲＩＦＩＥＤ）'],
    ['Grafana (unv\u0435rified)', '(unv\u0435rified)'],
    ['Grafana (\u03bderified)', '(\u03bderified)'],
    ['Grafana (un\u200bverified)', '(unverified)'],
    ['Grafana\u202e (unverified)', '(unverified)'],
  ])('finds the imitation in %j', (name, part) => {
    expect(findForgedLabelPart(name)).toBe(part);
  });

  it.each([
    ['Grafana'],
    ['Grafana (staging)'],
    ['Tool (v1.2.3)'],
    ['Standup (10:30)'],
    ['Grafana (e.g. staging)'],
    ['Grafana (Привет мир)'],
    ['portal.example.com'],
    ['Grafana )deifirevnu('],
  ])('leaves %j alone', name => {
    expect(findForgedLabelPart(name)).toBeUndefined();
  });
});

describe('displayClientName', () => {
  it('shows a self-chosen name by the display rules, or not at all', () => {
    expect(displayClientName('Grafana\u001b Dashboards\u202e')).toBe('Grafana Dashboards');
    expect(displayClientName('Grafana (portal.example.com)')).toBeUndefined();
    expect(displayClientName('\u200b\u2066 ')).toBeUndefined();
  });
});

describe('displayUri', () => {
  it('shows printable ASCII as it is', () => {
    expect(displayUri('com.example.app:/callback?x=1')).toBe('com.example.app:/callback?x=1');
  });

  it('shows anything else as the browser would go there', () => {
    expect(displayUri('https://evil.example/\u202emoc.elpmaxe//:sptth')).toBe(
      'https://evil.example/%E2%80%AEmoc.elpmaxe//:sptth',
    );
    expect(displayUri('https://exa\u0301mple.com/cb')).toBe('https://xn--exmple-qta.com/cb');
    expect(displayUri('not a url\u202e')).toBe('not a url');
  });
});

describe('displayHeaderText', () => {
  const asHeader = (bytes: Buffer) => bytes.toString('latin1');

  it('reads header bytes as the UTF-8 they are, then shows them by the rules', () => {
    expect(displayHeaderText(asHeader(Buffer.from('Tool/1.0\u202e (Zürich)\u0085\u200b', 'utf8')))).toBe(
      'Tool/1.0 (Zürich)',
    );
  });

  it('drops C1 controls from bytes that are not UTF-8', () => {
    expect(displayHeaderText(asHeader(Buffer.from([0x41, 0x9b, 0x33, 0x31, 0x6d, 0xe9])))).toBe('A31mé');
  });
});

describe('escapeForLog', () => {
  it('writes every character that hides or acts as its code point', () => {
    expect(escapeForLog('https://x/\u202e\u001b[2J\ncb\u200d')).toBe('https://x/<U+202E><U+001B>[2J<U+000A>cb<U+200D>');
    expect(escapeForLog('Café ☕')).toBe('Café ☕');
  });
});
