// SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH result options
// (RFC 4731: MIN, MAX, COUNT, ALL), SEARCHRES (RFC 5182: SAVE and $), and the
// MODSEQ of the matches (RFC 7162 §3.1.5). IMAP4rev2 clients always get
// ESEARCH responses.
import type { CommandHandler } from "./index.js";
import type { ImapSession } from "../session.js";
import { parseSearch, type SearchArgs } from "../search-parse.js";
import { search, usesModseq } from "../search.js";
import { esearchLine } from "./esearch.js";
import { withArgs } from "./reply.js";


async function searchCommand(s: ImapSession, tag: string, { key, returnOptions }: SearchArgs, byUid: boolean): Promise<void> {
  const view = s.selected!;
  const modseq = usesModseq(key);
  if (modseq) s.useCondstore();
  const uids = await search(s.searchScope(), key);
  const numbers = byUid ? uids : uids.map((uid) => view.seqOf(uid));
  const modseqs = modseq ? uids.map((uid) => view.message(uid)!.modseq) : undefined;
  const options = returnOptions ?? (s.rev2 ? ["ALL" as const] : undefined);
  if (!options) {
    const top = modseqs && modseqs.length > 0 ? Math.max(...modseqs) : undefined;
    s.untagged(`SEARCH${numbers.map((n) => ` ${n}`).join("")}${top !== undefined ? ` (MODSEQ ${top})` : ""}`);
    return s.ok(tag, "SEARCH completed");
  }
  if (options.includes("SAVE")) s.savedSearch = uids;
  const results = options.filter((o) => o !== "SAVE");
  if (options.includes("SAVE") && results.length === 0) return s.ok(tag, "SEARCH completed (saved)");
  s.untagged(esearchLine(tag, byUid, results, { numbers, modseqs, sorted: false }));
  s.ok(tag, "SEARCH completed");
}

export const searchCommands: [string, CommandHandler][] = [
  ["SEARCH", withArgs(["selected"], (cmd) => parseSearch(cmd.args), (s, tag, args) => searchCommand(s, tag, args, false))],
  ["UID SEARCH", withArgs(["selected"], (cmd) => parseSearch(cmd.args), (s, tag, args) => searchCommand(s, tag, args, true))],
];
