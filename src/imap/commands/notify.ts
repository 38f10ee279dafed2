// NOTIFY (RFC 5465 §3.1): NOTIFY SET replaces what the session is told of
// unasked (never merged with an earlier SET), NOTIFY NONE turns it off (the
// session is then as before any NOTIFY, as in Dovecot); the
// STATUS indicator sends each watched mailbox's STATUS before the tagged OK.
// A successful NOTIFY is also a NOOP: the selected mailbox's news go out
// with its completion (the session does that after every command). A
// refused NOTIFY leaves the earlier one in force.
import type { CommandHandler } from "./index.js";
import { parseNotify } from "../notify-parse.js";
import { withArgs } from "./reply.js";

export const notifyCommands: [string, CommandHandler][] = [
  ["NOTIFY", withArgs(["auth", "selected"], (cmd, s) => parseNotify(cmd.args, s.utf8), async (s, tag, spec) => {
    const notifier = s.setNotifier(spec);
    if (notifier && spec?.status) for (const line of await notifier.initialStatus()) s.write(`${line}\r\n`);
    s.ok(tag, "NOTIFY completed");
  })],
];
