// Selecting and leaving a mailbox (RFC 9051 §6.3.2, §6.4): SELECT and EXAMINE
// (with CONDSTORE and QRESYNC parameters, RFC 7162 §3.1.8, §3.2.5), CLOSE,
// UNSELECT (RFC 3691), CHECK, EXPUNGE, UID EXPUNGE (RFC 4315), IDLE (RFC 2177).
import type { CommandHandler } from "./index.js";
import type { ImapSession } from "../session.js";
import type { Token } from "../reader.js";
import { contains, filter, formatSequenceSet, MAX_NZ_NUMBER, parseSequenceSet, toIntervals, type Intervals } from "../sequence.js";
import { mailboxName, mailboxOut, text } from "./tokens.js";

const SYSTEM_FLAGS = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];

interface Qresync { uidValidity: number; modseq: number; knownUids?: Intervals }

function selectParams(token: Token | undefined): { ok: true; condstore: boolean; qresync?: Qresync } | { ok: false; error: string } {
  if (!token) return { ok: true, condstore: false };
  if (token.t !== "list") return { ok: false, error: "Syntax: SELECT name [(CONDSTORE | QRESYNC (...))]" };
  let condstore = false;
  let qresync: Qresync | undefined;
  for (let i = 0; i < token.v.length; i++) {
    const name = text(token.v[i])?.toUpperCase();
    if (name === "CONDSTORE") condstore = true;
    else if (name === "QRESYNC") {
      const params = token.v[++i];
      if (params?.t !== "list" || params.v.length < 2) return { ok: false, error: "QRESYNC (uidvalidity modseq [known-uids])" };
      const [validity, modseq, known] = params.v.map(text);
      if (!/^\d+$/.test(validity ?? "") || !/^\d+$/.test(modseq ?? "")) return { ok: false, error: "QRESYNC (uidvalidity modseq [known-uids])" };
      qresync = { uidValidity: Number(validity), modseq: Number(modseq) };
      if (known) {
        const set = parseSequenceSet(known, { allowSavedResult: false });
        if (!set.ok || set.value.kind !== "set") return { ok: false, error: "QRESYNC known-uids must be a UID set" };
        qresync.knownUids = toIntervals(set.value.ranges, MAX_NZ_NUMBER);
      }
    } else return { ok: false, error: `Unknown SELECT parameter ${name?.slice(0, 40) ?? ""}` };
  }
  return { ok: true, condstore, qresync };
}

async function selectCommand(s: ImapSession, tag: string, args: Token[], readOnly: boolean): Promise<void> {
  const verb = readOnly ? "EXAMINE" : "SELECT";
  const name = mailboxName(args[0], s.utf8);
  const params = selectParams(args[1]);
  if (!name.ok || !params.ok || args.length > 2) return s.bad(tag, !name.ok ? name.error : !params.ok ? params.error : `Syntax: ${verb} name`);
  if (params.qresync && !s.qresync) return s.bad(tag, "QRESYNC must be enabled first (ENABLE QRESYNC)");
  if (params.condstore) s.condstoreUsed = true;
  if (s.selected) s.untagged("OK [CLOSED] Previous mailbox closed");
  const view = await s.select(name.value, readOnly);
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
  if (s.rev2) s.untagged(`LIST () "/" ${mailboxOut(view.box.name, s.utf8)}`);
  const q = params.qresync;
  if (q && q.uidValidity === view.box.uidValidity) {
    // RFC 7162 §3.2.5.1: what vanished and what changed since the client's MODSEQ.
    const known = q.knownUids;
    const vanished = (await s.stores.mailboxes.vanishedSince(view.box.id, q.modseq)).filter((uid) => !known || contains(known, uid));
    if (vanished.length > 0) s.untagged(`VANISHED (EARLIER) ${formatSequenceSet(vanished)}`);
    for (const uid of view.allUids) {
      const m = view.message(uid)!;
      if (m.modseq > q.modseq) s.untagged(`${view.seqOf(uid)} FETCH (UID ${uid} FLAGS (${m.flags.join(" ")}) MODSEQ (${m.modseq}))`);
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
      if (!s.selected!.readOnly) await expungeDeleted(s, true);
      s.unselect();
      s.ok(cmd.tag, "CLOSE completed");
    },
  }],
  ["UNSELECT", {
    states: ["selected"],
    async run(s, cmd) {
      s.unselect();
      s.ok(cmd.tag, "UNSELECT completed");
    },
  }],
  ["CHECK", {
    states: ["selected"],
    async run(s, cmd) {
      s.ok(cmd.tag, "CHECK completed");
    },
  }],
  ["EXPUNGE", {
    states: ["selected"],
    async run(s, cmd) {
      if (s.selected!.readOnly) return s.no(cmd.tag, "Mailbox is read-only", "READ-ONLY");
      await expungeDeleted(s, false);
      s.ok(cmd.tag, "EXPUNGE completed");
    },
  }],
  ["UID EXPUNGE", {
    states: ["selected"],
    async run(s, cmd) {
      const set = parseSequenceSet(text(cmd.args[0]) ?? "", { allowSavedResult: true });
      if (!set.ok || cmd.args.length !== 1) return s.bad(cmd.tag, "Syntax: UID EXPUNGE uid-set");
      if (s.selected!.readOnly) return s.no(cmd.tag, "Mailbox is read-only", "READ-ONLY");
      const view = s.selected!;
      const uids = set.value.kind === "saved" ? s.savedSearch : filter(view.allUids, set.value.ranges);
      await expungeDeleted(s, false, new Set(uids));
      s.ok(cmd.tag, "UID EXPUNGE completed");
    },
  }],
  ["IDLE", {
    states: ["auth", "selected"],
    async run(s, cmd) {
      if (cmd.args.length > 0) return s.bad(cmd.tag, "IDLE takes no arguments");
      await s.runIdle(cmd.tag);
    },
  }],
];
