// Selecting and leaving a mailbox (RFC 9051 §6.3.2, §6.4): SELECT and EXAMINE
// (with CONDSTORE and QRESYNC parameters, RFC 7162 §3.1.8, §3.2.5), CLOSE,
// UNSELECT (RFC 3691), CHECK, EXPUNGE, UID EXPUNGE (RFC 4315), IDLE (RFC 2177).
import type { CommandHandler, ImapCommand } from "./index.js";
import type { ImapSession } from "../session.js";
import { formatSequenceSet, MAX_NZ_NUMBER, toIntervals } from "../sequence.js";
import { parseSelect, type SelectArgs } from "../mailbox-args.js";
import { parseUidExpunge } from "../message-args.js";
import { imapMailbox } from "../quote.js";
import { withArgs, withoutArgs } from "./reply.js";
import { vanishedEarlier } from "../vanished.js";
import { targetUids } from "./target.js";

const AUTH = ["auth", "selected"] as const;
const SELECTED = ["selected"] as const;

async function selectCommand(s: ImapSession, tag: string, params: SelectArgs, readOnly: boolean): Promise<void> {
  const verb = readOnly ? "EXAMINE" : "SELECT";
  if (params.qresync && !s.qresync) return s.bad(tag, "QRESYNC must be enabled first (ENABLE QRESYNC)");
  if (params.condstore) s.condstoreUsed = true;
  if (s.selected) s.untagged("OK [CLOSED] Previous mailbox closed");
  const view = await s.select(params.mailbox, readOnly);
  if (!view) return s.no(tag, "Mailbox does not exist", "NONEXISTENT");
  const firstUnseen = view.allUids.findIndex((uid) => !view.message(uid)!.flags.includes("\\Seen")) + 1;
  const flags = view.flagsList();
  s.untagged(`${view.exists} EXISTS`);
  if (!s.rev2) s.untagged(`${view.recentCount} RECENT`);
  s.untagged(`FLAGS (${flags})`);
  s.untagged(`OK [PERMANENTFLAGS (${readOnly ? "" : `${flags} \\*`})] Flags permitted`);
  if (!s.rev2 && firstUnseen) s.untagged(`OK [UNSEEN ${firstUnseen}] First unseen`);
  s.untagged(`OK [UIDVALIDITY ${view.box.uidValidity}] UIDs valid`);
  s.untagged(`OK [UIDNEXT ${view.box.uidNext}] Predicted next UID`);
  if (s.condstore) s.untagged(`OK [HIGHESTMODSEQ ${view.highestModseq}] Highest`);
  if (s.rev2) s.untagged(`LIST () "/" ${imapMailbox(view.box.name, s.utf8)}`);
  const q = params.qresync;
  if (q && q.uidValidity === view.box.uidValidity) {
    // RFC 7162 §3.2.5.1: what vanished and what changed since the client's MODSEQ. The known
    // sequence-set/UID-set pairs (q.seqMatch) only help a server that keeps no expunged UIDs.
    const known = q.knownUids?.kind === "set" ? toIntervals(q.knownUids.ranges, MAX_NZ_NUMBER) : [[1, MAX_NZ_NUMBER] as [number, number]];
    const vanished = await vanishedEarlier(s, q.modSeq, known);
    if (vanished) s.untagged(`VANISHED (EARLIER) ${vanished}`);
    for (const uid of view.allUids) {
      const m = view.message(uid)!;
      if (m.modseq > q.modSeq) s.untagged(`${view.seqOf(uid)} FETCH (UID ${uid} FLAGS (${view.flagsOut(m, !s.rev2)}) MODSEQ (${m.modseq}))`);
    }
  }
  s.ok(tag, `${verb} completed`, readOnly ? "READ-ONLY" : "READ-WRITE");
}

/** Removes the \Deleted messages (of `only`, when given); announces them unless silent. */
export async function expungeDeleted(s: ImapSession, silent: boolean, only?: Set<number>): Promise<number[]> {
  const view = s.selected!;
  await s.announce(false); // take in flag changes from others first
  const deleted = view.allUids.filter((uid) => !view.isGone(uid) && view.message(uid)!.flags.includes("\\Deleted") && (!only || only.has(uid)));
  const removed = await s.mailstore.expunge(view.box, deleted);
  const before = s.beforeExpunge(removed);
  const seqs = view.removeOwn(removed);
  if (!silent) for (const line of before) s.write(`${line}\r\n`);
  if (!silent) {
    if (s.qresync && removed.length > 0) s.untagged(`VANISHED ${formatSequenceSet(removed)}`);
    else for (const seq of seqs) s.untagged(`${seq} EXPUNGE`);
  }
  return removed;
}

const selectArgs = (cmd: ImapCommand, s: ImapSession) => parseSelect(cmd.args, s.utf8);

export const selectCommands: [string, CommandHandler][] = [
  ["SELECT", withArgs(AUTH, selectArgs, (s, tag, params) => selectCommand(s, tag, params, false))],
  ["EXAMINE", withArgs(AUTH, selectArgs, (s, tag, params) => selectCommand(s, tag, params, true))],
  ["CLOSE", withoutArgs(SELECTED, async (s, tag) => {
    if (!s.selected!.readOnly) await expungeDeleted(s, true);
    s.unselect();
    s.ok(tag, "CLOSE completed");
  })],
  ["UNSELECT", withoutArgs(SELECTED, (s, tag) => {
    s.unselect();
    s.ok(tag, "UNSELECT completed");
  })],
  ["CHECK", withoutArgs(SELECTED, (s, tag) => s.ok(tag, "CHECK completed"))],
  ["EXPUNGE", withoutArgs(SELECTED, async (s, tag) => {
    if (s.selected!.readOnly) return s.no(tag, "Mailbox is read-only", "READ-ONLY");
    await expungeDeleted(s, false);
    s.ok(tag, "EXPUNGE completed");
  })],
  ["UID EXPUNGE", withArgs(SELECTED, (cmd) => parseUidExpunge(cmd.args), async (s, tag, set) => {
    if (s.selected!.readOnly) return s.no(tag, "Mailbox is read-only", "READ-ONLY");
    const uids = targetUids(s, set, true);
    if (!uids.ok) return s.bad(tag, uids.error);
    await expungeDeleted(s, false, new Set(uids.value));
    s.ok(tag, "UID EXPUNGE completed");
  })],
  ["IDLE", withoutArgs(AUTH, (s, tag) => s.runIdle(tag))],
];
