// SEARCH, SORT and THREAD arguments to a search-key tree.
//
// SECURITY: tokens are client data (attacker-controlled). Never throws;
// nesting (parentheses, NOT, OR) is limited to maxDepth (default 32) so a
// long "NOT NOT NOT ..." cannot exhaust the stack; strings must be UTF-8.
//
// Implements (ABNF of RFC 9051 §9 and RFC 3501 §9):
//   search = "SEARCH" [search-return-opts] SP search-program
//   search-program = ["CHARSET" SP charset SP] search-key *(SP search-key)
//   search-key = "ALL" / "ANSWERED" / "BCC" SP astring / "BEFORE" SP date /
//     "BODY" SP astring / "CC" SP astring / "DELETED" / "FLAGGED" /
//     "FROM" SP astring / "KEYWORD" SP flag-keyword / "ON" SP date /
//     "SEEN" / "SINCE" SP date / "SUBJECT" SP astring / "TEXT" SP astring /
//     "TO" SP astring / "UNANSWERED" / "UNDELETED" / "UNFLAGGED" /
//     "UNKEYWORD" SP flag-keyword / "UNSEEN" / "DRAFT" / "HEADER" SP
//     header-fld-name SP astring / "LARGER" SP number64 / "NOT" SP search-key /
//     "OR" SP search-key SP search-key / "SENTBEFORE" SP date / "SENTON" SP
//     date / "SENTSINCE" SP date / "SMALLER" SP number64 / "UID" SP
//     sequence-set / "UNDRAFT" / sequence-set / "(" search-key *(SP search-key) ")"
//   plus RFC 3501's "NEW" / "OLD" / "RECENT"; RFC 5182 "$" as a sequence-set;
//   RFC 7162 §3.1.5 search-modsequence = "MODSEQ" [SP search-modseq-ext] SP
//   mod-sequence-valzer, search-modseq-ext = entry-name SP entry-type-req;
//   RFC 4731 §3 search-return-opts = SP "RETURN" SP "(" [search-return-opt
//   *(SP search-return-opt)] ")" with MIN / MAX / ALL / COUNT and RFC 5182
//   SAVE; "RETURN ()" means ALL.
//   RFC 5256 §3: sort-criteria = "(" sort-criterion *(SP sort-criterion) ")",
//   sort-criterion = ["REVERSE" SP] sort-key, sort-key = "ARRIVAL" / "CC" /
//   "DATE" / "FROM" / "SIZE" / "SUBJECT" / "TO" (RFC 5957 adds DISPLAYFROM /
//   DISPLAYTO); thread = "THREAD" SP thread-alg SP search-charset
//   1*(SP search-key), thread-alg = "ORDEREDSUBJECT" / "REFERENCES" (/ "REFS",
//   RFC 5256 + draft, accepted by name only: the executor decides).
// Charsets: US-ASCII and UTF-8 only; anything else gives code
// "BADCHARSET (US-ASCII UTF-8)" (tagged NO, RFC 9051 §7.1).
// Header names (FROM, TO, CC, BCC, SUBJECT, HEADER x) come out lower-cased.
import type { Token } from "./reader.js";
import { astring, keyword, modSeqArg, numberArg, parseFlag, sequenceArg, type Result } from "./args.js";
import { parseDate, type ImapDate } from "./datetime.js";
import type { SequenceSet } from "./sequence.js";

export type SearchKey =
  | { k: "all" }
  | { k: "seq"; set: SequenceSet }
  | { k: "uid"; set: SequenceSet }
  | { k: "flag"; flag: string; not: boolean }
  | { k: "header"; field: string; value: string }
  | { k: "body" | "text"; value: string }
  | { k: "date"; which: "internal" | "sent"; op: "before" | "on" | "since"; date: ImapDate }
  | { k: "size"; op: "larger" | "smaller"; n: number }
  | { k: "not"; key: SearchKey }
  | { k: "or"; a: SearchKey; b: SearchKey }
  | { k: "and"; keys: SearchKey[] }
  /** entry: the RFC 7162 entry name's flag ("/flags/\Seen" → "\Seen") and its type. */
  | { k: "modseq"; n: number; entry?: { flag: string; type: "priv" | "shared" | "all" } }
  | { k: "new" }
  | { k: "old" }
  | { k: "recent" };

export type ReturnOption = "MIN" | "MAX" | "ALL" | "COUNT" | "SAVE" | "UPDATE" | "PARTIAL";

export interface SearchArgs {
  /** "US-ASCII" or "UTF-8" (the default when CHARSET is absent). */
  charset: string;
  /** Present when RETURN was given (ESEARCH response wanted); "RETURN ()" gives ["ALL"]. */
  returnOptions?: ReturnOption[];
  /** RETURN (PARTIAL low:high) of CONTEXT=SEARCH (RFC 5267 §4.4): positions in the result, low ≤ high. */
  partial?: { low: number; high: number };
  key: SearchKey;
}

export interface SearchOptions {
  /** Deepest nesting of parentheses, NOT and OR. Default 32. */
  maxDepth?: number;
}

export const BADCHARSET = "BADCHARSET (US-ASCII UTF-8)";

const fail = (error: string, code?: string): { ok: false; error: string; code?: string } => (code ? { ok: false, error, code } : { ok: false, error });

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ["\\Answered", false], DELETED: ["\\Deleted", false], DRAFT: ["\\Draft", false],
  FLAGGED: ["\\Flagged", false], SEEN: ["\\Seen", false],
  UNANSWERED: ["\\Answered", true], UNDELETED: ["\\Deleted", true], UNDRAFT: ["\\Draft", true],
  UNFLAGGED: ["\\Flagged", true], UNSEEN: ["\\Seen", true],
};
const HEADER_KEYS = new Set(["BCC", "CC", "FROM", "SUBJECT", "TO"]);
const DATE_KEYS: Record<string, ["internal" | "sent", "before" | "on" | "since"]> = {
  BEFORE: ["internal", "before"], ON: ["internal", "on"], SINCE: ["internal", "since"],
  SENTBEFORE: ["sent", "before"], SENTON: ["sent", "on"], SENTSINCE: ["sent", "since"],
};

function parseCharset(tok: Token | undefined): Result<string> {
  const cs = astring(tok, "charset");
  if (!cs.ok) return cs;
  const upper = cs.value.toUpperCase();
  if (upper === "US-ASCII" || upper === "UTF-8") return { ok: true, value: upper };
  return fail(`Unsupported charset ${cs.value.slice(0, 40)}`, BADCHARSET);
}

/** [RETURN (options)] [CHARSET charset] search-key *(SP search-key): the arguments of SEARCH / UID SEARCH. */
/** "RETURN (options)" at args[0] (RFC 4731 §3.1; RFC 5267 §3.2 for SORT): the options, or undefined when absent. */
function parseReturn(args: readonly Token[], allowed: readonly ReturnOption[]): Result<{ options: ReturnOption[]; partial?: { low: number; high: number } } | undefined> {
  if (!isWord(args[0], "RETURN")) return { ok: true, value: undefined };
  const list = args[1];
  if (list?.t !== "list") return fail("RETURN must be followed by (options)");
  const returnOptions: ReturnOption[] = [];
  let partial: { low: number; high: number } | undefined;
  for (let n = 0; n < list.v.length; n++) {
    const k = keyword(list.v[n], "RETURN option");
    if (!k.ok) return k;
    if (!(allowed as readonly string[]).includes(k.value)) return fail(`Unknown RETURN option ${k.value.slice(0, 40)}`);
    if (k.value === "PARTIAL") {
      const range = list.v[++n];
      const m = range?.t === "atom" ? /^(\d{1,10}):(\d{1,10})$/.exec(range.v) : null;
      if (!m || Number(m[1]) === 0 || Number(m[2]) === 0) return fail("PARTIAL needs a range like 1:100");
      partial = { low: Math.min(Number(m[1]), Number(m[2])), high: Math.max(Number(m[1]), Number(m[2])) };
    }
    if (!returnOptions.includes(k.value as ReturnOption)) returnOptions.push(k.value as ReturnOption);
  }
  if (returnOptions.length === 0) returnOptions.push("ALL");
  return { ok: true, value: partial ? { options: returnOptions, partial } : { options: returnOptions } };
}

export function parseSearch(args: readonly Token[], options: SearchOptions = {}): Result<SearchArgs> {
  const parsedReturn = parseReturn(args, ["MIN", "MAX", "ALL", "COUNT", "SAVE", "UPDATE", "PARTIAL"]);
  if (!parsedReturn.ok) return parsedReturn;
  const returnOptions = parsedReturn.value?.options;
  let i = returnOptions ? 2 : 0;
  let charset = "UTF-8";
  if (isWord(args[i], "CHARSET")) {
    const cs = parseCharset(args[i + 1]);
    if (!cs.ok) return cs;
    charset = cs.value;
    i += 2;
  }
  const key = parseSearchKeys(args.slice(i), options);
  if (!key.ok) return key;
  const value: SearchArgs = { charset, key: key.value };
  if (returnOptions) value.returnOptions = returnOptions;
  if (parsedReturn.value?.partial) value.partial = parsedReturn.value.partial;
  return { ok: true, value };
}

/** One or more search keys (ANDed; a single key is returned as is). */
export function parseSearchKeys(tokens: readonly Token[], options: SearchOptions = {}): Result<SearchKey> {
  if (tokens.length === 0) return fail("Missing search key");
  return new KeyParser(options.maxDepth ?? 32).all(tokens, 0);
}

function isWord(tok: Token | undefined, word: string): boolean {
  return tok?.t === "atom" && !tok.section && tok.v.toUpperCase() === word;
}

class KeyParser {
  constructor(private readonly maxDepth: number) {}

  all(tokens: readonly Token[], depth: number): Result<SearchKey> {
    const keys: SearchKey[] = [];
    const pos = { i: 0 };
    while (pos.i < tokens.length) {
      const key = this.one(tokens, pos, depth);
      if (!key.ok) return key;
      keys.push(key.value);
    }
    if (keys.length === 0) return fail("Empty search key list");
    return { ok: true, value: keys.length === 1 ? keys[0]! : { k: "and", keys } };
  }

  private one(tokens: readonly Token[], pos: { i: number }, depth: number): Result<SearchKey> {
    if (depth >= this.maxDepth) return fail(`Search keys nested too deeply (limit ${this.maxDepth})`);
    const tok = tokens[pos.i++];
    if (!tok) return fail("Missing search key");
    if (tok.t === "list") return this.all(tok.v, depth + 1);
    if (tok.t !== "atom" || tok.section) return fail("Invalid search key");
    const name = tok.v.toUpperCase();
    const arg = () => tokens[pos.i++];
    const ok = (value: SearchKey): Result<SearchKey> => ({ ok: true, value });
    const flag = FLAG_KEYS[name];
    if (flag) return ok({ k: "flag", flag: flag[0], not: flag[1] });
    if (HEADER_KEYS.has(name)) {
      const v = astring(arg(), `${name} value`);
      return v.ok ? ok({ k: "header", field: name.toLowerCase(), value: v.value }) : v;
    }
    const date = DATE_KEYS[name];
    if (date) {
      const t = arg();
      const text = t?.t === "atom" && !t.section ? t.v : t?.t === "string" ? t.v.toString("latin1") : undefined;
      if (text === undefined) return fail(`${name} needs a date`);
      const d = parseDate(text);
      return d.ok ? ok({ k: "date", which: date[0], op: date[1], date: d.value }) : d;
    }
    switch (name) {
      case "ALL":
        return ok({ k: "all" });
      case "NEW":
        return ok({ k: "new" });
      case "OLD":
        return ok({ k: "old" });
      case "RECENT":
        return ok({ k: "recent" });
      case "BODY":
      case "TEXT": {
        const v = astring(arg(), `${name} value`);
        return v.ok ? ok({ k: name === "BODY" ? "body" : "text", value: v.value }) : v;
      }
      case "HEADER": {
        const field = astring(arg(), "header field name");
        if (!field.ok) return field;
        if (!/^[\x21-\x39\x3b-\x7e]+$/.test(field.value)) return fail("Invalid header field name");
        const v = astring(arg(), "HEADER value");
        return v.ok ? ok({ k: "header", field: field.value.toLowerCase(), value: v.value }) : v;
      }
      case "KEYWORD":
      case "UNKEYWORD": {
        const f = parseFlag(arg());
        return f.ok ? ok({ k: "flag", flag: f.value, not: name === "UNKEYWORD" }) : f;
      }
      case "LARGER":
      case "SMALLER": {
        const n = numberArg(arg(), `${name} size`, { max: Number.MAX_SAFE_INTEGER });
        return n.ok ? ok({ k: "size", op: name === "LARGER" ? "larger" : "smaller", n: n.value }) : n;
      }
      case "NOT": {
        const key = this.one(tokens, pos, depth + 1);
        return key.ok ? ok({ k: "not", key: key.value }) : key;
      }
      case "OR": {
        const a = this.one(tokens, pos, depth + 1);
        if (!a.ok) return a;
        const b = this.one(tokens, pos, depth + 1);
        return b.ok ? ok({ k: "or", a: a.value, b: b.value }) : b;
      }
      case "UID": {
        const set = sequenceArg(arg(), { allowSavedResult: true });
        return set.ok ? ok({ k: "uid", set: set.value }) : set;
      }
      case "MODSEQ":
        return this.modseq(tokens, pos);
      default: {
        const set = sequenceArg(tok, { allowSavedResult: true });
        return set.ok ? ok({ k: "seq", set: set.value }) : fail(`Unknown search key ${tok.v.slice(0, 40)}`);
      }
    }
  }

  private modseq(tokens: readonly Token[], pos: { i: number }): Result<SearchKey> {
    let entry: { flag: string; type: "priv" | "shared" | "all" } | undefined;
    const first = tokens[pos.i];
    if (first?.t === "string") {
      // entry-name = entry-flag-name = DQUOTE "/flags/" attr-flag DQUOTE (RFC 7162 §7)
      const name = first.v.toString("latin1");
      const m = /^\/flags\/(.+)$/i.exec(name);
      if (!m) return fail("Invalid MODSEQ entry name (expected \"/flags/<flag>\")");
      const flag = parseFlag({ t: "atom", v: m[1]! });
      if (!flag.ok) return flag;
      const type = keyword(tokens[pos.i + 1], "MODSEQ entry type");
      if (!type.ok) return type;
      const lower = type.value.toLowerCase();
      if (lower !== "priv" && lower !== "shared" && lower !== "all") return fail("MODSEQ entry type must be priv, shared or all");
      entry = { flag: flag.value, type: lower };
      pos.i += 2;
    }
    const n = modSeqArg(tokens[pos.i++], "MODSEQ value", { zero: true });
    if (!n.ok) return n;
    return { ok: true, value: entry ? { k: "modseq", n: n.value, entry } : { k: "modseq", n: n.value } };
  }
}

// ---------------------------------------------------------------- SORT, THREAD

export type SortKey = "ARRIVAL" | "CC" | "DATE" | "FROM" | "SIZE" | "SUBJECT" | "TO" | "DISPLAYFROM" | "DISPLAYTO";
export interface SortCriterion {
  key: SortKey;
  reverse: boolean;
}
const SORT_KEYS = new Set<string>(["ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"]);

/** sort-criteria: "(" ["REVERSE" SP] sort-key *(SP ["REVERSE" SP] sort-key) ")". */
export function parseSortCriteria(tok: Token | undefined): Result<SortCriterion[]> {
  if (tok?.t !== "list") return fail("SORT criteria must be a parenthesized list");
  const out: SortCriterion[] = [];
  let reverse = false;
  for (const t of tok.v) {
    const k = keyword(t, "sort key");
    if (!k.ok) return k;
    if (k.value === "REVERSE") {
      if (reverse) return fail("REVERSE REVERSE in SORT criteria");
      reverse = true;
      continue;
    }
    if (!SORT_KEYS.has(k.value)) return fail(`Unknown sort key ${k.value.slice(0, 40)}`);
    out.push({ key: k.value as SortKey, reverse });
    reverse = false;
  }
  if (reverse) return fail("REVERSE must be followed by a sort key");
  if (out.length === 0) return fail("Empty SORT criteria");
  return { ok: true, value: out };
}

export interface SortArgs {
  criteria: SortCriterion[];
  charset: string;
  key: SearchKey;
  /** ESORT (RFC 5267 §3.2): the result as an ESEARCH response. */
  returnOptions?: ReturnOption[];
}

/** SORT [RETURN (options)] (criteria) charset search-key *(SP search-key). */
export function parseSort(allArgs: readonly Token[], options: SearchOptions = {}): Result<SortArgs> {
  const parsedReturn = parseReturn(allArgs, ["MIN", "MAX", "ALL", "COUNT"]);
  if (!parsedReturn.ok) return parsedReturn;
  const args = parsedReturn.value ? allArgs.slice(2) : allArgs;
  const criteria = parseSortCriteria(args[0]);
  if (!criteria.ok) return criteria;
  const charset = parseCharset(args[1]);
  if (!charset.ok) return charset;
  const key = parseSearchKeys(args.slice(2), options);
  if (!key.ok) return key;
  const value: SortArgs = { criteria: criteria.value, charset: charset.value, key: key.value };
  if (parsedReturn.value) value.returnOptions = parsedReturn.value.options;
  return { ok: true, value };
}

export type ThreadAlgorithm = "ORDEREDSUBJECT" | "REFERENCES" | "REFS";

export interface ThreadArgs {
  algorithm: ThreadAlgorithm;
  charset: string;
  key: SearchKey;
}

/** THREAD algorithm charset search-key *(SP search-key). */
export function parseThread(args: readonly Token[], options: SearchOptions & { algorithms?: readonly ThreadAlgorithm[] } = {}): Result<ThreadArgs> {
  const alg = keyword(args[0], "THREAD algorithm");
  if (!alg.ok) return alg;
  const allowed: readonly string[] = options.algorithms ?? ["ORDEREDSUBJECT", "REFERENCES", "REFS"];
  if (!allowed.includes(alg.value)) return fail(`Unsupported THREAD algorithm ${alg.value.slice(0, 40)}`);
  const charset = parseCharset(args[1]);
  if (!charset.ok) return charset;
  const key = parseSearchKeys(args.slice(2), options);
  if (!key.ok) return key;
  return { ok: true, value: { algorithm: alg.value as ThreadAlgorithm, charset: charset.value, key: key.value } };
}
