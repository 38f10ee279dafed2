// How a command answers arguments that args.ts (or fetch-parse.ts,
// search-parse.ts) refused. A failure with a response code is a well-formed
// argument Petrel will not act on (CANNOT for a mailbox name it refuses,
// USEATTR, BADCHARSET): tagged NO [code]. Without a code it is a syntax
// error: tagged BAD, which counts toward imap.max_errors (RFC 9051 §7.1).
import type { ImapSession } from "../session.js";
import type { ImapCommand } from "./index.js";
import { parseNoArgs } from "../args.js";

export function refuse(s: ImapSession, tag: string, failure: { error: string; code?: string }): void {
  if (failure.code) s.no(tag, failure.error, failure.code);
  else s.bad(tag, failure.error);
}

/** For the commands without arguments: true when there are none, else false after refusing them. */
export function noArgs(s: ImapSession, cmd: ImapCommand): boolean {
  const none = parseNoArgs(cmd.args, cmd.name);
  if (!none.ok) refuse(s, cmd.tag, none);
  return none.ok;
}
