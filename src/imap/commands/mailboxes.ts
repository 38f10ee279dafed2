// Mailbox commands of the authenticated state (RFC 9051 §6.3): CREATE (with
// USE, RFC 6154), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST with
// LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE and
// CHILDREN, LSUB, NAMESPACE (RFC 2342), STATUS (with SIZE, RFC 8438,
// HIGHESTMODSEQ, RFC 7162, and APPENDLIMIT, RFC 7889), GETQUOTA/GETQUOTAROOT
// (RFC 9208). One flat personal namespace with "/" as the hierarchy
// separator. Arguments, mailbox names and LIST patterns come from mailbox-args.ts and mailbox-name.ts.
import type { CommandHandler, ImapCommand } from "./index.js";
import type { ImapSession } from "../session.js";
import type { MailboxRecord, MailboxStatus } from "../../store/interfaces.js";
import {
  parseCreate, parseGetQuota, parseList, parseLsub, parseMailboxOnly, parseRename, parseSetQuota, parseStatus, type ListArgs, type StatusItem,
} from "../mailbox-args.js";
import { combineListReference, compileListPattern } from "../mailbox-name.js";
import { imapMailbox } from "../quote.js";
import { withArgs, withoutArgs } from "./reply.js";

const AUTH = ["auth", "selected"] as const;
/** The special uses a mailbox can have here (RFC 6154 §2; \Important of RFC 8457 is not kept). */
export const SPECIAL_USES = new Set(["\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"]);

/** The value of each STATUS item (RFC 9051 §6.3.11). */
export function statusValues(s: ImapSession, st: MailboxStatus): Record<StatusItem, number> {
  return {
    MESSAGES: st.messages, UIDNEXT: st.uidNext, UIDVALIDITY: st.uidValidity, UNSEEN: st.unseen, DELETED: st.deleted, SIZE: st.size, RECENT: st.recent,
    HIGHESTMODSEQ: st.highestModseq, APPENDLIMIT: s.config.imap.max_message_size,
  };
}

/** "STATUS name (ITEM value ...)", without the "* ". */
export function statusResponse(s: ImapSession, name: string, values: Record<StatusItem, number>, items: readonly StatusItem[]): string {
  return `STATUS ${imapMailbox(name, s.utf8)} (${items.map((i) => `${i} ${values[i]}`).join(" ")})`;
}

async function statusLine(s: ImapSession, box: MailboxRecord, items: readonly StatusItem[]): Promise<string> {
  const st = await s.stores.mailboxes.mailboxStatus(box.id);
  if (items.includes("HIGHESTMODSEQ")) s.useCondstore();
  return statusResponse(s, box.name, statusValues(s, st), items);
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
  const matches = (name: string) => matchers.some((match) => match(name));
  // Parents of subscribed names: LSUB shows one the pattern matches as \Noselect when a subscribed child
  // does not match itself (RFC 3501 §6.3.9); LIST (SUBSCRIBED RECURSIVEMATCH) shows it with CHILDINFO (RFC 5258 §3.5).
  const recursive = args.select.subscribed && args.select.recursiveMatch;
  const childInfo = new Set<string>();
  if (lsub || recursive) {
    for (const sub of subscribed) {
      const levels = sub.split("/");
      for (let i = levels.length - 1; i >= 1; i--) {
        const parent = levels.slice(0, i).join("/");
        // Only for a child the pattern does not reach itself (RFC 5258 §3.5, RFC 3501 §6.3.9).
        if (!matches(parent) || matches(sub)) continue;
        if (recursive) childInfo.add(parent);
        else names.add(parent);
      }
    }
    if (recursive) for (const parent of childInfo) names.add(parent);
  }
  for (const name of [...names].sort((a, b) => (a === "INBOX" ? -1 : b === "INBOX" ? 1 : a < b ? -1 : a > b ? 1 : 0))) {
    if (!matches(name)) continue;
    const box = byName.get(name);
    if (args.select.specialUse && !box?.specialUse) continue;
    const attributes: string[] = [];
    if (lsub && !subscribed.has(name)) attributes.push("\\Noselect");
    else if (!box) attributes.push(lsub ? "\\Noselect" : "\\NonExistent");
    else if (!lsub || hasChildren(name)) attributes.push(hasChildren(name) ? "\\HasChildren" : "\\HasNoChildren");
    if (box?.specialUse && SPECIAL_USES.has(box.specialUse) && !lsub) attributes.push(box.specialUse);
    if (showSubscribed && subscribed.has(name)) attributes.push("\\Subscribed");
    const extended = childInfo.has(name) ? ` ("CHILDINFO" ("SUBSCRIBED"))` : "";
    s.untagged(`${verb} (${attributes.join(" ")}) "/" ${imapMailbox(name, s.utf8)}${extended}`);
    if (args.return.status && box) s.untagged(await statusLine(s, box, args.return.status));
  }
  s.ok(tag, `${verb} completed`);
}

async function quotaRoot(s: ImapSession): Promise<{ used: number; limit: number } | undefined> {
  const user = await s.stores.directory.getUserById(s.user!.id);
  if (!user || user.quota <= 0) return undefined;
  return { used: Math.ceil(user.usage / 1024), limit: Math.floor(user.quota / 1024) };
}

/** The one argument of DELETE, SUBSCRIBE, UNSUBSCRIBE and GETQUOTAROOT. */
const mailboxArg = (cmd: ImapCommand, s: ImapSession) => parseMailboxOnly(cmd.args, s.utf8);

export const mailboxCommands: [string, CommandHandler][] = [
  ["CREATE", withArgs(AUTH, (cmd, s) => parseCreate(cmd.args, s.utf8), async (s, tag, { mailbox: name, use }) => {
    if (use.length > 1) return s.no(tag, "A mailbox has one special use here", "USEATTR");
    const specialUse = use[0] ?? null;
    if (specialUse && !SPECIAL_USES.has(specialUse)) return s.no(tag, `Unsupported special-use attribute ${specialUse}`, "USEATTR");
    if (name.split("/").some((level) => level.toUpperCase() === "INBOX") && name !== "INBOX" && !name.startsWith("INBOX/")) {
      return s.no(tag, "INBOX cannot be part of another name", "CANNOT");
    }
    const result = await s.mailstore.create(s.user!.id, name, specialUse);
    if (!result.ok) return s.no(tag, result.text, result.code);
    s.ok(tag, "CREATE completed");
  })],
  ["DELETE", withArgs(AUTH, mailboxArg, async (s, tag, name) => {
    if (s.selected?.box.name === name) s.unselect();
    const result = await s.mailstore.delete(s.user!.id, name);
    if (!result.ok) return s.no(tag, result.text, result.code);
    // The subscription stays (RFC 9051 §6.3.4): LIST (SUBSCRIBED) shows it as \NonExistent.
    s.ok(tag, "DELETE completed");
  })],
  ["RENAME", withArgs(AUTH, (cmd, s) => parseRename(cmd.args, s.utf8), async (s, tag, { from, to }) => {
    const result = await s.mailstore.rename(s.user!.id, from, to);
    if (!result.ok) return s.no(tag, result.text, result.code);
    s.ok(tag, "RENAME completed");
  })],
  ...(["SUBSCRIBE", "UNSUBSCRIBE"] as const).map((verb): [string, CommandHandler] => [verb, withArgs(AUTH, mailboxArg, async (s, tag, name) => {
    await s.mailstore.setSubscribed(s.user!.id, name, verb === "SUBSCRIBE");
    s.ok(tag, `${verb} completed`);
  })]),
  ["LIST", withArgs(AUTH, (cmd, s) => parseList(cmd.args, s.utf8), (s, tag, args) => listMailboxes(s, tag, args, "LIST"))],
  ["LSUB", withArgs(AUTH, (cmd, s) => parseLsub(cmd.args, s.utf8), (s, tag, { reference, pattern }) => listMailboxes(s, tag, lsubAsList(reference, pattern), "LSUB"))],
  ["NAMESPACE", withoutArgs(AUTH, (s, tag) => {
    s.untagged(`NAMESPACE (("" "/")) NIL NIL`);
    s.ok(tag, "NAMESPACE completed");
  })],
  ["STATUS", withArgs(AUTH, (cmd, s) => parseStatus(cmd.args, s.utf8), async (s, tag, { mailbox, items }) => {
    const box = await s.mailstore.mailbox(s.user!.id, mailbox);
    if (!box) return s.no(tag, "Mailbox does not exist", "NONEXISTENT");
    s.untagged(await statusLine(s, box, items));
    s.ok(tag, "STATUS completed");
  })],
  ["GETQUOTAROOT", withArgs(AUTH, mailboxArg, async (s, tag, name) => {
    if (!(await s.mailstore.mailbox(s.user!.id, name))) return s.no(tag, "Mailbox does not exist", "NONEXISTENT");
    const quota = await quotaRoot(s);
    s.untagged(`QUOTAROOT ${imapMailbox(name, s.utf8)}${quota ? ' ""' : ""}`);
    if (quota) s.untagged(`QUOTA "" (STORAGE ${quota.used} ${quota.limit})`);
    s.ok(tag, "GETQUOTAROOT completed");
  })],
  ["GETQUOTA", withArgs(AUTH, (cmd) => parseGetQuota(cmd.args), async (s, tag, root) => {
    const quota = await quotaRoot(s);
    if (root !== "" || !quota) return s.no(tag, "No such quota root", "NONEXISTENT");
    s.untagged(`QUOTA "" (STORAGE ${quota.used} ${quota.limit})`);
    s.ok(tag, "GETQUOTA completed");
  })],
  ["SETQUOTA", withArgs(AUTH, (cmd) => parseSetQuota(cmd.args), (s, tag) => {
    s.no(tag, "Quotas are set by the administrator (petrel user quota)", "NOPERM");
  })],
];
