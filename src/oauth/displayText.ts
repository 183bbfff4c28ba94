import { findForbiddenCharacter } from './http/findForbiddenCharacter';

/*
 * Display rules for text a client supplied and a person reads (issue 25
 * item 7, "names cannot lie"): client names, the URIs the pages and the
 * consent API show, a device's user agent, error descriptions that echo a
 * request, and what goes to the logs. Every place that shows such text uses
 * this module, so they cannot disagree about what is safe to show.
 */

/**
 * Characters that hide, reorder or break text: controls (C0, DEL, C1);
 * format characters (bidi controls and isolates, zero-width characters, the
 * soft hyphen, the byte order mark, tags, interlinear annotations); line and
 * paragraph separators; whatever else Unicode says to draw as nothing
 * (Default_Ignorable_Code_Point: Hangul fillers, variation selectors, …);
 * and lone surrogates.
 */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]/u;
const EVERY_HIDDEN = new RegExp(HIDDEN.source, 'gu');
const BIDI_CONTROL = /\p{Bidi_Control}/u;
const SEPARATOR = /[\p{Zl}\p{Zp}]/u;
/** ZWNJ and ZWJ: Persian and Indic scripts and emoji sequences need them. */
const JOINER = /[\u200c\u200d]/u;
/** Variation selectors (emoji or text style, CJK forms) and Mongolian ones. */
const SELECTOR = /[\u180b-\u180d\u180f\ufe00-\ufe0f\u{e0100}-\u{e01ef}]/u;
const GRAPHIC = /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u;
/** Runs of white space (and the blank Braille pattern): shown as one space. */
const SPACES = /[\p{White_Space}\u2800]+/gu;

function codePoint(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

function isShown(char: string | undefined): boolean {
  return char !== undefined && GRAPHIC.test(char) && !HIDDEN.test(char);
}

/**
 * Whether the invisible `chars[i]` does a visible job where it stands: a
 * selector right after the character it selects a form of, a joiner between
 * two characters it joins (or after a selector, as in ❤️‍🔥). Anywhere else
 * it only hides something.
 */
function isJoiningAt(chars: readonly string[], i: number): boolean {
  const before = chars[i - 1];
  if (SELECTOR.test(chars[i])) return isShown(before);
  if (!JOINER.test(chars[i])) return false;
  const joinsBefore =
    isShown(before) || (before !== undefined && SELECTOR.test(before) && isShown(chars[i - 2]));
  return joinsBefore && isShown(chars[i + 1]);
}

function isHiddenAt(chars: readonly string[], i: number): boolean {
  return HIDDEN.test(chars[i]) && !isJoiningAt(chars, i);
}

/**
 * Finds the first character that would hide, reorder or break text where a
 * person reads it, and says what it is (`'a bidirectional control
 * (U+202E)'`), or returns `undefined`. Whatever {@link findForbiddenCharacter}
 * refuses comes first, in its words. For text a client can be refused for
 * (a registration); {@link displayText} drops the same characters.
 */
export function findHiddenCharacter(text: string): string | undefined {
  const forbidden = findForbiddenCharacter(text);
  if (forbidden !== undefined || !HIDDEN.test(text)) return forbidden;
  const chars = [...text];
  const char = chars.find((_, i) => isHiddenAt(chars, i));
  if (char === undefined) return undefined;
  if (BIDI_CONTROL.test(char)) return `a bidirectional control (${codePoint(char)})`;
  if (SEPARATOR.test(char)) return `a line or paragraph separator (${codePoint(char)})`;
  return `an invisible character (${codePoint(char)})`;
}

/**
 * Text as a person is shown it: white space (line breaks included) becomes
 * single spaces, every character {@link findHiddenCharacter} would name is
 * dropped, and the ends are trimmed. What is left reads in the order it is
 * stored and hides nothing.
 */
export function displayText(text: string): string {
  const chars = [...text.replace(SPACES, ' ')];
  return chars
    .filter((_, i) => !isHiddenAt(chars, i))
    .join('')
    .replace(/ {2,}/g, ' ')
    .trim();
}

const OPENING = /[\p{Ps}<«‹＜﹤˂ᐸ]/u;
const CLOSING = /[\p{Pe}>»›＞﹥˃ᐳ]/u;
/** Characters read as a full stop in a host name. */
const DOT_LIKE = /[\u00b7\u2027\u2219\u22c5\u3002\u30fb\uff65]/gu;
/** What a host name, an address or a `host:port` is made of; the rest separates words. */
const NOT_IN_HOST = /[^\p{L}\p{M}\p{N}._:/-]+/u;
/**
 * A host as the portal shows one (`portal.example.com`, `localhost:7007`,
 * `203.0.113.7`, `[::1]`), in any script: a domain whose last label has a
 * letter and two characters (so not `1.2.3` or `e.g`), an IPv4 or IPv6
 * address, or a name with a port.
 */
const HOST_LIKE = new RegExp(
  `^(?:${[
    String.raw`(?:[\p{L}\p{N}_-]+\.)+(?=[\p{L}\p{N}_-]{2})[\p{L}\p{N}_-]*\p{L}[\p{L}\p{N}_-]*(?::\d+)?`,
    String.raw`\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?`,
    String.raw`[\p{L}\p{N}_-]*\p{L}[\p{L}\p{N}_-]*:\d+`,
    'localhost',
    String.raw`[0-9a-f]*::[0-9a-f:.]*`,
    String.raw`(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}`,
  ].join('|')})$`,
  'u',
);
const VERIFIED = 'verified';

/** The outermost bracketed parts of `text`, brackets included; one left open runs to the end. */
function bracketedParts(text: string): string[] {
  const chars = [...text];
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  chars.forEach((char, i) => {
    if (OPENING.test(char)) {
      if (depth++ === 0) start = i;
    } else if (CLOSING.test(char) && depth > 0 && --depth === 0) {
      parts.push(chars.slice(start, i + 1).join(''));
    }
  });
  if (depth > 0) parts.push(chars.slice(start).join(''));
  return parts;
}

function namesHost(word: string): boolean {
  const host = word.replace(/^[a-z][a-z0-9+.-]*:\/\//, '').split('/')[0].replace(/[.:]+$/, '');
  return HOST_LIKE.test(host);
}

/**
 * Whether the letters speak of verification ("unverified", "Verified by"),
 * look-alikes included: a run as long as "verified" whose Latin letters all
 * stand where they do in it and make up most of it ("unvеrified" with a
 * Cyrillic е, "νerified" with a Greek nu).
 */
function speaksOfVerification(folded: string): boolean {
  const letters = [...folded.replace(/\P{L}/gu, '')];
  if (letters.join('').includes('verif')) return true;
  for (let start = 0; start + VERIFIED.length <= letters.length; start++) {
    const run = letters.slice(start, start + VERIFIED.length);
    const latin = run.filter((char, j) => char === VERIFIED[j]).length;
    const strays = run.filter((char, j) => char !== VERIFIED[j] && /[a-z]/.test(char)).length;
    if (strays === 0 && latin > VERIFIED.length / 2) return true;
  }
  return false;
}

function looksLikePortalPart(part: string): boolean {
  // NFKC folds fullwidth, superscript and mathematical forms into ASCII ones.
  const folded = part.normalize('NFKC').replace(EVERY_HIDDEN, '').toLowerCase().replace(DOT_LIKE, '.');
  return folded.split(NOT_IN_HOST).some(namesHost) || speaksOfVerification(folded);
}

/**
 * Finds a bracketed part of a self-chosen client name that imitates what
 * the portal adds to such a name, "(portal.example.com)" or "(unverified)":
 * brackets of any kind (fullwidth, ornamental, square, unclosed) around a
 * host or words about verification, in any look-alike letters. Returns the
 * part, or `undefined`. SPEC §2: a name is shown with the host that vouches
 * for it, and that part must be the portal's alone.
 */
export function findForgedLabelPart(name: string): string | undefined {
  return bracketedParts(displayText(name)).find(looksLikePortalPart);
}

/**
 * A name a client chose for itself (DCR, metadata document), as shown: its
 * {@link displayText}, or `undefined` when nothing is left or it imitates the
 * portal's part (see {@link findForgedLabelPart}). The caller then shows
 * what it knows instead: the document's host, the client_id.
 */
export function displayClientName(name: string): string | undefined {
  const shown = displayText(name);
  return shown === '' || findForgedLabelPart(shown) !== undefined ? undefined : shown;
}

/**
 * A URI as shown: printable ASCII as it is; anything else as the URL parser
 * writes it, percent-encoded with its host in punycode, which is where a
 * browser would really go. A bidi control in a path cannot then make
 * `https://evil.example/…` read like another address.
 */
export function displayUri(uri: string): string {
  if (/^[\x21-\x7e]*$/.test(uri)) return uri;
  try {
    return new URL(uri).href;
  } catch {
    return displayText(uri);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A request header's text as shown (a device's User-Agent). Node reads
 * header bytes as Latin-1, so the UTF-8 that clients send arrives as
 * mojibake whose C1 controls hide in it; it is decoded back (and left as it
 * is when it is not UTF-8) before {@link displayText}.
 */
export function displayHeaderText(value: string): string {
  let text = value;
  // Anything above U+00FF did not come from header bytes: leave it as it is.
  if (!/[\u0100-\uffff]/.test(value)) {
    try {
      text = UTF8.decode(Buffer.from(value, 'latin1'));
    } catch {
      // Not UTF-8: Latin-1 is all it can be.
    }
  }
  return displayText(text);
}

/**
 * Client-supplied text for a log line: every character that hides or acts
 * (a terminal's escape sequences, a bidi override, a line break that starts
 * a fake entry) is written as `<U+XXXX>`, so the log says what was sent
 * without doing what it asks.
 */
export function escapeForLog(text: string): string {
  return text.replace(EVERY_HIDDEN, char => `<${codePoint(char)}>`);
}
