// APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502: several messages,
// all or none), APPENDLIMIT (RFC 7889: [TOOBIG] above imap.max_message_size)
// and UIDPLUS (RFC 4315 [APPENDUID]). Messages arrive as literals the
// reader bounded; each is stored as a fsynced blob before one transaction
// makes them all visible (mailstore.append). A message may come as a
// literal8 (BINARY, RFC 3516) or as UTF8 (literal8) (RFC 6855 §4), stored as
// sent either way; args.ts parseAppend reads the arguments.
import type { CommandHandler } from "./index.js";
import { encodeBinaryParts } from "../../mime/binary.js";
import type { NewMessage } from "../../mailstore/mailstore.js";
import { formatSequenceSet } from "../sequence.js";
import { parseAppend } from "../args.js";
import { withArgs } from "./reply.js";

export const appendCommands: [string, CommandHandler][] = [
  ["APPEND", withArgs(["auth", "selected"], (cmd, s) => parseAppend(cmd.args, s.utf8), async (s, tag, args) => {
    const now = Date.now();
    const messages: NewMessage[] = [];
    for (const m of args.messages) {
      if (m.data.length === 0) return s.no(tag, "Cannot append an empty message");
      if (m.data.length > s.config.imap.max_message_size) return s.no(tag, "Message too large", "TOOBIG");
      // literal8 (RFC 3516 §4.3): parts holding NUL are stored base64-encoded, so that BODY[] can send them.
      messages.push({ data: m.binary ? encodeBinaryParts(m.data) : m.data, flags: m.flags, internalDate: m.date?.date.getTime() ?? now });
    }
    const box = await s.mailstore.mailbox(s.user!.id, args.mailbox);
    if (!box) return s.no(tag, "Mailbox does not exist", "TRYCREATE");
    const user = await s.stores.directory.getUserById(s.user!.id);
    const total = messages.reduce((n, m) => n + m.data.length, 0);
    if (user && user.quota > 0 && user.usage + total > user.quota) return s.no(tag, "Quota exceeded", "OVERQUOTA");
    const records = await s.mailstore.append(box, messages);
    s.log.info({ mailbox: box.name, messages: records.length, size: total }, "append");
    s.ok(tag, "APPEND completed", `APPENDUID ${box.uidValidity} ${formatSequenceSet(records.map((r) => r.uid))}`);
  })],
];
