// SEARCH and UID SEARCH (RFC 9051 §6.4.4) with CONTEXT=SEARCH (RFC 5267: UPDATE, PARTIAL, CANCELUPDATE), ESEARCH result options
// (RFC 4731: MIN, MAX, COUNT, ALL), SEARCHRES (RFC 5182: SAVE and $), and the
// MODSEQ of the matches (RFC 7162 §3.1.5). IMAP4rev2 clients always get
// ESEARCH responses.
import type { CommandHandler } from "./index.js";
import type { ImapSession } from "../session.js";
import { parseSearch, type SearchArgs } from "../search-parse.js";
import { search, usesModseq } from "../search.js";
import { esearchLine } from "./esearch.js";
import { withArgs } from "./reply.js";
import type { ImapCommand } from "./index.js";
import { MAX_SEARCH_CONTEXTS, newContext } from "../search-context.js";
import { stringArg, type Result } from "../args.js";


async function searchCommand(s: ImapSession, tag: string, { key, returnOptions, partial }: SearchArgs, byUid: boolean): Promise<void> {
  const view = s.selected!;
  const update = returnOptions?.includes("UPDATE") ?? false;
  if (update && returnOptions!.includes("SAVE")) return s.bad(tag, "UPDATE and SAVE cannot be combined (RFC 5267 §4.2)");
  if (update && s.searchContexts.size >= MAX_SEARCH_CONTEXTS) return s.no(tag, "Too many searches kept up to date; CANCELUPDATE one", "LIMIT");
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
  const results = options.filter((o) => o !== "SAVE" && o !== "UPDATE" && o !== "PARTIAL");
  if (options.includes("SAVE") && results.length === 0 && !partial) return s.ok(tag, "SEARCH completed (saved)");
  s.untagged(esearchLine(tag, byUid, results, { numbers, modseqs, sorted: false, partial }));
  if (update) s.searchContexts.set(tag, newContext(s, tag, key, byUid, options, uids));
  s.ok(tag, "SEARCH completed");
}

/** CANCELUPDATE "tag" ... (RFC 5267 §4.3): stop keeping those searches up to date. */
async function cancelUpdate(s: ImapSession, tag: string, tags: string[]): Promise<void> {
  for (const t of tags) if (!s.searchContexts.has(t)) return s.bad(tag, `No search kept up to date with tag ${t.slice(0, 40)}`);
  for (const t of tags) s.searchContexts.delete(t);
  s.ok(tag, "CANCELUPDATE completed");
}

function parseTags(cmd: ImapCommand): Result<string[]> {
  const tags: string[] = [];
  for (const t of cmd.args) {
    const v = stringArg(t, "search tag");
    if (!v.ok) return v;
    tags.push(v.value);
  }
  return tags.length > 0 ? { ok: true, value: tags } : { ok: false, error: "Syntax: CANCELUPDATE \"tag\"..." };
}

export const searchCommands: [string, CommandHandler][] = [
  ["SEARCH", withArgs(["selected"], (cmd) => parseSearch(cmd.args), (s, tag, args) => searchCommand(s, tag, args, false))],
  ["UID SEARCH", withArgs(["selected"], (cmd) => parseSearch(cmd.args), (s, tag, args) => searchCommand(s, tag, args, true))],
  ["CANCELUPDATE", withArgs(["selected"], parseTags, cancelUpdate)],
];
