// Which messages a command means (RFC 9051 §9 sequence-set; RFC 5182 "$"):
// message sequence numbers or UIDs, resolved against the session's view of
// the selected mailbox. A sequence number beyond the mailbox is an error
// (BAD); UIDs that do not exist are simply not there (RFC 9051 §6.4.9).
import type { ImapSession } from "../session.js";
import type { Token } from "../reader.js";
import { largestNumber, parseSequenceSet, resolve, filter } from "../sequence.js";
import { text, type Parsed } from "./tokens.js";

/** The UIDs a sequence set names, in ascending UID order. */
export function targetUids(s: ImapSession, token: Token | undefined, byUid: boolean): Parsed<number[]> {
  const view = s.selected!;
  const parsed = parseSequenceSet(text(token) ?? "", { allowSavedResult: true });
  if (!parsed.ok) return { ok: false, error: `Invalid ${byUid ? "UID" : "message"} set: ${parsed.error}` };
  const set = parsed.value;
  if (set.kind === "saved") {
    const live = new Set(view.allUids);
    return { ok: true, value: s.savedSearch.filter((uid) => live.has(uid)) };
  }
  if (byUid) return { ok: true, value: filter(view.allUids, set.ranges) };
  if (largestNumber(set.ranges) > view.exists) return { ok: false, error: "Invalid message sequence number (beyond the last message)" };
  if (view.exists === 0) return { ok: false, error: "Invalid message sequence number (the mailbox is empty)" };
  return { ok: true, value: resolve(set.ranges, view.exists).map((seq) => view.uidAt(seq)!) };
}
