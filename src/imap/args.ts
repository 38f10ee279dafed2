// Typed IMAP command arguments: tokens from reader.ts in, plain values out.
// This module holds the pieces every parser shares: astring, number, flag,
// sequence set, and the Result helpers (fail, ok, listArg, noMore). The
// parsers, one per argument shape, are by theme in mailbox-args.ts (LIST,
// STATUS, CREATE, SELECT, ...), message-args.ts (STORE, APPEND, COPY, ...)
// and session-args.ts (ENABLE, ID, LOGIN, ...); mailbox names and LIST
// patterns are in mailbox-name.ts.
//
// SECURITY: every token is client data (attacker-controlled). Parsers never
// throw; they return { ok: false, error } with a reason fit for a tagged BAD,
// or, when `code` is set, for a tagged NO [code] (e.g. CANNOT, USEATTR,
// BADCHARSET). Limits: keywords 250 octets. Strings are checked to be UTF-8.
//
// Implements (ABNF of RFC 9051 §9): astring, nstring, string,
// number / nz-number / number64, flag / flag-list / flag-keyword (system
// flags in any case become "\Seen" etc.; "\Recent" and unknown "\X" are
// refused).
import { isUtf8 } from "node:buffer";
import type { Token } from "./reader.js";
import { parseSequenceSet, type Result, type SequenceSet, type SequenceSetOptions } from "./sequence.js";

export type { Result } from "./sequence.js";

/** A failed Result: `error` for a tagged BAD, or with `code` for a tagged NO [code]. */
export const fail = (error: string, code?: string): { ok: false; error: string; code?: string } => (code ? { ok: false, error, code } : { ok: false, error });
/** A successful Result. */
export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });

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


/** A parenthesized list token, its elements. */
export function listArg(tok: Token | undefined, what: string): Result<Token[]> {
  if (tok?.t !== "list") return fail(`${what} must be a parenthesized list`);
  return ok(tok.v);
}

/** Fails when `args` has more than `from` arguments; `usage` goes into the error. */
export function noMore(args: readonly Token[], from: number, usage: string): Result<true> {
  return args.length > from ? fail(`Too many arguments (${usage})`) : ok(true);
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

/** flag *(SP flag): as parseFlagList without the parentheses. */
export function parseFlags(tokens: readonly Token[]): Result<string[]> {
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
