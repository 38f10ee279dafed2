// Mailbox names and LIST patterns from the wire: normalization and
// validation of mailbox names, decoding of LIST references and patterns, and
// the LIST wildcard matcher.
//
// SECURITY: names and patterns are client data (attacker-controlled); the
// parsers never throw and return the Result of args.ts. Limits: mailbox names
// 1024 characters, 255 per level, 32 levels; LIST patterns 1024 characters.
// The matcher is a linear-time NFA (no backtracking).
//
// Implements (ABNF of RFC 9051 §9 unless noted): mailbox (INBOX in any case
// is "INBOX", RFC 9051 §5.1), list-mailbox, and the LIST wildcards "*" / "%"
// and reference (RFC 9051 §6.3.9).
//
// Mailbox names (normalizeMailboxName): without UTF8=ACCEPT the wire form is
// modified UTF-7 (mutf7.ts) and must be 7-bit; with it, UTF-8 taken as is
// (RFC 6855 §3). Refused, with code CANNOT: the empty name, control
// characters (U+0000-001F, U+007F-009F), the wildcards "%" and "*" (such a
// mailbox could not be listed), a leading or trailing delimiter or an empty
// level ("a//b"), the levels "." and "..", and the length limits above.
// "inbox/Sub" becomes "INBOX/Sub" (Dovecot does the same). Not done: Unicode
// normalization (NFC) of names.
import type { Token } from "./reader.js";
import { decodeMutf7 } from "./mutf7.js";
import { astringBytes, decodeUtf8, fail, ok, type Result } from "./args.js";

export const MAX_MAILBOX_NAME_LENGTH = 1024;
export const MAX_MAILBOX_LEVEL_LENGTH = 255;
export const MAX_MAILBOX_DEPTH = 32;

/** Wire bytes (or text) of a mailbox name to its canonical Unicode form, or an error with code CANNOT. */
export function normalizeMailboxName(raw: Buffer | string, utf8Enabled: boolean, delimiter = "/"): Result<string> {
  const bytes = typeof raw === "string" ? Buffer.from(raw, "utf8") : raw;
  let name: string | undefined;
  if (utf8Enabled) {
    name = decodeUtf8(bytes);
    if (name === undefined) return fail("Mailbox name is not valid UTF-8", "CANNOT");
  } else {
    if (bytes.some((b) => b >= 0x80)) return fail("8-bit mailbox name: use modified UTF-7 or ENABLE UTF8=ACCEPT", "CANNOT");
    name = decodeMutf7(bytes.toString("latin1"));
    if (name === undefined) return fail("Mailbox name is not valid modified UTF-7", "CANNOT");
  }
  name = canonicalInbox(name, delimiter);
  const problem = mailboxNameProblem(name, delimiter);
  return problem ? fail(problem, "CANNOT") : ok(name);
}

/** "inbox" → "INBOX", "Inbox/x" → "INBOX/x". */
export function canonicalInbox(name: string, delimiter = "/"): string {
  if (name.length >= 5 && name.slice(0, 5).toUpperCase() === "INBOX" && (name.length === 5 || name.startsWith(delimiter, 5))) {
    return "INBOX" + name.slice(5);
  }
  return name;
}

function mailboxNameProblem(name: string, delimiter: string): string | undefined {
  if (name === "") return "Empty mailbox name";
  if (name.length > MAX_MAILBOX_NAME_LENGTH) return `Mailbox name longer than ${MAX_MAILBOX_NAME_LENGTH} characters`;
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return "Control character in mailbox name";
  if (/[%*]/.test(name)) return "Mailbox name contains a wildcard (% or *)";
  const levels = name.split(delimiter);
  if (levels.length > MAX_MAILBOX_DEPTH) return `Mailbox hierarchy deeper than ${MAX_MAILBOX_DEPTH} levels`;
  for (const level of levels) {
    if (level === "") return `Empty level in mailbox name (leading, trailing or doubled "${delimiter}")`;
    if (level === "." || level === "..") return 'Mailbox name level "." or ".."';
    if (level.length > MAX_MAILBOX_LEVEL_LENGTH) return `Mailbox name level longer than ${MAX_MAILBOX_LEVEL_LENGTH} characters`;
  }
  return undefined;
}

/** mailbox = "INBOX" / astring, normalized. */
export function parseMailbox(tok: Token | undefined, utf8Enabled: boolean, delimiter = "/"): Result<string> {
  const bytes = astringBytes(tok, "mailbox name");
  if (!bytes.ok) return bytes;
  return normalizeMailboxName(bytes.value, utf8Enabled, delimiter);
}

/** list-mailbox = 1*list-char / string: a LIST pattern or reference, decoded like a mailbox name when
 * it is valid modified UTF-7 (else kept as sent, so it simply matches nothing); not validated. */
export function parseListMailbox(tok: Token | undefined, utf8Enabled: boolean, what = "mailbox pattern"): Result<string> {
  if (!tok) return fail(`Missing ${what}`);
  let bytes: Buffer;
  if (tok.t === "string" && !tok.binary) bytes = tok.v;
  else if ((tok.t === "atom" && !tok.section) || tok.t === "nil") {
    if (!/^[\x21\x23-\x27\x2a-\x5b\x5d-\x7a\x7c-\x7e]+$/.test(tok.v)) return fail(`Invalid ${what}`);
    bytes = Buffer.from(tok.v, "latin1");
  } else return fail(`Invalid ${what}`);
  const text = decodeUtf8(bytes);
  if (text === undefined) return fail(`${what} is not valid UTF-8`);
  if (text.length > MAX_PATTERN_LENGTH) return fail(`${what} longer than ${MAX_PATTERN_LENGTH} characters`);
  if (utf8Enabled || /[^\x20-\x7e]/.test(text)) return ok(text);
  return ok(decodeMutf7(text) ?? text);
}

export const MAX_PATTERN_LENGTH = 1024;

/** Compiles a LIST pattern: "*" matches anything, "%" anything but the delimiter; every other
 * character matches itself, except that the INBOX of a name ("INBOX" or "INBOX/...") matches in
 * any case (RFC 9051 §6.3.9). Linear-time NFA, no backtracking: O(name × pattern) at worst. */
export function compileListPattern(pattern: string, delimiter = "/"): (name: string) => boolean {
  // Collapse runs of wildcards: "%*" and "*%" are "*", "%%" is "%".
  const p: string[] = [];
  for (const ch of pattern) {
    const last = p[p.length - 1];
    if ((ch === "*" || ch === "%") && (last === "*" || last === "%")) {
      if (ch === "*") p[p.length - 1] = "*";
      continue;
    }
    p.push(ch);
  }
  const m = p.length;
  const delim = delimiter;
  return (name: string) => {
    const chars = Array.from(name);
    const inboxLen = chars.length >= 5 && chars.slice(0, 5).join("") === "INBOX" && (chars.length === 5 || chars[5] === delim) ? 5 : 0;
    let cur = new Uint8Array(m + 1);
    let next = new Uint8Array(m + 1);
    const close = (set: Uint8Array) => {
      for (let k = 0; k < m; k++) if (set[k] && (p[k] === "*" || p[k] === "%")) set[k + 1] = 1;
    };
    cur[0] = 1;
    close(cur);
    for (let j = 0; j < chars.length; j++) {
      const c = chars[j]!;
      next.fill(0);
      let any = false;
      for (let k = 0; k < m; k++) {
        if (!cur[k]) continue;
        const pk = p[k]!;
        if (pk === "*" || (pk === "%" && c !== delim)) {
          next[k] = 1;
          any = true;
        } else if (pk === c || (j < inboxLen && pk.toUpperCase() === c)) {
          next[k + 1] = 1;
          any = true;
        }
      }
      if (!any) return false;
      close(next);
      [cur, next] = [next, cur];
    }
    return cur[m] === 1;
  };
}

/** One-off LIST wildcard match; see compileListPattern. */
export function matchListPattern(pattern: string, name: string, delimiter = "/"): boolean {
  return compileListPattern(pattern, delimiter)(name);
}

/** The pattern LIST/LSUB match: reference + pattern, or the pattern alone when it starts with the
 * delimiter or the reference is empty (RFC 9051 §6.3.9 leaves the combination to the server). */
export function combineListReference(reference: string, pattern: string, delimiter = "/"): string {
  if (reference === "" || pattern.startsWith(delimiter)) return pattern;
  return reference + pattern;
}
