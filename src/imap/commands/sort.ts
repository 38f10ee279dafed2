// SORT, UID SORT, THREAD and UID THREAD (RFC 5256 §3, with the
// DISPLAYFROM / DISPLAYTO keys of RFC 5957 and the MODSEQ of RFC 7162
// §3.1.5 on SORT results). The search keys select the messages, as SEARCH
// does (search.ts); sort.ts orders them, thread.ts threads them.
//
// SECURITY: arguments are client data, parsed by search-parse.ts (never
// throws, nesting limited). Each message is read at most once per command:
// when the search needs the message text its header is taken then;
// otherwise only the matching messages are read, and only when the
// criteria need a header (not for ARRIVAL and SIZE). Only the few header
// fields used are kept (not the message), and nothing across commands.
//
// Charsets: US-ASCII and UTF-8; any other gives NO [BADCHARSET (US-ASCII
// UTF-8)] (RFC 5256 §3, RFC 9051 §7.1). Unknown sort keys and thread
// algorithms are BAD.
import type { CommandHandler, ImapCommand } from "./index.js";
import type { ImapSession } from "../session.js";
import { parseSort, parseThread, type SearchKey } from "../search-parse.js";
import { search, usesModseq } from "../search.js";
import { parseHeader } from "../../mime/header.js";
import { criteriaNeedHeader, headerInfo, sortItems, type HeaderInfo, type SortItem } from "../sort.js";
import { formatThreads, threadOrderedSubject, threadReferences } from "../thread.js";
import { refuse } from "./reply.js";
import { esearchLine } from "./esearch.js";


interface Item extends SortItem {
  modseq: number;
}

function headerOf(buf: Buffer): HeaderInfo {
  return headerInfo(parseHeader(buf));
}

/** The messages matching `key`, in sequence order, with their header fields when `needHeader`. */
async function select(s: ImapSession, key: SearchKey, needHeader: boolean): Promise<Item[]> {
  const view = s.selected!;
  const headers = new Map<number, HeaderInfo>();
  const uids = await search(s.searchScope(needHeader ? (m, buf) => headers.set(m.uid, headerOf(buf)) : undefined), key);
  const items: Item[] = [];
  for (const uid of uids) {
    const m = view.message(uid)!;
    const item: Item = { seq: view.seqOf(uid), uid, size: m.size, internalDate: m.internalDate, modseq: m.modseq };
    if (needHeader) {
      const header = headers.get(uid) ?? (await s.mailstore.readIfPresent(m).then((buf) => buf && headerOf(buf)));
      if (!header) continue; // gone meanwhile (RFC 2180 §4.1)
      item.header = header;
    }
    headers.delete(uid);
    items.push(item);
  }
  return items;
}

async function sortCommand(s: ImapSession, cmd: ImapCommand, byUid: boolean): Promise<void> {
  const parsed = parseSort(cmd.args);
  if (!parsed.ok) return refuse(s, cmd.tag, parsed);
  const { criteria, key, returnOptions } = parsed.value;
  const modseq = usesModseq(key);
  if (modseq) s.useCondstore();
  const items = sortItems(await select(s, key, criteriaNeedHeader(criteria)), criteria);
  if (returnOptions) {
    const numbers = items.map((i) => (byUid ? i.uid : i.seq));
    s.untagged(esearchLine(cmd.tag, byUid, returnOptions, { numbers, modseqs: modseq ? items.map((i) => i.modseq) : undefined, sorted: true }));
    return s.ok(cmd.tag, "SORT completed");
  }
  let line = "SORT";
  for (const item of items) line += ` ${byUid ? item.uid : item.seq}`;
  // RFC 7162 §3.1.5 / §7 (sort-data): the highest MODSEQ of the results, when MODSEQ was searched.
  if (modseq && items.length > 0) line += ` (MODSEQ ${items.reduce((max, i) => Math.max(max, i.modseq), 0)})`;
  s.untagged(line);
  s.ok(cmd.tag, "SORT completed");
}

async function threadCommand(s: ImapSession, cmd: ImapCommand, byUid: boolean): Promise<void> {
  const parsed = parseThread(cmd.args, { algorithms: ["ORDEREDSUBJECT", "REFERENCES"] });
  if (!parsed.ok) return refuse(s, cmd.tag, parsed);
  const { algorithm, key } = parsed.value;
  if (usesModseq(key)) s.useCondstore();
  const items = await select(s, key, true);
  const threads = algorithm === "ORDEREDSUBJECT" ? threadOrderedSubject(items) : threadReferences(items);
  const list = formatThreads(threads, (item) => (byUid ? item.uid : item.seq));
  s.untagged(list === "" ? "THREAD" : `THREAD ${list}`);
  s.ok(cmd.tag, "THREAD completed");
}

export const sortCommands: [string, CommandHandler][] = [
  ["SORT", { states: ["selected"], run: (s, cmd) => sortCommand(s, cmd, false) }],
  ["UID SORT", { states: ["selected"], run: (s, cmd) => sortCommand(s, cmd, true) }],
  ["THREAD", { states: ["selected"], run: (s, cmd) => threadCommand(s, cmd, false) }],
  ["UID THREAD", { states: ["selected"], run: (s, cmd) => threadCommand(s, cmd, true) }],
];
