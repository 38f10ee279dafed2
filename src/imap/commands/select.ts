// Selecting and leaving a mailbox (RFC 9051 §6.3.2, §6.4): SELECT and EXAMINE
// (with CONDSTORE and QRESYNC parameters, RFC 7162 §3.1.8, §3.2.5), CLOSE,
// UNSELECT (RFC 3691), CHECK, EXPUNGE, UID EXPUNGE (RFC 4315), IDLE (RFC 2177).
import type { CommandHandler } from "./index.js";
import type { ImapSession } from "../session.js";
import type { Token } from "../reader.js";
import { contains, formatSequenceSet, MAX_NZ_NUMBER, toIntervals } from "../sequence.js";
import { parseSelect, parseUidExpunge, SYSTEM_FLAGS } from "../args.js";
import { imapMailbox } from "../quote.js";
import { noArgs, refuse } from "./reply.js";
import { targetUids } from "./target.js";

async function selectCommand(s: ImapSession, tag: string, args: Token[], readOnly: boolean): Promise<void> {
  const verb = readOnly ? "EXAMINE" : "SELECT";
  const parsed = parseSelect(args, s.utf8);
  if (!parsed.ok) return refuse(s, tag, parsed);
  const params = parsed.value;
  if (params.qresync && !s.qresync) return s.bad(tag, "QRESYNC must be enabled first (ENABLE QRESYNC)");
  if (params.condstore) s.condstoreUsed = true;
  if (s.selected) s.untagged("OK [CLOSED] Previous mailbox closed");
  const view = await s.select(params.mailbox, readOnly);
  if (!view) return s.no(tag, "Mailbox does not exist", "NONEXISTENT");
  const keywords = new Set<string>();
  let firstUnseen = 0;
  view.allUids.forEach((uid, i) => {
    const m = view.message(uid)!;
    for (const f of m.flags) if (!f.startsWith("\\")) keywords.add(f);
    if (!firstUnseen && !m.flags.includes("\\Seen")) firstUnseen = i + 1;
  });
  const flags = [...SYSTEM_FLAGS, ...[...keywords].sort()].join(" ");
  s.untagged(`${view.exists} EXISTS`);
  if (!s.rev2) s.untagged("0 RECENT");
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
    const known = q.knownUids?.kind === "set" ? toIntervals(q.knownUids.ranges, MAX_NZ_NUMBER) : undefined;
    const vanished = (await s.stores.mailboxes.vanishedSince(view.box.id, q.modSeq)).filter((uid) => !known || contains(known, uid));
    if (vanished.length > 0) s.untagged(`VANISHED (EARLIER) ${formatSequenceSet(vanished)}`);
    for (const uid of view.allUids) {
      const m = view.message(uid)!;
      if (m.modseq > q.modSeq) s.untagged(`${view.seqOf(uid)} FETCH (UID ${uid} FLAGS (${m.flags.join(" ")}) MODSEQ (${m.modseq}))`);
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
  const seqs = view.removeOwn(removed);
  if (!silent) {
    if (s.qresync && removed.length > 0) s.untagged(`VANISHED ${formatSequenceSet(removed)}`);
    else for (const seq of seqs) s.untagged(`${seq} EXPUNGE`);
  }
  return removed;
}

export const selectCommands: [string, CommandHandler][] = [
  ["SELECT", { states: ["auth", "selected"], run: (s, cmd) => selectCommand(s, cmd.tag, cmd.args, false) }],
  ["EXAMINE", { states: ["auth", "selected"], run: (s, cmd) => selectCommand(s, cmd.tag, cmd.args, true) }],
  ["CLOSE", {
    states: ["selected"],
    async run(s, cmd) {
      if (!noArgs(s, cmd)) return;
      if (!s.selected!.readOnly) await expungeDeleted(s, true);
      s.unselect();
      s.ok(cmd.tag, "CLOSE completed");
    },
  }],
  ["UNSELECT", {
    states: ["selected"],
    async run(s, cmd) {
      if (!noArgs(s, cmd)) return;
      s.unselect();
      s.ok(cmd.tag, "UNSELECT completed");
    },
  }],
  ["CHECK", {
    states: ["selected"],
    async run(s, cmd) {
      if (!noArgs(s, cmd)) return;
      s.ok(cmd.tag, "CHECK completed");
    },
  }],
  ["EXPUNGE", {
    states: ["selected"],
    async run(s, cmd) {
      if (!noArgs(s, cmd)) return;
      if (s.selected!.readOnly) return s.no(cmd.tag, "Mailbox is read-only", "READ-ONLY");
      await expungeDeleted(s, false);
      s.ok(cmd.tag, "EXPUNGE completed");
    },
  }],
  ["UID EXPUNGE", {
    states: ["selected"],
    async run(s, cmd) {
      const set = parseUidExpunge(cmd.args);
      if (!set.ok) return refuse(s, cmd.tag, set);
      if (s.selected!.readOnly) return s.no(cmd.tag, "Mailbox is read-only", "READ-ONLY");
      const uids = targetUids(s, set.value, true);
      if (!uids.ok) return s.bad(cmd.tag, uids.error);
      await expungeDeleted(s, false, new Set(uids.value));
      s.ok(cmd.tag, "UID EXPUNGE completed");
    },
  }],
  ["IDLE", {
    states: ["auth", "selected"],
    async run(s, cmd) {
      if (!noArgs(s, cmd)) return;
      await s.runIdle(cmd.tag);
    },
  }],
];
