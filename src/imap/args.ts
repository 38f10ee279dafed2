// Typed IMAP command arguments: tokens from reader.ts in, plain values out.
// One parser per argument shape (LIST, STATUS, STORE, APPEND, SELECT, ...)
// plus the pieces they share: astring, number, flag, mailbox name.
//
// SECURITY: every token is client data (attacker-controlled). Parsers never
// throw; they return { ok: false, error } with a reason fit for a tagged BAD,
// or, when `code` is set, for a tagged NO [code] (e.g. CANNOT, USEATTR,
// BADCHARSET). Limits: ID (RFC 2971 §3.3) 30 pairs, field 30 and value 1024
// octets; keywords 250 octets; mailbox names 1024 characters, 255 per
// level, 32 levels; APPEND messages per command (option, default 1000);
// LIST patterns 1024 characters. Strings are checked to be UTF-8.
//
// Implements (ABNF of RFC 9051 §9 unless noted): astring, nstring, string,
// number / nz-number / number64, flag / flag-list / flag-keyword (system
// flags in any case become "\Seen" etc.; "\Recent" and unknown "\X" are
// refused), mailbox (INBOX in any case is "INBOX", RFC 9051 §5.1), list /
// list-select-opts / list-return-opts / mbox-or-pat (RFC 5258 §6, RFC 6154
// §6 SPECIAL-USE, RFC 5819 §4 return STATUS), lsub (RFC 3501), status /
// status-att (plus SIZE of RFC 8438, HIGHESTMODSEQ of RFC 7162,
// APPENDLIMIT of RFC 7889), store / store-att-flags / store-modifier
// UNCHANGEDSINCE (RFC 7162 §3.1.3), append / append-message (MULTIAPPEND,
// RFC 3502 §6; literal8, RFC 3516; "UTF8 (" literal8 ")", RFC 6855 §4),
// create with "USE (" use-attr ")" (RFC 6154 §3), select / examine with
// CONDSTORE and QRESYNC (RFC 7162 §3.2.5), enable, id (RFC 2971 §4), login,
// authenticate (RFC 4959 SASL-IR), copy / move, rename, getquota,
// getquotaroot, setquota (RFC 9208 §4.1), uid-expunge (RFC 4315 §3), and the
// commands that take no arguments (CAPABILITY, NOOP, LOGOUT, IDLE, ...).
//
// Mailbox names (normalizeMailboxName): without UTF8=ACCEPT the wire form is
// modified UTF-7 (mutf7.ts) and must be 7-bit; with it, UTF-8 taken as is
// (RFC 6855 §3). Refused, with code CANNOT: the empty name, control
// characters (U+0000-001F, U+007F-009F), the wildcards "%" and "*" (such a
// mailbox could not be listed), a leading or trailing delimiter or an empty
// level ("a//b"), the levels "." and "..", and the length limits above.
// "inbox/Sub" becomes "INBOX/Sub" (Dovecot does the same). Not done: Unicode
// normalization (NFC) of names.
import { isUtf8 } from "node:buffer";
import type { Token } from "./reader.js";
import { decodeMutf7 } from "./mutf7.js";
import { parseDateTime, type ImapDateTime } from "./datetime.js";
import { parseSequenceSet, type Result, type SequenceSet, type SequenceSetOptions } from "./sequence.js";

export type { Result } from "./sequence.js";

const fail = (error: string, code?: string): { ok: false; error: string; code?: string } => (code ? { ok: false, error, code } : { ok: false, error });
const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });

// ---------------------------------------------------------------- primitives

/** Decodes UTF-8, undefined when the bytes are not well-formed. */
export function decodeUtf8(bytes: Buffer): string | undefined {
  return isUtf8(bytes) ? bytes.toString("utf8") : undefined;
}

/** ASTRING-CHAR = ATOM-CHAR / resp-specials: CHAR except ( ) { SP CTL % * " \. */
function isAstringAtom(text: string): boolean {
  return /^[\x21\x23-\x24\x26-\x27\x2b-\x5b\x5d-\x7a\x7c-\x7e]+$/.test(text);
}

/** ATOM-CHAR: as ASTRING-CHAR without "]". */
function isAtom(text: string): boolean {
  return isAstringAtom(text) && !text.includes("]");
}

/** astring as octets: an atom of ASTRING-CHARs (NIL included) or a quoted string / literal (not literal8). */
export function astringBytes(tok: Token | undefined, what: string): Result<Buffer> {
  if (!tok) return fail(`Missing ${what}`);
  if (tok.t === "string") return tok.binary ? fail(`${what} cannot be a literal8`) : ok(tok.v);
  if ((tok.t === "atom" || tok.t === "nil") && !(tok.t === "atom" && tok.section) && isAstringAtom(tok.v)) return ok(Buffer.from(tok.v, "latin1"));
  return fail(`Invalid ${what}`);
}

/** astring decoded as UTF-8. */
export function astring(tok: Token | undefined, what: string): Result<string> {
  const bytes = astringBytes(tok, what);
  if (!bytes.ok) return bytes;
  const text = decodeUtf8(bytes.value);
  return text === undefined ? fail(`${what} is not valid UTF-8`) : ok(text);
}

/** string (quoted or literal, not an atom), decoded as UTF-8. */
export function stringArg(tok: Token | undefined, what: string): Result<string> {
  if (!tok) return fail(`Missing ${what}`);
  if (tok.t !== "string" || tok.binary) return fail(`${what} must be a quoted string or literal`);
  const text = decodeUtf8(tok.v);
  return text === undefined ? fail(`${what} is not valid UTF-8`) : ok(text);
}

/** nstring: NIL or string. */
export function nstring(tok: Token | undefined, what: string): Result<string | null> {
  if (tok?.t === "nil") return ok(null);
  return stringArg(tok, what);
}

/** An atom (any ATOM-CHARs), returned upper-cased. */
export function keyword(tok: Token | undefined, what: string): Result<string> {
  if (!tok) return fail(`Missing ${what}`);
  if ((tok.t === "atom" && !tok.section) || tok.t === "nil") {
    if (isAtom(tok.v)) return ok(tok.v.toUpperCase());
  }
  return fail(`Invalid ${what}`);
}

/** number (RFC 9051 number, 32-bit unsigned); nz: nz-number. */
export function numberArg(tok: Token | undefined, what: string, options: { nz?: boolean; max?: number } = {}): Result<number> {
  if (!tok) return fail(`Missing ${what}`);
  const max = options.max ?? 4294967295;
  if (tok.t === "atom" && /^\d{1,20}$/.test(tok.v)) {
    const n = Number(tok.v);
    if (n <= max && !(options.nz && n === 0)) return ok(n);
  }
  return fail(`Invalid ${what} (expected a number${options.nz ? " from 1" : ""} up to ${max})`);
}

/** mod-sequence-value (1..2^63-1, RFC 7162 §7) or, with zero, mod-sequence-valzer. Values above
 * 2^53-1 are clamped to Number.MAX_SAFE_INTEGER: Petrel's own MODSEQs stay far below, so the
 * comparison outcome is unchanged. */
export function modSeqArg(tok: Token | undefined, what: string, options: { zero?: boolean } = {}): Result<number> {
  if (!tok) return fail(`Missing ${what}`);
  if (tok.t === "atom" && /^\d{1,19}$/.test(tok.v) && BigInt(tok.v) <= 9223372036854775807n) {
    const n = Math.min(Number(tok.v), Number.MAX_SAFE_INTEGER);
    if (n > 0 || options.zero) return ok(n);
  }
  return fail(`Invalid ${what} (expected a mod-sequence number)`);
}

/** A sequence-set token. */
export function sequenceArg(tok: Token | undefined, options: SequenceSetOptions = {}): Result<SequenceSet> {
  if (!tok) return fail("Missing sequence set");
  if (tok.t !== "atom" || tok.section) return fail("Invalid sequence set");
  return parseSequenceSet(tok.v, options);
}

function listArg(tok: Token | undefined, what: string): Result<Token[]> {
  if (tok?.t !== "list") return fail(`${what} must be a parenthesized list`);
  return ok(tok.v);
}

function noMore(args: readonly Token[], from: number, usage: string): Result<true> {
  return args.length > from ? fail(`Too many arguments (${usage})`) : ok(true);
}

/** Commands without arguments: CAPABILITY, NOOP, LOGOUT, STARTTLS, NAMESPACE, CHECK, CLOSE, UNSELECT, EXPUNGE, IDLE. */
export function parseNoArgs(args: readonly Token[], command: string): Result<true> {
  return args.length > 0 ? fail(`${command} takes no arguments`) : ok(true);
}

// ---------------------------------------------------------------- flags

export const SYSTEM_FLAGS = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"] as const;
const SYSTEM_FLAG_CASE = new Map<string, string>(SYSTEM_FLAGS.map((f) => [f.toUpperCase(), f]));
export const MAX_KEYWORD_LENGTH = 250;

/** flag: a system flag (canonical case) or a keyword (atom, case kept). */
export function parseFlag(tok: Token | undefined): Result<string> {
  if (!tok || (tok.t !== "atom" && tok.t !== "nil") || (tok.t === "atom" && tok.section)) return fail("Invalid flag");
  const text = tok.v;
  if (text.startsWith("\\")) {
    const canonical = SYSTEM_FLAG_CASE.get(text.toUpperCase());
    if (canonical) return ok(canonical);
    if (text.toUpperCase() === "\\RECENT") return fail("\\Recent cannot be set by a client");
    return fail(`Unknown system flag ${text.slice(0, 40)}`);
  }
  if (!isAtom(text)) return fail(`Invalid flag ${text.slice(0, 40)}`);
  if (text.length > MAX_KEYWORD_LENGTH) return fail(`Keyword longer than ${MAX_KEYWORD_LENGTH} characters`);
  return ok(text);
}

/** flag-list = "(" [flag *(SP flag)] ")"; duplicates (any case) dropped, first spelling kept. */
export function parseFlagList(tok: Token | undefined): Result<string[]> {
  const list = listArg(tok, "Flag list");
  if (!list.ok) return list;
  return parseFlags(list.value);
}

function parseFlags(tokens: readonly Token[]): Result<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const t of tokens) {
    const f = parseFlag(t);
    if (!f.ok) return f;
    const key = f.value.toUpperCase();
    if (!seen.has(key)) {
      seen.add(key);
      out.push(f.value);
    }
  }
  return ok(out);
}

// ---------------------------------------------------------------- mailbox names

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

// ---------------------------------------------------------------- LIST, LSUB, STATUS

export type StatusItem = "MESSAGES" | "UIDNEXT" | "UIDVALIDITY" | "UNSEEN" | "DELETED" | "SIZE" | "RECENT" | "HIGHESTMODSEQ" | "APPENDLIMIT";
const STATUS_ITEMS = new Set<string>(["MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT", "HIGHESTMODSEQ", "APPENDLIMIT"]);

/** "(" status-att *(SP status-att) ")": unique, in the order given. */
export function parseStatusItems(tok: Token | undefined): Result<StatusItem[]> {
  const list = listArg(tok, "STATUS items");
  if (!list.ok) return list;
  if (list.value.length === 0) return fail("Empty STATUS item list");
  const out: StatusItem[] = [];
  for (const t of list.value) {
    const k = keyword(t, "STATUS item");
    if (!k.ok || !STATUS_ITEMS.has(k.value)) return fail(`Unknown STATUS item ${t.t === "atom" ? t.v.slice(0, 40) : ""}`.trim());
    if (!out.includes(k.value as StatusItem)) out.push(k.value as StatusItem);
  }
  return ok(out);
}

export interface StatusArgs {
  mailbox: string;
  items: StatusItem[];
}

/** STATUS mailbox (items). */
export function parseStatus(args: readonly Token[], utf8Enabled: boolean): Result<StatusArgs> {
  const mailbox = parseMailbox(args[0], utf8Enabled);
  if (!mailbox.ok) return mailbox;
  const items = parseStatusItems(args[1]);
  if (!items.ok) return items;
  const more = noMore(args, 2, "STATUS mailbox (items)");
  return more.ok ? ok({ mailbox: mailbox.value, items: items.value }) : more;
}

export interface ListArgs {
  reference: string;
  /** One or more patterns (several only with LIST-EXTENDED); "" asks for the delimiter. */
  patterns: string[];
  /** Selection options, a parenthesized pattern list or RETURN options were used (RFC 5258). */
  extended: boolean;
  select: { subscribed: boolean; remote: boolean; recursiveMatch: boolean; specialUse: boolean };
  return: { subscribed: boolean; children: boolean; specialUse: boolean; status?: StatusItem[] };
}

/** LIST [(select-opts)] reference mbox-or-pat [RETURN (return-opts)]. */
export function parseList(args: readonly Token[], utf8Enabled: boolean): Result<ListArgs> {
  const value: ListArgs = {
    reference: "",
    patterns: [],
    extended: false,
    select: { subscribed: false, remote: false, recursiveMatch: false, specialUse: false },
    return: { subscribed: false, children: false, specialUse: false },
  };
  let i = 0;
  if (args[0]?.t === "list") {
    value.extended = true;
    for (const t of args[0].v) {
      const k = keyword(t, "LIST selection option");
      if (!k.ok) return k;
      if (k.value === "SUBSCRIBED") value.select.subscribed = true;
      else if (k.value === "REMOTE") value.select.remote = true;
      else if (k.value === "RECURSIVEMATCH") value.select.recursiveMatch = true;
      else if (k.value === "SPECIAL-USE") value.select.specialUse = true;
      else return fail(`Unknown LIST selection option ${k.value.slice(0, 40)}`);
    }
    // RFC 5258 §3: RECURSIVEMATCH needs a base option (SUBSCRIBED or SPECIAL-USE), not only REMOTE.
    if (value.select.recursiveMatch && !value.select.subscribed && !value.select.specialUse) {
      return fail("RECURSIVEMATCH requires another selection option");
    }
    i = 1;
  }
  const reference = parseListMailbox(args[i], utf8Enabled, "reference");
  if (!reference.ok) return reference;
  value.reference = reference.value;
  const pat = args[i + 1];
  if (pat?.t === "list") {
    value.extended = true;
    if (pat.v.length === 0) return fail("Empty pattern list");
    for (const t of pat.v) {
      const p = parseListMailbox(t, utf8Enabled);
      if (!p.ok) return p;
      value.patterns.push(p.value);
    }
  } else {
    const p = parseListMailbox(pat, utf8Enabled);
    if (!p.ok) return p;
    value.patterns.push(p.value);
  }
  i += 2;
  if (i < args.length) {
    const ret = keyword(args[i], "RETURN");
    if (!ret.ok || ret.value !== "RETURN") return fail("Expected RETURN (options)");
    const opts = listArg(args[i + 1], "RETURN options");
    if (!opts.ok) return opts;
    value.extended = true;
    const list = opts.value;
    for (let k = 0; k < list.length; k++) {
      const opt = keyword(list[k], "LIST return option");
      if (!opt.ok) return opt;
      if (opt.value === "SUBSCRIBED") value.return.subscribed = true;
      else if (opt.value === "CHILDREN") value.return.children = true;
      else if (opt.value === "SPECIAL-USE") value.return.specialUse = true;
      else if (opt.value === "STATUS") {
        const items = parseStatusItems(list[++k]);
        if (!items.ok) return items;
        value.return.status = items.value;
      } else return fail(`Unknown LIST return option ${opt.value.slice(0, 40)}`);
    }
    const more = noMore(args, i + 2, "LIST [(options)] reference pattern [RETURN (options)]");
    if (!more.ok) return more;
  }
  return ok(value);
}

/** LSUB reference pattern (RFC 3501 §6.3.9). */
export function parseLsub(args: readonly Token[], utf8Enabled: boolean): Result<{ reference: string; pattern: string }> {
  const reference = parseListMailbox(args[0], utf8Enabled, "reference");
  if (!reference.ok) return reference;
  const pattern = parseListMailbox(args[1], utf8Enabled);
  if (!pattern.ok) return pattern;
  const more = noMore(args, 2, "LSUB reference pattern");
  return more.ok ? ok({ reference: reference.value, pattern: pattern.value }) : more;
}

/** The pattern LIST/LSUB match: reference + pattern, or the pattern alone when it starts with the
 * delimiter or the reference is empty (RFC 9051 §6.3.9 leaves the combination to the server). */
export function combineListReference(reference: string, pattern: string, delimiter = "/"): string {
  if (reference === "" || pattern.startsWith(delimiter)) return pattern;
  return reference + pattern;
}

// ---------------------------------------------------------------- STORE

export interface StoreArgs {
  set: SequenceSet;
  /** "set" (FLAGS), "add" (+FLAGS), "remove" (-FLAGS). */
  op: "set" | "add" | "remove";
  silent: boolean;
  flags: string[];
  unchangedSince?: number;
}

/** STORE sequence-set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] (flag-list / flag *(SP flag)). */
export function parseStore(args: readonly Token[]): Result<StoreArgs> {
  const set = sequenceArg(args[0], { allowSavedResult: true });
  if (!set.ok) return set;
  let i = 1;
  let unchangedSince: number | undefined;
  if (args[1]?.t === "list") {
    const mods = args[1].v;
    for (let k = 0; k < mods.length; k += 2) {
      const name = keyword(mods[k], "STORE modifier");
      if (!name.ok) return name;
      if (name.value !== "UNCHANGEDSINCE") return fail(`Unknown STORE modifier ${name.value.slice(0, 40)}`);
      const n = modSeqArg(mods[k + 1], "UNCHANGEDSINCE value", { zero: true });
      if (!n.ok) return n;
      unchangedSince = n.value;
    }
    i = 2;
  }
  const item = keyword(args[i], "STORE data item");
  if (!item.ok) return item;
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(item.value);
  if (!m) return fail(`Unknown STORE data item ${item.value.slice(0, 40)} (expected [+|-]FLAGS[.SILENT])`);
  const rest = args.slice(i + 1);
  if (rest.length === 0) return fail("Missing flags");
  const flags = rest.length === 1 && rest[0]!.t === "list" ? parseFlagList(rest[0]) : parseFlags(rest);
  if (!flags.ok) return flags;
  const value: StoreArgs = { set: set.value, op: m[1] === "+" ? "add" : m[1] === "-" ? "remove" : "set", silent: !!m[2], flags: flags.value };
  if (unchangedSince !== undefined) value.unchangedSince = unchangedSince;
  return ok(value);
}

// ---------------------------------------------------------------- APPEND

export interface AppendMessage {
  flags: string[];
  date?: ImapDateTime;
  data: Buffer;
  /** Sent as literal8 (~{n}, RFC 3516): may hold NUL and raw 8-bit. */
  binary: boolean;
  /** Sent as UTF8 (literal8) of RFC 6855 §4. */
  utf8: boolean;
  /** CATENATE (RFC 4469): the message is these pieces joined (then `data` is empty). */
  catenate?: CatenatePart[];
}

/** One piece of a CATENATE message: literal text, or an IMAP URL of a part of a stored message. */
export type CatenatePart = { text: Buffer } | { url: string };

/** The pieces of CATENATE (...): TEXT literal / URL astring (RFC 4469 §5). */
function parseCatenate(tok: Token | undefined): Result<CatenatePart[]> {
  if (tok?.t !== "list" || tok.v.length === 0 || tok.v.length % 2 !== 0) return fail("CATENATE must be followed by (TEXT literal / URL url ...)");
  const parts: CatenatePart[] = [];
  for (let k = 0; k < tok.v.length; k += 2) {
    const kind = tok.v[k];
    const value = tok.v[k + 1];
    const name = kind?.t === "atom" ? kind.v.toUpperCase() : "";
    if (name === "TEXT" && value?.t === "string" && value.literal) parts.push({ text: value.v });
    else if (name === "URL") {
      const url = astring(value, "CATENATE URL");
      if (!url.ok) return url;
      parts.push({ url: url.value });
    } else return fail("CATENATE parts are TEXT literal or URL url");
  }
  return ok(parts);
}

export interface AppendArgs {
  mailbox: string;
  messages: AppendMessage[];
}

/** APPEND mailbox 1*([SP flag-list] [SP date-time] SP (literal / literal8 / "UTF8 (" literal8 ")")). */
export function parseAppend(args: readonly Token[], utf8Enabled: boolean, options: { maxMessages?: number } = {}): Result<AppendArgs> {
  const maxMessages = options.maxMessages ?? 1000;
  const mailbox = parseMailbox(args[0], utf8Enabled);
  if (!mailbox.ok) return mailbox;
  const messages: AppendMessage[] = [];
  let i = 1;
  if (i >= args.length) return fail("Missing message literal");
  while (i < args.length) {
    if (messages.length >= maxMessages) return fail(`More than ${maxMessages} messages in one APPEND`);
    let flags: string[] = [];
    let date: ImapDateTime | undefined;
    if (args[i]?.t === "list") {
      const f = parseFlagList(args[i]);
      if (!f.ok) return f;
      flags = f.value;
      i++;
    }
    const dt = args[i];
    if (dt?.t === "string" && !dt.literal) {
      const d = parseDateTime(dt.v.toString("latin1"));
      if (!d.ok) return d;
      date = d.value;
      i++;
    }
    const data = args[i];
    let message: AppendMessage;
    if (data?.t === "atom" && data.v.toUpperCase() === "UTF8") {
      const inner = args[i + 1];
      if (inner?.t !== "list" || inner.v.length !== 1 || inner.v[0]!.t !== "string" || !inner.v[0]!.binary) {
        return fail("UTF8 must be followed by (~{n} literal8)");
      }
      message = { flags, data: inner.v[0]!.v, binary: true, utf8: true };
      i += 2;
    } else if (data?.t === "atom" && data.v.toUpperCase() === "CATENATE") {
      const parts = parseCatenate(args[i + 1]);
      if (!parts.ok) return parts;
      message = { flags, data: Buffer.alloc(0), binary: false, utf8: false, catenate: parts.value };
      i += 2;
    } else if (data?.t === "string" && data.literal) {
      message = { flags, data: data.v, binary: !!data.binary, utf8: false };
      i++;
    } else {
      return fail(data ? "The message must be sent as a literal" : "Missing message literal");
    }
    if (date) message.date = date;
    messages.push(message);
  }
  return ok({ mailbox: mailbox.value, messages });
}

// ---------------------------------------------------------------- CREATE, SELECT, ENABLE

export const USE_ATTRIBUTES = ["\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash", "\\Important"] as const;
const USE_ATTR_CASE = new Map<string, string>(USE_ATTRIBUTES.map((a) => [a.toUpperCase(), a]));

/** CREATE mailbox [(USE (use-attr ...))]. A trailing delimiter is dropped (RFC 9051 §6.3.4). */
export function parseCreate(args: readonly Token[], utf8Enabled: boolean, delimiter = "/"): Result<{ mailbox: string; use: string[] }> {
  const raw = astringBytes(args[0], "mailbox name");
  if (!raw.ok) return raw;
  let bytes = raw.value;
  const d = Buffer.from(delimiter);
  if (bytes.length > d.length && bytes.subarray(bytes.length - d.length).equals(d)) bytes = bytes.subarray(0, bytes.length - d.length);
  const mailbox = normalizeMailboxName(bytes, utf8Enabled, delimiter);
  if (!mailbox.ok) return mailbox;
  const use: string[] = [];
  if (args.length > 1) {
    const params = listArg(args[1], "CREATE parameters");
    if (!params.ok) return params;
    for (let k = 0; k < params.value.length; k += 2) {
      const name = keyword(params.value[k], "CREATE parameter");
      if (!name.ok) return name;
      if (name.value !== "USE") return fail(`Unknown CREATE parameter ${name.value.slice(0, 40)}`);
      const attrs = listArg(params.value[k + 1], "USE attributes");
      if (!attrs.ok) return attrs;
      for (const a of attrs.value) {
        if (a.t !== "atom" || !a.v.startsWith("\\")) return fail("Invalid USE attribute");
        const canonical = USE_ATTR_CASE.get(a.v.toUpperCase());
        if (!canonical) return fail(`Unsupported special-use attribute ${a.v.slice(0, 40)}`, "USEATTR");
        if (!use.includes(canonical)) use.push(canonical);
      }
    }
    const more = noMore(args, 2, "CREATE mailbox [(USE (attributes))]");
    if (!more.ok) return more;
  }
  return ok({ mailbox: mailbox.value, use });
}

export interface QresyncParams {
  uidValidity: number;
  modSeq: number;
  knownUids?: SequenceSet;
  /** known-sequence-set and the matching known-uid-set. */
  seqMatch?: { seqs: SequenceSet; uids: SequenceSet };
}

export interface SelectArgs {
  mailbox: string;
  condstore: boolean;
  qresync?: QresyncParams;
}

/** SELECT / EXAMINE mailbox [(CONDSTORE / QRESYNC (uidvalidity modseq [known-uids] [(seqs uids)]))]. */
export function parseSelect(args: readonly Token[], utf8Enabled: boolean): Result<SelectArgs> {
  const mailbox = parseMailbox(args[0], utf8Enabled);
  if (!mailbox.ok) return mailbox;
  const value: SelectArgs = { mailbox: mailbox.value, condstore: false };
  if (args.length === 1) return ok(value);
  const params = listArg(args[1], "SELECT parameters");
  if (!params.ok) return params;
  const list = params.value;
  for (let k = 0; k < list.length; k++) {
    const name = keyword(list[k], "SELECT parameter");
    if (!name.ok) return name;
    if (name.value === "CONDSTORE") value.condstore = true;
    else if (name.value === "QRESYNC") {
      const q = parseQresync(list[++k]);
      if (!q.ok) return q;
      value.qresync = q.value;
    } else return fail(`Unknown SELECT parameter ${name.value.slice(0, 40)}`);
  }
  const more = noMore(args, 2, "SELECT mailbox [(parameters)]");
  return more.ok ? ok(value) : more;
}

function parseQresync(tok: Token | undefined): Result<QresyncParams> {
  const list = listArg(tok, "QRESYNC parameters");
  if (!list.ok) return list;
  const [uv, ms, ...rest] = list.value;
  const uidValidity = numberArg(uv, "UIDVALIDITY", { nz: true });
  if (!uidValidity.ok) return uidValidity;
  const modSeq = modSeqArg(ms, "QRESYNC mod-sequence");
  if (!modSeq.ok) return modSeq;
  const value: QresyncParams = { uidValidity: uidValidity.value, modSeq: modSeq.value };
  const known = { allowStar: false };
  if (rest[0] && rest[0].t !== "list") {
    const uids = sequenceArg(rest.shift(), known);
    if (!uids.ok) return uids;
    value.knownUids = uids.value;
  }
  if (rest[0]) {
    const pair = listArg(rest.shift(), "QRESYNC sequence match data");
    if (!pair.ok) return pair;
    if (pair.value.length !== 2) return fail("QRESYNC sequence match data needs (known-sequence-set known-uid-set)");
    const seqs = sequenceArg(pair.value[0], known);
    if (!seqs.ok) return seqs;
    const uids = sequenceArg(pair.value[1], known);
    if (!uids.ok) return uids;
    value.seqMatch = { seqs: seqs.value, uids: uids.value };
  }
  if (rest.length > 0) return fail("Too many QRESYNC parameters");
  return ok(value);
}

/** ENABLE capability *(SP capability): upper-cased. */
export function parseEnable(args: readonly Token[]): Result<string[]> {
  if (args.length === 0) return fail("ENABLE needs at least one capability");
  const out: string[] = [];
  for (const t of args) {
    const k = keyword(t, "capability");
    if (!k.ok) return k;
    out.push(k.value);
  }
  return ok(out);
}

// ---------------------------------------------------------------- ID, LOGIN, AUTHENTICATE

export const ID_MAX_PAIRS = 30;
export const ID_MAX_FIELD = 30;
export const ID_MAX_VALUE = 1024;

/** ID ("(" *(string SP nstring) ")" / NIL), RFC 2971 §3.3 limits; null for NIL. Field names must
 * be unique (any case). Atoms are tolerated where the RFC says string. */
export function parseId(args: readonly Token[]): Result<Array<[string, string | null]> | null> {
  const more = noMore(args, 1, "ID (fields) or ID NIL");
  if (!more.ok) return more;
  if (args[0]?.t === "nil") return ok(null);
  const list = listArg(args[0], "ID parameters");
  if (!list.ok) return list;
  if (list.value.length % 2 !== 0) return fail("ID parameters must be field/value pairs");
  if (list.value.length / 2 > ID_MAX_PAIRS) return fail(`More than ${ID_MAX_PAIRS} ID pairs`);
  const out: Array<[string, string | null]> = [];
  const seen = new Set<string>();
  for (let k = 0; k < list.value.length; k += 2) {
    const field = astring(list.value[k], "ID field");
    if (!field.ok) return field;
    const v = list.value[k + 1];
    const value = v?.t === "nil" ? ok(null) : astring(v, "ID value");
    if (!value.ok) return value;
    if (Buffer.byteLength(field.value) > ID_MAX_FIELD) return fail(`ID field longer than ${ID_MAX_FIELD} octets`);
    if (value.value !== null && Buffer.byteLength(value.value) > ID_MAX_VALUE) return fail(`ID value longer than ${ID_MAX_VALUE} octets`);
    const key = field.value.toLowerCase();
    if (seen.has(key)) return fail(`Duplicate ID field ${field.value}`);
    seen.add(key);
    out.push([field.value, value.value]);
  }
  return ok(out);
}

/** LOGIN userid password (astrings, UTF-8). */
export function parseLogin(args: readonly Token[]): Result<{ user: string; password: string }> {
  const user = astring(args[0], "user name");
  if (!user.ok) return user;
  const password = astring(args[1], "password");
  if (!password.ok) return password;
  const more = noMore(args, 2, "LOGIN user password");
  return more.ok ? ok({ user: user.value, password: password.value }) : more;
}

/** AUTHENTICATE mechanism [initial-response] (RFC 4959: base64 or "=" for empty). */
export function parseAuthenticate(args: readonly Token[]): Result<{ mechanism: string; initialResponse?: string }> {
  const mechanism = keyword(args[0], "SASL mechanism");
  if (!mechanism.ok) return mechanism;
  const more = noMore(args, 2, "AUTHENTICATE mechanism [initial-response]");
  if (!more.ok) return more;
  if (args.length === 1) return ok({ mechanism: mechanism.value });
  const ir = args[1]!;
  if (ir.t !== "atom" || !/^(=|[A-Za-z0-9+/]+={0,2})$/.test(ir.v)) return fail("Invalid SASL initial response (expected base64 or =)");
  return ok({ mechanism: mechanism.value, initialResponse: ir.v });
}

// ---------------------------------------------------------------- COPY, MOVE, UID EXPUNGE, RENAME, QUOTA

/** COPY / MOVE sequence-set mailbox. */
export function parseCopy(args: readonly Token[], utf8Enabled: boolean): Result<{ set: SequenceSet; mailbox: string }> {
  const set = sequenceArg(args[0], { allowSavedResult: true });
  if (!set.ok) return set;
  const mailbox = parseMailbox(args[1], utf8Enabled);
  if (!mailbox.ok) return mailbox;
  const more = noMore(args, 2, "sequence-set mailbox");
  return more.ok ? ok({ set: set.value, mailbox: mailbox.value }) : more;
}

/** UID EXPUNGE uid-set (RFC 4315 §2.1; "$" of RFC 5182 allowed). */
export function parseUidExpunge(args: readonly Token[]): Result<SequenceSet> {
  const set = sequenceArg(args[0], { allowSavedResult: true });
  if (!set.ok) return set;
  const more = noMore(args, 1, "UID EXPUNGE uid-set");
  return more.ok ? set : more;
}

/** RENAME existing new. */
export function parseRename(args: readonly Token[], utf8Enabled: boolean): Result<{ from: string; to: string }> {
  const from = parseMailbox(args[0], utf8Enabled);
  if (!from.ok) return from;
  const to = parseMailbox(args[1], utf8Enabled);
  if (!to.ok) return to;
  const more = noMore(args, 2, "RENAME mailbox new-name");
  return more.ok ? ok({ from: from.value, to: to.value }) : more;
}

/** Commands with one mailbox argument: DELETE, SUBSCRIBE, UNSUBSCRIBE, GETQUOTAROOT. */
export function parseMailboxOnly(args: readonly Token[], utf8Enabled: boolean): Result<string> {
  const mailbox = parseMailbox(args[0], utf8Enabled);
  if (!mailbox.ok) return mailbox;
  const more = noMore(args, 1, "one mailbox name");
  return more.ok ? mailbox : more;
}

/** GETQUOTA quota-root (astring, may be ""). */
export function parseGetQuota(args: readonly Token[]): Result<string> {
  const root = astring(args[0], "quota root");
  if (!root.ok) return root;
  const more = noMore(args, 1, "GETQUOTA root");
  return more.ok ? root : more;
}

/** SETQUOTA quota-root (resource-name limit ...): names upper-cased, limits number64. */
export function parseSetQuota(args: readonly Token[]): Result<{ root: string; limits: Array<[string, number]> }> {
  const root = astring(args[0], "quota root");
  if (!root.ok) return root;
  const list = listArg(args[1], "quota limits");
  if (!list.ok) return list;
  if (list.value.length % 2 !== 0) return fail("Quota limits must be resource/limit pairs");
  const limits: Array<[string, number]> = [];
  for (let k = 0; k < list.value.length; k += 2) {
    const name = keyword(list.value[k], "quota resource");
    if (!name.ok) return name;
    const n = numberArg(list.value[k + 1], "quota limit", { max: Number.MAX_SAFE_INTEGER });
    if (!n.ok) return n;
    limits.push([name.value, n.value]);
  }
  const more = noMore(args, 2, "SETQUOTA root (resource limit ...)");
  return more.ok ? ok({ root: root.value, limits }) : more;
}
