// SQLite backend of the MailboxStore role: mailboxes with IMAP metadata
// (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ; RFC 3501 §2.3.1, RFC 7162) and the
// message index (UID, MODSEQ, flags, internal date, size). Message bytes live
// in the blob store; a message row is its per-delivery header prefix plus a
// counted reference to a shared blob. Trusted to keep UIDs strictly ascending
// and never reused within one UIDVALIDITY.
import type { AppendRequest, CopyResult, FlagChange, MailboxRecord, MailboxStatus, MailboxStore, MessageRecord } from "../interfaces.js";
import { durable, durably, inTransaction, nextUidValidity, sql, type Db } from "./db.js";

interface MailboxRow { id: number; user_id: number; name: string; special_use: string | null; uid_validity: number; uid_next: number; highest_modseq: number }
interface MessageRow { id: number; mailbox_id: number; uid: number; modseq: number; prefix: Buffer; blob_id: string; size: number; internal_date: number; flags: string }

const toMailbox = (r: MailboxRow): MailboxRecord => ({
  id: r.id, userId: r.user_id, name: r.name, specialUse: r.special_use, uidValidity: r.uid_validity,
  uidNext: r.uid_next, highestModseq: r.highest_modseq,
});

export const toMessage = (r: MessageRow): MessageRecord => ({
  id: r.id, mailboxId: r.mailbox_id, uid: r.uid, modseq: r.modseq, prefix: r.prefix, blobId: r.blob_id,
  size: r.size, internalDate: r.internal_date, flags: r.flags === "" ? [] : r.flags.split(" "),
});

export class SqliteMailboxes implements MailboxStore {
  constructor(private readonly db: Db) {}

  async createMailbox(userId: number, name: string, specialUse: string | null = null): Promise<MailboxRecord> {
    return durably(this.db, inTransaction(this.db, () => {
      const { lastInsertRowid } = sql(this.db, "INSERT INTO mailboxes (user_id, name, special_use, uid_validity) VALUES (?, ?, ?, ?)")
        .run(userId, name, specialUse, nextUidValidity(this.db));
      return toMailbox(sql(this.db, "SELECT * FROM mailboxes WHERE id = ?").get(lastInsertRowid) as MailboxRow);
    }));
  }

  async getMailbox(userId: number, name: string): Promise<MailboxRecord | undefined> {
    const row = sql(this.db, "SELECT * FROM mailboxes WHERE user_id = ? AND name = ?").get(userId, name) as MailboxRow | undefined;
    return row && toMailbox(row);
  }

  async listMailboxes(userId: number): Promise<MailboxRecord[]> {
    return (sql(this.db, "SELECT * FROM mailboxes WHERE user_id = ? ORDER BY name").all(userId) as MailboxRow[]).map(toMailbox);
  }

  async append(requests: AppendRequest[]): Promise<MessageRecord[]> {
    return durably(this.db, inTransaction(this.db, () => appendRows(this.db, requests)));
  }

  async listMessages(mailboxId: number): Promise<MessageRecord[]> {
    return (sql(this.db, "SELECT * FROM messages WHERE mailbox_id = ? ORDER BY uid").all(mailboxId) as MessageRow[]).map(toMessage);
  }

  async getMessage(mailboxId: number, uid: number): Promise<MessageRecord | undefined> {
    const row = sql(this.db, "SELECT * FROM messages WHERE mailbox_id = ? AND uid = ?").get(mailboxId, uid) as MessageRow | undefined;
    return row && toMessage(row);
  }

  async setFlags(mailboxId: number, uids: number[], flags: string[]): Promise<MessageRecord[]> {
    return durably(this.db, inTransaction(this.db, () => {
      const update = sql(this.db, "UPDATE messages SET flags = ?, modseq = ? WHERE mailbox_id = ? AND uid = ? RETURNING *");
      const changed: MessageRecord[] = [];
      for (const uid of uids) {
        const modseq = bumpModseq(this.db, mailboxId);
        const row = update.get(flags.join(" "), modseq, mailboxId, uid) as MessageRow | undefined;
        if (row) changed.push(toMessage(row));
      }
      return changed;
    }));
  }

  async expunge(mailboxId: number, uids: number[]): Promise<{ expunged: number[]; orphanBlobs: string[] }> {
    return durably(this.db, inTransaction(this.db, () => {
      const { expunged, blobs } = removeRows(this.db, mailboxId, uids);
      return { expunged, orphanBlobs: releaseBlobs(this.db, blobs) };
    }));
  }

  async updateFlags(mailboxId: number, uids: number[], change: FlagChange): Promise<{ changed: MessageRecord[]; failed: number[] }> {
    return durably(this.db, inTransaction(this.db, () => {
      const get = sql(this.db, "SELECT * FROM messages WHERE mailbox_id = ? AND uid = ?");
      const update = sql(this.db, "UPDATE messages SET flags = ?, modseq = ? WHERE id = ? RETURNING *");
      const changed: MessageRecord[] = [];
      const failed: number[] = [];
      for (const uid of uids) {
        const row = get.get(mailboxId, uid) as MessageRow | undefined;
        if (!row) continue;
        if (change.unchangedSince !== undefined && row.modseq > change.unchangedSince) {
          failed.push(uid);
          continue;
        }
        const before = row.flags === "" ? [] : row.flags.split(" ");
        const after = applyFlags(before, change);
        if (after.length === before.length && after.every((f, i) => f === before[i])) continue; // RFC 7162 §3.1: no change, no new MODSEQ
        changed.push(toMessage(update.get(after.join(" "), bumpModseq(this.db, mailboxId), row.id) as MessageRow));
      }
      return { changed, failed };
    }));
  }

  async copyMessages(fromMailboxId: number, uids: number[], toMailboxId: number, opts: { move?: boolean } = {}): Promise<CopyResult> {
    return durably(this.db, inTransaction(this.db, () => {
      const get = sql(this.db, "SELECT * FROM messages WHERE mailbox_id = ? AND uid = ?");
      const sources = [...new Set(uids)].sort((a, b) => a - b)
        .map((uid) => get.get(fromMailboxId, uid) as MessageRow | undefined)
        .filter((r): r is MessageRow => r !== undefined);
      const copies = appendRows(this.db, sources.map((r) => ({
        mailboxId: toMailboxId, prefix: r.prefix, blobId: r.blob_id, blobSize: r.size - r.prefix.length, internalDate: r.internal_date,
        flags: r.flags === "" ? [] : r.flags.split(" "),
      })));
      let expunged: number[] = [];
      if (opts.move) {
        const removed = removeRows(this.db, fromMailboxId, sources.map((r) => r.uid));
        expunged = removed.expunged;
        releaseBlobs(this.db, removed.blobs); // the copies hold references: nothing is orphaned
      }
      const target = sql(this.db, "SELECT uid_validity FROM mailboxes WHERE id = ?").get(toMailboxId) as { uid_validity: number };
      return { pairs: sources.map((r, i) => [r.uid, copies[i].uid] as [number, number]), uidValidity: target.uid_validity, copies, expunged };
    }));
  }

  async mailboxStatus(mailboxId: number): Promise<MailboxStatus> {
    const counts = sql(this.db, `SELECT count(*) AS messages,
        coalesce(sum(instr(' ' || flags || ' ', ' \\Seen ') = 0), 0) AS unseen,
        coalesce(sum(instr(' ' || flags || ' ', ' \\Deleted ') > 0), 0) AS deleted,
        coalesce(sum(size), 0) AS size,
        coalesce(sum(uid > (SELECT recent_uid FROM mailboxes WHERE id = ?)), 0) AS recent FROM messages WHERE mailbox_id = ?`)
      .get(mailboxId, mailboxId) as { messages: number; unseen: number; deleted: number; size: number; recent: number };
    const box = sql(this.db, "SELECT uid_next, uid_validity, highest_modseq FROM mailboxes WHERE id = ?").get(mailboxId) as
      | { uid_next: number; uid_validity: number; highest_modseq: number }
      | undefined;
    if (!box) throw new Error(`mailbox ${mailboxId} does not exist`);
    return { ...counts, uidNext: box.uid_next, uidValidity: box.uid_validity, highestModseq: box.highest_modseq };
  }

  async highestModseq(mailboxId: number): Promise<number> {
    const row = sql(this.db, "SELECT highest_modseq FROM mailboxes WHERE id = ?").get(mailboxId) as { highest_modseq: number } | undefined;
    return row?.highest_modseq ?? 0;
  }

  async recentFrom(mailboxId: number, claim: boolean): Promise<number> {
    const db = this.db;
    return inTransaction(db, () => {
      const row = sql(db, "SELECT recent_uid, uid_next FROM mailboxes WHERE id = ?").get(mailboxId) as { recent_uid: number; uid_next: number } | undefined;
      if (!row) return Number.MAX_SAFE_INTEGER;
      if (claim && row.uid_next - 1 > row.recent_uid) sql(db, "UPDATE mailboxes SET recent_uid = ? WHERE id = ?").run(row.uid_next - 1, mailboxId);
      return row.recent_uid + 1;
    });
  }

  async changedSince(mailboxId: number, modseq: number): Promise<MessageRecord[]> {
    return (sql(this.db, "SELECT * FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid").all(mailboxId, modseq) as MessageRow[]).map(toMessage);
  }

  async vanishedSince(mailboxId: number, modseq: number): Promise<number[] | undefined> {
    const box = sql(this.db, "SELECT vanished_floor FROM mailboxes WHERE id = ?").get(mailboxId) as { vanished_floor: number } | undefined;
    if (box && modseq < box.vanished_floor) return undefined; // some of those records were pruned
    return (sql(this.db, "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid").all(mailboxId, modseq) as { uid: number }[]).map((r) => r.uid);
  }

  async pruneExpunged(mailboxId: number, keep: number): Promise<number> {
    return durably(this.db, inTransaction(this.db, () => pruneExpunged(this.db, mailboxId, keep)));
  }

  async renameMailbox(userId: number, from: string, to: string): Promise<{ ok: true; renamed: MailboxRecord[] } | { ok: false; reason: "missing" | "exists" }> {
    const db = this.db;
    const result = inTransaction(db, () => {
      const children = (sql(db, "SELECT * FROM mailboxes WHERE user_id = ? AND (name = ? OR substr(name, 1, ?) = ?) ORDER BY name")
        .all(userId, from, from.length + 1, `${from}/`) as MailboxRow[]);
      if (!children.some((c) => c.name === from)) return { ok: false as const, reason: "missing" as const };
      const exists = sql(db, "SELECT 1 FROM mailboxes WHERE user_id = ? AND name = ?");
      const newName = (name: string) => to + name.slice(from.length);
      if (children.some((c) => exists.get(userId, newName(c.name)) !== undefined)) return { ok: false as const, reason: "exists" as const };
      const rename = sql(db, "UPDATE mailboxes SET name = ? WHERE id = ? RETURNING *");
      const renameSubscription = sql(db, "UPDATE OR REPLACE subscriptions SET name = ? WHERE user_id = ? AND name = ?");
      const renamed = children.map((c) => {
        renameSubscription.run(newName(c.name), userId, c.name);
        return toMailbox(rename.get(newName(c.name), c.id) as MailboxRow);
      });
      return { ok: true as const, renamed };
    });
    return result.ok ? durably(db, result) : result;
  }

  async deleteMailbox(mailboxId: number): Promise<{ orphanBlobs: string[] }> {
    return durably(this.db, inTransaction(this.db, () => {
      const uids = (sql(this.db, "SELECT uid FROM messages WHERE mailbox_id = ?").all(mailboxId) as { uid: number }[]).map((r) => r.uid);
      const { blobs } = removeRows(this.db, mailboxId, uids);
      sql(this.db, "DELETE FROM mailboxes WHERE id = ?").run(mailboxId);
      return { orphanBlobs: releaseBlobs(this.db, blobs) };
    }));
  }

  async setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void> {
    const text = subscribed ? "INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)" : "DELETE FROM subscriptions WHERE user_id = ? AND name = ?";
    sql(this.db, text).run(userId, name);
    await durable(this.db);
  }

  async listSubscriptions(userId: number): Promise<string[]> {
    return (sql(this.db, "SELECT name FROM subscriptions WHERE user_id = ? ORDER BY name").all(userId) as { name: string }[]).map((r) => r.name);
  }

  async referencedBlobs(ids: string[]): Promise<Set<string>> {
    const find = sql(this.db, "SELECT 1 FROM blobs WHERE id = ?");
    return new Set(ids.filter((id) => find.get(id) !== undefined));
  }

  async takeOrphanBlobs(): Promise<string[]> {
    return durably(this.db, inTransaction(this.db, () =>
      (sql(this.db, "DELETE FROM blobs WHERE refs <= 0 RETURNING id").all() as { id: string }[]).map((r) => r.id),
    ));
  }
}

/** Inserts message rows inside the caller's transaction; each takes a blob reference and counts toward usage. */
export function appendRows(db: Db, requests: AppendRequest[]): MessageRecord[] {
  const takeUid = sql(db, "UPDATE mailboxes SET uid_next = uid_next + 1 WHERE id = ? RETURNING uid_next - 1 AS uid, user_id");
  const insert = sql(db, 
    "INSERT INTO messages (mailbox_id, uid, modseq, prefix, blob_id, size, internal_date, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
  );
  const newBlob = sql(db, "INSERT INTO blobs (id, size, refs) VALUES (?, ?, 1) ON CONFLICT (id) DO UPDATE SET refs = refs + 1");
  const refBlob = sql(db, "UPDATE blobs SET refs = refs + 1 WHERE id = ? AND refs > 0");
  const addUsage = sql(db, "UPDATE users SET usage = usage + ? WHERE id = ?");
  return requests.map((req) => {
    const taken = takeUid.get(req.mailboxId) as { uid: number; user_id: number } | undefined;
    if (!taken) throw new Error(`mailbox ${req.mailboxId} does not exist`);
    const modseq = bumpModseq(db, req.mailboxId);
    const size = req.prefix.length + req.blobSize;
    if (req.newBlob) newBlob.run(req.blobId, req.blobSize);
    else if (refBlob.run(req.blobId).changes === 0) throw new Error(`message file ${req.blobId} is no longer stored (deleted from the queue?)`);
    addUsage.run(size, taken.user_id);
    const row = insert.get(req.mailboxId, taken.uid, modseq, req.prefix, req.blobId, size, req.internalDate, req.flags.join(" ")) as MessageRow;
    return toMessage(row);
  });
}

/** Flags after an add/remove/replace, in a stable order, without duplicates (case-insensitive for system flags). */
function applyFlags(before: string[], change: FlagChange): string[] {
  const key = (f: string) => (f.startsWith("\\") ? f.toLowerCase() : f);
  const given = new Map(change.flags.map((f) => [key(f), f]));
  if (change.op === "replace") return [...given.values()];
  if (change.op === "remove") return before.filter((f) => !given.has(key(f)));
  const have = new Set(before.map(key));
  return [...before, ...[...given].filter(([k]) => !have.has(k)).map(([, f]) => f)];
}

/** Inside a transaction: deletes message rows (recording them for VANISHED) and gives back their usage; the blobs are the caller's to release. */
function removeRows(db: Db, mailboxId: number, uids: number[]): { expunged: number[]; blobs: string[] } {
  const remove = sql(db, "DELETE FROM messages WHERE mailbox_id = ? AND uid = ? RETURNING blob_id, size");
  const record = sql(db, "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)");
  const expunged: number[] = [];
  const blobs: string[] = [];
  let freed = 0;
  for (const uid of uids) {
    const row = remove.get(mailboxId, uid) as { blob_id: string; size: number } | undefined;
    if (!row) continue;
    expunged.push(uid);
    blobs.push(row.blob_id);
    freed += row.size;
  }
  if (expunged.length > 0) {
    const modseq = bumpModseq(db, mailboxId);
    for (const uid of expunged) record.run(mailboxId, uid, modseq);
    sql(db, "UPDATE users SET usage = max(0, usage - ?) WHERE id = (SELECT user_id FROM mailboxes WHERE id = ?)").run(freed, mailboxId);
    pruneWhenDue(db, mailboxId, expunged.length);
  }
  return { expunged, blobs };
}

/**
 * Expunge records kept per mailbox for QRESYNC (RFC 7162 §3.2.5.1: VANISHED
 * (EARLIER)). Older ones are dropped, a tenth of that at a time, and the
 * mailbox's vanished_floor remembers up to which MODSEQ: a client asking
 * from before it gets every UID that is not there any more instead.
 */
export const EXPUNGED_KEPT = 10_000;
const expungedSincePrune = new WeakMap<Db, Map<number, number>>();

function pruneWhenDue(db: Db, mailboxId: number, added: number): void {
  let counts = expungedSincePrune.get(db);
  if (!counts) expungedSincePrune.set(db, (counts = new Map()));
  const n = (counts.get(mailboxId) ?? 0) + added;
  if (n < EXPUNGED_KEPT / 10) {
    counts.set(mailboxId, n);
    return;
  }
  counts.delete(mailboxId);
  pruneExpunged(db, mailboxId, EXPUNGED_KEPT);
}

/** Keeps the newest `keep` expunge records of a mailbox (whole MODSEQs: a few fewer when one straddles the edge). */
function pruneExpunged(db: Db, mailboxId: number, keep: number): number {
  const edge = sql(db, "SELECT modseq FROM expunged WHERE mailbox_id = ? ORDER BY modseq DESC LIMIT 1 OFFSET ?").get(mailboxId, keep) as { modseq: number } | undefined;
  if (!edge) return 0;
  const { changes } = sql(db, "DELETE FROM expunged WHERE mailbox_id = ? AND modseq <= ?").run(mailboxId, edge.modseq);
  sql(db, "UPDATE mailboxes SET vanished_floor = max(vanished_floor, ?) WHERE id = ?").run(edge.modseq, mailboxId);
  return changes;
}

function bumpModseq(db: Db, mailboxId: number): number {
  const row = sql(db, "UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ? RETURNING highest_modseq").get(mailboxId) as
    | { highest_modseq: number }
    | undefined;
  if (!row) throw new Error(`mailbox ${mailboxId} does not exist`);
  return row.highest_modseq;
}

/** Drops one reference per listed blob; returns the ids left with none (their rows are deleted). */
export function releaseBlobs(db: Db, blobIds: string[]): string[] {
  const dec = sql(db, "UPDATE blobs SET refs = refs - 1 WHERE id = ? RETURNING refs");
  const del = sql(db, "DELETE FROM blobs WHERE id = ?");
  const orphans: string[] = [];
  for (const id of blobIds) {
    const row = dec.get(id) as { refs: number } | undefined;
    if (row && row.refs <= 0) {
      del.run(id);
      orphans.push(id);
    }
  }
  return orphans;
}
