// Binary content arriving by IMAP APPEND as literal8 (RFC 3516 §4.3): a part
// whose body holds NUL octets cannot be sent back in a normal literal (CHAR8
// excludes NUL), so it is stored base64-encoded with its
// Content-Transfer-Encoding changed to match — what BINARY[] decodes back to
// the bytes the client sent. Everything else of the message is kept byte for
// byte. Trusted with attacker-controlled MIME: it never throws; a message
// whose NULs are not inside a part body (a header, say) is left as it is.
import { parseMime, walkParts, type MimePart } from "./structure.js";

const CRLF = "\r\n";

export function encodeBinaryParts(message: Buffer): Buffer {
  if (!message.includes(0)) return message;
  const root = parseMime(message);
  const leaves = [...walkParts(root)]
    .filter((p) => p.parts.length === 0 && !p.message && p.bodyStart < p.end && message.subarray(p.bodyStart, p.end).includes(0))
    .sort((a, b) => a.start - b.start);
  if (leaves.length === 0) return message;
  const pieces: Buffer[] = [];
  let pos = 0;
  for (const part of leaves) {
    if (part.start < pos) continue; // nested in a part already rewritten (cannot happen for leaves; kept safe)
    pieces.push(message.subarray(pos, part.start), rewrittenHeader(message, part), base64Lines(message.subarray(part.bodyStart, part.end)));
    pos = part.end;
  }
  pieces.push(message.subarray(pos));
  if (leaves[leaves.length - 1].end === message.length) pieces.push(Buffer.from(CRLF));
  return Buffer.concat(pieces);
}

/** The part's header with its Content-Transfer-Encoding replaced by base64 (blank line kept). */
function rewrittenHeader(message: Buffer, part: MimePart): Buffer {
  let text = message.subarray(part.start, part.bodyStart).toString("latin1");
  text = text.replace(/^Content-Transfer-Encoding[ \t]*:.*(?:\r?\n[ \t].*)*\r?\n/gim, "");
  const blank = text.endsWith("\r\n\r\n") ? text.length - 2 : text.endsWith("\n\n") ? text.length - 1 : text.length;
  const head = text.slice(0, blank);
  return Buffer.from(`${head}${head.endsWith("\n") || head === "" ? "" : CRLF}Content-Transfer-Encoding: base64${CRLF}${CRLF}`, "latin1");
}

/** Base64 in lines of 76 characters (RFC 2045 §6.8), CRLF between them, none after the last. */
function base64Lines(body: Buffer): Buffer {
  const b64 = body.toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  return Buffer.from(lines.join(CRLF), "latin1");
}
