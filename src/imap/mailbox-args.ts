// Arguments of the mailbox commands: STATUS, LIST, LSUB, CREATE, SELECT /
// EXAMINE, RENAME, GETQUOTA, SETQUOTA, and those with one mailbox argument
// (DELETE, SUBSCRIBE, UNSUBSCRIBE, GETQUOTAROOT). Primitives come from
// args.ts, mailbox names and LIST patterns from mailbox-name.ts.
//
// SECURITY: every token is client data (attacker-controlled); the parsers
// never throw and return the Result of args.ts (a tagged BAD, or NO [code]
// such as CANNOT or USEATTR). Limits: those of mailbox names and LIST
// patterns (mailbox-name.ts).
//
// Implements (ABNF of RFC 9051 §9 unless noted): list / list-select-opts /
// list-return-opts / mbox-or-pat (RFC 5258 §6, RFC 6154 §6 SPECIAL-USE,
// RFC 5819 §4 return STATUS), lsub (RFC 3501), status / status-att (plus
// SIZE of RFC 8438, HIGHESTMODSEQ of RFC 7162, APPENDLIMIT of RFC 7889),
// create with "USE (" use-attr ")" (RFC 6154 §3), select / examine with
// CONDSTORE and QRESYNC (RFC 7162 §3.2.5), rename, getquota, getquotaroot,
// setquota (RFC 9208 §4.1).
import type { Token } from "./reader.js";
import type { SequenceSet } from "./sequence.js";
import { astring, astringBytes, fail, keyword, listArg, modSeqArg, noMore, numberArg, ok, sequenceArg, type Result } from "./args.js";
import { normalizeMailboxName, parseListMailbox, parseMailbox } from "./mailbox-name.js";

// ---------------------------------------------------------------- LIST, LSUB, STATUS

export type StatusItem = "MESSAGES" | "UIDNEXT" | "UIDVALIDITY" | "UNSEEN" | "DELETED" | "SIZE" | "RECENT" | "HIGHESTMODSEQ" | "APPENDLIMIT";
const STATUS_ITEMS = new Set<string>(["MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT", "HIGHESTMODSEQ", "APPENDLIMIT"]);

/** "(" status-att *(SP status-att) ")": unique, in the order given. */
export function parseStatusItems(tok: Token | undefined): Result<StatusItem[]> {
  const list = listArg(tok, "STATUS items");
  if (!list.ok) return list;
  if (list.value.length === 0) return fail("Empty STATUS item list");
  const out: StatusItem[] = [];
  for (const t of list.value) {
    const k = keyword(t, "STATUS item");
    if (!k.ok || !STATUS_ITEMS.has(k.value)) return fail(`Unknown STATUS item ${t.t === "atom" ? t.v.slice(0, 40) : ""}`.trim());
    if (!out.includes(k.value as StatusItem)) out.push(k.value as StatusItem);
  }
  return ok(out);
}

export interface StatusArgs {
  mailbox: string;
  items: StatusItem[];
}

/** STATUS mailbox (items). */
export function parseStatus(args: readonly Token[], utf8Enabled: boolean): Result<StatusArgs> {
  const mailbox = parseMailbox(args[0], utf8Enabled);
  if (!mailbox.ok) return mailbox;
  const items = parseStatusItems(args[1]);
  if (!items.ok) return items;
  const more = noMore(args, 2, "STATUS mailbox (items)");
  return more.ok ? ok({ mailbox: mailbox.value, items: items.value }) : more;
}

export interface ListArgs {
  reference: string;
  /** One or more patterns (several only with LIST-EXTENDED); "" asks for the delimiter. */
  patterns: string[];
  /** Selection options, a parenthesized pattern list or RETURN options were used (RFC 5258). */
  extended: boolean;
  select: { subscribed: boolean; remote: boolean; recursiveMatch: boolean; specialUse: boolean };
  return: { subscribed: boolean; children: boolean; specialUse: boolean; status?: StatusItem[] };
}

/** LIST [(select-opts)] reference mbox-or-pat [RETURN (return-opts)]. */
export function parseList(args: readonly Token[], utf8Enabled: boolean): Result<ListArgs> {
  const value: ListArgs = {
    reference: "",
    patterns: [],
    extended: false,
    select: { subscribed: false, remote: false, recursiveMatch: false, specialUse: false },
    return: { subscribed: false, children: false, specialUse: false },
  };
  let i = 0;
  if (args[0]?.t === "list") {
    value.extended = true;
    for (const t of args[0].v) {
      const k = keyword(t, "LIST selection option");
      if (!k.ok) return k;
      if (k.value === "SUBSCRIBED") value.select.subscribed = true;
      else if (k.value === "REMOTE") value.select.remote = true;
      else if (k.value === "RECURSIVEMATCH") value.select.recursiveMatch = true;
      else if (k.value === "SPECIAL-USE") value.select.specialUse = true;
      else return fail(`Unknown LIST selection option ${k.value.slice(0, 40)}`);
    }
    // RFC 5258 §3: RECURSIVEMATCH needs a base option (SUBSCRIBED or SPECIAL-USE), not only REMOTE.
    if (value.select.recursiveMatch && !value.select.subscribed && !value.select.specialUse) {
      return fail("RECURSIVEMATCH requires another selection option");
    }
    i = 1;
  }
  const reference = parseListMailbox(args[i], utf8Enabled, "reference");
  if (!reference.ok) return reference;
  value.reference = reference.value;
  const pat = args[i + 1];
  if (pat?.t === "list") {
    value.extended = true;
    if (pat.v.length === 0) return fail("Empty pattern list");
    for (const t of pat.v) {
      const p = parseListMailbox(t, utf8Enabled);
      if (!p.ok) return p;
      value.patterns.push(p.value);
    }
  } else {
    const p = parseListMailbox(pat, utf8Enabled);
    if (!p.ok) return p;
    value.patterns.push(p.value);
  }
  i += 2;
  if (i < args.length) {
    const ret = keyword(args[i], "RETURN");
    if (!ret.ok || ret.value !== "RETURN") return fail("Expected RETURN (options)");
    const opts = listArg(args[i + 1], "RETURN options");
    if (!opts.ok) return opts;
    value.extended = true;
    const list = opts.value;
    for (let k = 0; k < list.length; k++) {
      const opt = keyword(list[k], "LIST return option");
      if (!opt.ok) return opt;
      if (opt.value === "SUBSCRIBED") value.return.subscribed = true;
      else if (opt.value === "CHILDREN") value.return.children = true;
      else if (opt.value === "SPECIAL-USE") value.return.specialUse = true;
      else if (opt.value === "STATUS") {
        const items = parseStatusItems(list[++k]);
        if (!items.ok) return items;
        value.return.status = items.value;
      } else return fail(`Unknown LIST return option ${opt.value.slice(0, 40)}`);
    }
    const more = noMore(args, i + 2, "LIST [(options)] reference pattern [RETURN (options)]");
    if (!more.ok) return more;
  }
  return ok(value);
}

/** LSUB reference pattern (RFC 3501 §6.3.9). */
export function parseLsub(args: readonly Token[], utf8Enabled: boolean): Result<{ reference: string; pattern: string }> {
  const reference = parseListMailbox(args[0], utf8Enabled, "reference");
  if (!reference.ok) return reference;
  const pattern = parseListMailbox(args[1], utf8Enabled);
  if (!pattern.ok) return pattern;
  const more = noMore(args, 2, "LSUB reference pattern");
  return more.ok ? ok({ reference: reference.value, pattern: pattern.value }) : more;
}

// ---------------------------------------------------------------- CREATE, SELECT

export const USE_ATTRIBUTES = ["\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash", "\\Important"] as const;
const USE_ATTR_CASE = new Map<string, string>(USE_ATTRIBUTES.map((a) => [a.toUpperCase(), a]));

/** CREATE mailbox [(USE (use-attr ...))]. A trailing delimiter is dropped (RFC 9051 §6.3.4). */
export function parseCreate(args: readonly Token[], utf8Enabled: boolean, delimiter = "/"): Result<{ mailbox: string; use: string[] }> {
  const raw = astringBytes(args[0], "mailbox name");
  if (!raw.ok) return raw;
  let bytes = raw.value;
  const d = Buffer.from(delimiter);
  if (bytes.length > d.length && bytes.subarray(bytes.length - d.length).equals(d)) bytes = bytes.subarray(0, bytes.length - d.length);
  const mailbox = normalizeMailboxName(bytes, utf8Enabled, delimiter);
  if (!mailbox.ok) return mailbox;
  const use: string[] = [];
  if (args.length > 1) {
    const params = listArg(args[1], "CREATE parameters");
    if (!params.ok) return params;
    for (let k = 0; k < params.value.length; k += 2) {
      const name = keyword(params.value[k], "CREATE parameter");
      if (!name.ok) return name;
      if (name.value !== "USE") return fail(`Unknown CREATE parameter ${name.value.slice(0, 40)}`);
      const attrs = listArg(params.value[k + 1], "USE attributes");
      if (!attrs.ok) return attrs;
      for (const a of attrs.value) {
        if (a.t !== "atom" || !a.v.startsWith("\\")) return fail("Invalid USE attribute");
        const canonical = USE_ATTR_CASE.get(a.v.toUpperCase());
        if (!canonical) return fail(`Unsupported special-use attribute ${a.v.slice(0, 40)}`, "USEATTR");
        if (!use.includes(canonical)) use.push(canonical);
      }
    }
    const more = noMore(args, 2, "CREATE mailbox [(USE (attributes))]");
    if (!more.ok) return more;
  }
  return ok({ mailbox: mailbox.value, use });
}

export interface QresyncParams {
  uidValidity: number;
  modSeq: number;
  knownUids?: SequenceSet;
  /** known-sequence-set and the matching known-uid-set. */
  seqMatch?: { seqs: SequenceSet; uids: SequenceSet };
}

export interface SelectArgs {
  mailbox: string;
  condstore: boolean;
  qresync?: QresyncParams;
}

/** SELECT / EXAMINE mailbox [(CONDSTORE / QRESYNC (uidvalidity modseq [known-uids] [(seqs uids)]))]. */
export function parseSelect(args: readonly Token[], utf8Enabled: boolean): Result<SelectArgs> {
  const mailbox = parseMailbox(args[0], utf8Enabled);
  if (!mailbox.ok) return mailbox;
  const value: SelectArgs = { mailbox: mailbox.value, condstore: false };
  if (args.length === 1) return ok(value);
  const params = listArg(args[1], "SELECT parameters");
  if (!params.ok) return params;
  const list = params.value;
  for (let k = 0; k < list.length; k++) {
    const name = keyword(list[k], "SELECT parameter");
    if (!name.ok) return name;
    if (name.value === "CONDSTORE") value.condstore = true;
    else if (name.value === "QRESYNC") {
      const q = parseQresync(list[++k]);
      if (!q.ok) return q;
      value.qresync = q.value;
    } else return fail(`Unknown SELECT parameter ${name.value.slice(0, 40)}`);
  }
  const more = noMore(args, 2, "SELECT mailbox [(parameters)]");
  return more.ok ? ok(value) : more;
}

function parseQresync(tok: Token | undefined): Result<QresyncParams> {
  const list = listArg(tok, "QRESYNC parameters");
  if (!list.ok) return list;
  const [uv, ms, ...rest] = list.value;
  const uidValidity = numberArg(uv, "UIDVALIDITY", { nz: true });
  if (!uidValidity.ok) return uidValidity;
  const modSeq = modSeqArg(ms, "QRESYNC mod-sequence");
  if (!modSeq.ok) return modSeq;
  const value: QresyncParams = { uidValidity: uidValidity.value, modSeq: modSeq.value };
  const known = { allowStar: false };
  if (rest[0] && rest[0].t !== "list") {
    const uids = sequenceArg(rest.shift(), known);
    if (!uids.ok) return uids;
    value.knownUids = uids.value;
  }
  if (rest[0]) {
    const pair = listArg(rest.shift(), "QRESYNC sequence match data");
    if (!pair.ok) return pair;
    if (pair.value.length !== 2) return fail("QRESYNC sequence match data needs (known-sequence-set known-uid-set)");
    const seqs = sequenceArg(pair.value[0], known);
    if (!seqs.ok) return seqs;
    const uids = sequenceArg(pair.value[1], known);
    if (!uids.ok) return uids;
    value.seqMatch = { seqs: seqs.value, uids: uids.value };
  }
  if (rest.length > 0) return fail("Too many QRESYNC parameters");
  return ok(value);
}

// ---------------------------------------------------------------- RENAME, one-mailbox commands, QUOTA

/** RENAME existing new. */
export function parseRename(args: readonly Token[], utf8Enabled: boolean): Result<{ from: string; to: string }> {
  const from = parseMailbox(args[0], utf8Enabled);
  if (!from.ok) return from;
  const to = parseMailbox(args[1], utf8Enabled);
  if (!to.ok) return to;
  const more = noMore(args, 2, "RENAME mailbox new-name");
  return more.ok ? ok({ from: from.value, to: to.value }) : more;
}

/** Commands with one mailbox argument: DELETE, SUBSCRIBE, UNSUBSCRIBE, GETQUOTAROOT. */
export function parseMailboxOnly(args: readonly Token[], utf8Enabled: boolean): Result<string> {
  const mailbox = parseMailbox(args[0], utf8Enabled);
  if (!mailbox.ok) return mailbox;
  const more = noMore(args, 1, "one mailbox name");
  return more.ok ? mailbox : more;
}

/** GETQUOTA quota-root (astring, may be ""). */
export function parseGetQuota(args: readonly Token[]): Result<string> {
  const root = astring(args[0], "quota root");
  if (!root.ok) return root;
  const more = noMore(args, 1, "GETQUOTA root");
  return more.ok ? root : more;
}

/** SETQUOTA quota-root (resource-name limit ...): names upper-cased, limits number64. */
export function parseSetQuota(args: readonly Token[]): Result<{ root: string; limits: Array<[string, number]> }> {
  const root = astring(args[0], "quota root");
  if (!root.ok) return root;
  const list = listArg(args[1], "quota limits");
  if (!list.ok) return list;
  if (list.value.length % 2 !== 0) return fail("Quota limits must be resource/limit pairs");
  const limits: Array<[string, number]> = [];
  for (let k = 0; k < list.value.length; k += 2) {
    const name = keyword(list.value[k], "quota resource");
    if (!name.ok) return name;
    const n = numberArg(list.value[k + 1], "quota limit", { max: Number.MAX_SAFE_INTEGER });
    if (!n.ok) return n;
    limits.push([name.value, n.value]);
  }
  const more = noMore(args, 2, "SETQUOTA root (resource limit ...)");
  return more.ok ? ok({ root: root.value, limits }) : more;
}
