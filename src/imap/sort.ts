// SORT keys and their comparison (RFC 5256 §2 and §3 "SORT Command",
// RFC 5957 DISPLAYFROM / DISPLAYTO), shared with THREAD (thread.ts): the
// header fields a command needs, base subject extraction (RFC 5256 §2.1),
// the sent date (§2.2), the i;ascii-casemap collation (RFC 4790 §9.2).
//
// SECURITY: headers are attacker-controlled (anyone can mail the user). Nothing
// here throws; base subject extraction is a single linear pass (with index
// pointers, never rescanning text it has passed, so a subject of a million
// "[x]" blobs or nested "[fwd: ...]" costs linear time, not quadratic); the
// date parser is an anchored regular expression without nested quantifiers.
//
// Choices where the RFCs leave room:
// - Collation is i;ascii-casemap over the UTF-8 bytes: a-z compare as A-Z,
//   every other byte as itself (so non-ASCII sorts by code point).
// - FROM / TO / CC: the [IMAP] addr-mailbox (local part) of the first address
//   structure of the field, as ENVELOPE would give it: for a group that is
//   the group name (RFC 5256 says addr-mailbox of the first address; the
//   ENVELOPE of a group starts with the group marker). Several fields of the
//   same name count as one list, as in ENVELOPE. A missing local part
//   (ENVELOPE's MISSING_MAILBOX) and a missing field sort as "".
// - DISPLAYFROM / DISPLAYTO (RFC 5957 §3): the addr-name with RFC 2047 words
//   decoded when not empty, else mailbox@host, else mailbox, else "".
// - DATE: the Date: header in UTC (obsolete forms of RFC 5322 §4.3 accepted:
//   two- and three-digit years, named and military zones, missing seconds;
//   an unknown zone counts as +0000); unparsable or missing → INTERNALDATE.
// - Ties, after all criteria (REVERSE included), go by sequence number,
//   ascending (RFC 5256 §3: "the order in which they appear in the mailbox").
import { binToText, get, getAll, type HeaderBlock } from "../mime/header.js";
import { decodeWords } from "../mime/encoded-words.js";
import { MISSING_DOMAIN, MISSING_MAILBOX, parseAddressList, type Address } from "./envelope.js";
import type { SortCriterion, SortKey } from "./search-parse.js";

// ------------------------------------------------------------ message data

/** The header fields SORT and THREAD use, copied out of the header (nothing keeps the message buffer alive). */
export interface HeaderInfo {
  /** First Subject field, text (UTF-8 if valid, else Latin-1), not yet RFC 2047-decoded. */
  subject?: string;
  /** First Date field. */
  date?: string;
  /** Address fields as binary strings, several fields of a name joined by ",". */
  from?: string;
  to?: string;
  cc?: string;
  messageId?: string;
  references?: string;
  inReplyTo?: string;
}

/** One message to sort or thread. */
export interface SortItem {
  /** Sequence number: the tie-breaker (mailbox order). */
  seq: number;
  uid: number;
  size: number;
  /** INTERNALDATE, ms since the epoch. */
  internalDate: number;
  /** Absent when the criteria need no header (ARRIVAL, SIZE): then it is treated as empty. */
  header?: HeaderInfo;
}

function addressFields(header: HeaderBlock, name: string): string | undefined {
  const fields = getAll(header, name);
  if (fields.length === 0) return undefined;
  return fields.length === 1 ? fields[0]!.bin : fields.map((f) => f.bin).join(",");
}

/** Copies what SORT and THREAD need out of a parsed header. */
export function headerInfo(header: HeaderBlock): HeaderInfo {
  const info: HeaderInfo = {};
  const text = (name: string) => get(header, name)?.value;
  const set = <K extends keyof HeaderInfo>(k: K, v: string | undefined) => {
    if (v !== undefined) info[k] = v;
  };
  set("subject", text("subject"));
  set("date", text("date"));
  set("from", addressFields(header, "from"));
  set("to", addressFields(header, "to"));
  set("cc", addressFields(header, "cc"));
  set("messageId", get(header, "message-id")?.bin);
  set("references", get(header, "references")?.bin);
  set("inReplyTo", get(header, "in-reply-to")?.bin);
  return info;
}

/** Does sorting by these criteria need the message header? */
export function criteriaNeedHeader(criteria: readonly SortCriterion[]): boolean {
  return criteria.some((c) => c.key !== "ARRIVAL" && c.key !== "SIZE");
}

// ------------------------------------------------------ base subject, §2.1

export interface BaseSubject {
  /** The base subject (text). */
  subject: string;
  /**
   * The extraction removed a subj-refwd, a "(fwd)" subj-trailer or a
   * subj-fwd-hdr/subj-fwd-trl pair (RFC 5256 §3 REFERENCES step 5 "reply or forward").
   */
  replyOrForward: boolean;
}

const SP = 0x20;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COLON = 0x3a;

/** s[i..] starts with `word` (lower-case ASCII), ASCII case-insensitively. */
function startsCi(s: string, i: number, end: number, word: string): boolean {
  if (end - i < word.length) return false;
  for (let k = 0; k < word.length; k++) {
    let c = s.charCodeAt(i + k);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== word.charCodeAt(k)) return false;
  }
  return true;
}

/** Skips SP from i (tabs are spaces by now). */
function skipSp(s: string, i: number, end: number): number {
  while (i < end && s.charCodeAt(i) === SP) i++;
  return i;
}

/** subj-blob = "[" *BLOBCHAR "]" *WSP at i: its end, or -1. */
function blobAt(s: string, i: number, end: number): number {
  if (i >= end || s.charCodeAt(i) !== LBRACKET) return -1;
  for (let k = i + 1; k < end; k++) {
    const c = s.charCodeAt(k);
    if (c === RBRACKET) return skipSp(s, k + 1, end);
    if (c === LBRACKET) return -1;
  }
  return -1;
}

/** subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" at i: its end, or -1. */
function refwdAt(s: string, i: number, end: number): number {
  let k: number;
  if (startsCi(s, i, end, "re")) k = i + 2;
  else if (startsCi(s, i, end, "fwd")) k = i + 3;
  else if (startsCi(s, i, end, "fw")) k = i + 2;
  else return -1;
  k = skipSp(s, k, end);
  if (k < end && s.charCodeAt(k) === COLON) return k + 1;
  const b = blobAt(s, k, end);
  if (b !== -1 && b < end && s.charCodeAt(b) === COLON) return b + 1;
  return -1;
}

/** Step (1): RFC 2047 words decoded, tabs and line breaks to spaces, runs of spaces to one. */
export function normalizeSubject(raw: string): string {
  return decodeWords(raw).replace(/[\t\r\n]/g, " ").replace(/ {2,}/g, " ");
}

/**
 * The base subject of RFC 5256 §2.1 (steps 1-7) of a Subject value (text,
 * RFC 2047 words not yet decoded), and whether it marks a reply or forward.
 */
export function baseSubject(raw: string): BaseSubject {
  const s = normalizeSubject(raw);
  let start = 0;
  let end = s.length;
  let replyOrForward = false;
  for (;;) {
    // (2) subj-trailer = "(fwd)" / WSP, from the end, as often as it matches.
    for (;;) {
      if (end > start && s.charCodeAt(end - 1) === SP) end--;
      else if (end - start >= 5 && startsCi(s, end - 5, end, "(fwd)")) {
        end -= 5;
        replyOrForward = true;
      } else break;
    }
    // (3)-(5): subj-leader = (*subj-blob subj-refwd) / WSP, and a leading
    // subj-blob when what follows is a non-empty subj-base.
    for (;;) {
      if (start < end && s.charCodeAt(start) === SP) {
        start++;
        continue;
      }
      // The run of blobs at start, and where it ends.
      let q = start;
      let last = -1; // start of the run's last blob
      for (;;) {
        const b = blobAt(s, q, end);
        if (b === -1) break;
        last = q;
        q = b;
      }
      const r = refwdAt(s, q, end);
      if (r !== -1) {
        start = r; // (3): blobs + re: removed
        replyOrForward = true;
        continue;
      }
      if (last === -1) break; // no blob, no leader: done
      // (4) then (3) again: no refwd follows any suffix of the run (the text
      // after the run is the same), so (4) removes blob after blob while a
      // non-empty subj-base is left. It stops at the run's last blob only
      // when nothing follows the run.
      const next = q < end ? q : last;
      if (next === start) break;
      start = next;
    }
    // (6) "[fwd:" subject "]": unwrap and repeat from (2).
    if (end - start >= 6 && startsCi(s, start, end, "[fwd:") && s.charCodeAt(end - 1) === RBRACKET) {
      start += 5;
      end -= 1;
      replyOrForward = true;
      continue;
    }
    break;
  }
  return { subject: s.slice(start, end), replyOrForward };
}

// ------------------------------------------------------------ collation

/** i;ascii-casemap (RFC 4790 §9.2) sort key: the UTF-8 bytes with a-z mapped to A-Z; compare with Buffer.compare. */
export function casemapKey(text: string): Buffer {
  const b = Buffer.from(text, "utf8");
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c >= 0x61 && c <= 0x7a) b[i] = c - 0x20;
  }
  return b;
}

/** The same collation for a binary string (one char per byte). */
function casemapKeyBin(bin: string): Buffer {
  const b = Buffer.from(bin, "latin1");
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c >= 0x61 && c <= 0x7a) b[i] = c - 0x20;
  }
  return b;
}

// ------------------------------------------------------------ sent date, §2.2

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };
const ZONES: Record<string, number> = {
  ut: 0, utc: 0, gmt: 0, z: 0,
  est: -300, edt: -240, cst: -360, cdt: -300, mst: -420, mdt: -360, pst: -480, pdt: -420,
};
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const DATE_RE = /^(?:[A-Za-z]+ ?,? ?)?(\d{1,2}) ?-?([A-Za-z]{3})[A-Za-z]*\.? ?-?(\d{2,4}) +(\d{1,2}) ?: ?(\d{1,2})(?: ?: ?(\d{1,2}))?(?: ?([+-])(\d{2})(\d{2})| ?([A-Za-z]{1,5}))?(?: |$)/;

/**
 * An RFC 5322 §3.3 date-time (with the obsolete forms of §4.3) → ms since
 * the epoch, UTC; undefined when it cannot be read.
 */
export function parseMessageDate(value: string): number | undefined {
  if (value.length > 1000) value = value.slice(0, 1000);
  // Comments (not nested) and folding whitespace out; whitespace runs to one space.
  let text = value.includes("(") ? value.replace(/\([^()]*\)/g, " ") : value;
  if (/[\t\r\n]| {2}/.test(text)) text = text.replace(/[ \t\r\n]+/g, " ");
  text = text.trim();
  const m = DATE_RE.exec(text);
  if (!m) return undefined;
  const day = Number(m[1]);
  const month = MONTHS[m[2]!.toLowerCase()];
  let year = Number(m[3]);
  if (month === undefined) return undefined;
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (day < 1 || day > DAYS_IN_MONTH[month]! || (month === 1 && day === 29 && !leap)) return undefined;
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  let offset = 0;
  if (m[7]) {
    const zh = Number(m[8]);
    const zm = Number(m[9]);
    if (zh <= 99 && zm <= 59) offset = (m[7] === "-" ? -1 : 1) * (zh * 60 + zm);
  } else if (m[10]) {
    offset = ZONES[m[10].toLowerCase()] ?? 0; // military and unknown zones: +0000 (RFC 5322 §4.3)
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  d.setUTCHours(hour, minute, Math.min(second, 59), 0);
  return d.getTime() - offset * 60_000;
}

/** The sent date of RFC 5256 §2.2: the Date: header, else INTERNALDATE. */
export function sentDate(item: SortItem): number {
  const v = item.header?.date;
  const t = v === undefined ? undefined : parseMessageDate(v);
  return t ?? item.internalDate;
}

// ------------------------------------------------------------ addresses

function firstAddress(bin: string | undefined): Address | undefined {
  if (bin === undefined) return undefined;
  return parseAddressList(bin)[0];
}

/** addr-mailbox of the first address (RFC 5256 FROM / TO / CC) as a binary string; "" when none. */
function mailboxBin(bin: string | undefined): string {
  const a = firstAddress(bin);
  if (!a || a.mailbox === null || a.mailbox === MISSING_MAILBOX) return "";
  return a.mailbox;
}

/** The FROM / TO / CC sort value: addr-mailbox of the first address, text, ASCII lower-cased; "" when none. */
export function addressMailbox(bin: string | undefined): string {
  return binToText(mailboxBin(bin)).replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** The RFC 5957 §3 display sort value of the first address; "" when none. */
export function addressDisplay(bin: string | undefined): string {
  const a = firstAddress(bin);
  if (!a) return "";
  if (a.name !== null) {
    const name = decodeWords(binToText(a.name)).trim();
    if (name !== "") return name;
  }
  const mailbox = a.mailbox === null || a.mailbox === MISSING_MAILBOX ? null : binToText(a.mailbox);
  if (mailbox !== null && a.host !== null && a.host !== MISSING_DOMAIN) return `${mailbox}@${binToText(a.host)}`;
  return mailbox ?? "";
}

// ------------------------------------------------------------ SORT

type Key = number | Buffer;

function keyOf(item: SortItem, key: SortKey): Key {
  const h = item.header;
  switch (key) {
    case "ARRIVAL":
      return item.internalDate;
    case "DATE":
      return sentDate(item);
    case "SIZE":
      return item.size;
    case "SUBJECT":
      return casemapKey(h?.subject === undefined ? "" : baseSubject(h.subject).subject);
    case "FROM":
      return casemapKeyBin(mailboxBin(h?.from));
    case "TO":
      return casemapKeyBin(mailboxBin(h?.to));
    case "CC":
      return casemapKeyBin(mailboxBin(h?.cc));
    case "DISPLAYFROM":
      return casemapKey(addressDisplay(h?.from));
    case "DISPLAYTO":
      return casemapKey(addressDisplay(h?.to));
  }
}

function compareKeys(a: Key, b: Key): number {
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(a as Buffer, b as Buffer);
}

/** The items in SORT order: criteria in turn (REVERSE flips one), ties by sequence number. */
export function sortItems<T extends SortItem>(items: readonly T[], criteria: readonly SortCriterion[]): T[] {
  // Each key computed once per message.
  const rows = items.map((item) => ({ item, keys: criteria.map((c) => keyOf(item, c.key)) }));
  rows.sort((x, y) => {
    for (let i = 0; i < criteria.length; i++) {
      const c = compareKeys(x.keys[i]!, y.keys[i]!);
      if (c !== 0) return criteria[i]!.reverse ? -c : c;
    }
    return x.item.seq - y.item.seq;
  });
  return rows.map((r) => r.item);
}
