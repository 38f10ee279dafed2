// Envelope addresses and ESMTP parameters: parses the argument of MAIL FROM
// and RCPT TO. Trusted with raw client text (attacker-controlled): it never
// throws, does no I/O, and returns either a normalised value or a ready-made
// reply (code, RFC 3463 enhanced code, short message) for the session to send.
//
// Implements RFC 5321 §4.1.1.2-3 and §4.1.2 (Path, Mailbox, Dot-string,
// Quoted-string, address literals; source routes accepted and ignored per
// §4.1.2 and Appendix C), §4.5.3.1.1-3 (64/255/256-octet limits); RFC 6531
// §3.3 (UTF-8 mailboxes, the SMTPUTF8 parameter); RFC 1870 SIZE; RFC 6152 BODY;
// RFC 3461 §4 (xtext, RET, ENVID, NOTIFY, ORCPT); RFC 4954 §5 (MAIL AUTH=).
// The percent hack and bang paths are not interpreted.
import { isIPv4, isIPv6 } from "node:net";
import { domainToASCII } from "node:url";

export interface SmtpReplyError { ok: false; code: number; enhanced: string; message: string; }

export interface Mailbox {
  /** local part as the user wrote it, unquoted value (for "a b"@x.test it is: a b) */
  local: string;
  /** lower-cased, IDN as A-labels, or an address literal "[1.2.3.4]" / "[IPv6:2001:db8::1]" */
  domain: string;
  /** canonical local@domain, local part re-quoted when it is not a Dot-string */
  address: string;
  /** true when the local part or the domain as written had non-ASCII characters */
  utf8: boolean;
}

export interface MailFrom { sender: Mailbox | null; params: EsmtpParams; }
export interface RcptTo { recipient: Mailbox; params: EsmtpParams; }

export interface EsmtpParams {
  size?: number;
  body?: "7BIT" | "8BITMIME" | "BINARYMIME";
  smtputf8?: boolean;
  ret?: "FULL" | "HDRS";
  envid?: string;
  notify?: string[];
  orcpt?: string;
  auth?: string;
  /** parameters not known for this command, upper-cased keys (the session normally answers 555 5.5.4) */
  other: Record<string, string | true>;
}

export const MAX_LOCAL_OCTETS = 64;
export const MAX_DOMAIN_OCTETS = 255;
export const MAX_PATH_OCTETS = 256;

type Role = "sender" | "recipient";
type Result<T> = { ok: true; value: T } | { ok: false; message: string };

// Characters never accepted outside ASCII: controls (C0, DEL, C1), lone
// surrogates, Unicode spaces and U+FFFD (the mark of undecodable input).
const BAD_UNICODE = /[\p{Cc}\p{Cs}\p{Z}\uFFFD]/u;
const ATEXT_SPECIALS = "!#$%&'*+-/=?^_`{|}~";
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const ESMTP_KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
const NON_LDH_ASCII = /[\x00-\x2c\x2e\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]/;
const IDN_FORMAT_CHAR = /(?![\u200c\u200d])\p{Cf}/u;

const octets = (s: string): number => Buffer.byteLength(s, "utf8");
const isAscii = (s: string): boolean => !/[^\x00-\x7f]/.test(s);

function isAtext(cp: number, ch: string): boolean {
  if (cp >= 0x80) return !BAD_UNICODE.test(ch);
  return (cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || ATEXT_SPECIALS.includes(ch);
}

/** True when the local part can be written without quotes (RFC 5321 Dot-string, RFC 6531 UTF-8 atext). */
export function isDotString(local: string): boolean {
  if (local === "") return false;
  return local.split(".").every((atom) => atom !== "" && [...atom].every((ch) => isAtext(ch.codePointAt(0)!, ch)));
}

/** The local part as it must appear in a path: unchanged, or as a Quoted-string with " and \ escaped. */
export function quoteLocalPart(local: string): string {
  return isDotString(local) ? local : `"${local.replace(/["\\]/g, "\\$&")}"`;
}

/** Validates a domain or address literal; returns its canonical form. */
export function parseDomain(text: string): Result<{ domain: string; utf8: boolean }> {
  if (text === "") return { ok: false, message: "empty domain" };
  if (text.startsWith("[")) {
    const inner = text.endsWith("]") ? text.slice(1, -1) : undefined;
    if (inner !== undefined && /^ipv6:/i.test(inner)) {
      const ip = inner.slice(5);
      if (isIPv6(ip) && !ip.includes("%")) return { ok: true, value: { domain: `[IPv6:${ip.toLowerCase()}]`, utf8: false } };
    } else if (inner !== undefined && isIPv4(inner)) {
      return { ok: true, value: { domain: `[${inner}]`, utf8: false } };
    }
    return { ok: false, message: "bad address literal" };
  }
  if (text.endsWith(".")) return { ok: false, message: "domain ends with a dot" };
  if (octets(text) > MAX_DOMAIN_OCTETS) return { ok: false, message: `domain over ${MAX_DOMAIN_OCTETS} octets` };
  const labels: string[] = [];
  for (const label of text.split(".")) {
    if (label === "") return { ok: false, message: "empty label in domain" };
    let ascii = label.toLowerCase();
    if (!isAscii(label)) {
      // domainToASCII applies WHATWG host rules, so it only ever sees one
      // label (a whole name like "0x7f.1" would become an IPv4 address) and
      // only LDH ASCII beside the non-ASCII ("%41" would be percent-decoded).
      // Format characters (Cf) would be dropped silently; only ZWNJ/ZWJ mean
      // something in IDNA2008.
      if (BAD_UNICODE.test(label) || IDN_FORMAT_CHAR.test(label) || NON_LDH_ASCII.test(label) || /^-|-$/.test(label)) {
        return { ok: false, message: "invalid internationalized domain" };
      }
      ascii = domainToASCII(label);
      if (ascii.includes(".")) return { ok: false, message: "invalid internationalized domain" };
    }
    if (!LDH_LABEL.test(ascii)) return { ok: false, message: isAscii(label) ? "invalid domain" : "invalid internationalized domain" };
    labels.push(ascii);
  }
  const domain = labels.join(".");
  if (domain.length > MAX_DOMAIN_OCTETS) return { ok: false, message: `domain over ${MAX_DOMAIN_OCTETS} octets` };
  return { ok: true, value: { domain, utf8: !isAscii(text) } };
}

interface LocalScan { local: string; quoted: boolean; end: number; }

/** Reads the local part at the start of a mailbox; end is the index just after it. */
function scanLocal(text: string): LocalScan | string {
  let value = "";
  let i = 0;
  if (text.startsWith('"')) {
    for (i = 1; ; ) {
      if (i >= text.length) return "unterminated quoted string";
      const cp = text.codePointAt(i)!;
      if (cp === 0x22) return { local: value, quoted: true, end: i + 1 };
      const escaped = cp === 0x5c;
      const at = escaped ? i + 1 : i;
      const ecp = text.codePointAt(at);
      if (ecp === undefined) return "unterminated quoted string";
      const ch = String.fromCodePoint(ecp);
      const ok = ecp >= 0x80 ? !BAD_UNICODE.test(ch) : ecp >= 0x20 && ecp <= 0x7e && (escaped || (ecp !== 0x22 && ecp !== 0x5c));
      if (!ok) return "invalid character in quoted string";
      value += ch;
      i = at + ch.length;
    }
  }
  while (i < text.length && text[i] !== "@") {
    const ch = String.fromCodePoint(text.codePointAt(i)!);
    if (ch !== "." && !isAtext(ch.codePointAt(0)!, ch)) return "invalid character in local part";
    value += ch;
    i += ch.length;
  }
  return { local: value, quoted: false, end: i };
}

/**
 * Parses "local@domain" (no angle brackets, no source route). With
 * allowPostmaster, a bare "postmaster" (any case) is accepted with domain "".
 */
export function parseMailbox(text: string, opts: { allowPostmaster?: boolean } = {}): Result<Mailbox> {
  const scan = scanLocal(text);
  if (typeof scan === "string") return { ok: false, message: scan };
  const { local, quoted, end } = scan;
  if (end === text.length) {
    if (opts.allowPostmaster && !quoted && local.toLowerCase() === "postmaster") {
      return { ok: true, value: { local: "postmaster", domain: "", address: "postmaster", utf8: false } };
    }
    return { ok: false, message: local === "" && !quoted ? "empty address" : "domain missing" };
  }
  if (text[end] !== "@") return { ok: false, message: "junk after quoted local part" };
  if (!quoted && local === "") return { ok: false, message: "empty local part" };
  const domainText = text.slice(end + 1);
  if (domainText.includes("@")) return { ok: false, message: "more than one @" };
  const dom = parseDomain(domainText);
  if (!dom.ok) return dom;
  const quotedLocal = quoteLocalPart(local);
  if (octets(quotedLocal) > MAX_LOCAL_OCTETS) return { ok: false, message: `local part over ${MAX_LOCAL_OCTETS} octets` };
  const address = `${quotedLocal}@${dom.value.domain}`;
  if (octets(address) + 2 > MAX_PATH_OCTETS) return { ok: false, message: `address over ${MAX_PATH_OCTETS} octets` };
  return { ok: true, value: { local, domain: dom.value.domain, address, utf8: dom.value.utf8 || !isAscii(local) } };
}

/** Parses the inside of <...>: an optional source route "@a,@b:" (ignored), then a mailbox. */
function parsePathBody(body: string, role: Role): Result<Mailbox | null> {
  if (body === "") return role === "sender" ? { ok: true, value: null } : { ok: false, message: "empty address" };
  let mailbox = body;
  if (body.startsWith("@")) {
    // The route ends at the first ":" outside an address literal ([IPv6:...]).
    let colon = 0;
    for (let depth = 0; colon < body.length && (depth > 0 || body[colon] !== ":"); colon++) {
      depth += body[colon] === "[" ? 1 : body[colon] === "]" ? -1 : 0;
    }
    if (colon >= body.length) return { ok: false, message: "bad source route" };
    for (const hop of body.slice(0, colon).split(",")) {
      if (!hop.startsWith("@") || !parseDomain(hop.slice(1)).ok) return { ok: false, message: "bad source route" };
    }
    mailbox = body.slice(colon + 1);
    if (mailbox === "") return { ok: false, message: "empty address" };
  }
  return parseMailbox(mailbox, { allowPostmaster: role === "recipient" });
}

function reply(code: number, enhanced: string, message: string): SmtpReplyError {
  return { ok: false, code, enhanced, message };
}

function addressError(role: Role, detail?: string): SmtpReplyError {
  const base = role === "sender" ? "Bad sender address syntax" : "Bad recipient address syntax";
  return reply(501, role === "sender" ? "5.1.7" : "5.1.3", detail ? `${base} (${detail})` : base);
}

const paramError = (message: string): SmtpReplyError => reply(501, "5.5.4", message);

/** Decodes RFC 3461 xtext ("+HH" escapes); with allowUtf8, raw UTF-8 passes through (RFC 6533). */
export function decodeXtext(text: string, allowUtf8 = false): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    if (c === 0x2b) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 3;
    } else if (c >= 0x21 && c <= 0x7e) {
      bytes.push(c);
      i++;
    } else {
      const ch = String.fromCodePoint(text.codePointAt(i)!);
      if (c < 0x80 || !allowUtf8 || BAD_UNICODE.test(ch)) return undefined;
      bytes.push(...Buffer.from(ch, "utf8"));
      i += ch.length;
    }
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

/** Encodes text as RFC 3461 xtext: UTF-8 bytes outside "!".."~", and "+" / "=", become "+HH". */
export function encodeXtext(text: string): string {
  let out = "";
  for (const b of Buffer.from(text, "utf8")) {
    out += b >= 0x21 && b <= 0x7e && b !== 0x2b && b !== 0x3d ? String.fromCharCode(b) : `+${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

const MAIL_PARAMS = new Set(["SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH"]);
const RCPT_PARAMS = new Set(["NOTIFY", "ORCPT"]);
const NOTIFY_VALUES = new Set(["NEVER", "SUCCESS", "FAILURE", "DELAY"]);

/** Applies one known parameter; returns an error message or undefined. */
function applyParam(p: EsmtpParams, key: string, value: string | undefined): string | undefined {
  if (key === "SMTPUTF8") {
    if (value !== undefined) return "SMTPUTF8 takes no value";
    p.smtputf8 = true;
    return undefined;
  }
  if (value === undefined) return `${key} requires a value`;
  const upper = value.toUpperCase();
  switch (key) {
    case "SIZE":
      if (!/^[0-9]+$/.test(value)) return "Bad message size syntax";
      // Absurd sizes are clamped, so the session answers 552 rather than 501.
      p.size = value.length > 15 ? Number.MAX_SAFE_INTEGER : Math.min(Number(value), Number.MAX_SAFE_INTEGER);
      return undefined;
    case "BODY":
      if (upper !== "7BIT" && upper !== "8BITMIME" && upper !== "BINARYMIME") return "Bad BODY parameter (7BIT, 8BITMIME or BINARYMIME)";
      p.body = upper;
      return undefined;
    case "RET":
      if (upper !== "FULL" && upper !== "HDRS") return "Bad RET parameter (FULL or HDRS)";
      p.ret = upper;
      return undefined;
    case "ENVID": {
      const envid = decodeXtext(value);
      if (value.length > 100 || envid === undefined || !/^[\x20-\x7e]+$/.test(envid)) return "Bad ENVID parameter syntax";
      p.envid = envid;
      return undefined;
    }
    case "AUTH":
      if (value !== "<>" && decodeXtext(value, true) === undefined) return "Bad AUTH parameter syntax";
      p.auth = value;
      return undefined;
    case "NOTIFY": {
      const list: string[] = [];
      for (const item of upper.split(",")) {
        if (!NOTIFY_VALUES.has(item)) return "Bad NOTIFY parameter syntax";
        if (!list.includes(item)) list.push(item);
      }
      if (list.includes("NEVER") && list.length > 1) return "Bad NOTIFY parameter syntax (NEVER must be alone)";
      p.notify = list;
      return undefined;
    }
    case "ORCPT": {
      const semi = value.indexOf(";");
      const type = value.slice(0, Math.max(semi, 0));
      const addr = decodeXtext(value.slice(semi + 1), true);
      if (value.length > 500 || semi < 1 || !isDotString(type) || !isAscii(type) || !addr || /\p{Cc}/u.test(addr)) return "Bad ORCPT parameter syntax";
      p.orcpt = `${type};${addr}`;
      return undefined;
    }
  }
  return undefined;
}

/** Parses "KEY=VALUE KEY ..." (RFC 5321 §4.1.2 Mail-parameters); keys in `known` are interpreted, others kept in `other`. */
export function parseEsmtpParams(text: string, known: ReadonlySet<string>): { ok: true; value: EsmtpParams } | SmtpReplyError {
  const params: EsmtpParams = { other: {} };
  const seen = new Set<string>();
  for (const token of text.split(/[ \t]+/)) {
    if (token === "") continue;
    const eq = token.indexOf("=");
    const rawKey = eq < 0 ? token : token.slice(0, eq);
    const value = eq < 0 ? undefined : token.slice(eq + 1);
    if (!ESMTP_KEYWORD.test(rawKey)) return paramError("Bad parameter syntax");
    if (value !== undefined && (value === "" || BAD_UNICODE.test(value))) return paramError("Bad parameter value syntax");
    const key = rawKey.toUpperCase();
    if (seen.has(key)) return paramError(known.has(key) ? `Duplicate ${key} parameter` : "Duplicate parameter");
    seen.add(key);
    if (!known.has(key)) {
      params.other[key] = value ?? true;
      continue;
    }
    const error = applyParam(params, key, value);
    if (error) return paramError(error);
  }
  return { ok: true, value: params };
}

const isBlank = (c: string | undefined): boolean => c === " " || c === "\t";

/** Splits "FROM:<path> params" into the path body and the parameter text. */
function splitArg(arg: string, keyword: string, role: Role): { body: string; rest: string } | SmtpReplyError {
  const syntax = reply(501, "5.5.4", role === "sender" ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>");
  const s = arg.replace(/^[ \t]+/, "");
  // A non-unicode /i regex never folds non-ASCII letters onto ASCII ones (toUpperCase() would).
  if (!new RegExp(`^${keyword}`, "i").test(s)) return syntax;
  let i = keyword.length;
  while (isBlank(s[i])) i++;
  if (i >= s.length) return syntax;
  const bracketed = s[i] === "<";
  const start = bracketed ? i + 1 : i;
  let inQuote = false;
  let j = start;
  for (; j < s.length; j++) {
    const c = s[j];
    if (inQuote) {
      if (c === "\\") j++;
      else if (c === '"') inQuote = false;
    } else if (c === '"') inQuote = true;
    else if (bracketed ? c === ">" : isBlank(c)) break;
  }
  if (bracketed && j >= s.length) return addressError(role, "missing >");
  const body = s.slice(start, j);
  const rest = s.slice(bracketed ? j + 1 : j);
  if (rest !== "" && !isBlank(rest[0])) return addressError(role, "junk after address");
  if (!bracketed && /[<>]/.test(body)) return addressError(role);
  return { body, rest };
}

function parsePathArg(arg: string, role: Role): { ok: true; value: { mailbox: Mailbox | null; params: EsmtpParams } } | SmtpReplyError {
  const split = splitArg(arg, role === "sender" ? "FROM:" : "TO:", role);
  if ("ok" in split) return split;
  const path = parsePathBody(split.body, role);
  if (!path.ok) return addressError(role, path.message);
  const params = parseEsmtpParams(split.rest, role === "sender" ? MAIL_PARAMS : RCPT_PARAMS);
  if (!params.ok) return params;
  return { ok: true, value: { mailbox: path.value, params: params.value } };
}

/** Parses the MAIL argument, e.g. "FROM:<a@b> SIZE=10". */
export function parseMailFrom(arg: string): { ok: true; value: MailFrom } | SmtpReplyError {
  const r = parsePathArg(arg, "sender");
  return r.ok ? { ok: true, value: { sender: r.value.mailbox, params: r.value.params } } : r;
}

/** Parses the RCPT argument, e.g. "TO:<a@b> NOTIFY=NEVER". */
export function parseRcptTo(arg: string): { ok: true; value: RcptTo } | SmtpReplyError {
  const r = parsePathArg(arg, "recipient");
  if (!r.ok) return r;
  if (r.value.mailbox === null) return addressError("recipient", "empty address");
  return { ok: true, value: { recipient: r.value.mailbox, params: r.value.params } };
}

/** True when the mailbox cannot be accepted or relayed without SMTPUTF8 (RFC 6531 §3.4). */
export function needsSmtpUtf8(m: Mailbox): boolean {
  return m.utf8 || !isAscii(m.address);
}

/** The 553 5.6.7 refusal for a non-ASCII address in a transaction without SMTPUTF8, or undefined (RFC 6531 §3.5). */
export function checkSmtpUtf8(m: Mailbox | null, smtputf8: boolean): SmtpReplyError | undefined {
  if (m === null || smtputf8 || !needsSmtpUtf8(m)) return undefined;
  return reply(553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
}
