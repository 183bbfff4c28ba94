// A control character, U+FFFD, or a surrogate that is not half of a pair.
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\ufffd]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function codePoint(char: string): string {
  return `U+${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Finds the first character that no request parameter may carry, and says
 * what it is (`'a control character (U+0000)'`), or returns `undefined`.
 * Refused, wherever a client can put text:
 * - C0 controls U+0000–U+001F, DEL U+007F and C1 controls U+0080–U+009F.
 *   PostgreSQL cannot store U+0000 in `text` at all (the query fails: a 500
 *   before issue 12), and the others have no place in an OAuth parameter, a
 *   client name or an id; in a stored `state` or `redirect_uri` they would be
 *   echoed to another party.
 * - Lone surrogates (ill-formed UTF-16, e.g. JSON `"\ud800"`). No database
 *   stores them as sent: the drivers write U+FFFD instead.
 * - U+FFFD itself. Node's UTF-8 decoders (body-parser, `querystring`, Basic
 *   credentials) put it in place of bytes that are not UTF-8: overlong forms
 *   such as `C0 80`, encoded surrogates such as `ED A0 80`, stray bytes. By
 *   the time a parameter reaches us those bytes are gone, so refusing U+FFFD
 *   is the only way to refuse them instead of storing a value the client
 *   never sent. A client that means a literal U+FFFD is refused too; no
 *   protocol value needs one.
 * Other printable Unicode (`state=café ☕`) is accepted unchanged.
 */
export function findForbiddenCharacter(text: string): string | undefined {
  const match = FORBIDDEN.exec(text);
  if (!match) return undefined;
  const char = match[0];
  if (char === '\ufffd') {
    return 'a replacement character (U+FFFD), which stands for bytes that are not UTF-8';
  }
  if (char >= '\ud800' && char <= '\udfff') return `a lone surrogate (${codePoint(char)})`;
  return `a control character (${codePoint(char)})`;
}

/** Where {@link findForbiddenCharacterIn} found a forbidden character. */
export interface ForbiddenCharacterLocation {
  /** Member names and array indexes from the root to the string that holds it. */
  path: Array<string | number>;
  /** True when it is in a member name (the last one of `path`'s object), not a value. */
  inName: boolean;
  /** What the character is, as the finder says it. */
  description: string;
}

interface Visit {
  value: unknown;
  /** The member name or index this value has in its parent. */
  key?: string | number;
  parent?: Visit;
}

function pathTo(visit: Visit | undefined): Array<string | number> {
  const path: Array<string | number> = [];
  for (let v = visit; v?.key !== undefined; v = v.parent) path.push(v.key);
  return path.reverse();
}

/**
 * {@link findForbiddenCharacter} (or a stricter `find`) over every string of
 * a parsed JSON (or form) value, member names included, however deeply
 * nested. It walks with an explicit stack and parent links: a 64 KiB body
 * can nest arrays 30 000 deep, which would overflow a recursive walk, and
 * copying the path at every level would cost quadratic time.
 */
export function findForbiddenCharacterIn(
  value: unknown,
  find: (text: string) => string | undefined = findForbiddenCharacter,
): ForbiddenCharacterLocation | undefined {
  const stack: Visit[] = [{ value }];
  while (stack.length > 0) {
    const visit = stack.pop()!;
    const current = visit.value;
    if (typeof current === 'string') {
      const description = find(current);
      if (description) return { path: pathTo(visit), inName: false, description };
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], key: i, parent: visit });
    } else if (typeof current === 'object' && current !== null) {
      const entries = Object.entries(current);
      for (const [name] of entries) {
        const description = find(name);
        if (description) return { path: pathTo(visit), inName: true, description };
      }
      for (let i = entries.length - 1; i >= 0; i--) {
        stack.push({ value: entries[i][1], key: entries[i][0], parent: visit });
      }
    }
  }
  return undefined;
}
