// IMAP string output (RFC 3501 §4.3, §9 "string"/"astring"/"nstring";
// RFC 9051 §4.3; RFC 6855 §3 for UTF8=ACCEPT).
//
// SECURITY: the values written here come from messages and clients, i.e. they
// are attacker-controlled. Every function returns a syntactically valid IMAP
// token whatever the input: CR, LF and 8-bit bytes never go into a quoted
// string (8-bit only as valid UTF-8 when UTF8=ACCEPT is on), anything else
// becomes a literal with an exact byte count, and NUL — which no IMAP string
// may carry (CHAR8 is %x01-ff) — is replaced by U+FFFD.
//
// THE WIRE CONVENTION of the whole response side: output is a *binary string*
// (type `Wire`): a JS string whose every char code is one byte, 0–255 — the
// same bytes a C server would have in its buffer. The writer sends it with
// `toWire(s)` (= Buffer.from(s, "latin1")); it must never be written as UTF-8.
// Literal counts are byte counts, so they stay correct under that rule.
// Inputs are either `Buffer` (raw bytes) or `string` (Unicode text, encoded as
// UTF-8 on the wire); functions whose name ends in `Bin` take a binary string.

import { encodeMutf7 } from "./mutf7.js";

/** A binary string: one char per byte (0–255). Send with `toWire`. */
export type Wire = string;

export interface QuoteOptions {
  /** UTF8=ACCEPT is enabled (RFC 6855/9051): valid UTF-8 may go in quoted strings. */
  utf8?: boolean;
}

/** Longest value sent as a quoted string; longer ones go as literals. */
export const MAX_QUOTED = 1000;

const REPLACEMENT_BIN = "\xef\xbf\xbd"; // U+FFFD in UTF-8

/** The bytes to send for a Wire string. */
export function toWire(s: Wire): Buffer {
  return Buffer.from(s, "latin1");
}

/** Unicode text → binary string of its UTF-8 bytes. */
export function utf8Bin(s: string): Wire {
  // Fast path: pure ASCII is its own UTF-8.
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.from(s, "utf8").toString("latin1");
  return s;
}

/** Is the binary string `s` (from `start`) valid UTF-8 (no overlongs, no surrogates)? */
export function isUtf8Bin(s: string, start = 0, end = s.length): boolean {
  let i = start;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let min: number;
    let cp: number;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      min = 0x80;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      min = 0x800;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      min = 0x10000;
      cp = c & 0x07;
    } else return false;
    if (i + n >= end) return false;
    for (let k = 1; k <= n; k++) {
      const d = s.charCodeAt(i + k);
      if ((d & 0xc0) !== 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

/**
 * A string token for any value: NIL for null/undefined, else a quoted string
 * when possible, else a literal. `string` input is Unicode text (sent as
 * UTF-8); `Buffer` input is sent byte for byte.
 */
export function imapString(value: string | Buffer | null | undefined, opts: QuoteOptions = {}): Wire {
  if (value === null || value === undefined) return "NIL";
  return imapStringBin(typeof value === "string" ? utf8Bin(value) : value.toString("latin1"), opts);
}

/** Like imapString, for a binary string (one char per byte). */
export function imapStringBin(bin: string | null | undefined, opts: QuoteOptions = {}): Wire {
  if (bin === null || bin === undefined) return "NIL";
  if (bin.includes("\0")) bin = bin.replace(/\0/g, REPLACEMENT_BIN);
  if (canQuote(bin, opts.utf8 === true)) return `"${bin.replace(/["\\]/g, "\\$&")}"`;
  return `{${bin.length}}\r\n${bin}`;
}

function canQuote(bin: string, utf8: boolean): boolean {
  if (bin.length > MAX_QUOTED) return false;
  let eight = false;
  for (let i = 0; i < bin.length; i++) {
    const c = bin.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c === 0) return false;
    if (c > 0x7f) {
      if (!utf8) return false;
      eight = true;
    }
  }
  return !eight || isUtf8Bin(bin);
}

// RFC 3501 §9: ATOM-CHAR is any CHAR except atom-specials
// ( "(" / ")" / "{" / SP / CTL / "%" / "*" / DQUOTE / "\" / "]" ); ASTRING-CHAR
// adds "]" back.
function isAstringChar(c: number): boolean {
  if (c <= 0x20 || c >= 0x7f) return false;
  return c !== 0x28 && c !== 0x29 && c !== 0x7b && c !== 0x25 && c !== 0x2a && c !== 0x22 && c !== 0x5c;
}

/** An astring: a bare atom when every char allows it (and it isn't NIL), else as imapString. */
export function imapAstring(value: string | Buffer, opts: QuoteOptions = {}): Wire {
  const bin = typeof value === "string" ? utf8Bin(value) : value.toString("latin1");
  if (bin.length > 0 && bin.length <= MAX_QUOTED && bin.toUpperCase() !== "NIL") {
    let ok = true;
    for (let i = 0; i < bin.length && ok; i++) ok = isAstringChar(bin.charCodeAt(i));
    if (ok) return bin;
  }
  return imapStringBin(bin, opts);
}

/** A mailbox name in a response (the output side of mailbox-name.ts normalizeMailboxName): UTF-8 once
 * UTF8=ACCEPT or IMAP4rev2 is enabled (RFC 6855 §3), else modified UTF-7 (RFC 3501 §5.1.3);
 * always a quoted string or a literal. */
export function imapMailbox(name: string, utf8: boolean): Wire {
  return utf8 ? imapString(name, { utf8: true }) : imapString(encodeMutf7(name));
}

/** A parenthesised list of already-encoded items: "(a b c)"; "()" when empty. */
export function imapList(items: readonly Wire[]): Wire {
  return `(${items.join(" ")})`;
}
