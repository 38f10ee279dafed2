// Mailbox commands of the authenticated state (RFC 9051 §6.3): CREATE (with
// USE, RFC 6154), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST with
// LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE and
// CHILDREN, LSUB, NAMESPACE (RFC 2342), STATUS (with SIZE, RFC 8438,
// HIGHESTMODSEQ, RFC 7162, and APPENDLIMIT, RFC 7889), GETQUOTA/GETQUOTAROOT
// (RFC 9208). One flat personal namespace with "/" as the hierarchy
// separator. Arguments, mailbox names and LIST patterns come from args.ts.
import type { CommandHandler } from "./index.js";
import type { ImapSession } from "../session.js";
import type { MailboxRecord } from "../../store/interfaces.js";
import {
  combineListReference, compileListPattern, parseCreate, parseGetQuota, parseList, parseLsub, parseMailboxOnly, parseRename,
  parseSetQuota, parseStatus, type ListArgs, type StatusItem,
} from "../args.js";
import { imapMailbox } from "../quote.js";
import { noArgs, refuse } from "./reply.js";

const AUTH = ["auth", "selected"] as const;
/** The special uses a mailbox can have here (RFC 6154 §2; \Important of RFC 8457 is not kept). */
const SPECIAL_USES = new Set(["\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"]);

async function statusLine(s: ImapSession, box: MailboxRecord, items: readonly StatusItem[]): Promise<string> {
  const st = await s.stores.mailboxes.mailboxStatus(box.id);
  const values: Record<StatusItem, number> = {
    MESSAGES: st.messages, UIDNEXT: st.uidNext, UIDVALIDITY: st.uidValidity, UNSEEN: st.unseen, DELETED: st.deleted, SIZE: st.size, RECENT: 0,
    HIGHESTMODSEQ: st.highestModseq, APPENDLIMIT: s.config.imap.max_message_size,
  };
  if (items.includes("HIGHESTMODSEQ")) s.condstoreUsed = true;
  return `STATUS ${imapMailbox(box.name, s.utf8)} (${items.map((i) => `${i} ${values[i]}`).join(" ")})`;
}

/** LSUB reference pattern (RFC 3501 §6.3.9) is LIST (SUBSCRIBED) reference pattern, answered with LSUB lines. */
function lsubAsList(reference: string, pattern: string): ListArgs {
  return {
    reference,
    patterns: [pattern],
    extended: false,
    select: { subscribed: true, remote: false, recursiveMatch: false, specialUse: false },
    return: { subscribed: false, children: false, specialUse: false },
  };
}

async function listMailboxes(s: ImapSession, tag: string, args: ListArgs, verb: "LIST" | "LSUB"): Promise<void> {
  const lsub = verb === "LSUB";
  if (!lsub && args.patterns.length === 1 && args.patterns[0] === "") {
    // The hierarchy delimiter and root (RFC 9051 §6.3.9).
    s.untagged(`LIST (\\Noselect) "/" ""`);
    return s.ok(tag, "LIST completed");
  }
  const user = s.user!;
  const boxes = await s.stores.mailboxes.listMailboxes(user.id);
  const byName = new Map(boxes.map((b) => [b.name, b]));
  const subscribed = new Set(await s.stores.mailboxes.listSubscriptions(user.id));
  const names = new Set<string>(args.select.subscribed ? subscribed : byName.keys());
  const matchers = args.patterns.map((p) => compileListPattern(combineListReference(args.reference, p)));
  const showSubscribed = !lsub && (args.select.subscribed || args.return.subscribed);
  const hasChildren = (name: string) => boxes.some((b) => b.name.startsWith(`${name}/`));
  for (const name of [...names].sort((a, b) => (a === "INBOX" ? -1 : b === "INBOX" ? 1 : a < b ? -1 : a > b ? 1 : 0))) {
    if (!matchers.some((match) => match(name))) continue;
    const box = byName.get(name);
    if (args.select.specialUse && !box?.specialUse) continue;
    const attributes: string[] = [];
    if (!box) attributes.push(lsub ? "\\Noselect" : "\\NonExistent");
    else attributes.push(hasChildren(name) ? "\\HasChildren" : "\\HasNoChildren");
    if (box?.specialUse && SPECIAL_USES.has(box.specialUse) && !lsub) attributes.push(box.specialUse);
    if (showSubscribed && subscribed.has(name)) attributes.push("\\Subscribed");
    s.untagged(`${verb} (${attributes.join(" ")}) "/" ${imapMailbox(name, s.utf8)}`);
    if (args.return.status && box) s.untagged(await statusLine(s, box, args.return.status));
  }
  s.ok(tag, `${verb} completed`);
}

async function quotaRoot(s: ImapSession): Promise<{ used: number; limit: number } | undefined> {
  const user = await s.stores.directory.getUserById(s.user!.id);
  if (!user || user.quota <= 0) return undefined;
  return { used: Math.ceil(user.usage / 1024), limit: Math.floor(user.quota / 1024) };
}

/** A command whose one argument is a mailbox name (DELETE, SUBSCRIBE, UNSUBSCRIBE, GETQUOTAROOT). */
function oneMailbox(run: (s: ImapSession, tag: string, name: string) => Promise<void>): CommandHandler {
  return {
    states: AUTH,
    async run(s, cmd) {
      const name = parseMailboxOnly(cmd.args, s.utf8);
      if (!name.ok) return refuse(s, cmd.tag, name);
      await run(s, cmd.tag, name.value);
    },
  };
}

export const mailboxCommands: [string, CommandHandler][] = [
  ["CREATE", {
    states: AUTH,
    async run(s, cmd) {
      const args = parseCreate(cmd.args, s.utf8);
      if (!args.ok) return refuse(s, cmd.tag, args);
      const { mailbox: name, use } = args.value;
      if (use.length > 1) return s.no(cmd.tag, "A mailbox has one special use here", "USEATTR");
      const specialUse = use[0] ?? null;
      if (specialUse && !SPECIAL_USES.has(specialUse)) return s.no(cmd.tag, `Unsupported special-use attribute ${specialUse}`, "USEATTR");
      if (name.split("/").some((level) => level.toUpperCase() === "INBOX") && name !== "INBOX" && !name.startsWith("INBOX/")) {
        return s.no(cmd.tag, "INBOX cannot be part of another name", "CANNOT");
      }
      const result = await s.mailstore.create(s.user!.id, name, specialUse);
      if (!result.ok) return s.no(cmd.tag, result.text, result.code);
      s.ok(cmd.tag, "CREATE completed");
    },
  }],
  ["DELETE", oneMailbox(async (s, tag, name) => {
    if (s.selected?.box.name === name) s.unselect();
    const result = await s.mailstore.delete(s.user!.id, name);
    if (!result.ok) return s.no(tag, result.text, result.code);
    await s.stores.mailboxes.setSubscribed(s.user!.id, name, false);
    s.ok(tag, "DELETE completed");
  })],
  ["RENAME", {
    states: AUTH,
    async run(s, cmd) {
      const args = parseRename(cmd.args, s.utf8);
      if (!args.ok) return refuse(s, cmd.tag, args);
      const result = await s.mailstore.rename(s.user!.id, args.value.from, args.value.to);
      if (!result.ok) return s.no(cmd.tag, result.text, result.code);
      s.ok(cmd.tag, "RENAME completed");
    },
  }],
  ...(["SUBSCRIBE", "UNSUBSCRIBE"] as const).map((verb): [string, CommandHandler] => [verb, oneMailbox(async (s, tag, name) => {
    await s.stores.mailboxes.setSubscribed(s.user!.id, name, verb === "SUBSCRIBE");
    s.ok(tag, `${verb} completed`);
  })]),
  ["LIST", {
    states: AUTH,
    async run(s, cmd) {
      const args = parseList(cmd.args, s.utf8);
      if (!args.ok) return refuse(s, cmd.tag, args);
      await listMailboxes(s, cmd.tag, args.value, "LIST");
    },
  }],
  ["LSUB", {
    states: AUTH,
    async run(s, cmd) {
      const args = parseLsub(cmd.args, s.utf8);
      if (!args.ok) return refuse(s, cmd.tag, args);
      await listMailboxes(s, cmd.tag, lsubAsList(args.value.reference, args.value.pattern), "LSUB");
    },
  }],
  ["NAMESPACE", {
    states: AUTH,
    async run(s, cmd) {
      if (!noArgs(s, cmd)) return;
      s.untagged(`NAMESPACE (("" "/")) NIL NIL`);
      s.ok(cmd.tag, "NAMESPACE completed");
    },
  }],
  ["STATUS", {
    states: AUTH,
    async run(s, cmd) {
      const args = parseStatus(cmd.args, s.utf8);
      if (!args.ok) return refuse(s, cmd.tag, args);
      const box = await s.mailstore.mailbox(s.user!.id, args.value.mailbox);
      if (!box) return s.no(cmd.tag, "Mailbox does not exist", "NONEXISTENT");
      s.untagged(await statusLine(s, box, args.value.items));
      s.ok(cmd.tag, "STATUS completed");
    },
  }],
  ["GETQUOTAROOT", oneMailbox(async (s, tag, name) => {
    if (!(await s.mailstore.mailbox(s.user!.id, name))) return s.no(tag, "Mailbox does not exist", "NONEXISTENT");
    const quota = await quotaRoot(s);
    s.untagged(`QUOTAROOT ${imapMailbox(name, s.utf8)}${quota ? ' ""' : ""}`);
    if (quota) s.untagged(`QUOTA "" (STORAGE ${quota.used} ${quota.limit})`);
    s.ok(tag, "GETQUOTAROOT completed");
  })],
  ["GETQUOTA", {
    states: AUTH,
    async run(s, cmd) {
      const root = parseGetQuota(cmd.args);
      if (!root.ok) return refuse(s, cmd.tag, root);
      const quota = await quotaRoot(s);
      if (root.value !== "" || !quota) return s.no(cmd.tag, "No such quota root", "NONEXISTENT");
      s.untagged(`QUOTA "" (STORAGE ${quota.used} ${quota.limit})`);
      s.ok(cmd.tag, "GETQUOTA completed");
    },
  }],
  ["SETQUOTA", {
    states: AUTH,
    async run(s, cmd) {
      const args = parseSetQuota(cmd.args);
      if (!args.ok) return refuse(s, cmd.tag, args);
      s.no(cmd.tag, "Quotas are set by the administrator (petrel user quota)", "NOPERM");
    },
  }],
];
