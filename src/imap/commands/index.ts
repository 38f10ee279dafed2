// The IMAP command table: each command's handler and the states it is
// allowed in (RFC 9051 §6: any state, not authenticated, authenticated,
// selected). Handlers take their arguments from the parsers (args.ts and the *-args.ts,
// fetch-parse.ts, search-parse.ts; refused ones answered by reply.ts), act,
// and answer with one tagged response; the session does the rest (resuming
// the reader, announcing changes of the selected mailbox).
import type { ImapSession } from "../session.js";
import type { Token } from "../reader.js";
import { anyStateCommands } from "./any.js";
import { loginCommands } from "./login.js";
import { mailboxCommands } from "./mailboxes.js";
import { selectCommands } from "./select.js";
import { appendCommands } from "./append.js";
import { messageCommands } from "./messages.js";
import { sortCommands } from "./sort.js";
import { notifyCommands } from "./notify.js";

export type SessionState = "notauth" | "auth" | "selected";

export interface ImapCommand {
  /** The reader's number for this command (to lift only its own pause). */
  id: number;
  tag: string;
  /** Upper case; "UID FETCH" etc. for UID commands. */
  name: string;
  args: Token[];
}

export interface CommandHandler {
  states: readonly SessionState[];
  run(session: ImapSession, command: ImapCommand): Promise<void>;
  /** False for STARTTLS: the reader resumes only after the TLS handshake. */
  resumesReader?: boolean;
}

export const COMMANDS = new Map<string, CommandHandler>([
  ...anyStateCommands,
  ...loginCommands,
  ...mailboxCommands,
  ...selectCommands,
  ...appendCommands,
  ...messageCommands,
  ...sortCommands,
  ...notifyCommands,
]);
