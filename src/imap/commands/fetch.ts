// FETCH and UID FETCH (RFC 9051 §6.4.5, RFC 3501 §6.4.5): FLAGS,
// INTERNALDATE, RFC822.SIZE, ENVELOPE, BODY, BODYSTRUCTURE, UID, MODSEQ and
// CHANGEDSINCE/VANISHED (RFC 7162), RFC822[.HEADER|.TEXT], BODY[section]<partial>
// and BODY.PEEK, BINARY[.PEEK]/BINARY.SIZE (RFC 3516). Fetching a body part
// without PEEK sets \Seen (and reports the new FLAGS). Message text goes out
// as literals, byte for byte; the structure comes from mime/ and never
// throws on malformed MIME.
import type { CommandHandler, ImapCommand } from "./index.js";
import type { ImapSession } from "../session.js";
import type { MessageRecord } from "../../store/interfaces.js";
import { parseFetchItems, responseName, type FetchArgs, type FetchItem } from "../fetch-parse.js";
import { parseMime, type MimePart } from "../../mime/structure.js";
import { binaryBytes, partialBytes, sectionBytes } from "../../mime/sections.js";
import { bodyStructure } from "../bodystructure.js";
import { envelope } from "../envelope.js";
import { formatDateTime } from "../datetime.js";
import { intervalsOf, MAX_NZ_NUMBER, toIntervals, type SequenceSet } from "../sequence.js";
import { vanishedEarlier } from "../vanished.js";
import { sequenceArg, type Result } from "../args.js";
import { toWire } from "../quote.js";
import { targetUids } from "./target.js";
import { withArgs } from "./reply.js";

const NEEDS_CONTENT = new Set(["RFC822", "RFC822.HEADER", "RFC822.TEXT", "ENVELOPE", "BODY", "BODYSTRUCTURE", "section", "binary", "binary.size"]);

/** A literal for BINARY data: literal8 (~{n}) when it holds a NUL (RFC 3516 §4.2), else {n}. */
function binaryLiteral(bytes: Buffer): Buffer[] {
  return [toWire(`${bytes.includes(0) ? "~" : ""}{${bytes.length}}\r\n`), bytes];
}

/**
 * A literal for message text (BODY[], RFC822...): a plain literal may not
 * hold NUL (RFC 9051 §4.3), so a NUL that came in by SMTP goes out as 0x80,
 * octet for octet, as Dovecot does; only BINARY shows the NUL itself.
 */
function literal(bytes: Buffer): Buffer[] {
  if (!bytes.includes(0)) return [toWire(`{${bytes.length}}\r\n`), bytes];
  const copy = Buffer.from(bytes);
  for (let i = copy.indexOf(0); i !== -1; i = copy.indexOf(0, i + 1)) copy[i] = 0x80;
  return [toWire(`{${copy.length}}\r\n`), copy];
}

/** An item answered from the message's header alone (ENVELOPE, RFC822.HEADER, BODY[HEADER...] of the message itself). */
function needsHeaderOnly(item: FetchItem): boolean {
  if (item.kind === "ENVELOPE" || item.kind === "RFC822.HEADER") return true;
  return item.kind === "section" && item.section.part.length === 0 && (item.section.text === "HEADER" || item.section.text === "HEADER.FIELDS" || item.section.text === "HEADER.FIELDS.NOT");
}

class Loaded {
  private parsed: MimePart | undefined;
  constructor(readonly buf: Buffer) {}
  get root(): MimePart {
    return (this.parsed ??= parseMime(this.buf));
  }
}

/** FETCH / UID FETCH sequence-set items [modifiers]. */
function fetchArgs(cmd: ImapCommand, byUid: boolean): Result<FetchArgs & { set: SequenceSet }> {
  const set = sequenceArg(cmd.args[0], { allowSavedResult: true });
  if (!set.ok) return set;
  const parsed = parseFetchItems(cmd.args.slice(1), { uid: byUid });
  return parsed.ok ? { ok: true, value: { ...parsed.value, set: set.value } } : parsed;
}

async function fetch(s: ImapSession, tag: string, args: FetchArgs & { set: SequenceSet }, byUid: boolean): Promise<void> {
  const { set, changedSince, vanished } = args;
  const target = targetUids(s, set, byUid);
  if (!target.ok) return s.bad(tag, target.error);
  const items: FetchItem[] = [...args.items];
  if (byUid && !items.some((i) => i.kind === "UID")) items.unshift({ kind: "UID" });
  if (changedSince !== undefined || items.some((i) => i.kind === "MODSEQ")) s.useCondstore();
  if (changedSince !== undefined && !items.some((i) => i.kind === "MODSEQ")) items.push({ kind: "MODSEQ" });
  if (vanished) {
    if (!s.qresync) return s.bad(tag, "VANISHED needs ENABLE QRESYNC");
    // RFC 7162 §3.2.6: the expunged UIDs of the set asked for ("$": of the saved result, RFC 5182).
    // "*" reaches to the last UID ever given (UIDNEXT-1), not only the largest still in use: "1:*" must also
    // report expunged UIDs above the last message (only UIDs that were there are ever reported).
    const within = set.kind === "set"
      ? toIntervals(set.ranges, MAX_NZ_NUMBER)
      : intervalsOf([...s.savedSearch].sort((a, b) => a - b));
    const gone = await vanishedEarlier(s, changedSince!, within);
    if (gone) s.untagged(`VANISHED (EARLIER) ${gone}`);
  }
  const { unknownCte } = await writeFetchResponses(s, target.value, items, changedSince);
  if (unknownCte) return s.no(tag, "Cannot decode this content transfer encoding", "UNKNOWN-CTE");
  s.ok(tag, "FETCH completed");
}

/**
 * The FETCH responses for these UIDs of the selected mailbox, written as
 * they are made (FETCH, UID FETCH, and NOTIFY's MessageNew with fetch
 * attributes, RFC 5465 §5.2). Messages expunged elsewhere are left out.
 */
export async function writeFetchResponses(s: ImapSession, uids: readonly number[], items: readonly FetchItem[], changedSince?: number): Promise<{ unknownCte: boolean }> {
  const view = s.selected!;
  const marksSeen = !view.readOnly && items.some((i) => (i.kind === "section" || i.kind === "binary") ? !i.peek : i.kind === "RFC822" || i.kind === "RFC822.TEXT");
  const needsContent = items.some((i) => NEEDS_CONTENT.has(i.kind));
  const headerOnly = needsContent && items.every((i) => !NEEDS_CONTENT.has(i.kind) || needsHeaderOnly(i));
  const utf8 = { utf8: s.utf8 };
  let unknownCte = false;
  for (const uid of uids) {
    if (view.isGone(uid)) continue; // RFC 2180 §4.1.1: an expunged message is simply left out
    let m = view.message(uid)!;
    if (changedSince !== undefined && m.modseq <= changedSince) continue;
    const buf = !needsContent ? undefined : headerOnly ? await s.mailstore.readHeaderIfPresent(m) : await s.mailstore.readIfPresent(m);
    if (needsContent && !buf) continue; // expunged by another session and already removed (RFC 2180 §4.1)
    const content = buf ? new Loaded(buf) : undefined;
    let flagsChanged = false;
    if (marksSeen && !m.flags.includes("\\Seen")) {
      const { changed } = await s.mailstore.updateFlags(view.box, [uid], { op: "add", flags: ["\\Seen"] });
      view.remember(changed);
      m = view.message(uid)!;
      flagsChanged = true;
    }
    const pieces: Buffer[] = [];
    const add = (name: string, value: string | Buffer[]) => {
      pieces.push(toWire(`${pieces.length > 0 ? " " : ""}${name} `));
      if (typeof value === "string") pieces.push(toWire(value));
      else pieces.push(...value);
    };
    const listed = new Set<string>();
    for (const item of items) {
      const name = responseName(item);
      if (listed.has(name)) continue;
      listed.add(name);
      const result = renderItem(item, m, content, utf8, view.flagsOut(m, !s.rev2));
      if (result === "unknown-cte") {
        unknownCte = true;
        continue;
      }
      add(name, result);
    }
    if (flagsChanged && !listed.has("FLAGS")) add("FLAGS", `(${view.flagsOut(m, !s.rev2)})`);
    if (s.condstore && flagsChanged && !listed.has("MODSEQ")) add("MODSEQ", `(${m.modseq})`);
    s.write(Buffer.concat([toWire(`* ${view.seqOf(uid)} FETCH (`), ...pieces, toWire(")\r\n")]));
  }
  return { unknownCte };
}

function renderItem(item: FetchItem, m: MessageRecord, content: Loaded | undefined, opts: { utf8: boolean }, flags: string): string | Buffer[] | "unknown-cte" {
  switch (item.kind) {
    case "UID":
      return String(m.uid);
    case "FLAGS":
      return `(${flags})`;
    case "INTERNALDATE":
      return `"${formatDateTime(new Date(m.internalDate))}"`;
    case "RFC822.SIZE":
      return String(m.size);
    case "MODSEQ":
      return `(${m.modseq})`;
    case "ENVELOPE":
      return envelope(content!.root.header, opts);
    case "BODY":
      return bodyStructure(content!.buf, content!.root, false, opts);
    case "BODYSTRUCTURE":
      return bodyStructure(content!.buf, content!.root, true, opts);
    case "RFC822":
      return literal(content!.buf);
    case "RFC822.HEADER":
      return literal(content!.buf.subarray(0, content!.root.headerEnd));
    case "RFC822.TEXT":
      return literal(content!.buf.subarray(content!.root.bodyStart));
    case "section": {
      const bytes = sectionBytes(content!.buf, content!.root, item.section) ?? Buffer.alloc(0);
      return literal(item.partial ? partialBytes(bytes, item.partial.offset, item.partial.length) : bytes);
    }
    case "binary": {
      const bytes = binaryBytes(content!.buf, content!.root, item.part);
      if (bytes === "unknown-cte") return bytes;
      const data = bytes ?? Buffer.alloc(0);
      return binaryLiteral(item.partial ? partialBytes(data, item.partial.offset, item.partial.length) : data);
    }
    case "binary.size": {
      const bytes = binaryBytes(content!.buf, content!.root, item.part);
      if (bytes === "unknown-cte") return bytes;
      return String(bytes?.length ?? 0);
    }
  }
}

export const fetchCommands: [string, CommandHandler][] = [
  ["FETCH", withArgs(["selected"], (cmd) => fetchArgs(cmd, false), (s, tag, args) => fetch(s, tag, args, false))],
  ["UID FETCH", withArgs(["selected"], (cmd) => fetchArgs(cmd, true), (s, tag, args) => fetch(s, tag, args, true))],
];
