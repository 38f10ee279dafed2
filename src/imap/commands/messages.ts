// Commands on messages of the selected mailbox (RFC 9051 §6.4): STORE with
// UNCHANGEDSINCE (RFC 7162 §3.1.3), COPY with [COPYUID] (RFC 4315), MOVE
// (RFC 6851), each also in its UID form; FETCH and SEARCH live in their own
// files. A read-only (EXAMINE) mailbox refuses every change.
import type { CommandHandler } from "./index.js";
import type { ImapSession } from "../session.js";
import type { ImapCommand } from "./index.js";
import { formatSequenceSet } from "../sequence.js";
import { parseCopy, parseStore } from "../args.js";
import { refuse } from "./reply.js";
import { targetUids } from "./target.js";
import { fetchCommands } from "./fetch.js";
import { searchCommands } from "./search.js";

async function store(s: ImapSession, cmd: ImapCommand, byUid: boolean): Promise<void> {
  const view = s.selected!;
  const args = parseStore(cmd.args);
  if (!args.ok) return refuse(s, cmd.tag, args);
  const { set, op, silent, flags, unchangedSince } = args.value;
  const target = targetUids(s, set, byUid);
  if (!target.ok) return s.bad(cmd.tag, target.error);
  if (unchangedSince !== undefined) s.condstoreUsed = true;
  if (view.readOnly) return s.no(cmd.tag, "Mailbox is read-only", "READ-ONLY");
  const uids = target.value.filter((uid) => !view.isGone(uid));
  const { changed, failed } = await s.mailstore.updateFlags(view.box, uids, { op: op === "set" ? "replace" : op, flags, unchangedSince });
  view.remember(changed);
  const failedSet = new Set(failed);
  const changedSet = new Set(changed.map((m) => m.uid));
  for (const uid of uids) {
    if (failedSet.has(uid)) continue;
    // RFC 7162 §3.1.3: with UNCHANGEDSINCE the new MODSEQ is reported even for .SILENT.
    if (silent && !(unchangedSince !== undefined && changedSet.has(uid))) continue;
    const m = view.message(uid)!;
    const parts = [`FLAGS (${m.flags.join(" ")})`];
    if (byUid) parts.unshift(`UID ${uid}`);
    if (s.condstore) parts.push(`MODSEQ (${m.modseq})`);
    s.untagged(`${view.seqOf(uid)} FETCH (${silent ? parts.filter((p) => !p.startsWith("FLAGS")).join(" ") : parts.join(" ")})`);
  }
  if (failed.length > 0) {
    const set = byUid ? failed : failed.map((uid) => view.seqOf(uid));
    return s.ok(cmd.tag, "Conditional STORE failed for some messages", `MODIFIED ${formatSequenceSet(set)}`);
  }
  s.ok(cmd.tag, "STORE completed");
}

async function copy(s: ImapSession, cmd: ImapCommand, byUid: boolean, move: boolean): Promise<void> {
  const view = s.selected!;
  const verb = move ? "MOVE" : "COPY";
  const args = parseCopy(cmd.args, s.utf8);
  if (!args.ok) return refuse(s, cmd.tag, args);
  const target = targetUids(s, args.value.set, byUid);
  if (!target.ok) return s.bad(cmd.tag, target.error);
  if (move && view.readOnly) return s.no(cmd.tag, "Mailbox is read-only", "READ-ONLY");
  const dest = await s.mailstore.mailbox(s.user!.id, args.value.mailbox);
  if (!dest) return s.no(cmd.tag, "Mailbox does not exist", "TRYCREATE");
  const uids = target.value.filter((uid) => !view.isGone(uid));
  if (!move) {
    const size = uids.reduce((n, uid) => n + view.message(uid)!.size, 0);
    const user = await s.stores.directory.getUserById(s.user!.id);
    if (user && user.quota > 0 && user.usage + size > user.quota) return s.no(cmd.tag, "Quota exceeded", "OVERQUOTA");
  }
  if (uids.length === 0) return s.ok(cmd.tag, `${verb} completed (no messages)`);
  const result = await s.mailstore.copy(view.box, uids, dest, { move });
  const copyUid = `COPYUID ${result.uidValidity} ${formatSequenceSet(result.pairs.map((p) => p[0]), { keepOrder: true })} ${formatSequenceSet(result.pairs.map((p) => p[1]), { keepOrder: true })}`;
  if (!move) return s.ok(cmd.tag, "COPY completed", copyUid);
  s.untagged(`OK [${copyUid}] Moved`);
  const seqs = view.removeOwn(result.expunged);
  if (s.qresync) s.untagged(`VANISHED ${formatSequenceSet(result.expunged)}`);
  else for (const seq of seqs) s.untagged(`${seq} EXPUNGE`);
  s.ok(cmd.tag, "MOVE completed");
}

const SELECTED = ["selected"] as const;

export const messageCommands: [string, CommandHandler][] = [
  ["STORE", { states: SELECTED, run: (s, cmd) => store(s, cmd, false) }],
  ["UID STORE", { states: SELECTED, run: (s, cmd) => store(s, cmd, true) }],
  ["COPY", { states: SELECTED, run: (s, cmd) => copy(s, cmd, false, false) }],
  ["UID COPY", { states: SELECTED, run: (s, cmd) => copy(s, cmd, true, false) }],
  ["MOVE", { states: SELECTED, run: (s, cmd) => copy(s, cmd, false, true) }],
  ["UID MOVE", { states: SELECTED, run: (s, cmd) => copy(s, cmd, true, true) }],
  ...fetchCommands,
  ...searchCommands,
];
