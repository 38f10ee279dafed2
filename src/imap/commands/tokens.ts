// Reading command arguments out of reader tokens: astrings, mailbox names
// (modified UTF-7 for IMAP4rev1 clients, UTF-8 once UTF8=ACCEPT or
// IMAP4rev2 is enabled; INBOX in any case), flag lists. SECURITY: names are
// only ever looked up in the store; the checks here keep them printable,
// bounded and free of empty hierarchy levels.
import type { Token } from "../reader.js";
import { decodeMutf7, encodeMutf7 } from "../mutf7.js";
import { imapString, utf8Bin, type Wire } from "../quote.js";

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const MAX_NAME_OCTETS = 1000;
const MAX_LEVELS = 32;

/** An astring or string argument as text (UTF-8 decoded); undefined for lists. */
export function text(token: Token | undefined): string | undefined {
  if (!token) return undefined;
  if (token.t === "atom") return token.v;
  if (token.t === "nil") return token.v;
  if (token.t === "string") return token.v.toString("utf8");
  return undefined;
}

/** A mailbox name argument, decoded and checked; "INBOX" in any case becomes INBOX (RFC 3501 §5.1). */
export function mailboxName(token: Token | undefined, utf8: boolean): Parsed<string> {
  const raw = text(token);
  if (raw === undefined) return { ok: false, error: "Mailbox name expected" };
  let name = raw;
  if (!utf8) {
    const decoded = decodeMutf7(raw);
    if (decoded === undefined) return { ok: false, error: "Mailbox name is not valid modified UTF-7" };
    name = decoded;
  }
  if (name.toUpperCase() === "INBOX") return { ok: true, value: "INBOX" };
  if (/^inbox\//i.test(name)) name = `INBOX${name.slice(5)}`;
  return checkName(name);
}

/** Names as patterns for LIST keep wildcards; same decoding. */
export function listPattern(token: Token | undefined, utf8: boolean): Parsed<string> {
  const raw = text(token);
  if (raw === undefined) return { ok: false, error: "Pattern expected" };
  if (utf8) return { ok: true, value: raw };
  const decoded = decodeMutf7(raw);
  return decoded === undefined ? { ok: false, error: "Pattern is not valid modified UTF-7" } : { ok: true, value: decoded };
}

function checkName(name: string): Parsed<string> {
  if (name === "") return { ok: false, error: "Empty mailbox name" };
  if (Buffer.byteLength(name) > MAX_NAME_OCTETS) return { ok: false, error: "Mailbox name too long" };
  if (/[\x00-\x1f\x7f]/.test(name)) return { ok: false, error: "Mailbox name contains control characters" };
  if (name.startsWith("/") || name.endsWith("/") || name.includes("//")) return { ok: false, error: "Mailbox name has an empty hierarchy level" };
  if (name.split("/").length > MAX_LEVELS) return { ok: false, error: "Mailbox name nests too deep" };
  return { ok: true, value: name };
}

/** A mailbox name for a response: UTF-8 or modified UTF-7, quoted or literal. */
export function mailboxOut(name: string, utf8: boolean): Wire {
  return utf8 ? imapString(name, { utf8: true }) : imapString(encodeMutf7(name));
}

const SYSTEM_FLAGS = new Map(["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "\\Recent"].map((f) => [f.toLowerCase(), f]));
const KEYWORD = /^[!#$&'+,\-.0-9:;<=>?@A-Z^_`a-z|~]+$/;

/** A flag list "(\Seen $Label)" or a single flag; system flags in canonical case; \Recent refused (clients cannot set it). */
export function flagList(token: Token | undefined): Parsed<string[]> {
  if (!token) return { ok: false, error: "Flags expected" };
  const items = token.t === "list" ? token.v : [token];
  const flags: string[] = [];
  for (const item of items) {
    if (item.t !== "atom") return { ok: false, error: "Flags must be atoms" };
    const lower = item.v.toLowerCase();
    if (item.v.startsWith("\\")) {
      const system = SYSTEM_FLAGS.get(lower);
      if (!system || system === "\\Recent") return { ok: false, error: `Invalid system flag ${item.v.slice(0, 40)}` };
      if (!flags.includes(system)) flags.push(system);
    } else {
      if (!KEYWORD.test(item.v) || item.v.length > 100) return { ok: false, error: `Invalid keyword ${item.v.slice(0, 40)}` };
      if (!flags.includes(item.v)) flags.push(item.v);
    }
  }
  return { ok: true, value: flags };
}

export { utf8Bin };
