// The arguments of NOTIFY (RFC 5465 §3, §8): NOTIFY NONE, or NOTIFY SET
// [STATUS] followed by event groups, each a mailbox filter and the events
// wanted for it.
//
// SECURITY: tokens are client data (attacker-controlled). Never throws; at
// most 50 event groups and 100 mailbox names per filter.
//
// Implements (RFC 5465 §8):
//   notify = "NOTIFY" SP (notify-set / "NONE")
//   notify-set = "SET" [status-indicator] SP event-groups
//   status-indicator = SP "STATUS"
//   event-group = "(" filter-mailboxes SP events ")"
//   filter-mailboxes = "SELECTED" / "SELECTED-DELAYED" / "INBOXES" /
//     "PERSONAL" / "SUBSCRIBED" / ("SUBTREE" SP one-or-more-mailbox) /
//     ("MAILBOXES" SP one-or-more-mailbox)
//   one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")"
//   events = ("(" event *(SP event) ")") / "NONE"
//   event = message-event / mailbox-event / user-event / event-ext
//   message-event = ("MessageNew" [SP "(" fetch-att *(SP fetch-att) ")"]) /
//     "MessageExpunge" / "FlagChange" / "AnnotationChange"
// Rules of §5 and §6 checked here: MessageNew and MessageExpunge come
// together (both or neither) for the selected mailbox, FlagChange needs
// them (for other mailboxes single events are taken, as the RFC's own §3.1
// example and imaptest send them; Dovecot 2.3 does the same); only message
// events and fetch attributes for the selected mailbox; SELECTED and
// SELECTED-DELAYED at most once; events Petrel does not offer
// (AnnotationChange, the METADATA events, unknown names) are a NO with
// BADEVENT listing the ones it does (§3.1).
import type { Token } from "./reader.js";
import { keyword, type Result } from "./args.js";
import { parseMailbox } from "./mailbox-name.js";
import { parseFetchItems, type FetchItem } from "./fetch-parse.js";

export const NOTIFY_EVENTS = ["MessageNew", "MessageExpunge", "FlagChange", "MailboxName", "SubscriptionChange"] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** Events of RFC 5465 and its extensions that Petrel knows but does not offer. */
const UNSUPPORTED = ["ANNOTATIONCHANGE", "MAILBOXMETADATACHANGE", "SERVERMETADATACHANGE"];
export const MAX_NOTIFY_GROUPS = 50;
export const MAX_NOTIFY_NAMES = 100;

export type NotifyFilter =
  | { kind: "SELECTED" | "SELECTED-DELAYED" | "INBOXES" | "PERSONAL" | "SUBSCRIBED" }
  | { kind: "SUBTREE" | "MAILBOXES"; names: string[] };

export interface NotifyGroup {
  filter: NotifyFilter;
  /** Empty for NONE: nothing is sent for the mailboxes of this filter. */
  events: Set<NotifyEvent>;
  /** FETCH attributes sent with each new message of the selected mailbox (§5.2). */
  fetch?: FetchItem[];
}

export interface NotifySpec {
  /** STATUS indicator: the current STATUS of each watched mailbox goes out at once (§3.1). */
  status: boolean;
  groups: NotifyGroup[];
}

const fail = (error: string, code?: string): { ok: false; error: string; code?: string } => (code ? { ok: false, error, code } : { ok: false, error });
const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });
const BADEVENT = `BADEVENT (${NOTIFY_EVENTS.join(" ")})`;

/** NOTIFY arguments: null for NOTIFY NONE. */
export function parseNotify(args: readonly Token[], utf8Enabled: boolean): Result<NotifySpec | null> {
  const verb = keyword(args[0], "NOTIFY subcommand");
  if (!verb.ok) return verb;
  if (verb.value === "NONE") return args.length === 1 ? ok(null) : fail("NOTIFY NONE takes no arguments");
  if (verb.value !== "SET") return fail("NOTIFY SET or NOTIFY NONE");
  let i = 1;
  const first = args[i];
  const status = first?.t === "atom" && first.v.toUpperCase() === "STATUS";
  if (status) i++;
  if (i >= args.length) return fail("NOTIFY SET needs at least one event group");
  if (args.length - i > MAX_NOTIFY_GROUPS) return fail(`At most ${MAX_NOTIFY_GROUPS} event groups`);
  const groups: NotifyGroup[] = [];
  for (; i < args.length; i++) {
    const group = parseGroup(args[i], utf8Enabled);
    if (!group.ok) return group;
    const kind = group.value.filter.kind;
    if ((kind === "SELECTED" || kind === "SELECTED-DELAYED") && groups.some((g) => g.filter.kind === "SELECTED" || g.filter.kind === "SELECTED-DELAYED")) {
      return fail("SELECTED or SELECTED-DELAYED may be given once");
    }
    groups.push(group.value);
  }
  return ok({ status, groups });
}

function parseGroup(tok: Token, utf8Enabled: boolean): Result<NotifyGroup> {
  if (tok.t !== "list" || tok.v.length < 2) return fail("An event group is (filter events)");
  const parts = tok.v;
  const kind = keyword(parts[0], "mailbox filter");
  if (!kind.ok) return kind;
  let filter: NotifyFilter;
  let next = 1;
  switch (kind.value) {
    case "SELECTED":
    case "SELECTED-DELAYED":
    case "INBOXES":
    case "PERSONAL":
    case "SUBSCRIBED":
      filter = { kind: kind.value };
      break;
    case "SUBTREE":
    case "MAILBOXES": {
      const names = parseNames(parts[1], utf8Enabled);
      if (!names.ok) return names;
      filter = { kind: kind.value, names: names.value };
      next = 2;
      break;
    }
    default:
      return fail(`Unknown mailbox filter ${kind.value.slice(0, 40)}`);
  }
  if (parts.length !== next + 1) return fail("An event group is (filter events)");
  const selected = filter.kind === "SELECTED" || filter.kind === "SELECTED-DELAYED";
  const events = parseEvents(parts[next], selected);
  if (!events.ok) return events;
  return ok({ filter, ...events.value });
}

function parseNames(tok: Token | undefined, utf8Enabled: boolean): Result<string[]> {
  const tokens = tok?.t === "list" ? tok.v : tok ? [tok] : [];
  if (tokens.length === 0) return fail("SUBTREE and MAILBOXES need one or more mailbox names");
  if (tokens.length > MAX_NOTIFY_NAMES) return fail(`At most ${MAX_NOTIFY_NAMES} mailbox names per filter`);
  const names: string[] = [];
  for (const t of tokens) {
    const name = parseMailbox(t, utf8Enabled);
    if (!name.ok) return name;
    names.push(name.value);
  }
  return ok(names);
}

function parseEvents(tok: Token | undefined, selected: boolean): Result<{ events: Set<NotifyEvent>; fetch?: FetchItem[] }> {
  if (tok?.t === "atom" && tok.v.toUpperCase() === "NONE") return ok({ events: new Set() });
  if (tok?.t !== "list" || tok.v.length === 0) return fail("Events are a parenthesized list or NONE");
  const events = new Set<NotifyEvent>();
  let fetch: FetchItem[] | undefined;
  const list = tok.v;
  for (let k = 0; k < list.length; k++) {
    const name = keyword(list[k], "event");
    if (!name.ok) return name;
    const event = NOTIFY_EVENTS.find((e) => e.toUpperCase() === name.value);
    if (!event) {
      if (UNSUPPORTED.includes(name.value) || /^[A-Z][A-Z0-9-]*$/.test(name.value)) return fail(`Event ${name.value.slice(0, 40)} is not offered`, BADEVENT);
      return fail("Invalid event name");
    }
    // Only message events under SELECTED (§6.1): names and subscriptions are told through the other filters.
    if (selected && (event === "MailboxName" || event === "SubscriptionChange")) return fail(`${event} is not a message event: not for SELECTED`);
    events.add(event);
    if (event === "MessageNew" && list[k + 1]?.t === "list") {
      if (!selected) return fail("Fetch attributes are only for the selected mailbox (SELECTED or SELECTED-DELAYED)");
      const parsed = parseFetchItems([list[++k]]);
      if (!parsed.ok) return parsed;
      fetch = parsed.value.items;
    }
  }
  if (selected) {
    // Sequence numbers stay right only when new and expunged messages are both told (§5.2, §5.3, §5.4).
    if (events.has("MessageNew") !== events.has("MessageExpunge")) return fail("MessageNew and MessageExpunge go together for the selected mailbox");
    if (events.has("FlagChange") && !events.has("MessageNew")) return fail("FlagChange needs MessageNew and MessageExpunge for the selected mailbox");
  }
  return ok(fetch ? { events, fetch } : { events });
}
