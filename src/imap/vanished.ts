// VANISHED (EARLIER) of QRESYNC (RFC 7162 §3.2.5.1 for SELECT, §3.2.6 for
// UID FETCH): the UIDs of the selected mailbox expunged since the client's
// MODSEQ, among those it asks about. Exact from the store's expunge
// records; when records that old were pruned (the store keeps the newest
// per mailbox), every UID below the mailbox's UIDNEXT that is not in it —
// UIDs the client never knew are allowed there (it ignores them), and none
// it knows is missed.
import type { ImapSession } from "./session.js";
import { contains, formatIntervals, formatSequenceSet, subtract, type Intervals } from "./sequence.js";

/** The sequence set for "* VANISHED (EARLIER) ...", "" when nothing vanished. */
export async function vanishedEarlier(s: ImapSession, since: number, within: Intervals): Promise<string> {
  const view = s.selected!;
  const gone = await s.stores.mailboxes.vanishedSince(view.box.id, since);
  if (gone) return formatSequenceSet(gone.filter((uid) => contains(within, uid)));
  // What is in the store now, up to its UIDNEXT now (another connection may have shown the client newer UIDs).
  const [messages, status] = await Promise.all([s.stores.mailboxes.listMessages(view.box.id), s.stores.mailboxes.mailboxStatus(view.box.id)]);
  const present = messages.map((m) => m.uid).sort((a, b) => a - b);
  const top = status.uidNext - 1;
  return formatIntervals(subtract(within, present, top));
}
