// SEARCH evaluation (RFC 9051 §6.4.4, RFC 3501 §6.4.4) over the selected
// mailbox's messages: sequence and UID sets, flags, internal and sent dates
// (date only, disregarding time and zone), sizes, header/body/text substrings
// (case-insensitive, after RFC 2047 and transfer/charset decoding, so UTF-8
// searches find encoded text), OR/NOT/nesting, MODSEQ (RFC 7162 §3.1.5).
// A message's text is read only when a key needs it, once per message.
import type { MessageRecord } from "../store/interfaces.js";
import type { SearchKey } from "./search-parse.js";
import { parseMime, type MimePart } from "../mime/structure.js";
import { bodyText, containsFold, fullText, headerText } from "../mime/text.js";
import { binToText, get, getAll, type HeaderBlock } from "../mime/header.js";
import { decodeWords } from "../mime/encoded-words.js";
import { parseAddressList } from "./envelope.js";
import { compareDates, dateOf, type ImapDate } from "./datetime.js";
import { contains, toIntervals } from "./sequence.js";

export interface SearchScope {
  /** UIDs in sequence order. */
  uids: readonly number[];
  message(uid: number): MessageRecord;
  /** The message text; undefined when it is gone meanwhile (it then matches nothing). */
  read(m: MessageRecord): Promise<Buffer | undefined>;
  /** The SEARCHRES result ($), UIDs. */
  saved: readonly number[];
  /** \Recent for this session (none when absent). */
  isRecent?: (uid: number) => boolean;
}

const CONTENT_KEYS = new Set(["header", "body", "text"]);

/** The key uses MODSEQ (RFC 7162 §3.1.5): CONDSTORE is on, and the result carries the highest MODSEQ. */
export function usesModseq(key: SearchKey): boolean {
  if (key.k === "modseq") return true;
  if (key.k === "not") return usesModseq(key.key);
  if (key.k === "or") return usesModseq(key.a) || usesModseq(key.b);
  if (key.k === "and") return key.keys.some(usesModseq);
  return false;
}

function needsContent(key: SearchKey): boolean {
  switch (key.k) {
    case "header":
    case "body":
    case "text":
      return true;
    case "date":
      return key.which === "sent";
    case "not":
      return needsContent(key.key);
    case "or":
      return needsContent(key.a) || needsContent(key.b);
    case "and":
      return key.keys.some(needsContent);
    default:
      return CONTENT_KEYS.has(key.k);
  }
}

interface Candidate {
  seq: number;
  m: MessageRecord;
  content?: { buf: Buffer; root: MimePart };
}

/** UIDs of the messages matching `key`, in sequence order. */
export async function search(scope: SearchScope, key: SearchKey): Promise<number[]> {
  const heavy = needsContent(key);
  const out: number[] = [];
  const last = scope.uids.length;
  const maxUid = scope.uids[last - 1] ?? 0;
  const saved = new Set(scope.saved);
  for (let i = 0; i < last; i++) {
    const m = scope.message(scope.uids[i]);
    const c: Candidate = { seq: i + 1, m };
    if (heavy) {
      const buf = await scope.read(m);
      if (!buf) continue;
      c.content = { buf, root: parseMime(buf) };
    }
    if (matches(key, c, { count: last, maxUid, saved, recent: scope.isRecent ?? (() => false) })) out.push(m.uid);
  }
  return out;
}

function matches(key: SearchKey, c: Candidate, ctx: { count: number; maxUid: number; saved: Set<number>; recent: (uid: number) => boolean }): boolean {
  const { m } = c;
  switch (key.k) {
    case "all":
      return true;
    case "seq":
      return key.set.kind === "saved" ? ctx.saved.has(m.uid) : contains(toIntervals(key.set.ranges, ctx.count), c.seq);
    case "uid":
      return key.set.kind === "saved" ? ctx.saved.has(m.uid) : contains(toIntervals(key.set.ranges, ctx.maxUid), m.uid);
    case "flag": {
      const has = m.flags.some((f) => (key.flag.startsWith("\\") ? f.toLowerCase() === key.flag.toLowerCase() : f === key.flag));
      return key.not ? !has : has;
    }
    case "recent":
      return ctx.recent(m.uid);
    case "new":
      return ctx.recent(m.uid) && !m.flags.includes("\\Seen");
    case "old":
      return !ctx.recent(m.uid);
    case "size":
      return key.op === "larger" ? m.size > key.n : m.size < key.n;
    case "modseq":
      return m.modseq >= key.n;
    case "date": {
      const date = key.which === "internal" ? dateOf(m.internalDate) : sentDate(c);
      if (!date) return false;
      const cmp = compareDates(date, key.date);
      return key.op === "before" ? cmp < 0 : key.op === "on" ? cmp === 0 : cmp >= 0;
    }
    case "header": {
      const values = headerText(c.content!.root.header, key.field);
      if (key.value === "") return values.length > 0;
      if (values.some((v) => containsFold(v, key.value))) return true;
      // FROM, TO, CC, BCC match the envelope's addresses (RFC 3501 §6.4.4), comments and all removed.
      return ADDRESS_FIELDS.has(key.field.toLowerCase()) && addressTexts(c.content!.root.header, key.field).some((v) => containsFold(v, key.value));
    }
    case "body":
      return containsFold(bodyText(c.content!.buf, c.content!.root), key.value);
    case "text":
      return containsFold(fullText(c.content!.buf, c.content!.root), key.value);
    case "not":
      return !matches(key.key, c, ctx);
    case "or":
      return matches(key.a, c, ctx) || matches(key.b, c, ctx);
    case "and":
      return key.keys.every((k) => matches(k, c, ctx));
  }
}

const ADDRESS_FIELDS = new Set(["from", "to", "cc", "bcc", "sender", "reply-to"]);

/** Each address of the fields as "display name <mailbox@host>", names decoded (RFC 2047). */
function addressTexts(header: HeaderBlock, field: string): string[] {
  return getAll(header, field).flatMap((f) => parseAddressList(f.bin)).filter((a) => a.host !== null).map((a) => {
    const name = a.name ? decodeWords(binToText(a.name)) : "";
    return `${name} <${binToText(a.mailbox ?? "")}@${binToText(a.host ?? "")}>`;
  });
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/** The date written in the Date: header, as written (RFC 5322 §3.3), or undefined. */
function sentDate(c: Candidate): ImapDate | undefined {
  const field = get(c.content!.root.header, "date");
  const m = field && /(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})/.exec(field.value);
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[2].toLowerCase());
  if (month < 0) return undefined;
  let y = Number(m[3]);
  if (y < 50) y += 2000;
  else if (y < 1000) y += 1900;
  return { y, m: month + 1, d: Number(m[1]) };
}
