// Header sections of a message or MIME part (RFC 5322 §2.2 fields and
// §2.2.3 folding; RFC 2045 §3 for MIME part headers).
//
// SECURITY: the bytes are attacker-controlled. Parsing never throws, is
// linear in the header size, and copies nothing larger than the header.
// Leniency follows what mail servers (Dovecot in particular) do with real
// mail: bare LF ends lines like CRLF; continuation lines (starting with
// SP/HT) belong to the field above; a header without the blank line ends at
// `end`. A line that is not a field (no colon, an empty or over-long name of
// more than 1000 bytes, or whitespace with no field above) is kept, with its
// continuation lines, as a nameless field (name "") that no lookup matches,
// so that HEADER.FIELDS.NOT can return it as Dovecot does. Field values are
// unfolded (CR/LF removed; a line break not followed by whitespace becomes
// one space) and the whitespace after the colon is dropped. At most
// MAX_FIELDS fields are kept (see there).

/** A header field, as found in the message. */
export interface HeaderField {
  /** Field name as written (decoded like `value` if it holds 8-bit bytes); "" for a line that is not a field. */
  name: string;
  /** `name` in lower case, for lookups. */
  lower: string;
  /** The whole field: name, colon, value and folding, without the final line break. */
  raw: Buffer;
  /** Unfolded value: UTF-8 when its bytes are valid UTF-8, else Latin-1. */
  value: string;
  /** Unfolded value as a binary string (one char per byte), for byte-exact output. */
  bin: string;
  /** Offset of the field's first byte in the message. */
  start: number;
  /** Offset after the field's final line break (or the header end). */
  end: number;
}

export interface HeaderBlock {
  /** Offset of the header's first byte. */
  start: number;
  fields: HeaderField[];
  /** Offset after the blank line that ends the header (or where the header was cut off). */
  headerEnd: number;
  /** Where the body starts: always equal to headerEnd. */
  bodyStart: number;
  /** True when the header ended with a blank line (false: end of input or a stop line). */
  blankLine: boolean;
  /** More than MAX_FIELDS fields: only the first MAX_FIELDS are in `fields`. */
  truncated: boolean;
}

export interface ParseHeaderOptions {
  /**
   * Called at the start of each line that would begin a new field; when it
   * returns true the header ends before that line, and the line break before
   * it is not part of the header (RFC 2046 §5.1.1: it belongs to a boundary).
   */
  stopAt?: (lineStart: number) => boolean;
}

/** Longest field name accepted (RFC 5322 §2.1.1 line limit). */
export const MAX_FIELD_NAME = 1000;
/**
 * Most fields kept per header. Beyond it the header is still scanned to its
 * end (HEADER and TEXT stay exact) but later fields are invisible to lookups
 * and ENVELOPE; HEADER.FIELDS[.NOT] rescans such a header with scanHeader.
 * Keeps a 25 MB header of tiny fields from costing gigabytes.
 */
export const MAX_FIELDS = 10_000;

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;

export function parseHeader(buf: Buffer, start = 0, end = buf.length, opts: ParseHeaderOptions = {}): HeaderBlock {
  start = Math.max(0, Math.min(start, buf.length));
  end = Math.max(start, Math.min(end, buf.length));
  const fields: HeaderField[] = [];
  let truncated = false;
  const r = scanHeader(buf, start, end, opts.stopAt, (fs, ce, fe) => {
    if (fields.length < MAX_FIELDS) fields.push(makeField(buf, fs, ce, fe));
    else truncated = true;
  });
  return { start, fields, headerEnd: r.headerEnd, bodyStart: r.headerEnd, blankLine: r.blankLine, truncated };
}

/**
 * The line scanner under parseHeader: calls onField(start, contentEnd, end)
 * for every field (or non-field line group) of the header in [start, end),
 * where contentEnd excludes the field's final line break and end includes
 * it. Allocates nothing per field.
 */
export function scanHeader(
  buf: Buffer,
  start: number,
  end: number,
  stopAt: ((lineStart: number) => boolean) | undefined,
  onField: (start: number, contentEnd: number, end: number) => void,
): { headerEnd: number; blankLine: boolean } {
  let pos = start;
  let fieldStart = -1; // start of the field being collected, -1 when none
  let fieldContentEnd = 0; // end of its last line, without the line break
  let headerEnd = end;
  let blankLine = false;

  const flush = (fieldEnd: number) => {
    if (fieldStart >= 0) onField(fieldStart, fieldContentEnd, fieldEnd);
    fieldStart = -1;
  };

  while (pos < end) {
    const c = buf[pos];
    // A blank line ends the header.
    if (c === LF || (c === CR && pos + 1 < end && buf[pos + 1] === LF)) {
      flush(pos);
      headerEnd = pos + (c === LF ? 1 : 2);
      blankLine = true;
      break;
    }
    const continuation = c === SP || c === HT;
    if (!continuation && stopAt && stopAt(pos)) {
      // The line break before the stop line belongs to what stops us.
      let cut = pos;
      if (cut > start && buf[cut - 1] === LF) {
        cut--;
        if (cut > start && buf[cut - 1] === CR) cut--;
      }
      if (fieldStart >= 0 && fieldContentEnd > cut) fieldContentEnd = cut;
      flush(cut);
      headerEnd = cut;
      break;
    }
    let nl = buf.indexOf(LF, pos);
    if (nl === -1 || nl >= end) nl = end;
    let contentEnd = nl;
    if (nl < end && contentEnd > pos && buf[contentEnd - 1] === CR) contentEnd--;
    const next = nl < end ? nl + 1 : end;
    if (continuation && fieldStart >= 0) {
      fieldContentEnd = contentEnd;
    } else {
      flush(pos);
      fieldStart = pos;
      fieldContentEnd = contentEnd;
    }
    pos = next;
  }
  flush(end); // a header cut off by `end`
  return { headerEnd, blankLine };
}

/** The lower-cased name of the field at [start, contentEnd), "" when the line is not a field. */
export function fieldNameAt(buf: Buffer, start: number, contentEnd: number): string {
  let colon = buf.indexOf(0x3a, start);
  if (colon === -1 || colon >= contentEnd) return "";
  const lf = buf.indexOf(LF, start);
  if (lf !== -1 && lf < colon) return "";
  while (colon > start && (buf[colon - 1] === SP || buf[colon - 1] === HT)) colon--;
  if (colon === start || colon - start > MAX_FIELD_NAME) return "";
  return binToText(buf.toString("latin1", start, colon)).toLowerCase();
}

function makeField(buf: Buffer, start: number, contentEnd: number, end: number): HeaderField {
  // The name is what precedes the colon on the first line.
  let colon = -1;
  for (let i = start; i < contentEnd; i++) {
    const c = buf[i];
    if (c === 0x3a) {
      colon = i;
      break;
    }
    if (c === LF) break;
  }
  let nameEnd = colon;
  while (nameEnd > start && (buf[nameEnd - 1] === SP || buf[nameEnd - 1] === HT)) nameEnd--;
  if (colon === -1 || nameEnd === start || nameEnd - start > MAX_FIELD_NAME) {
    // Not a field: kept, nameless, so that HEADER.FIELDS.NOT can return it.
    const bin = unfold(buf.toString("latin1", start, contentEnd));
    return { name: "", lower: "", raw: buf.subarray(start, contentEnd), value: binToText(bin), bin, start, end };
  }
  const nameBin = buf.toString("latin1", start, nameEnd);
  const name = binToText(nameBin);
  const bin = unfold(buf.toString("latin1", colon + 1, contentEnd));
  return { name, lower: name.toLowerCase(), raw: buf.subarray(start, contentEnd), value: binToText(bin), bin, start, end };
}

/**
 * Unfolds a value (binary string): every run of CR/LF is removed, and
 * replaced by one space when the next char is not whitespace; leading
 * whitespace is dropped.
 */
export function unfold(bin: string): string {
  if (bin.includes("\n") || bin.includes("\r")) bin = bin.replace(/[\r\n]+([^ \t\r\n]?)/g, (_m, c: string) => (c ? " " + c : ""));
  let i = 0;
  while (i < bin.length && (bin.charCodeAt(i) === SP || bin.charCodeAt(i) === HT)) i++;
  return i === 0 ? bin : bin.slice(i);
}

const utf8Fatal = new TextDecoder("utf-8", { fatal: true });

/** Binary string → text: UTF-8 when valid, else Latin-1 (i.e. unchanged). */
export function binToText(bin: string): string {
  if (!/[\x80-\xff]/.test(bin)) return bin;
  try {
    return utf8Fatal.decode(Buffer.from(bin, "latin1"));
  } catch {
    return bin;
  }
}

/** Bytes → text: UTF-8 when valid, else Latin-1. */
export function bytesToText(b: Buffer): string {
  return binToText(b.toString("latin1"));
}

/** The first field called `name` (case-insensitive), or undefined. */
export function get(block: HeaderBlock, name: string): HeaderField | undefined {
  const lower = name.toLowerCase();
  if (lower === "") return undefined;
  return block.fields.find((f) => f.lower === lower);
}

/** Every field called `name` (case-insensitive), in message order. */
export function getAll(block: HeaderBlock, name: string): HeaderField[] {
  const lower = name.toLowerCase();
  if (lower === "") return [];
  return block.fields.filter((f) => f.lower === lower);
}
