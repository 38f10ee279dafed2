// APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502: several messages,
// all or none), APPENDLIMIT (RFC 7889: [TOOBIG] above imap.max_message_size)
// and UIDPLUS (RFC 4315 [APPENDUID]). Messages arrive as literals the
// reader bounded; each is stored as a fsynced blob before one transaction
// makes them all visible (mailstore.append).
import type { CommandHandler } from "./index.js";
import type { NewMessage } from "../../mailstore/mailstore.js";
import { parseDateTime } from "../datetime.js";
import { formatSequenceSet } from "../sequence.js";
import { flagList, mailboxName } from "./tokens.js";

export const appendCommands: [string, CommandHandler][] = [
  ["APPEND", {
    states: ["auth", "selected"],
    async run(s, cmd) {
      const name = mailboxName(cmd.args[0], s.utf8);
      if (!name.ok) return s.bad(cmd.tag, name.error);
      const messages: NewMessage[] = [];
      let i = 1;
      while (i < cmd.args.length) {
        let flags: string[] = [];
        let internalDate = Date.now();
        if (cmd.args[i]?.t === "list") {
          const parsed = flagList(cmd.args[i]);
          if (!parsed.ok) return s.bad(cmd.tag, parsed.error);
          flags = parsed.value;
          i++;
        }
        const maybeDate = cmd.args[i];
        if (maybeDate?.t === "string" && !maybeDate.literal) {
          const date = parseDateTime(maybeDate.v.toString("latin1"));
          if (!date.ok) return s.bad(cmd.tag, `Invalid date-time: ${date.error}`);
          internalDate = date.value.date.getTime();
          i++;
        }
        const literal = cmd.args[i];
        if (literal?.t !== "string" || !literal.literal) return s.bad(cmd.tag, "Syntax: APPEND mailbox [(flags)] [date-time] literal");
        if (literal.v.length === 0) return s.no(cmd.tag, "Cannot append an empty message");
        if (literal.v.length > s.config.imap.max_message_size) return s.no(cmd.tag, "Message too large", "TOOBIG");
        messages.push({ data: literal.v, flags, internalDate });
        i++;
      }
      if (messages.length === 0) return s.bad(cmd.tag, "Syntax: APPEND mailbox [(flags)] [date-time] literal");
      const box = await s.mailstore.mailbox(s.user!.id, name.value);
      if (!box) return s.no(cmd.tag, "Mailbox does not exist", "TRYCREATE");
      const user = await s.stores.directory.getUserById(s.user!.id);
      const total = messages.reduce((n, m) => n + m.data.length, 0);
      if (user && user.quota > 0 && user.usage + total > user.quota) return s.no(cmd.tag, "Quota exceeded", "OVERQUOTA");
      const records = await s.mailstore.append(box, messages);
      s.log.info({ mailbox: box.name, messages: records.length, size: total }, "append");
      s.ok(cmd.tag, "APPEND completed", `APPENDUID ${box.uidValidity} ${formatSequenceSet(records.map((r) => r.uid))}`);
    },
  }],
];
