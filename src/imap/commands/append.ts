// APPEND (RFC 9051 §6.3.12) with CATENATE (RFC 4469), MULTIAPPEND (RFC 3502: several messages,
// all or none), APPENDLIMIT (RFC 7889: [TOOBIG] above imap.max_message_size)
// and UIDPLUS (RFC 4315 [APPENDUID]). Messages arrive as literals the
// reader bounded; each is stored as a fsynced blob before one transaction
// makes them all visible (mailstore.append). A message may come as a
// literal8 (BINARY, RFC 3516: parts holding NUL are stored base64-encoded)
// or as UTF8 (literal8) (RFC 6855 §4); message-args.ts parseAppend reads the arguments.
import type { CommandHandler } from "./index.js";
import { encodeBinaryParts } from "../../mime/binary.js";
import type { NewMessage } from "../../mailstore/mailstore.js";
import { formatSequenceSet } from "../sequence.js";
import { parseAppend, type CatenatePart } from "../message-args.js";
import type { ImapSession } from "../session.js";
import { parseImapUrl } from "../imap-url.js";
import { parseMime } from "../../mime/structure.js";
import { partialBytes, sectionBytes } from "../../mime/sections.js";
import { imapString } from "../quote.js";
import { withArgs } from "./reply.js";

/**
 * CATENATE (RFC 4469 §5): the pieces joined; a URL names a part of a
 * message in one of this user's mailboxes. Any URL that does not resolve
 * fails the whole APPEND with [BADURL url]; the result is bounded by APPENDLIMIT.
 */
async function catenate(s: ImapSession, parts: CatenatePart[]): Promise<{ ok: true; value: Buffer } | { ok: false; error: string; code: string }> {
  const pieces: Buffer[] = [];
  let size = 0;
  for (const part of parts) {
    let piece: Buffer | undefined;
    if ("text" in part) piece = part.text;
    else {
      const url = parseImapUrl(part.url, s.utf8);
      const box = url && (await s.mailstore.mailbox(s.user!.id, url.mailbox));
      const message = box && (url.uidValidity === undefined || url.uidValidity === box.uidValidity) ? await s.stores.mailboxes.getMessage(box.id, url.uid) : undefined;
      const buf = message && (await s.mailstore.readIfPresent(message));
      if (url && buf) {
        const bytes = url.section ? sectionBytes(buf, parseMime(buf), url.section) : buf;
        if (bytes) piece = url.partial ? partialBytes(bytes, url.partial.offset, url.partial.length) : bytes;
      }
      if (!piece) return { ok: false, error: "Cannot use this URL", code: `BADURL ${imapString(part.url)}` };
    }
    size += piece.length;
    if (size > s.config.imap.max_message_size) return { ok: false, error: "Message too large", code: "TOOBIG" };
    pieces.push(piece);
  }
  return { ok: true, value: Buffer.concat(pieces) };
}

export const appendCommands: [string, CommandHandler][] = [
  ["APPEND", withArgs(["auth", "selected"], (cmd, s) => parseAppend(cmd.args, s.utf8), async (s, tag, args) => {
    const now = Date.now();
    const box = await s.mailstore.mailbox(s.user!.id, args.mailbox);
    if (!box) return s.no(tag, "Mailbox does not exist", "TRYCREATE");
    const messages: NewMessage[] = [];
    for (const m of args.messages) {
      let data = m.data;
      if (m.catenate) {
        const joined = await catenate(s, m.catenate);
        if (!joined.ok) return s.no(tag, joined.error, joined.code);
        data = joined.value;
      }
      if (data.length === 0) return s.no(tag, "Cannot append an empty message");
      if (data.length > s.config.imap.max_message_size) return s.no(tag, "Message too large", "TOOBIG");
      // literal8 (RFC 3516 §4.3): parts holding NUL are stored base64-encoded, so that BODY[] can send them.
      messages.push({ data: m.binary ? encodeBinaryParts(data) : data, flags: m.flags, internalDate: m.date?.date.getTime() ?? now });
    }
    const total = messages.reduce((n, m) => n + m.data.length, 0);
    if (await s.overQuota(total)) return s.no(tag, "Quota exceeded", "OVERQUOTA");
    const records = await s.mailstore.append(box, messages);
    s.log.info({ mailbox: box.name, messages: records.length, size: total }, "append");
    s.ok(tag, "APPEND completed", `APPENDUID ${box.uidValidity} ${formatSequenceSet(records.map((r) => r.uid))}`);
  })],
];
