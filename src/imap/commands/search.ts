// SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH result options
// (RFC 4731: MIN, MAX, COUNT, ALL), SEARCHRES (RFC 5182: SAVE and $), and the
// MODSEQ of the matches (RFC 7162 §3.1.5). IMAP4rev2 clients always get
// ESEARCH responses.
import type { CommandHandler } from "./index.js";
import type { ImapSession } from "../session.js";
import { parseSearch, type SearchArgs } from "../search-parse.js";
import { search, usesModseq } from "../search.js";
import { formatSequenceSet } from "../sequence.js";
import { imapString } from "../quote.js";
import { withArgs } from "./reply.js";


async function searchCommand(s: ImapSession, tag: string, { key, returnOptions }: SearchArgs, byUid: boolean): Promise<void> {
  const view = s.selected!;
  const modseq = usesModseq(key);
  if (modseq) s.useCondstore();
  const uids = await search(s.searchScope(), key);
  const numbers = byUid ? uids : uids.map((uid) => view.seqOf(uid));
  const highest = (list: number[]) => (modseq && list.length > 0 ? Math.max(...list.map((uid) => view.message(uid)!.modseq)) : undefined);
  const options = returnOptions ?? (s.rev2 ? ["ALL"] : undefined);
  if (!options) {
    const top = highest(uids);
    s.untagged(`SEARCH${numbers.map((n) => ` ${n}`).join("")}${top !== undefined ? ` (MODSEQ ${top})` : ""}`);
    return s.ok(tag, "SEARCH completed");
  }
  if (options.includes("SAVE")) s.savedSearch = uids;
  const results = options.filter((o) => o !== "SAVE");
  if (options.includes("SAVE") && results.length === 0) return s.ok(tag, "SEARCH completed (saved)");
  const parts = [`(TAG ${imapString(tag)})`];
  if (byUid) parts.push("UID");
  if (numbers.length > 0) {
    if (results.includes("MIN")) parts.push(`MIN ${Math.min(...numbers)}`);
    if (results.includes("MAX")) parts.push(`MAX ${Math.max(...numbers)}`);
    if (results.includes("ALL")) parts.push(`ALL ${formatSequenceSet(numbers)}`);
  }
  if (results.includes("COUNT")) parts.push(`COUNT ${numbers.length}`);
  // RFC 7162 §3.1.5 with RFC 4731: the MODSEQ of the messages returned — only the MIN/MAX ones when nothing else is asked.
  const returned = results.some((r) => r === "ALL" || r === "COUNT") ? uids
    : [results.includes("MIN") ? uids[0] : undefined, results.includes("MAX") ? uids[uids.length - 1] : undefined].filter((u): u is number => u !== undefined);
  const top = highest(returned);
  if (top !== undefined) parts.push(`MODSEQ ${top}`);
  s.untagged(`ESEARCH ${parts.join(" ")}`);
  s.ok(tag, "SEARCH completed");
}

export const searchCommands: [string, CommandHandler][] = [
  ["SEARCH", withArgs(["selected"], (cmd) => parseSearch(cmd.args), (s, tag, args) => searchCommand(s, tag, args, false))],
  ["UID SEARCH", withArgs(["selected"], (cmd) => parseSearch(cmd.args), (s, tag, args) => searchCommand(s, tag, args, true))],
];
