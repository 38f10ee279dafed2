// FETCH ENVELOPE (RFC 3501 §7.4.2, RFC 9051 §7.5.2) and the lenient
// address-list parser behind it (RFC 5322 §3.4 address / group / mailbox,
// with the obsolete forms of §4.4: routes, phrases with dots, quoted
// local-parts).
//
// SECURITY: the header is attacker-controlled. Nothing here throws; the
// output is always a well-formed IMAP parenthesised list: every string goes
// through quote.ts (quoted when safe, otherwise a literal with an exact byte
// count; NUL replaced), and the parser is a single linear pass over tokens.
//
// What is written, and the choices made where the RFCs leave room:
// - Values are the header's raw form: encoded words are NOT decoded (RFC
//   3501 says the fields are as in the header). Date, In-Reply-To and
//   Message-ID are the unfolded values; Subject and display names have their
//   whitespace runs collapsed to one space and are trimmed (as Dovecot does).
// - When a string field occurs several times, the first one counts. Address
//   fields that occur several times are merged, as if comma-separated (so a
//   second From cannot hide behind the first).
// - Sender and Reply-To default to From when absent or empty (RFC 3501).
// - route (adl) is the obsolete "@a,@b" route when present, else NIL;
//   mailbox/host are split at the LAST "@" of the address.
// - A malformed address never yields a NIL host (that would read as a group
//   marker): a missing local part is "MISSING_MAILBOX", a missing domain
//   "MISSING_DOMAIN", like Dovecot. Groups are written as
//   (NIL NIL "name" NIL) … (NIL NIL NIL NIL).
// - 8-bit bytes (RFC 6532 headers) go out as literals unless UTF8=ACCEPT.
import { get, getAll, type HeaderBlock } from "../mime/header.js";
import { imapStringBin, type QuoteOptions, type Wire } from "./quote.js";

/** One ENVELOPE address (binary strings; null = NIL). Group markers have host null. */
export interface Address {
  name: string | null;
  adl: string | null;
  mailbox: string | null;
  host: string | null;
}

export const MISSING_MAILBOX = "MISSING_MAILBOX";
export const MISSING_DOMAIN = "MISSING_DOMAIN";

export function envelope(header: HeaderBlock, opts: QuoteOptions = {}): Wire {
  const str = (bin: string | null) => imapStringBin(bin, opts);
  const first = (name: string) => get(header, name)?.bin ?? null;
  const addrs = (name: string) => {
    const list: Address[] = [];
    for (const f of getAll(header, name)) list.push(...parseAddressList(f.bin));
    return list;
  };
  const from = addrs("from");
  const sender = addrs("sender");
  const replyTo = addrs("reply-to");
  const subject = first("subject");
  return (
    "(" +
    [
      str(first("date")),
      subject === null ? "NIL" : str(forHumans(subject)),
      addressList(from, opts),
      addressList(sender.length ? sender : from, opts),
      addressList(replyTo.length ? replyTo : from, opts),
      addressList(addrs("to"), opts),
      addressList(addrs("cc"), opts),
      addressList(addrs("bcc"), opts),
      str(first("in-reply-to")),
      str(first("message-id")),
    ].join(" ") +
    ")"
  );
}

/** Whitespace runs → one space, trimmed. */
export function forHumans(bin: string): string {
  return bin.replace(/[ \t\r\n]+/g, " ").trim();
}

export function addressList(list: Address[], opts: QuoteOptions = {}): Wire {
  if (list.length === 0) return "NIL";
  const s = (v: string | null) => imapStringBin(v, opts);
  return "(" + list.map((a) => `(${s(a.name)} ${s(a.adl)} ${s(a.mailbox)} ${s(a.host)})`).join("") + ")";
}

// ------------------------------------------------------------ tokenizer

/** A token; `ws` says whitespace or a comment came before it. */
type Tok = { ws: boolean } & (
  | { t: "word"; v: string; quoted: boolean }
  | { t: "comment"; v: string }
  | { t: "literal"; v: string }
  | { t: "special"; v: "<" | ">" | "@" | "," | ";" | ":" }
);

const SPECIALS = new Set(["<", ">", "@", ",", ";", ":"]);

function isWordChar(c: number): boolean {
  // Everything but whitespace and the structural specials; "." and 8-bit are word chars.
  return !(c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a || c === 0x28 || c === 0x22 || c === 0x3c || c === 0x3e || c === 0x40 || c === 0x2c || c === 0x3b || c === 0x3a || c === 0x5b);
}

function tokenize(bin: string): Tok[] {
  const toks: Tok[] = [];
  const n = bin.length;
  let i = 0;
  let ws = false;
  const push = (t: Tok) => {
    toks.push(t);
    ws = t.t === "comment";
  };
  while (i < n) {
    const ch = bin[i];
    const c = bin.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
      i++;
      ws = true;
    } else if (ch === "(") {
      let depth = 0;
      let v = "";
      let s = i + 1;
      for (; i < n; i++) {
        const d = bin[i];
        if (d === "\\") {
          v += bin.slice(s, i);
          s = i + 1;
          i++;
        } else if (d === "(") {
          if (depth > 0) v += bin.slice(s, i + 1);
          s = i + 1;
          depth++;
        } else if (d === ")") {
          v += bin.slice(s, i);
          s = i + 1;
          if (--depth === 0) break;
          v += ")";
        }
      }
      if (i >= n) v += bin.slice(s, n);
      i++;
      push({ ws, t: "comment", v });
    } else if (ch === '"') {
      let v = "";
      let s = ++i;
      for (; i < n; i++) {
        const d = bin[i];
        if (d === "\\" && i + 1 < n) {
          v += bin.slice(s, i);
          s = ++i;
        } else if (d === '"') break;
      }
      v += bin.slice(s, Math.min(i, n));
      i++;
      push({ ws, t: "word", v, quoted: true });
    } else if (ch === "[") {
      const close = bin.indexOf("]", i);
      if (close === -1) {
        push({ ws, t: "word", v: bin.slice(i), quoted: false });
        i = n;
      } else {
        push({ ws, t: "literal", v: bin.slice(i, close + 1) });
        i = close + 1;
      }
    } else if (SPECIALS.has(ch)) {
      push({ ws, t: "special", v: ch as "<" });
      i++;
    } else {
      const s = i;
      while (i < n && isWordChar(bin.charCodeAt(i))) i++;
      push({ ws, t: "word", v: bin.slice(s, i), quoted: false });
    }
  }
  return toks;
}

const isSpecial = (t: Tok | undefined, v: string) => t !== undefined && t.t === "special" && t.v === v;

// --------------------------------------------------------------- parser

/** Parses an address-list header value (binary string) leniently. */
export function parseAddressList(bin: string): Address[] {
  const toks = tokenize(bin);
  const out: Address[] = [];
  let i = 0;
  while (i < toks.length) {
    if (isSpecial(toks[i], ",") || isSpecial(toks[i], ";") || isSpecial(toks[i], ">")) {
      i++;
      continue;
    }
    // A group when a ":" comes before any "<", "@", "," or ";".
    let j = i;
    while (j < toks.length && !(toks[j].t === "special" && toks[j].v !== ">")) j++;
    if (isSpecial(toks[j], ":")) {
      out.push({ name: null, adl: null, mailbox: phrase(toks, i, j) ?? "", host: null });
      i = j + 1;
      while (i < toks.length && !isSpecial(toks[i], ";")) {
        if (isSpecial(toks[i], ",") || isSpecial(toks[i], ":") || isSpecial(toks[i], ">")) {
          i++;
          continue;
        }
        const e = mailboxEnd(toks, i);
        out.push(...mailbox(toks, i, e));
        i = e;
      }
      if (i < toks.length) i++; // ";"
      out.push({ name: null, adl: null, mailbox: null, host: null });
      continue;
    }
    const e = mailboxEnd(toks, i);
    out.push(...mailbox(toks, i, e));
    i = e === i ? i + 1 : e;
  }
  return out;
}

/** Where the mailbox starting at i ends: the next "," or ";" outside <…>. */
function mailboxEnd(toks: Tok[], i: number): number {
  let angle = false;
  for (; i < toks.length; i++) {
    const t = toks[i];
    if (t.t !== "special") continue;
    if (t.v === "<") angle = true;
    else if (t.v === ">") angle = false;
    else if (!angle && (t.v === "," || t.v === ";")) return i;
  }
  return i;
}

function phrase(toks: Tok[], a: number, b: number): string | null {
  const words: string[] = [];
  for (let k = a; k < b; k++) {
    const t = toks[k];
    if (t.t === "word" || t.t === "literal") words.push(t.v);
    else if (t.t === "special" && (t.v === "@" || t.v === ":")) words.push(t.v);
  }
  if (words.length === 0) return null;
  return forHumans(words.join(" "));
}

function mailbox(toks: Tok[], a: number, b: number): Address[] {
  let lt = -1;
  for (let k = a; k < b; k++) if (isSpecial(toks[k], "<")) {
    lt = k;
    break;
  }
  if (lt >= 0) {
    let gt = b;
    for (let k = lt + 1; k < b; k++) if (isSpecial(toks[k], ">")) {
      gt = k;
      break;
    }
    const name = phrase(toks, a, lt);
    let s = lt + 1;
    let adl: string | null = null;
    if (isSpecial(toks[s], "@")) {
      // obs-route: "@a,@b:" before the address.
      let colon = -1;
      for (let k = s; k < gt; k++) if (isSpecial(toks[k], ":")) {
        colon = k;
        break;
      }
      if (colon >= 0) {
        adl = joinRaw(toks, s, colon) || null;
        s = colon + 1;
      }
    }
    const spec = addrSpec(toks, s, gt);
    return [{ name: name === "" ? null : name, adl, mailbox: spec.mailbox ?? MISSING_MAILBOX, host: spec.host ?? MISSING_DOMAIN }];
  }
  // No angle brackets: addr-specs, perhaps with a comment as the name, perhaps
  // after bare words (a name without the brackets), perhaps several with the
  // commas missing. Split into whitespace-separated runs, gluing across
  // whitespace next to "@" or "." (obsolete "john . doe @ example.com").
  const runs: [number, number][] = [];
  let comment: string | null = null;
  let prev: Tok | null = null;
  for (let k = a; k < b; k++) {
    const t = toks[k];
    if (t.t === "comment") {
      comment = t.v;
      continue;
    }
    const glue = prev !== null && (!t.ws || endsWithAtOrDot(prev) || startsWithAtOrDot(t));
    if (glue) runs[runs.length - 1][1] = k + 1;
    else runs.push([k, k + 1]);
    prev = t;
  }
  if (runs.length === 0) return [];
  const hasAt = (r: [number, number]) => {
    for (let k = r[0]; k < r[1]; k++) if (isSpecial(toks[k], "@")) return true;
    return false;
  };
  const atRuns = runs.filter(hasAt);
  if (atRuns.length === 0) {
    const commentName = comment === null ? null : forHumans(comment) || null;
    if (runs.length === 1) {
      const spec = addrSpec(toks, runs[0][0], runs[0][1]);
      return [{ name: commentName, adl: null, mailbox: spec.mailbox ?? MISSING_MAILBOX, host: MISSING_DOMAIN }];
    }
    return [{ name: phrase(toks, a, b), adl: null, mailbox: MISSING_MAILBOX, host: MISSING_DOMAIN }];
  }
  const out: Address[] = [];
  let nameFrom = runs[0][0];
  for (const r of runs) {
    if (!hasAt(r)) continue;
    const spec = addrSpec(toks, r[0], r[1]);
    let name = nameFrom < r[0] ? phrase(toks, nameFrom, r[0]) : null;
    if (name === null && atRuns.length === 1 && comment !== null) name = forHumans(comment) || null;
    out.push({ name: name === "" ? null : name, adl: null, mailbox: spec.mailbox ?? MISSING_MAILBOX, host: spec.host ?? MISSING_DOMAIN });
    nameFrom = r[1];
  }
  return out;
}

function endsWithAtOrDot(t: Tok): boolean {
  return (t.t === "special" && t.v === "@") || (t.t === "word" && !t.quoted && t.v.endsWith("."));
}

function startsWithAtOrDot(t: Tok): boolean {
  return (t.t === "special" && t.v === "@") || (t.t === "word" && !t.quoted && t.v.startsWith("."));
}

/** local-part "@" domain, split at the last "@"; comments and specials other than "@" and "." dropped. */
function addrSpec(toks: Tok[], a: number, b: number): { mailbox: string | null; host: string | null } {
  let at = -1;
  for (let k = a; k < b; k++) if (isSpecial(toks[k], "@")) at = k;
  const local = joinRaw(toks, a, at === -1 ? b : at);
  const host = at === -1 ? "" : joinRaw(toks, at + 1, b);
  return { mailbox: local === "" ? null : local, host: host === "" ? null : host };
}

/** Words, literals, "@" and "," of toks[a..b) run together; comments and other specials dropped. */
function joinRaw(toks: Tok[], a: number, b: number): string {
  let s = "";
  for (let k = a; k < b; k++) {
    const t = toks[k];
    if (t.t === "word" || t.t === "literal") s += t.v;
    else if (t.t === "special" && (t.v === "@" || t.v === ",")) s += t.v;
  }
  return s;
}
