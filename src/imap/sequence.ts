// IMAP sequence sets: parsing, resolving against a mailbox, and formatting
// (for COPYUID/APPENDUID of RFC 4315 and ESEARCH ALL of RFC 4731).
//
// SECURITY: parses client text (attacker-controlled). Never throws, never
// materializes a range the caller did not bound: "1:4294967295" stays two
// numbers; toIntervals() merges ranges in O(k log k) for k ranges, filter()
// walks existing ids, and only resolve() lists numbers, at most `max` of them
// (meant for message sequence numbers, where max is the message count).
//
// Implements RFC 9051 §9 / RFC 3501 §9: sequence-set = (seq-number /
// seq-range) ["," sequence-set]; seq-range = seq-number ":" seq-number;
// seq-number = nz-number / "*"; nz-number = digit-nz *DIGIT (32-bit, so
// 1..4294967295, no leading zero). "n:m" is the same as "m:n"; "*" is the
// largest number in use (§6.4.8: "559:*" includes the last UID even when it is
// below 559). RFC 5182 §2 adds seq-last-command = "$" (SEARCHRES) as a whole
// sequence-set; RFC 7162 §3.2.5.2 known-uids forbid "*" (allowStar: false).

export type Result<T> = { ok: true; value: T } | { ok: false; error: string; code?: string };

export type SeqNumber = number | "*";
/** One seq-number ("from === to") or seq-range, as written (either order). */
export interface SeqRange {
  from: SeqNumber;
  to: SeqNumber;
}
export type SequenceSet = { kind: "set"; ranges: SeqRange[] } | { kind: "saved" };
/** Sorted, disjoint, non-adjacent inclusive intervals [lo, hi]. */
export type Intervals = Array<[number, number]>;

export const MAX_NZ_NUMBER = 4294967295;

export interface SequenceSetOptions {
  /** Accept "$" (RFC 5182), only where the grammar allows it and SEARCHRES is offered. */
  allowSavedResult?: boolean;
  /** Accept "*" (default true; known-uids and known-sequence-set of QRESYNC forbid it). */
  allowStar?: boolean;
}

/** Parses nz-number: 1..4294967295 without a leading zero; undefined otherwise. */
export function parseNzNumber(text: string): number | undefined {
  if (!/^[1-9][0-9]{0,9}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_NZ_NUMBER ? n : undefined;
}

export function parseSequenceSet(text: string, options: SequenceSetOptions = {}): Result<SequenceSet> {
  if (text === "$") {
    return options.allowSavedResult ? { ok: true, value: { kind: "saved" } } : { ok: false, error: "$ (saved search result) is not allowed here" };
  }
  const allowStar = options.allowStar ?? true;
  const ranges: SeqRange[] = [];
  const parts = text.split(",");
  for (const part of parts) {
    const colon = part.indexOf(":");
    const a = colon === -1 ? part : part.slice(0, colon);
    const b = colon === -1 ? part : part.slice(colon + 1);
    const from = seqNumber(a, allowStar);
    const to = seqNumber(b, allowStar);
    if (from === undefined || to === undefined) return { ok: false, error: `Invalid sequence set "${clip(text)}"` };
    ranges.push({ from, to });
  }
  return { ok: true, value: { kind: "set", ranges } };
}

function seqNumber(text: string, allowStar: boolean): SeqNumber | undefined {
  if (text === "*") return allowStar ? "*" : undefined;
  return parseNzNumber(text);
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/** Whether the text is a sequence set (used by SEARCH to tell a set from a search key). */
export function isSequenceSet(text: string, allowSavedResult = true): boolean {
  return parseSequenceSet(text, { allowSavedResult }).ok;
}

/** The largest explicit number in the set ("*" ignored), 0 if none: for message sequence numbers
 * a number above the message count is an error the session reports (RFC 9051 §9 seq-number). */
export function largestNumber(ranges: readonly SeqRange[]): number {
  let max = 0;
  for (const r of ranges) {
    if (r.from !== "*" && r.from > max) max = r.from;
    if (r.to !== "*" && r.to > max) max = r.to;
  }
  return max;
}

/** Merges the ranges into sorted intervals within 1..max, "*" standing for max. */
export function toIntervals(ranges: readonly SeqRange[], max: number): Intervals {
  if (max < 1) return [];
  const raw: Array<[number, number]> = [];
  for (const r of ranges) {
    const a = r.from === "*" ? max : r.from;
    const b = r.to === "*" ? max : r.to;
    const lo = Math.max(1, Math.min(a, b));
    const hi = Math.min(max, Math.max(a, b));
    if (lo <= hi) raw.push([lo, hi]);
  }
  raw.sort((x, y) => x[0] - y[0]);
  const out: Intervals = [];
  for (const [lo, hi] of raw) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) {
      if (hi > last[1]) last[1] = hi;
    } else {
      out.push([lo, hi]);
    }
  }
  return out;
}

/** Sorted unique numbers of the set within 1..max. Lists up to max numbers: use it for message
 * sequence numbers (max = message count), and filter() for UIDs. */
export function resolve(ranges: readonly SeqRange[], max: number): number[] {
  const out: number[] = [];
  for (const [lo, hi] of toIntervals(ranges, max)) for (let n = lo; n <= hi; n++) out.push(n);
  return out;
}

/** Membership in intervals made by toIntervals(), by binary search. */
export function contains(intervals: Intervals, n: number): boolean {
  let lo = 0;
  let hi = intervals.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const [a, b] = intervals[mid]!;
    if (n < a) hi = mid - 1;
    else if (n > b) lo = mid + 1;
    else return true;
  }
  return false;
}

/** The ids (ascending, e.g. the UIDs of a mailbox) that are in the set; "*" is the largest id.
 * O(k log n + result) for k ranges: huge ranges cost nothing. */
export function filter(ids: readonly number[], ranges: readonly SeqRange[]): number[] {
  const out: number[] = [];
  if (ids.length === 0) return out;
  for (const [lo, hi] of toIntervals(ranges, ids[ids.length - 1]!)) {
    for (let i = lowerBound(ids, lo); i < ids.length && ids[i]! <= hi; i++) out.push(ids[i]!);
  }
  return out;
}

function lowerBound(ids: readonly number[], value: number): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Compact form "1:3,7,9:10". By default the numbers are sorted and deduplicated; with
 * keepOrder (COPYUID source/destination pairs) only ascending runs are joined. "" for none. */
export function formatSequenceSet(numbers: readonly number[], options: { keepOrder?: boolean } = {}): string {
  const list = options.keepOrder ? numbers : [...new Set(numbers)].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < list.length) {
    const start = list[i]!;
    let end = start;
    while (i + 1 < list.length && list[i + 1] === end + 1) end = list[++i]!;
    parts.push(start === end ? String(start) : `${start}:${end}`);
    i++;
  }
  return parts.join(",");
}

/** Compact form of intervals: "1:3,7". */
export function formatIntervals(intervals: Intervals): string {
  return intervals.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}:${hi}`)).join(",");
}

/** Intervals of ascending numbers: [1, 2, 3, 7] → [[1, 3], [7, 7]]. */
export function intervalsOf(sorted: readonly number[]): Intervals {
  const out: Intervals = [];
  for (const n of sorted) {
    const last = out[out.length - 1];
    if (last && n <= last[1] + 1) last[1] = Math.max(last[1], n);
    else out.push([n, n]);
  }
  return out;
}

/** The intervals, cut to at most `max`, without the given ascending numbers. */
export function subtract(intervals: Intervals, sorted: readonly number[], max = MAX_NZ_NUMBER): Intervals {
  const out: Intervals = [];
  let k = 0;
  for (const [lo, top] of intervals) {
    const hi = Math.min(top, max);
    let from = lo;
    while (k < sorted.length && sorted[k] < from) k++;
    while (from <= hi) {
      if (k < sorted.length && sorted[k] <= hi) {
        if (sorted[k] > from) out.push([from, sorted[k] - 1]);
        from = sorted[k] + 1;
        k++;
      } else {
        out.push([from, hi]);
        break;
      }
    }
  }
  return out;
}
