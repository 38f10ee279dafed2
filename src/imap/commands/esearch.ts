// The ESEARCH response (RFC 4731 §3.1) shared by SEARCH RETURN and SORT
// RETURN (ESORT, RFC 5267 §3.2): MIN, MAX, COUNT, ALL for message numbers or
// UIDs, PARTIAL (RFC 5267 §4.4), and the MODSEQ of the messages returned (RFC 7162 §3.1.5). For a
// sorted result MIN and MAX are the first and last in sort order and ALL
// keeps the order.
import type { ReturnOption } from "../search-parse.js";
import { formatSequenceSet } from "../sequence.js";
import { imapString } from "../quote.js";

export interface EsearchResult {
  /** RETURN (PARTIAL low:high), CONTEXT=SEARCH (RFC 5267 §4.4). */
  partial?: { low: number; high: number };
  /** Message numbers or UIDs, in the order to report (ascending for SEARCH, sort order for SORT). */
  numbers: number[];
  /** Their MODSEQs, same order, when MODSEQ was searched for. */
  modseqs?: number[];
  sorted: boolean;
}

export function esearchLine(tag: string, byUid: boolean, options: readonly ReturnOption[], r: EsearchResult): string {
  const { numbers, modseqs } = r;
  const first = r.sorted ? 0 : numbers.indexOf(Math.min(...numbers));
  const last = r.sorted ? numbers.length - 1 : numbers.indexOf(Math.max(...numbers));
  const parts = [`(TAG ${imapString(tag)})`];
  if (byUid) parts.push("UID");
  if (numbers.length > 0) {
    if (options.includes("MIN")) parts.push(`MIN ${numbers[first]}`);
    if (options.includes("MAX")) parts.push(`MAX ${numbers[last]}`);
    if (options.includes("ALL")) parts.push(`ALL ${formatSequenceSet(numbers, { keepOrder: r.sorted })}`);
  }
  if (options.includes("COUNT")) parts.push(`COUNT ${numbers.length}`);
  if (r.partial) {
    const slice = numbers.slice(r.partial.low - 1, r.partial.high);
    parts.push(`PARTIAL (${r.partial.low}:${r.partial.high} ${slice.length > 0 ? formatSequenceSet(slice, { keepOrder: r.sorted }) : "NIL"})`);
  }
  if (modseqs && numbers.length > 0) {
    // The messages returned: all of them, or only the MIN/MAX ones when nothing else is asked.
    const returned = options.some((o) => o === "ALL" || o === "COUNT") ? modseqs
      : [options.includes("MIN") ? modseqs[first] : undefined, options.includes("MAX") ? modseqs[last] : undefined].filter((m): m is number => m !== undefined);
    if (returned.length > 0) parts.push(`MODSEQ ${Math.max(...returned)}`);
  }
  return `ESEARCH ${parts.join(" ")}`;
}
