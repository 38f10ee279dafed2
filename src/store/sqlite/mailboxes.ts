// SQLite backend of the MailboxStore role: mailboxes with IMAP metadata
// (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ; RFC 3501 §2.3.1, RFC 7162) and the
// message index (UID, MODSEQ, flags, internal date, size). Message bytes live
// in the blob store; a message row is its per-delivery header prefix plus a
// counted reference to a shared blob. Trusted to keep UIDs strictly ascending
// and never reused within one UIDVALIDITY.
import type { AppendRequest, MailboxRecord, MailboxStore, MessageRecord } from "../interfaces.js";
import { durably, inTransaction, nextUidValidity, sql, type Db } from "./db.js";

interface MailboxRow { id: number; user_id: number; name: string; special_use: string | null; uid_validity: number; uid_next: number; highest_modseq: number; subscribed: number }
interface MessageRow { id: number; mailbox_id: number; uid: number; modseq: number; prefix: Buffer; blob_id: string; size: number; internal_date: number; flags: string }

const toMailbox = (r: MailboxRow): MailboxRecord => ({
  id: r.id, userId: r.user_id, name: r.name, specialUse: r.special_use, uidValidity: r.uid_validity,
  uidNext: r.uid_next, highestModseq: r.highest_modseq, subscribed: r.subscribed === 1,
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
      const remove = sql(this.db, "DELETE FROM messages WHERE mailbox_id = ? AND uid = ? RETURNING blob_id, size");
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
        bumpModseq(this.db, mailboxId);
        sql(this.db, "UPDATE users SET usage = max(0, usage - ?) WHERE id = (SELECT user_id FROM mailboxes WHERE id = ?)").run(freed, mailboxId);
      }
      return { expunged, orphanBlobs: releaseBlobs(this.db, blobs) };
    }));
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
