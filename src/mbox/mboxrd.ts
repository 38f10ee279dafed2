// mboxrd export and import (the mbox family as described by RFC 4155 and the
// "mboxrd" quoting convention: every line matching /^>*From / gets one more
// ">" on write and loses one on read, which makes quoting reversible).
//
// Trusted with: message bytes from the store (writer) and arbitrary,
// possibly hostile mbox files (reader). The reader never holds more than one
// message plus one line in memory and refuses messages over maxMessageSize.
// Neither side interprets MIME; only the From_ line, the quoting and the mbox
// metadata headers (Status, X-Status, X-Keywords, X-UID, Content-Length) of
// the header block are touched.
//
// Exact inverse: readMbox(encodeMboxrdMessage(m)) gives back m with line ends
// as CRLF, a final CRLF added when m lacks one, and metadata headers gone.
// (The writer drops metadata headers already in m so that stale ones, e.g. a
// Content-Length that mboxcl readers would trust, never reach the file.)
// A bare CR directly before a line end cannot be told apart from CRLF.

export interface MboxMessage {
  sender: string;
  date: Date | undefined;
  flags: string[];
  /** The message with CRLF line endings. */
  data: Buffer;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const LF = Buffer.from("\n");
const CRLF = Buffer.from("\r\n");
const META_RE = /^(status|x-status|x-keywords|x-uid|content-length)[ \t]*:/i;
const X_STATUS: ReadonlyArray<readonly [string, string]> = [
  ["\\Answered", "A"], ["\\Flagged", "F"], ["\\Deleted", "D"], ["\\Draft", "T"],
];
const KEYWORD_RE = /^[^\s\\(){%*"\]\x00-\x1f\x7f]+$/;

const DATE_SRC =
  "(Mon|Tue|Wed|Thu|Fri|Sat|Sun) +(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\\d{1,2}) +" +
  "(\\d{1,2}):(\\d{2})(?::(\\d{2}))?(?: +(?:[A-Z]{1,5}|([+-]\\d{4})))? +(\\d{4})(?: +([+-]\\d{4}))?";
/** A complete From_ line: sender (possibly empty), asctime date, optional UUCP tail. */
const FROM_RE = new RegExp(`^From (.*?) +${DATE_SRC}(?: +remote from .*)? *$`);

const pad2 = (n: number): string => String(n).padStart(2, "0");

/** "From sender Www Mmm dd hh:mm:ss yyyy\n" (asctime layout, UTC; day space-padded). */
export function formatFromLine(sender: string, date: Date): string {
  // Whitespace or controls would break the line (or inject a new one).
  const who = sender.replace(/[\x00-\x20\x7f]/g, "_") || "MAILER-DAEMON";
  const d = Number.isNaN(date.getTime()) ? new Date(0) : date;
  const day = String(d.getUTCDate()).padStart(2, " ");
  const time = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
  return `From ${who} ${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${day} ${time} ${d.getUTCFullYear()}\n`;
}

const isBlank = (line: Buffer): boolean => line.length === 0 || (line.length === 1 && line[0] === 13);
const isWsp = (byte: number | undefined): boolean => byte === 32 || byte === 9;

/** True for lines matching /^>*From /. */
function needsQuote(line: Buffer): boolean {
  let i = 0;
  while (line[i] === 62) i++;
  return startsWithFrom(line, i);
}

/** "From " at offset i (compared byte by byte: this runs for every line). */
function startsWithFrom(line: Buffer, i = 0): boolean {
  return line[i] === 70 && line[i + 1] === 114 && line[i + 2] === 111 && line[i + 3] === 109 && line[i + 4] === 32;
}

function isMetaHeader(line: Buffer): boolean {
  return META_RE.test(line.toString("latin1", 0, 40));
}

/** Lines without their LF; a CR before the LF is dropped, any other CR kept. */
function splitLines(message: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  while (start < message.length) {
    const lf = message.indexOf(10, start);
    if (lf < 0) {
      lines.push(message.subarray(start));
      break;
    }
    const end = lf > start && message[lf - 1] === 13 ? lf - 1 : lf;
    lines.push(message.subarray(start, end));
    start = lf + 1;
  }
  return lines;
}

function metadataLines(flags: string[]): string[] {
  const has = (f: string): boolean => flags.some((x) => x.toLowerCase() === f.toLowerCase());
  const letters = X_STATUS.filter(([flag]) => has(flag)).map(([, letter]) => letter).join("");
  const keywords = [...new Set(flags.filter((f) => !f.startsWith("\\") && KEYWORD_RE.test(f)))];
  if (!has("\\Seen") && letters === "" && keywords.length === 0) return [];
  const out = [`Status: ${has("\\Seen") ? "RO" : "O"}`];
  if (letters !== "") out.push(`X-Status: ${letters}`);
  if (keywords.length > 0) out.push(`X-Keywords: ${keywords.join(" ")}`);
  return out;
}

/**
 * One message as mboxrd: From_ line, LF line ends, quoted From lines,
 * Status/X-Status (and X-Keywords for keyword flags) at the end of the header
 * block, then the blank separator line.
 */
export function encodeMboxrdMessage(message: Buffer, sender: string, date: Date, flags: string[]): Buffer {
  const lines = splitLines(message);
  let headerEnd = lines.findIndex(isBlank);
  if (headerEnd < 0) headerEnd = lines.length;
  const out: Buffer[] = [Buffer.from(formatFromLine(sender, date), "latin1")];
  let inMeta = false;
  for (let i = 0; i < headerEnd; i++) {
    const line = lines[i]!;
    inMeta = (inMeta && isWsp(line[0])) || isMetaHeader(line);
    if (!inMeta) pushQuoted(out, line);
  }
  for (const meta of metadataLines(flags)) out.push(Buffer.from(meta + "\n", "latin1"));
  for (let i = headerEnd; i < lines.length; i++) pushQuoted(out, lines[i]!);
  out.push(LF);
  return Buffer.concat(out);
}

const GT = Buffer.from(">");

function pushQuoted(out: Buffer[], line: Buffer): void {
  if (needsQuote(line)) out.push(GT);
  out.push(line, LF);
}

/** Parses a From_ line (without line end); strict = must carry a valid date. */
function parseFromLine(text: string, strict: boolean): { sender: string; date: Date | undefined } | undefined {
  const m = FROM_RE.exec(text);
  if (!m) return strict ? undefined : { sender: text.slice(5).trim().split(/\s+/)[0] ?? "", date: undefined };
  const [, sender, , mon, day, hh, mm, ss, tz1, year, tz2] = m;
  const tz = tz1 ?? tz2;
  let ms = Date.UTC(Number(year), MONTHS.indexOf(mon!), Number(day), Number(hh), Number(mm), Number(ss ?? 0));
  if (tz) ms -= (tz[0] === "-" ? -1 : 1) * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(3, 5))) * 60_000;
  const valid = Number(day) >= 1 && Number(day) <= 31 && Number(hh) < 24 && Number(mm) < 60 && Number(ss ?? 0) < 61;
  return { sender: sender!.trim(), date: valid && Number.isFinite(ms) ? new Date(ms) : undefined };
}

class MessageBuilder {
  readonly parts: Buffer[] = [];
  size = 0;
  private metaSize = 0;
  private lastLineStart = 0;
  private lastBlank = false;
  private inHeader = true;
  private inMeta = false;
  private readonly meta: { name: string; value: string }[] = [];

  constructor(readonly number: number, readonly sender: string, readonly date: Date | undefined) {}

  /** Adds one line (no LF; a trailing CR is kept and completes a CRLF). */
  add(line: Buffer, max: number): void {
    const blank = isBlank(line);
    if (this.inHeader) {
      if (blank) this.inHeader = false;
      else if ((this.inMeta && isWsp(line[0])) || (this.inMeta = isMetaHeader(line))) {
        // Metadata is not part of the message but is held too: bound it the same way.
        if ((this.metaSize += line.length) > max) throw tooLarge(this.number, max);
        const text = line.toString("latin1");
        const colon = isWsp(line[0]) ? -1 : text.indexOf(":");
        if (colon < 0) this.meta[this.meta.length - 1]!.value += " " + text.trim();
        else this.meta.push({ name: text.slice(0, colon).trim().toLowerCase(), value: text.slice(colon + 1).trim() });
        return;
      }
    }
    if (line[0] === 62 && needsQuote(line)) line = line.subarray(1);
    this.lastLineStart = this.parts.length;
    this.lastBlank = blank;
    this.parts.push(line, line[line.length - 1] === 13 ? LF : CRLF);
    this.size += line.length + (line[line.length - 1] === 13 ? 1 : 2);
    // A trailing blank line may turn out to be the separator: don't count it yet.
    if ((blank ? this.size - 2 : this.size) > max) throw tooLarge(this.number, max);
  }

  finish(dropSeparator: boolean, max: number): MboxMessage {
    if (dropSeparator && this.lastBlank) this.parts.length = this.lastLineStart;
    const data = Buffer.concat(this.parts);
    if (data.length > max) throw tooLarge(this.number, max);
    const get = (name: string): string => this.meta.filter((m) => m.name === name).map((m) => m.value).join(" ");
    const flags: string[] = [];
    if (get("status").includes("R")) flags.push("\\Seen");
    const xs = get("x-status");
    for (const [flag, letter] of X_STATUS) if (xs.includes(letter)) flags.push(flag);
    for (const kw of get("x-keywords").split(/[\s,]+/)) if (kw !== "" && KEYWORD_RE.test(kw) && !flags.includes(kw)) flags.push(kw);
    return { sender: this.sender, date: this.date, flags, data };
  }
}

function tooLarge(n: number, max: number): Error {
  return new Error(`mbox message ${n} is larger than the maximum message size of ${max} bytes`);
}

/**
 * Splits an mbox (mboxrd, also reads mboxo/mboxcl files) into messages.
 * A message starts at a "From " line at the start of the file or after a
 * blank line, or at a well-formed From_ line with a date anywhere.
 */
export async function* readMbox(
  input: AsyncIterable<Buffer>,
  opts: { maxMessageSize?: number } = {},
): AsyncGenerator<MboxMessage> {
  const max = opts.maxMessageSize ?? Infinity;
  let current: MessageBuilder | undefined;
  let count = 0;
  let prevBlank = false;
  let lineNo = 0;
  let carry: Buffer[] = [];
  let carryLen = 0;

  const line = (content: Buffer): MboxMessage | undefined => {
    lineNo++;
    if (startsWithFrom(content)) {
      const text = content.toString("latin1").replace(/\r$/, "");
      const from = parseFromLine(text, current !== undefined && !prevBlank);
      if (from) {
        const done = current?.finish(prevBlank, max);
        current = new MessageBuilder(++count, from.sender, from.date);
        prevBlank = false;
        return done;
      }
    }
    if (current === undefined) {
      if (isBlank(content)) return undefined;
      throw new Error(`not an mbox file: line ${lineNo} does not start with "From "`);
    }
    current.add(content, max);
    prevBlank = isBlank(content);
    return undefined;
  };

  for await (const chunk of input) {
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(10, start);
      if (lf < 0) {
        carry.push(chunk.subarray(start));
        carryLen += chunk.length - start;
        if ((current?.size ?? 0) + carryLen > max + 2) throw tooLarge(current ? count : count + 1, max);
        break;
      }
      let content = chunk.subarray(start, lf);
      if (carryLen > 0) {
        content = Buffer.concat([...carry, content]);
        carry = [];
        carryLen = 0;
      }
      start = lf + 1;
      const done = line(content);
      if (done) yield done;
    }
  }
  if (carryLen > 0) {
    const done = line(Buffer.concat(carry));
    if (done) yield done;
  }
  if (current) yield current.finish(prevBlank, max);
}
