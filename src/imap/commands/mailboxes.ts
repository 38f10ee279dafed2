// Mailbox commands of the authenticated state (RFC 9051 §6.3): CREATE (with
// USE, RFC 6154), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST with
// LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE and
// CHILDREN, LSUB, NAMESPACE (RFC 2342), STATUS (with SIZE, RFC 8438, and
// HIGHESTMODSEQ, RFC 7162), GETQUOTA/GETQUOTAROOT (RFC 9208). One flat
// personal namespace with "/" as the hierarchy separator.
import type { CommandHandler } from "./index.js";
import type { ImapSession } from "../session.js";
import type { MailboxRecord } from "../../store/interfaces.js";
import type { Token } from "../reader.js";
import { listPattern, mailboxName, mailboxOut, text } from "./tokens.js";

const AUTH = ["auth", "selected"] as const;
const SPECIAL_USES = new Set(["\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"]);
const STATUS_ITEMS = new Set(["MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT", "HIGHESTMODSEQ"]);

/** LIST wildcards (RFC 9051 §6.3.9): "*" matches anything, "%" anything but the separator; INBOX in any case. */
export function matchPattern(pattern: string, name: string): boolean {
  const p = /^inbox(?=\/|$|[*%])/i.test(pattern) ? `INBOX${pattern.slice(5)}` : pattern;
  const source = p.split("").map((c) => (c === "*" ? ".*" : c === "%" ? "[^/]*" : c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("");
  return new RegExp(`^${source}$`, "s").test(name);
}

function statusItems(token: Token | undefined): string[] | undefined {
  if (!token || token.t !== "list" || token.v.length === 0) return undefined;
  const items = token.v.map((t) => text(t)?.toUpperCase());
  return items.every((i): i is string => i !== undefined && STATUS_ITEMS.has(i)) ? items : undefined;
}

async function statusLine(s: ImapSession, box: MailboxRecord, items: string[]): Promise<string> {
  const st = await s.stores.mailboxes.mailboxStatus(box.id);
  const values: Record<string, number> = {
    MESSAGES: st.messages, UIDNEXT: st.uidNext, UIDVALIDITY: st.uidValidity, UNSEEN: st.unseen, DELETED: st.deleted, SIZE: st.size, RECENT: 0,
    HIGHESTMODSEQ: st.highestModseq,
  };
  if (items.includes("HIGHESTMODSEQ")) s.condstoreUsed = true;
  return `STATUS ${mailboxOut(box.name, s.utf8)} (${items.map((i) => `${i} ${values[i]}`).join(" ")})`;
}

async function listCommand(s: ImapSession, tag: string, args: Token[], lsub: boolean): Promise<void> {
  let i = 0;
  const selection = new Set<string>();
  const first = args[0];
  if (!lsub && first?.t === "list") {
    for (const t of first.v) selection.add(text(t)?.toUpperCase() ?? "");
    i = 1;
  }
  const reference = listPattern(args[i], s.utf8);
  const patternToken = args[i + 1];
  if (!reference.ok || !patternToken) return s.bad(tag, `Syntax: ${lsub ? "LSUB" : "LIST"} reference pattern`);
  const patterns: string[] = [];
  for (const t of patternToken.t === "list" && !lsub ? patternToken.v : [patternToken]) {
    const p = listPattern(t, s.utf8);
    if (!p.ok) return s.bad(tag, p.error);
    patterns.push(p.value);
  }
  const returns = new Set<string>();
  let status: string[] | undefined;
  if (args.length > i + 2) {
    const returnList = args[i + 3];
    if (lsub || text(args[i + 2])?.toUpperCase() !== "RETURN" || returnList?.t !== "list" || args.length !== i + 4) {
      return s.bad(tag, "Syntax: LIST [(options)] reference pattern [RETURN (options)]");
    }
    const options = returnList.v;
    for (let j = 0; j < options.length; j++) {
      const name = text(options[j])?.toUpperCase() ?? "";
      if (name === "STATUS") {
        status = statusItems(options[++j]);
        if (!status) return s.bad(tag, "RETURN (STATUS (items)) expected");
      } else if (["SUBSCRIBED", "CHILDREN", "SPECIAL-USE"].includes(name)) returns.add(name);
      else return s.bad(tag, `Unknown LIST return option ${name.slice(0, 40)}`);
    }
  }
  for (const option of selection) {
    if (!["SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"].includes(option)) return s.bad(tag, `Unknown LIST selection option ${option.slice(0, 40)}`);
  }
  if (selection.has("RECURSIVEMATCH") && selection.size === 1) return s.bad(tag, "RECURSIVEMATCH needs another selection option");
  if (selection.has("SUBSCRIBED")) returns.add("SUBSCRIBED");

  const verb = lsub ? "LSUB" : "LIST";
  if (patterns.length === 1 && patterns[0] === "" && !lsub) {
    // The hierarchy delimiter and root (RFC 9051 §6.3.9).
    s.untagged(`LIST (\\Noselect) "/" ""`);
    return s.ok(tag, "LIST completed");
  }
  const user = s.user!;
  const boxes = await s.stores.mailboxes.listMailboxes(user.id);
  const byName = new Map(boxes.map((b) => [b.name, b]));
  const subscribed = new Set(await s.stores.mailboxes.listSubscriptions(user.id));
  const names = new Set<string>(lsub || selection.has("SUBSCRIBED") ? subscribed : byName.keys());
  const full = patterns.map((p) => (p.startsWith("/") || reference.value === "" ? p : `${reference.value}${p}`));
  const hasChildren = (name: string) => boxes.some((b) => b.name.startsWith(`${name}/`));
  for (const name of [...names].sort((a, b) => (a === "INBOX" ? -1 : b === "INBOX" ? 1 : a < b ? -1 : a > b ? 1 : 0))) {
    if (!full.some((p) => matchPattern(p, name))) continue;
    const box = byName.get(name);
    if (selection.has("SPECIAL-USE") && !box?.specialUse) continue;
    const attributes: string[] = [];
    if (!box) attributes.push(lsub ? "\\Noselect" : "\\NonExistent");
    else attributes.push(hasChildren(name) ? "\\HasChildren" : "\\HasNoChildren");
    if (box?.specialUse && SPECIAL_USES.has(box.specialUse) && !lsub) attributes.push(box.specialUse);
    if (!lsub && returns.has("SUBSCRIBED") && subscribed.has(name)) attributes.push("\\Subscribed");
    s.untagged(`${verb} (${attributes.join(" ")}) "/" ${mailboxOut(name, s.utf8)}`);
    if (status && box) s.untagged(await statusLine(s, box, status));
  }
  s.ok(tag, `${verb} completed`);
}

async function quotaRoot(s: ImapSession): Promise<{ used: number; limit: number } | undefined> {
  const user = await s.stores.directory.getUserById(s.user!.id);
  if (!user || user.quota <= 0) return undefined;
  return { used: Math.ceil(user.usage / 1024), limit: Math.floor(user.quota / 1024) };
}

export const mailboxCommands: [string, CommandHandler][] = [
  ["CREATE", {
    states: AUTH,
    async run(s, cmd) {
      const name = mailboxName(cmd.args[0], s.utf8);
      if (!name.ok) return s.bad(cmd.tag, name.error);
      let use: string | null = null;
      if (cmd.args.length > 1) {
        const opts = cmd.args[1];
        const list = opts.t === "list" ? opts.v : [];
        if (cmd.args.length !== 2 || text(list[0])?.toUpperCase() !== "USE" || list[1]?.t !== "list" || list[1].v.length !== 1) {
          return s.bad(cmd.tag, "Syntax: CREATE name [(USE (\\special-use))]");
        }
        const flag = text(list[1].v[0]) ?? "";
        use = [...SPECIAL_USES].find((u) => u.toLowerCase() === flag.toLowerCase()) ?? null;
        if (!use) return s.no(cmd.tag, "Unsupported special-use attribute", "USEATTR");
      }
      if (name.value.split("/").some((level) => level.toUpperCase() === "INBOX") && name.value !== "INBOX" && !name.value.startsWith("INBOX/")) {
        return s.no(cmd.tag, "INBOX cannot be part of another name", "CANNOT");
      }
      const result = await s.mailstore.create(s.user!.id, name.value, use);
      if (!result.ok) return s.no(cmd.tag, result.text, result.code);
      s.ok(cmd.tag, "CREATE completed");
    },
  }],
  ["DELETE", {
    states: AUTH,
    async run(s, cmd) {
      const name = mailboxName(cmd.args[0], s.utf8);
      if (!name.ok || cmd.args.length !== 1) return s.bad(cmd.tag, name.ok ? "Syntax: DELETE name" : name.error);
      if (s.selected?.box.name === name.value) s.unselect();
      const result = await s.mailstore.delete(s.user!.id, name.value);
      if (!result.ok) return s.no(cmd.tag, result.text, result.code);
      await s.stores.mailboxes.setSubscribed(s.user!.id, name.value, false);
      s.ok(cmd.tag, "DELETE completed");
    },
  }],
  ["RENAME", {
    states: AUTH,
    async run(s, cmd) {
      const from = mailboxName(cmd.args[0], s.utf8);
      const to = mailboxName(cmd.args[1], s.utf8);
      if (!from.ok || !to.ok || cmd.args.length !== 2) return s.bad(cmd.tag, !from.ok ? from.error : !to.ok ? to.error : "Syntax: RENAME from to");
      const result = await s.mailstore.rename(s.user!.id, from.value, to.value);
      if (!result.ok) return s.no(cmd.tag, result.text, result.code);
      s.ok(cmd.tag, "RENAME completed");
    },
  }],
  ...(["SUBSCRIBE", "UNSUBSCRIBE"] as const).map((verb): [string, CommandHandler] => [verb, {
    states: AUTH,
    async run(s, cmd) {
      const name = mailboxName(cmd.args[0], s.utf8);
      if (!name.ok || cmd.args.length !== 1) return s.bad(cmd.tag, name.ok ? `Syntax: ${verb} name` : name.error);
      await s.stores.mailboxes.setSubscribed(s.user!.id, name.value, verb === "SUBSCRIBE");
      s.ok(cmd.tag, `${verb} completed`);
    },
  }]),
  ["LIST", { states: AUTH, run: (s, cmd) => listCommand(s, cmd.tag, cmd.args, false) }],
  ["LSUB", { states: AUTH, run: (s, cmd) => listCommand(s, cmd.tag, cmd.args, true) }],
  ["NAMESPACE", {
    states: AUTH,
    async run(s, cmd) {
      s.untagged(`NAMESPACE (("" "/")) NIL NIL`);
      s.ok(cmd.tag, "NAMESPACE completed");
    },
  }],
  ["STATUS", {
    states: AUTH,
    async run(s, cmd) {
      const name = mailboxName(cmd.args[0], s.utf8);
      const items = statusItems(cmd.args[1]);
      if (!name.ok || !items || cmd.args.length !== 2) return s.bad(cmd.tag, name.ok ? "Syntax: STATUS name (items)" : name.error);
      const box = await s.mailstore.mailbox(s.user!.id, name.value);
      if (!box) return s.no(cmd.tag, "Mailbox does not exist", "NONEXISTENT");
      s.untagged(await statusLine(s, box, items));
      s.ok(cmd.tag, "STATUS completed");
    },
  }],
  ["GETQUOTAROOT", {
    states: AUTH,
    async run(s, cmd) {
      const name = mailboxName(cmd.args[0], s.utf8);
      if (!name.ok || cmd.args.length !== 1) return s.bad(cmd.tag, name.ok ? "Syntax: GETQUOTAROOT name" : name.error);
      if (!(await s.mailstore.mailbox(s.user!.id, name.value))) return s.no(cmd.tag, "Mailbox does not exist", "NONEXISTENT");
      const quota = await quotaRoot(s);
      s.untagged(`QUOTAROOT ${mailboxOut(name.value, s.utf8)}${quota ? ' ""' : ""}`);
      if (quota) s.untagged(`QUOTA "" (STORAGE ${quota.used} ${quota.limit})`);
      s.ok(cmd.tag, "GETQUOTAROOT completed");
    },
  }],
  ["GETQUOTA", {
    states: AUTH,
    async run(s, cmd) {
      const root = text(cmd.args[0]);
      const quota = await quotaRoot(s);
      if (root !== "" || !quota) return s.no(cmd.tag, "No such quota root", "NONEXISTENT");
      s.untagged(`QUOTA "" (STORAGE ${quota.used} ${quota.limit})`);
      s.ok(cmd.tag, "GETQUOTA completed");
    },
  }],
  ["SETQUOTA", {
    states: AUTH,
    async run(s, cmd) {
      s.no(cmd.tag, "Quotas are set by the administrator (petrel user quota)", "NOPERM");
    },
  }],
];
