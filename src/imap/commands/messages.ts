// Commands on messages of the selected mailbox (RFC 9051 §6.4): STORE with
// UNCHANGEDSINCE (RFC 7162 §3.1.3), COPY with [COPYUID] (RFC 4315), MOVE
// (RFC 6851), each also in its UID form; FETCH and SEARCH live in their own
// files. A read-only (EXAMINE) mailbox refuses every change.
import type { CommandHandler, ImapCommand } from "./index.js";
import type { ImapSession } from "../session.js";
import { formatSequenceSet, type SequenceSet } from "../sequence.js";
import { parseCopy, parseStore, type StoreArgs } from "../message-args.js";
import { withArgs } from "./reply.js";
import { targetUids } from "./target.js";
import { fetchCommands } from "./fetch.js";
import { searchCommands } from "./search.js";

async function store(s: ImapSession, tag: string, args: StoreArgs, byUid: boolean): Promise<void> {
  const view = s.selected!;
  const { set, op, silent, flags, unchangedSince } = args;
  const target = targetUids(s, set, byUid);
  if (!target.ok) return s.bad(tag, target.error);
  if (unchangedSince !== undefined) s.useCondstore();
  if (view.readOnly) return s.no(tag, "Mailbox is read-only", "READ-ONLY");
  const uids = target.value.filter((uid) => !view.isGone(uid));
  const { changed, failed } = await s.mailstore.updateFlags(view.box, uids, { op: op === "set" ? "replace" : op, flags, unchangedSince });
  view.remember(changed);
  for (const line of view.announceKeywords(flags)) s.write(`${line}\r\n`);
  const failedSet = new Set(failed);
  const changedSet = new Set(changed.map((m) => m.uid));
  for (const uid of uids) {
    if (failedSet.has(uid)) continue;
    // RFC 7162 §3.1.3: with UNCHANGEDSINCE the new MODSEQ is reported even for .SILENT.
    if (silent && !(unchangedSince !== undefined && changedSet.has(uid))) continue;
    const m = view.message(uid)!;
    const parts = [`FLAGS (${view.flagsOut(m, !s.rev2)})`];
    if (byUid) parts.unshift(`UID ${uid}`);
    if (s.condstore) parts.push(`MODSEQ (${m.modseq})`);
    s.untagged(`${view.seqOf(uid)} FETCH (${silent ? parts.filter((p) => !p.startsWith("FLAGS")).join(" ") : parts.join(" ")})`);
  }
  if (failed.length > 0) {
    const set = byUid ? failed : failed.map((uid) => view.seqOf(uid));
    return s.ok(tag, "Conditional STORE failed for some messages", `MODIFIED ${formatSequenceSet(set)}`);
  }
  s.ok(tag, "STORE completed");
}

async function copy(s: ImapSession, tag: string, args: { set: SequenceSet; mailbox: string }, byUid: boolean, move: boolean): Promise<void> {
  const view = s.selected!;
  const verb = move ? "MOVE" : "COPY";
  const target = targetUids(s, args.set, byUid);
  if (!target.ok) return s.bad(tag, target.error);
  if (move && view.readOnly) return s.no(tag, "Mailbox is read-only", "READ-ONLY");
  const dest = await s.mailstore.mailbox(s.user!.id, args.mailbox);
  if (!dest) return s.no(tag, "Mailbox does not exist", "TRYCREATE");
  const uids = target.value.filter((uid) => !view.isGone(uid));
  if (!move) {
    const size = uids.reduce((n, uid) => n + view.message(uid)!.size, 0);
    if (await s.overQuota(size)) return s.no(tag, "Quota exceeded", "OVERQUOTA");
  }
  if (uids.length === 0) return s.ok(tag, `${verb} completed (no messages)`);
  const result = await s.mailstore.copy(view.box, uids, dest, { move });
  const copyUid = `COPYUID ${result.uidValidity} ${formatSequenceSet(result.pairs.map((p) => p[0]), { keepOrder: true })} ${formatSequenceSet(result.pairs.map((p) => p[1]), { keepOrder: true })}`;
  if (!move) return s.ok(tag, "COPY completed", copyUid);
  s.untagged(`OK [${copyUid}] Moved`);
  for (const line of s.beforeExpunge(result.expunged)) s.write(`${line}\r\n`);
  const seqs = view.removeOwn(result.expunged);
  if (s.qresync) s.untagged(`VANISHED ${formatSequenceSet(result.expunged)}`);
  else for (const seq of seqs) s.untagged(`${seq} EXPUNGE`);
  s.ok(tag, "MOVE completed");
}

const SELECTED = ["selected"] as const;
const storeArgs = (cmd: ImapCommand) => parseStore(cmd.args);
const copyArgs = (cmd: ImapCommand, s: ImapSession) => parseCopy(cmd.args, s.utf8);

export const messageCommands: [string, CommandHandler][] = [
  ["STORE", withArgs(SELECTED, storeArgs, (s, tag, args) => store(s, tag, args, false))],
  ["UID STORE", withArgs(SELECTED, storeArgs, (s, tag, args) => store(s, tag, args, true))],
  ["COPY", withArgs(SELECTED, copyArgs, (s, tag, args) => copy(s, tag, args, false, false))],
  ["UID COPY", withArgs(SELECTED, copyArgs, (s, tag, args) => copy(s, tag, args, true, false))],
  ["MOVE", withArgs(SELECTED, copyArgs, (s, tag, args) => copy(s, tag, args, false, true))],
  ["UID MOVE", withArgs(SELECTED, copyArgs, (s, tag, args) => copy(s, tag, args, true, true))],
  ...fetchCommands,
  ...searchCommands,
];
