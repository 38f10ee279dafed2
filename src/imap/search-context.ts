// CONTEXT=SEARCH (RFC 5267 §4): a SEARCH with RETURN (UPDATE) stays alive
// while its mailbox is selected; whenever the session announces changes,
// the search is run again and the client hears ESEARCH ADDTO / REMOVEFROM
// for what entered or left the result, until CANCELUPDATE. Only a few
// contexts per session (each costs a search per change).
import type { ImapSession } from "./session.js";
import type { ReturnOption, SearchKey } from "./search-parse.js";
import { search } from "./search.js";
import { formatSequenceSet } from "./sequence.js";
import { imapString } from "./quote.js";

export const MAX_SEARCH_CONTEXTS = 8;

export interface SearchContext {
  tag: string;
  key: SearchKey;
  byUid: boolean;
  options: ReturnOption[];
  /** The result the client knows, UIDs in mailbox order, and their sequence numbers then. */
  uids: number[];
  seqs: Map<number, number>;
}

export function newContext(s: ImapSession, tag: string, key: SearchKey, byUid: boolean, options: ReturnOption[], uids: number[]): SearchContext {
  const view = s.selected!;
  return { tag, key, byUid, options, uids, seqs: new Map(uids.map((u) => [u, view.seqOf(u)])) };
}

/**
 * REMOVEFROM for messages about to be expunged, sent before their EXPUNGE
 * responses while their numbers still hold (RFC 5267 §4.3); the contexts
 * forget them.
 */
export function removalsBeforeExpunge(s: ImapSession, contexts: Iterable<SearchContext>, gone: number[]): string[] {
  const view = s.selected!;
  const leaving = new Set(gone);
  const lines: string[] = [];
  for (const ctx of contexts) {
    const removed = ctx.uids.filter((u) => leaving.has(u));
    if (removed.length === 0) continue;
    const numbers = ctx.byUid ? removed : removed.map((u) => view.seqOf(u));
    lines.push(`* ESEARCH (TAG ${imapString(ctx.tag)})${ctx.byUid ? " UID" : ""} REMOVEFROM (${ctx.uids.indexOf(removed[0]) + 1} ${formatSequenceSet(numbers)})`);
    ctx.uids = ctx.uids.filter((u) => !leaving.has(u));
  }
  return lines;
}

/** The ESEARCH lines for what changed in one context's result since the client last heard. */
export async function refreshContext(s: ImapSession, ctx: SearchContext): Promise<string[]> {
  const view = s.selected!;
  const now = await search(s.searchScope(), ctx.key);
  const after = new Set(now);
  const before = new Set(ctx.uids);
  const removed = ctx.uids.filter((u) => !after.has(u));
  const added = now.filter((u) => !before.has(u));
  const head = `* ESEARCH (TAG ${imapString(ctx.tag)})${ctx.byUid ? " UID" : ""}`;
  const lines: string[] = [];
  if (removed.length > 0) {
    // An expunged message keeps the number it had; one that merely stopped matching has its current one.
    const numbers = ctx.byUid ? removed : removed.map((u) => view.seqOf(u) || ctx.seqs.get(u) || 0);
    lines.push(`${head} REMOVEFROM (${ctx.uids.indexOf(removed[0]) + 1} ${formatSequenceSet(numbers)})`);
  }
  if (added.length > 0) {
    const numbers = ctx.byUid ? added : added.map((u) => view.seqOf(u));
    lines.push(`${head} ADDTO (${now.indexOf(added[0]) + 1} ${formatSequenceSet(numbers)})`);
  }
  ctx.uids = now;
  ctx.seqs = new Map(now.map((u) => [u, view.seqOf(u)]));
  return lines;
}
