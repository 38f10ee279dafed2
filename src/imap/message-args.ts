// Arguments of the message commands: STORE, APPEND, COPY / MOVE and UID
// EXPUNGE. Primitives and flags come from args.ts, the target mailbox from
// mailbox-name.ts, dates from datetime.ts.
//
// SECURITY: every token is client data (attacker-controlled); the parsers
// never throw and return the Result of args.ts. Limits: APPEND messages per
// command (option, default 1000); keywords 250 octets (args.ts).
//
// Implements (ABNF of RFC 9051 §9 unless noted): store / store-att-flags /
// store-modifier UNCHANGEDSINCE (RFC 7162 §3.1.3), append / append-message
// (MULTIAPPEND, RFC 3502 §6; literal8, RFC 3516; "UTF8 (" literal8 ")",
// RFC 6855 §4; CATENATE, RFC 4469 §5), copy / move, uid-expunge (RFC 4315 §3).
import type { Token } from "./reader.js";
import { parseDateTime, type ImapDateTime } from "./datetime.js";
import type { SequenceSet } from "./sequence.js";
import { astring, fail, keyword, modSeqArg, noMore, ok, parseFlagList, parseFlags, sequenceArg, type Result } from "./args.js";
import { parseMailbox } from "./mailbox-name.js";

// ---------------------------------------------------------------- STORE

export interface StoreArgs {
  set: SequenceSet;
  /** "set" (FLAGS), "add" (+FLAGS), "remove" (-FLAGS). */
  op: "set" | "add" | "remove";
  silent: boolean;
  flags: string[];
  unchangedSince?: number;
}

/** STORE sequence-set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] (flag-list / flag *(SP flag)). */
export function parseStore(args: readonly Token[]): Result<StoreArgs> {
  const set = sequenceArg(args[0], { allowSavedResult: true });
  if (!set.ok) return set;
  let i = 1;
  let unchangedSince: number | undefined;
  if (args[1]?.t === "list") {
    const mods = args[1].v;
    for (let k = 0; k < mods.length; k += 2) {
      const name = keyword(mods[k], "STORE modifier");
      if (!name.ok) return name;
      if (name.value !== "UNCHANGEDSINCE") return fail(`Unknown STORE modifier ${name.value.slice(0, 40)}`);
      const n = modSeqArg(mods[k + 1], "UNCHANGEDSINCE value", { zero: true });
      if (!n.ok) return n;
      unchangedSince = n.value;
    }
    i = 2;
  }
  const item = keyword(args[i], "STORE data item");
  if (!item.ok) return item;
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(item.value);
  if (!m) return fail(`Unknown STORE data item ${item.value.slice(0, 40)} (expected [+|-]FLAGS[.SILENT])`);
  const rest = args.slice(i + 1);
  if (rest.length === 0) return fail("Missing flags");
  const flags = rest.length === 1 && rest[0]!.t === "list" ? parseFlagList(rest[0]) : parseFlags(rest);
  if (!flags.ok) return flags;
  const value: StoreArgs = { set: set.value, op: m[1] === "+" ? "add" : m[1] === "-" ? "remove" : "set", silent: !!m[2], flags: flags.value };
  if (unchangedSince !== undefined) value.unchangedSince = unchangedSince;
  return ok(value);
}

// ---------------------------------------------------------------- APPEND

export interface AppendMessage {
  flags: string[];
  date?: ImapDateTime;
  data: Buffer;
  /** Sent as literal8 (~{n}, RFC 3516): may hold NUL and raw 8-bit. */
  binary: boolean;
  /** Sent as UTF8 (literal8) of RFC 6855 §4. */
  utf8: boolean;
  /** CATENATE (RFC 4469): the message is these pieces joined (then `data` is empty). */
  catenate?: CatenatePart[];
}

/** One piece of a CATENATE message: literal text, or an IMAP URL of a part of a stored message. */
export type CatenatePart = { text: Buffer } | { url: string };

/** The pieces of CATENATE (...): TEXT literal / URL astring (RFC 4469 §5). */
function parseCatenate(tok: Token | undefined): Result<CatenatePart[]> {
  if (tok?.t !== "list" || tok.v.length === 0 || tok.v.length % 2 !== 0) return fail("CATENATE must be followed by (TEXT literal / URL url ...)");
  const parts: CatenatePart[] = [];
  for (let k = 0; k < tok.v.length; k += 2) {
    const kind = tok.v[k];
    const value = tok.v[k + 1];
    const name = kind?.t === "atom" ? kind.v.toUpperCase() : "";
    if (name === "TEXT" && value?.t === "string" && value.literal) parts.push({ text: value.v });
    else if (name === "URL") {
      const url = astring(value, "CATENATE URL");
      if (!url.ok) return url;
      parts.push({ url: url.value });
    } else return fail("CATENATE parts are TEXT literal or URL url");
  }
  return ok(parts);
}

export interface AppendArgs {
  mailbox: string;
  messages: AppendMessage[];
}

/** APPEND mailbox 1*([SP flag-list] [SP date-time] SP (literal / literal8 / "UTF8 (" literal8 ")")). */
export function parseAppend(args: readonly Token[], utf8Enabled: boolean, options: { maxMessages?: number } = {}): Result<AppendArgs> {
  const maxMessages = options.maxMessages ?? 1000;
  const mailbox = parseMailbox(args[0], utf8Enabled);
  if (!mailbox.ok) return mailbox;
  const messages: AppendMessage[] = [];
  let i = 1;
  if (i >= args.length) return fail("Missing message literal");
  while (i < args.length) {
    if (messages.length >= maxMessages) return fail(`More than ${maxMessages} messages in one APPEND`);
    let flags: string[] = [];
    let date: ImapDateTime | undefined;
    if (args[i]?.t === "list") {
      const f = parseFlagList(args[i]);
      if (!f.ok) return f;
      flags = f.value;
      i++;
    }
    const dt = args[i];
    if (dt?.t === "string" && !dt.literal) {
      const d = parseDateTime(dt.v.toString("latin1"));
      if (!d.ok) return d;
      date = d.value;
      i++;
    }
    const data = args[i];
    let message: AppendMessage;
    if (data?.t === "atom" && data.v.toUpperCase() === "UTF8") {
      const inner = args[i + 1];
      if (inner?.t !== "list" || inner.v.length !== 1 || inner.v[0]!.t !== "string" || !inner.v[0]!.binary) {
        return fail("UTF8 must be followed by (~{n} literal8)");
      }
      message = { flags, data: inner.v[0]!.v, binary: true, utf8: true };
      i += 2;
    } else if (data?.t === "atom" && data.v.toUpperCase() === "CATENATE") {
      const parts = parseCatenate(args[i + 1]);
      if (!parts.ok) return parts;
      message = { flags, data: Buffer.alloc(0), binary: false, utf8: false, catenate: parts.value };
      i += 2;
    } else if (data?.t === "string" && data.literal) {
      message = { flags, data: data.v, binary: !!data.binary, utf8: false };
      i++;
    } else {
      return fail(data ? "The message must be sent as a literal" : "Missing message literal");
    }
    if (date) message.date = date;
    messages.push(message);
  }
  return ok({ mailbox: mailbox.value, messages });
}

// ---------------------------------------------------------------- COPY, MOVE, UID EXPUNGE

/** COPY / MOVE sequence-set mailbox. */
export function parseCopy(args: readonly Token[], utf8Enabled: boolean): Result<{ set: SequenceSet; mailbox: string }> {
  const set = sequenceArg(args[0], { allowSavedResult: true });
  if (!set.ok) return set;
  const mailbox = parseMailbox(args[1], utf8Enabled);
  if (!mailbox.ok) return mailbox;
  const more = noMore(args, 2, "sequence-set mailbox");
  return more.ok ? ok({ set: set.value, mailbox: mailbox.value }) : more;
}

/** UID EXPUNGE uid-set (RFC 4315 §2.1; "$" of RFC 5182 allowed). */
export function parseUidExpunge(args: readonly Token[]): Result<SequenceSet> {
  const set = sequenceArg(args[0], { allowSavedResult: true });
  if (!set.ok) return set;
  const more = noMore(args, 1, "UID EXPUNGE uid-set");
  return more.ok ? set : more;
}
