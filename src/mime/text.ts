// Text views of a message for IMAP SEARCH (RFC 3501 §6.4.4, RFC 9051
// §6.4.4: HEADER, SUBJECT/FROM/…, BODY, TEXT): header values with RFC 2047
// encoded words decoded, and the text/* parts with their transfer encoding
// (RFC 2045 §6) and charset undone. Matching is the caller's; containsFold
// is a simple case-insensitive substring test it may use.
//
// SECURITY: the message is attacker-controlled. Nothing here throws; the
// body text is capped at MAX_TEXT characters (the rest is not searched), and
// the work per part is linear in its size. Unknown charsets fall back to
// UTF-8-if-valid-else-Latin-1 instead of failing.
//
// bodyText covers every text/* leaf, including those inside encapsulated
// messages, whose headers (decoded) are part of the body text too, as the
// encapsulated header is body of the outer message. Other media types
// (images, application/*) are not text and are skipped.
import { getAll, type HeaderBlock } from "./header.js";
import { decodeCharset, decodeWords } from "./encoded-words.js";
import { decodeTransfer } from "./sections.js";
import type { MimePart } from "./structure.js";

/** Most characters of body text produced for searching. */
export const MAX_TEXT = 10 * 1024 * 1024;

/** The values of every field `name`, unfolded, RFC 2047-decoded. */
export function headerText(block: HeaderBlock, name: string): string[] {
  return getAll(block, name).map((f) => decodeWords(f.value));
}

/** All fields of a header as "Name: decoded value" lines. */
export function headerBlockText(block: HeaderBlock): string {
  let s = "";
  for (const f of block.fields) if (f.name !== "") s += `${f.name}: ${decodeWords(f.value)}\n`;
  return s;
}

/** The decoded text of every text/* part (and encapsulated headers), at most `max` characters. */
export function bodyText(buf: Buffer, root: MimePart, max = MAX_TEXT): string {
  const out: string[] = [];
  let left = max;
  const add = (s: string) => {
    if (left <= 0 || s === "") return;
    if (s.length > left) s = s.slice(0, left);
    out.push(s);
    left -= s.length;
  };
  // Depth-first, in message order; the root's own header is not body.
  const stack: { part: MimePart; withHeader: boolean }[] = [{ part: root, withHeader: false }];
  while (stack.length && left > 0) {
    const { part, withHeader } = stack.pop()!;
    if (withHeader) add(headerBlockText(part.header) + "\n");
    if (part.type === "multipart") {
      for (let i = part.parts.length - 1; i >= 0; i--) stack.push({ part: part.parts[i], withHeader: false });
    } else if (part.message) {
      stack.push({ part: part.message, withHeader: true });
    } else if (part.type === "text") {
      add(partText(buf, part, left) + "\n");
    }
  }
  return out.join("");
}

/** One leaf part's body as text: transfer decoding, then charset (bytes beyond ~4×max are not read). */
export function partText(buf: Buffer, part: MimePart, max = MAX_TEXT): string {
  let body = buf.subarray(part.bodyStart, part.end);
  const limit = max * 4 + 4;
  if (body.length > limit) body = body.subarray(0, limit);
  const decoded = decodeTransfer(body, part.encoding) ?? body;
  return decodeCharset(decoded, part.params.get("charset"));
}

/** Decoded headers, a blank line, then the body text (SEARCH TEXT). */
export function fullText(buf: Buffer, root: MimePart, max = MAX_TEXT): string {
  const head = headerBlockText(root.header);
  return head + "\n" + bodyText(buf, root, Math.max(0, max - head.length));
}

/** The case fold used by containsFold: NFC, then lower case. */
export function foldCase(s: string): string {
  return s.normalize("NFC").toLowerCase();
}

/** Case-insensitive substring test (simple Unicode fold: NFC + toLowerCase). */
export function containsFold(haystack: string, needle: string): boolean {
  return foldCase(haystack).includes(foldCase(needle));
}
