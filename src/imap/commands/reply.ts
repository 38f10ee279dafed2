// How a command handler is put together: the states it is allowed in, the
// parser that reads its arguments (args.ts, *-args.ts, fetch-parse.ts, search-parse.ts)
// and what it does with them. Arguments a parser refuses are answered here:
// a failure with a response code is a well-formed argument Petrel will not
// act on (CANNOT for a mailbox name it refuses, USEATTR, BADCHARSET), tagged
// NO [code]; without a code it is a syntax error, tagged BAD, which counts
// toward imap.max_errors (RFC 9051 §7.1).
import type { ImapSession } from "../session.js";
import type { CommandHandler, ImapCommand, SessionState } from "./index.js";
import type { Result } from "../args.js";
import { parseNoArgs } from "../session-args.js";

export function refuse(s: ImapSession, tag: string, failure: { error: string; code?: string }): void {
  if (failure.code) s.no(tag, failure.error, failure.code);
  else s.bad(tag, failure.error);
}

/** The handler of a command whose arguments `parse` reads: refused ones are answered, else `run` gets them. */
export function withArgs<T>(
  states: readonly SessionState[],
  parse: (cmd: ImapCommand, s: ImapSession) => Result<T>,
  run: (s: ImapSession, tag: string, args: T) => Promise<void> | void,
): CommandHandler {
  return {
    states,
    async run(s, cmd) {
      const args = parse(cmd, s);
      if (!args.ok) return refuse(s, cmd.tag, args);
      await run(s, cmd.tag, args.value);
    },
  };
}

/** The handler of a command without arguments (any are refused). */
export function withoutArgs(states: readonly SessionState[], run: (s: ImapSession, tag: string) => Promise<void> | void): CommandHandler {
  return withArgs(states, (cmd) => parseNoArgs(cmd.args, cmd.name), (s, tag) => run(s, tag));
}
