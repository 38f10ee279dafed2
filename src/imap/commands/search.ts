// SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH result options
// (RFC 4731: MIN, MAX, COUNT, ALL), SEARCHRES (RFC 5182: SAVE and $), and the
// MODSEQ of the matches (RFC 7162 §3.1.5). IMAP4rev2 clients always get
// ESEARCH responses.
import type { CommandHandler, ImapCommand } from "./index.js";
import type { ImapSession } from "../session.js";
import { parseSearch, type SearchKey } from "../search-parse.js";
import { search } from "../search.js";
import { formatSequenceSet } from "../sequence.js";
import { imapString } from "../quote.js";
import { refuse } from "./reply.js";

function usesModseq(key: SearchKey): boolean {
  if (key.k === "modseq") return true;
  if (key.k === "not") return usesModseq(key.key);
  if (key.k === "or") return usesModseq(key.a) || usesModseq(key.b);
  if (key.k === "and") return key.keys.some(usesModseq);
  return false;
}

async function searchCommand(s: ImapSession, cmd: ImapCommand, byUid: boolean): Promise<void> {
  const parsed = parseSearch(cmd.args);
  if (!parsed.ok) return refuse(s, cmd.tag, parsed);
  const { key, returnOptions } = parsed.value;
  const view = s.selected!;
  const modseq = usesModseq(key);
  if (modseq) s.condstoreUsed = true;
  const uids = await search({
    uids: view.allUids.filter((uid) => !view.isGone(uid)),
    message: (uid) => view.message(uid)!,
    read: (m) => s.mailstore.read(m),
    saved: s.savedSearch,
  }, key);
  const numbers = byUid ? uids : uids.map((uid) => view.seqOf(uid));
  const highest = modseq && uids.length > 0 ? Math.max(...uids.map((uid) => view.message(uid)!.modseq)) : undefined;
  const options = returnOptions ?? (s.rev2 ? ["ALL"] : undefined);
  if (!options) {
    s.untagged(`SEARCH${numbers.map((n) => ` ${n}`).join("")}${highest !== undefined ? ` (MODSEQ ${highest})` : ""}`);
    return s.ok(cmd.tag, "SEARCH completed");
  }
  if (options.includes("SAVE")) s.savedSearch = uids;
  const results = options.filter((o) => o !== "SAVE");
  if (options.includes("SAVE") && results.length === 0) return s.ok(cmd.tag, "SEARCH completed (saved)");
  const parts = [`(TAG ${imapString(cmd.tag)})`];
  if (byUid) parts.push("UID");
  if (numbers.length > 0) {
    if (results.includes("MIN")) parts.push(`MIN ${Math.min(...numbers)}`);
    if (results.includes("MAX")) parts.push(`MAX ${Math.max(...numbers)}`);
    if (results.includes("ALL")) parts.push(`ALL ${formatSequenceSet(numbers)}`);
  }
  if (results.includes("COUNT")) parts.push(`COUNT ${numbers.length}`);
  if (highest !== undefined) parts.push(`MODSEQ ${highest}`);
  s.untagged(`ESEARCH ${parts.join(" ")}`);
  s.ok(cmd.tag, "SEARCH completed");
}

export const searchCommands: [string, CommandHandler][] = [
  ["SEARCH", { states: ["selected"], run: (s, cmd) => searchCommand(s, cmd, false) }],
  ["UID SEARCH", { states: ["selected"], run: (s, cmd) => searchCommand(s, cmd, true) }],
];
