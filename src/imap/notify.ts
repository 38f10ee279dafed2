// NOTIFY (RFC 5465) for one IMAP session: which events the client asked
// for, for which mailboxes, and the responses that tell it of changes to
// mailboxes other than the selected one (STATUS for message events, LIST
// for mailbox names and subscriptions, §5). The selected mailbox is told by
// the session's usual catch-up (selected.ts), as the SELECTED or
// SELECTED-DELAYED group asks (§6.1); this module says what that group
// wants.
//
// Choices where the RFC leaves room (Dovecot's where it has one):
// INBOXES is every personal mailbox (§6.3 allows it: mail can be filed
// anywhere); a mailbox matched by several groups gets the union of their
// events; changes a session made itself are not told back to it (§5
// SHOULD); a STATUS identical to the last one told is left out; the
// initial STATUS (the STATUS indicator, §3.1) is never sent for the
// selected mailbox; more than MAX_HELD name changes waiting, or more than
// MAX_HELD mailboxes with message changes waiting, end NOTIFY with
// OK [NOTIFICATIONOVERFLOW] (§5.8).
//
// SECURITY: every name and number comes from the user's own store rows; the
// bus only carries the session's own user's changes.
import type { MailboxChange, MailboxRecord } from "../store/interfaces.js";
import type { ImapSession } from "./session.js";
import type { StatusItem } from "./mailbox-args.js";
import type { NotifyEvent, NotifyGroup, NotifySpec } from "./notify-parse.js";
import { SPECIAL_USES, statusResponse, statusValues } from "./commands/mailboxes.js";
import { imapMailbox } from "./quote.js";

type MessageKind = "append" | "expunge" | "flags";
const EVENT_OF: Record<MessageKind, NotifyEvent> = { append: "MessageNew", expunge: "MessageExpunge", flags: "FlagChange" };
/** STATUS items in the order they are written. */
const ITEM_ORDER: readonly StatusItem[] = ["MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ"];
export const MAX_HELD = 1000;
/** The initial STATUS items each event needs (§3.1). */
const INITIAL_ITEMS: Partial<Record<NotifyEvent, StatusItem[]>> = {
  MessageNew: ["MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN"],
  MessageExpunge: ["MESSAGES"],
  FlagChange: ["UIDVALIDITY", "HIGHESTMODSEQ", "UNSEEN"],
};
/** The STATUS items that tell a change of another mailbox (§5.2-§5.4); HIGHESTMODSEQ once CONDSTORE is on. */
const countItems = (condstore: boolean): StatusItem[] => ["MESSAGES", "UIDNEXT", "UNSEEN", ...(condstore ? ["HIGHESTMODSEQ" as const] : [])];
const EVENT_ITEMS: Record<MessageKind, (condstore: boolean) => StatusItem[]> = {
  append: countItems,
  expunge: countItems,
  flags: (condstore) => ["UNSEEN", ...(condstore ? ["UIDVALIDITY" as const, "HIGHESTMODSEQ" as const] : [])],
};

export class Notifier {
  /** Message changes to other mailboxes not told yet: mailbox id → kinds. */
  private readonly changed = new Map<number, Set<MessageKind>>();
  /** Mailbox name and subscription changes not told yet, in order. */
  private readonly names: MailboxChange[] = [];
  /** The STATUS values last told, per mailbox id: an unchanged STATUS is not sent again. */
  private readonly told = new Map<number, Partial<Record<StatusItem, number>>>();
  /** The events any group other than SELECTED asks for. */
  private readonly otherEvents = new Set<NotifyEvent>();
  /** New messages of the selected mailbox made by this session: no FETCH for them (§5.2). */
  readonly ownNew = new Set<number>();
  /** Too much waited to be told: the session sends NOTIFICATIONOVERFLOW and stops notifying. */
  overflow = false;

  constructor(private readonly session: ImapSession, readonly spec: NotifySpec) {
    for (const group of spec.groups) if (!isSelected(group)) for (const event of group.events) this.otherEvents.add(event);
  }

  /** The SELECTED or SELECTED-DELAYED group; none is SELECTED NONE (§6.1). */
  get selectedGroup(): NotifyGroup | undefined {
    return this.spec.groups.find(isSelected);
  }

  /** The client wants this message event for the selected mailbox. */
  selectedWants(event: NotifyEvent): boolean {
    return this.selectedGroup?.events.has(event) ?? false;
  }

  /** Takes in a change of the user's mailboxes; true when the client should hear of it now. */
  hear(change: MailboxChange): boolean {
    const own = change.origin === this.session.id;
    if (change.kind === "mailboxes" || change.kind === "subscription") {
      if (own || !this.otherEvents.has(change.kind === "mailboxes" ? "MailboxName" : "SubscriptionChange")) return false;
      if (this.names.length >= MAX_HELD) this.overflow = true;
      else this.names.push(change);
      return true;
    }
    const event = EVENT_OF[change.kind];
    if (change.mailboxId === this.session.selected?.box.id) {
      // The session knows its own changes to the selected mailbox; it still learns of its own new messages by EXISTS.
      if (own && change.kind === "append" && this.selectedGroup?.fetch) for (const uid of change.uids) this.ownNew.add(uid);
      return !own && this.selectedWants(event);
    }
    if (own || !this.otherEvents.has(event)) return false;
    const kinds = this.changed.get(change.mailboxId);
    if (kinds) kinds.add(change.kind);
    else if (this.changed.size >= MAX_HELD) this.overflow = true;
    else this.changed.set(change.mailboxId, new Set([change.kind]));
    return true;
  }

  /** The session leaves the selected mailbox: what it was not told of there is told as for any other mailbox. */
  leftMailbox(mailboxId: number): void {
    if (this.changed.size >= MAX_HELD) this.overflow = true;
    else this.changed.set(mailboxId, new Set(["append", "expunge", "flags"]));
  }

  /** The STATUS responses the STATUS indicator asks for (§3.1), before NOTIFY's tagged OK. */
  async initialStatus(): Promise<string[]> {
    const s = this.session;
    const { boxes, subscribed } = await this.mailboxes();
    const lines: string[] = [];
    for (const box of boxes) {
      if (box.id === s.selected?.box.id) continue;
      const events = this.eventsFor(box.name, subscribed);
      // HIGHESTMODSEQ for FlagChange whenever CONDSTORE is offered, enabled or not (§3.1).
      const items = new Set([...events].flatMap((event) => INITIAL_ITEMS[event] ?? []));
      if (items.size > 0) lines.push(await this.status(box, items));
    }
    return lines;
  }

  /** The responses for what changed in other mailboxes since the last call (§5.1-§5.5). */
  async flush(): Promise<string[]> {
    if (this.changed.size === 0 && this.names.length === 0) return [];
    // What was heard so far; changes heard while this runs wait for the next flush (the session queues one).
    const changed = new Map(this.changed);
    this.changed.clear();
    const names = this.names.splice(0);
    const s = this.session;
    const { boxes, subscribed } = await this.mailboxes();
    const lines = new Set<string>();
    for (const change of names) {
      const event: NotifyEvent = change.kind === "subscription" ? "SubscriptionChange" : "MailboxName";
      const name = change.name!;
      const watched = this.eventsFor(name, subscribed).has(event) || (change.oldName !== undefined && this.eventsFor(change.oldName, subscribed).has(event));
      if (!watched) continue;
      const oldName = change.oldName === undefined ? "" : ` ("OLDNAME" (${imapMailbox(change.oldName, s.utf8)}))`;
      lines.add(`* ${this.listResponse(name, boxes, subscribed)}${oldName}`);
      // A created or deleted mailbox changes its parent's \HasChildren (§5.4).
      const parent = name.includes("/") ? name.slice(0, name.lastIndexOf("/")) : "";
      if (event === "MailboxName" && change.oldName === undefined && parent && boxes.some((b) => b.name === parent)) {
        lines.add(`* ${this.listResponse(parent, boxes, subscribed)}`);
      }
    }
    const byId = new Map(boxes.map((b) => [b.id, b]));
    const condstore = s.condstore;
    for (const [id, kinds] of changed) {
      const box = byId.get(id); // none: deleted since (its LIST \NonExistent tells it)
      if (!box || id === s.selected?.box.id) continue;
      const events = this.eventsFor(box.name, subscribed);
      const items = new Set([...kinds].filter((kind) => events.has(EVENT_OF[kind])).flatMap((kind) => EVENT_ITEMS[kind](condstore)));
      if (items.size > 0) {
        const line = await this.status(box, items, true);
        if (line) lines.add(line);
      }
    }
    return [...lines];
  }

  /** The events the groups other than SELECTED ask for this mailbox name: the union of every group that matches (§6). */
  private eventsFor(name: string, subscribed: ReadonlySet<string>): Set<NotifyEvent> {
    const events = new Set<NotifyEvent>();
    for (const group of this.spec.groups) {
      const f = group.filter;
      const matches =
        f.kind === "INBOXES" || f.kind === "PERSONAL" ? true
        : f.kind === "SUBSCRIBED" ? subscribed.has(name)
        : f.kind === "SUBTREE" ? f.names.some((n) => name === n || name.startsWith(`${n}/`))
        : f.kind === "MAILBOXES" ? f.names.includes(name)
        : false;
      if (matches) for (const event of group.events) events.add(event);
    }
    return events;
  }

  private async mailboxes(): Promise<{ boxes: MailboxRecord[]; subscribed: Set<string> }> {
    const userId = this.session.user!.id;
    const [boxes, subscribed] = await Promise.all([
      this.session.stores.mailboxes.listMailboxes(userId),
      this.session.stores.mailboxes.listSubscriptions(userId),
    ]);
    return { boxes, subscribed: new Set(subscribed) };
  }

  /** "* STATUS ..." with these items; with onlyIfChanged, "" when the client was told the same values last time. */
  private async status(box: MailboxRecord, items: Set<StatusItem>, onlyIfChanged = false): Promise<string> {
    const s = this.session;
    const status = await s.stores.mailboxes.mailboxStatus(box.id).catch(async (err: Error) => {
      if ((await s.stores.mailboxes.highestModseq(box.id)) === 0) return undefined; // deleted meanwhile
      throw err;
    });
    if (!status) return "";
    const values = statusValues(s, status);
    const ordered = ITEM_ORDER.filter((i) => items.has(i));
    const last = this.told.get(box.id) ?? {};
    if (onlyIfChanged && ordered.every((i) => last[i] === values[i])) return "";
    for (const i of ordered) last[i] = values[i];
    this.told.set(box.id, last);
    return `* ${statusResponse(s, box.name, values, ordered)}`;
  }

  /** A LIST response for a name with its attributes as they are now (§5.4, §5.5: computed in full, unlike LSUB). */
  private listResponse(name: string, boxes: MailboxRecord[], subscribed: ReadonlySet<string>): string {
    const box = boxes.find((b) => b.name === name);
    const attributes: string[] = [];
    if (!box) attributes.push("\\NonExistent");
    else {
      attributes.push(boxes.some((b) => b.name.startsWith(`${name}/`)) ? "\\HasChildren" : "\\HasNoChildren");
      if (box.specialUse && SPECIAL_USES.has(box.specialUse)) attributes.push(box.specialUse);
    }
    if (subscribed.has(name)) attributes.push("\\Subscribed");
    return `LIST (${attributes.join(" ")}) "/" ${imapMailbox(name, this.session.utf8)}`;
  }
}

function isSelected(group: NotifyGroup): boolean {
  return group.filter.kind === "SELECTED" || group.filter.kind === "SELECTED-DELAYED";
}

