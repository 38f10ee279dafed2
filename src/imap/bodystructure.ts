// FETCH BODY and BODYSTRUCTURE (RFC 3501 §7.4.2 "BODY"/"BODYSTRUCTURE" and
// the body grammar of §9; RFC 9051 §7.5.2, where message/global is an
// encapsulated message like message/rfc822).
//
// SECURITY: the MIME tree comes from an attacker-controlled message. The
// output is always one well-formed parenthesised IMAP list: every string
// goes through quote.ts (quoted when safe, else a literal with an exact byte
// count), numbers are integers, and depth is bounded by structure.ts
// (MAX_DEPTH), so the recursion here is bounded too.
//
// Shape (matches Dovecot's, field for field):
// - single part: (type subtype (params) id description encoding size
//   [lines — text/*] [envelope body lines — message/rfc822, message/global]
//   [extended: md5 disposition language location])
// - multipart: ((part)(part)… subtype [extended: (params) disposition
//   language location]); a multipart whose boundary never occurs gets one
//   empty text/plain part, as the grammar needs at least one.
// - Type, subtype, parameter names and values, encoding and disposition are
//   written as in the header (Dovecot does the same; clients compare them
//   case-insensitively). Parameter values are unquoted and RFC 2231
//   continuations are merged, but an RFC 2231 extended value stays encoded
//   ("name*" "utf-8''%E2%82%AC"), which keeps the output 7-bit for clients
//   without UTF8=ACCEPT; clients decode RFC 2231 themselves.
// - text/* always has a charset parameter ("charset" "us-ascii" is added when
//   missing, RFC 2045 §5.2); parameter lists are NIL when empty otherwise.
// - Defaults: "text" "plain" for no/invalid Content-Type, "7bit" encoding.
import type { MimePart } from "../mime/structure.js";
import type { RawParam } from "../mime/encoded-words.js";
import { envelope } from "./envelope.js";
import { imapStringBin, type QuoteOptions, type Wire } from "./quote.js";

const EMPTY_BODY = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)';
const EMPTY_BODYSTRUCTURE = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)';

/**
 * BODY (extended=false) or BODYSTRUCTURE (extended=true) of the message
 * parsed into `root` from `buf`. Returns the parenthesised body, as a binary
 * string (see quote.ts: send with toWire).
 */
export function bodyStructure(_buf: Buffer, root: MimePart, extended: boolean, opts: QuoteOptions = {}): Wire {
  return write(root, extended, opts);
}

function write(part: MimePart, ext: boolean, opts: QuoteOptions): Wire {
  const s = (v: string | null) => imapStringBin(v, opts);
  const w = part.wire;
  if (part.type === "multipart") {
    const children = part.parts.length ? part.parts.map((p) => write(p, ext, opts)).join("") : ext ? EMPTY_BODYSTRUCTURE : EMPTY_BODY;
    let out = `(${children} ${s(w.subtype)}`;
    if (ext) out += ` ${params(w.params, false, opts)}${common(part, opts)}`;
    return out + ")";
  }
  const isText = part.type === "text";
  let out = `(${s(w.type)} ${s(w.subtype)} ${params(w.params, isText, opts)} ${s(w.id)} ${s(w.description)} ${w.encoding === null ? '"7bit"' : s(w.encoding)} ${part.bodySize}`;
  if (isText) out += ` ${part.bodyLines}`;
  else if (part.message) out += ` ${envelope(part.message.header, opts)} ${write(part.message, ext, opts)} ${part.bodyLines}`;
  if (ext) out += ` ${s(w.md5)}${common(part, opts)}`;
  return out + ")";
}

function params(list: RawParam[], isText: boolean, opts: QuoteOptions): Wire {
  const items: string[] = [];
  let charset = false;
  for (const p of list) {
    if (p.name.toLowerCase() === "charset") charset = true;
    items.push(`${imapStringBin(p.name, opts)} ${imapStringBin(p.value, opts)}`);
  }
  if (isText && !charset) items.push('"charset" "us-ascii"');
  return items.length ? `(${items.join(" ")})` : "NIL";
}

/** " disposition language location" of the extension data. */
function common(part: MimePart, opts: QuoteOptions): Wire {
  const w = part.wire;
  const s = (v: string | null) => imapStringBin(v, opts);
  const disp = w.disposition === null ? "NIL" : `(${s(w.disposition.type)} ${params(w.disposition.params, false, opts)})`;
  const lang = w.language === null ? "NIL" : `(${w.language.map(s).join(" ")})`;
  return ` ${disp} ${lang} ${s(w.location)}`;
}
