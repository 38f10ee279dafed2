// FETCH BODY[section]<partial> and BINARY[section] (RFC 3501 §6.4.5,
// RFC 9051 §6.4.5, RFC 3516 §4), plus the transfer decodings they need
// (RFC 2045 §6.7 quoted-printable, §6.8 base64).
//
// SECURITY: sections are cut from an attacker-controlled message with
// numbers chosen by the client. Nothing here throws; a section that does not
// exist yields null; results are subarrays of the message (no copy) except
// HEADER.FIELDS[.NOT] and BINARY, whose size is bounded by the message.
// Decoders are single linear passes and accept any garbage.
//
// Section rules:
// - Part numbers index multipart children, 1-based. A non-multipart part
//   has only part 1: itself (so BODY[1] of a one-part message is its body,
//   and, as in Dovecot, BODY[2.1] of a leaf part 2 is part 2); numbers after
//   that part 1 are only valid when it is a message/rfc822.
// - Numbers after a message/rfc822 (or message/global) part address the
//   parts of the encapsulated message; HEADER, HEADER.FIELDS[.NOT] and TEXT
//   of such a part apply to the encapsulated message, and are null for a
//   part that is not a message.
// - MIME is the part's own MIME header (not valid for the whole message).
// - HEADER.FIELDS returns the matching fields (names compared
//   case-insensitively) in message order, each with CRLF, then the blank
//   line; HEADER.FIELDS.NOT all the others, including the header's lines
//   that are not fields (no colon), as Dovecot does.
import type { MimePart } from "./structure.js";
import { fieldNameAt, scanHeader, type HeaderBlock } from "./header.js";
import { base64ToBytes } from "./encoded-words.js";

export type SectionText = "HEADER" | "HEADER.FIELDS" | "HEADER.FIELDS.NOT" | "TEXT" | "MIME";

export interface SectionSpec {
  part: number[];
  text?: SectionText;
  /** Field names for HEADER.FIELDS / HEADER.FIELDS.NOT. */
  fields?: string[];
}

const CRLF = Buffer.from("\r\n", "latin1");

/** The part a section number addresses, or null. `[]` is the message itself. */
export function findPart(root: MimePart, path: readonly number[]): MimePart | null {
  let part: MimePart = root;
  for (let k = 0; k < path.length; k++) {
    const n = path[k];
    if (!Number.isSafeInteger(n) || n < 1) return null;
    const last = k === path.length - 1;
    if (part.type === "multipart") {
      const child = part.parts[n - 1];
      if (!child) return null;
      part = child;
    } else {
      if (n !== 1) return null;
      if (!last && !part.message) return null;
    }
    if (!last && part.message) part = part.message;
  }
  return part;
}

/** The bytes of BODY[section] (without partial), or null when the section does not exist. */
export function sectionBytes(buf: Buffer, root: MimePart, spec: SectionSpec): Buffer | null {
  const part = findPart(root, spec.part);
  if (!part) return null;
  const top = spec.part.length === 0;
  switch (spec.text) {
    case undefined:
      return top ? buf.subarray(root.start, root.end) : buf.subarray(part.bodyStart, part.end);
    case "MIME":
      return top ? null : buf.subarray(part.start, part.headerEnd);
    default: {
      const msg = top ? part : part.message;
      if (!msg) return null;
      if (spec.text === "HEADER") return buf.subarray(msg.start, msg.headerEnd);
      if (spec.text === "TEXT") return buf.subarray(msg.bodyStart, msg.end);
      return headerFields(msg.header, spec.fields ?? [], spec.text === "HEADER.FIELDS.NOT", buf);
    }
  }
}

/** HEADER.FIELDS (or .NOT with `not`): the chosen fields with CRLF each, then a blank line. `buf` is needed for a truncated header. */
export function headerFields(header: HeaderBlock, names: readonly string[], not: boolean, buf?: Buffer): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  wanted.delete(""); // nameless non-field lines are never wanted
  const chunks: Buffer[] = [];
  if (!header.truncated) {
    for (const f of header.fields) if (wanted.has(f.lower) !== not) chunks.push(f.raw, CRLF);
  } else if (buf) {
    // Too many fields to have been kept: rescan the header's bytes.
    scanHeader(buf, header.start, header.headerEnd, undefined, (s, ce) => {
      if (wanted.has(fieldNameAt(buf, s, ce)) !== not) chunks.push(buf.subarray(s, ce), CRLF);
    });
  }
  chunks.push(CRLF);
  return Buffer.concat(chunks);
}

/** RFC 3501 <partial>: `length` bytes from `offset`, clipped to what exists. */
export function partialBytes(b: Buffer, offset: number, length?: number): Buffer {
  const start = Math.min(Math.max(0, Math.floor(offset) || 0), b.length);
  if (length === undefined) return b.subarray(start);
  const end = Math.min(b.length, start + Math.max(0, Math.floor(length) || 0));
  return b.subarray(start, end);
}

/**
 * BINARY[section] (RFC 3516): the part's body with its Content-Transfer-
 * Encoding undone. `[]` is the whole message, its body decoded when it is a
 * single part. Multipart and message parts are returned as they are (their
 * children keep their own encodings). "unknown-cte" when the encoding is
 * not one this server can decode (the caller answers NO [UNKNOWN-CTE]).
 */
export function binaryBytes(buf: Buffer, root: MimePart, part: readonly number[]): Buffer | null | "unknown-cte" {
  const p = findPart(root, part);
  if (!p) return null;
  const body = buf.subarray(p.bodyStart, p.end);
  let decoded: Buffer | null | "unknown-cte";
  if (p.type === "multipart" || p.message) decoded = body;
  else decoded = decodeTransfer(body, p.encoding);
  if (decoded === null) decoded = "unknown-cte";
  if (decoded === "unknown-cte" || part.length > 0) return decoded;
  return decoded === body ? buf.subarray(root.start, root.end) : Buffer.concat([buf.subarray(root.start, root.headerEnd), decoded]);
}

/** Undoes a Content-Transfer-Encoding; null when the encoding is unknown. */
export function decodeTransfer(body: Buffer, encoding: string): Buffer | null {
  switch (encoding.toUpperCase()) {
    case "":
    case "7BIT":
    case "8BIT":
    case "BINARY":
      return body;
    case "BASE64":
      return base64ToBytes(body.toString("latin1"));
    case "QUOTED-PRINTABLE":
      return decodeQuotedPrintable(body);
    default:
      return null;
  }
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * RFC 2045 §6.7 quoted-printable: "=XX" is a byte (lower-case hex accepted),
 * "=" at the end of a line (trailing whitespace allowed) is a soft line
 * break, trailing whitespace on a line is transport padding and dropped, any
 * other "=" is kept as it is. Line breaks keep their form (CRLF or LF).
 */
export function decodeQuotedPrintable(b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(b.length);
  let o = 0;
  const n = b.length;
  let i = 0;
  while (i < n) {
    // One line: [i, eol) content, eol at the LF or n.
    const lf = b.indexOf(0x0a, i);
    const eol = lf === -1 ? n : lf;
    let contentEnd = eol;
    if (contentEnd > i && b[contentEnd - 1] === 0x0d) contentEnd--;
    const brk = lf === -1 ? i : contentEnd; // start of the line break
    let e = contentEnd;
    while (e > i && (b[e - 1] === 0x20 || b[e - 1] === 0x09)) e--;
    let soft = false;
    for (let k = i; k < e; k++) {
      const c = b[k];
      if (c === 0x3d) {
        if (k === e - 1) {
          soft = true;
          break;
        }
        if (k + 2 < e) {
          const h = hexVal(b[k + 1]);
          const l = hexVal(b[k + 2]);
          if (h >= 0 && l >= 0) {
            out[o++] = (h << 4) | l;
            k += 2;
            continue;
          }
        }
      }
      out[o++] = c;
    }
    if (lf === -1) break;
    if (!soft) for (let k = brk; k <= eol; k++) out[o++] = b[k];
    i = eol + 1;
  }
  return out.subarray(0, o);
}
