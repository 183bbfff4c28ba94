import { findForbiddenCharacter, findForbiddenCharacterIn } from './findForbiddenCharacter';

describe('findForbiddenCharacter', () => {
  const NOT_UTF8 = 'a replacement character (U+FFFD), which stands for bytes that are not UTF-8';
  it.each([
    ['NUL', '\u0000', 'a control character (U+0000)'],
    ['a tab', 'a\tb', 'a control character (U+0009)'],
    ['CR LF', 'line\r\n', 'a control character (U+000D)'],
    ['U+001F', '\u001f', 'a control character (U+001F)'],
    ['DEL', '\u007f', 'a control character (U+007F)'],
    ['U+0080', '\u0080', 'a control character (U+0080)'],
    ['NEL', 'next\u0085line', 'a control character (U+0085)'],
    ['U+009F', '\u009f', 'a control character (U+009F)'],
    ['a lone high surrogate', '\ud800', 'a lone surrogate (U+D800)'],
    ['a lone high surrogate inside text', 'x\udbffy', 'a lone surrogate (U+DBFF)'],
    ['a lone low surrogate', '\udc00', 'a lone surrogate (U+DC00)'],
    ['half of an emoji', '😀'.slice(1), 'a lone surrogate (U+DE00)'],
    ['a surrogate pair in the wrong order', '\ude00\ud83d', 'a lone surrogate (U+DE00)'],
    ['U+FFFD', '\ufffd', NOT_UTF8],
    // What Node's decoders make of overlong UTF-8 and of an encoded surrogate.
    ['overlong UTF-8 (C0 80), decoded', Buffer.from([0xc0, 0x80]).toString('utf8'), NOT_UTF8],
    ['an encoded surrogate (ED A0 80), decoded', Buffer.from([0xed, 0xa0, 0x80]).toString('utf8'), NOT_UTF8],
  ])('refuses %s', (_label, text, description) => {
    expect(findForbiddenCharacter(text)).toBe(description);
  });

  it('names the first forbidden character', () => {
    expect(findForbiddenCharacter('ok\u0001\u0000')).toBe('a control character (U+0001)');
  });

  it.each([
    '',
    'state-123',
    'café ☕',
    '😀 surrogate pairs are fine',
    'ñ 中文 العربية, a no-break space\u00a0and ÿ',
    'a bidi override (\u202e) is a format character, not a control character',
    'https://app.example.com/cb?x=1&y=%00',
  ])('accepts %j', text => {
    expect(findForbiddenCharacter(text)).toBeUndefined();
  });
});

describe('findForbiddenCharacterIn', () => {
  it('finds a forbidden character in a nested value and says where', () => {
    expect(findForbiddenCharacterIn({ a: 'ok', b: [1, true, null, ['fine', 'no\u0000']] })).toEqual({
      path: ['b', 3, 1],
      inName: false,
      description: 'a control character (U+0000)',
    });
  });

  it('finds one in a member name', () => {
    expect(findForbiddenCharacterIn({ ok: { 'bad\ud800': 1 } })).toEqual({
      path: ['ok'],
      inName: true,
      description: 'a lone surrogate (U+D800)',
    });
  });

  it('checks a bare string', () => {
    expect(findForbiddenCharacterIn('\u007f')).toEqual({
      path: [],
      inName: false,
      description: 'a control character (U+007F)',
    });
  });

  it('accepts clean values of every JSON type', () => {
    expect(findForbiddenCharacterIn({ a: ['café ☕', 1, false, null, { b: {} }], c: [] })).toBeUndefined();
    expect(findForbiddenCharacterIn(undefined)).toBeUndefined();
  });

  it('walks a 64 KiB body nested 30 000 deep without overflowing the stack', () => {
    const depth = 30_000;
    const deep = JSON.parse(`${'['.repeat(depth)}"\\u0000"${']'.repeat(depth)}`);
    const found = findForbiddenCharacterIn(deep);
    expect(found?.description).toBe('a control character (U+0000)');
    expect(found?.path).toHaveLength(depth);
  });
});
