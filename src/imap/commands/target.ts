// Which messages a command means (RFC 9051 §9 sequence-set; RFC 5182 "$"):
// a sequence set parsed by args.ts and message-args.ts (sequenceArg, parseStore, parseCopy,
// parseUidExpunge), resolved against the session's view of the selected
// mailbox as message sequence numbers or UIDs. "$" is the UIDs the last
// SEARCH ... RETURN (SAVE) found that still exist, in either form of the
// command (RFC 5182 §2.1). A sequence number beyond the mailbox is an error
// (BAD); UIDs that do not exist are simply not there (RFC 9051 §6.4.9).
import type { ImapSession } from "../session.js";
import { largestNumber, resolve, filter, type Result, type SequenceSet } from "../sequence.js";

/** The UIDs a sequence set names, in ascending UID order. */
export function targetUids(s: ImapSession, set: SequenceSet, byUid: boolean): Result<number[]> {
  const view = s.selected!;
  if (set.kind === "saved") {
    const live = new Set(view.allUids);
    return { ok: true, value: s.savedSearch.filter((uid) => live.has(uid)) };
  }
  if (byUid) return { ok: true, value: filter(view.allUids, set.ranges) };
  if (largestNumber(set.ranges) > view.exists) return { ok: false, error: "Invalid message sequence number (beyond the last message)" };
  if (view.exists === 0) return { ok: false, error: "Invalid message sequence number (the mailbox is empty)" };
  return { ok: true, value: resolve(set.ranges, view.exists).map((seq) => view.uidAt(seq)!) };
}
