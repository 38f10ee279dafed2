// SQLite backend of the QueueStore role: durable queue records with
// per-recipient state (Postfix's named places: incoming, active, deferred,
// hold; plus done and failed) taken under expiring leases, so a crash never
// loses an item and never leaves it owned for ever.
import type {
  DsnAction, LocalDeliveryCommit, RecipientOutcome, MessageRecord, NewQueuedMessage, QueuedMessage, QueuedRecipient, QueueStore, RecipientState,
} from "../interfaces.js";
import { durable, durably, inTransaction, sql, type Db } from "./db.js";
import { appendRows, releaseBlobs } from "./mailboxes.js";

interface RecipientRow {
  id: number; message_id: string; address: string; orcpt: string | null; notify: string | null; state: string; attempts: number;
  next_attempt: number; last_error: string | null; notice: string | null; remote_mta: string | null; warned: number; last_attempt: number;
}
interface MessageRow { id: string; sender: string; blob_id: string; size: number; received_at: number; trace: string; origin: string; env_id: string | null; ret: string | null }

const toRecipient = (r: RecipientRow): QueuedRecipient => ({
  id: r.id, messageId: r.message_id, address: r.address, orcpt: r.orcpt, notify: r.notify,
  state: r.state as RecipientState, attempts: r.attempts, nextAttempt: r.next_attempt, lastError: r.last_error,
  notice: r.notice as DsnAction | null, remoteMta: r.remote_mta, warned: r.warned === 1, lastAttempt: r.last_attempt,
});

/** A queue message is finished when every recipient is done or failed and no notice is owed. */
const FINISHED = `NOT EXISTS (SELECT 1 FROM queue_recipients r WHERE r.message_id = q.id AND (r.state NOT IN ('done', 'failed') OR r.notice IS NOT NULL))`;

/** Another worker reported (some of) these notices first: roll back. */
class NoticeRace extends Error {}

export class SqliteQueue implements QueueStore {
  constructor(private readonly db: Db) {}

  async enqueue(messages: NewQueuedMessage[]): Promise<void> {
    inTransaction(this.db, () => this.insert(messages));
    await durable(this.db);
  }

  /** Inside a transaction: the queue records of new messages. */
  private insert(messages: NewQueuedMessage[]): void {
    const db = this.db;
    {
      const insertMessage = sql(db, "INSERT INTO queue_messages (id, sender, blob_id, size, received_at, trace, origin, env_id, ret) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
      const insertRecipient = sql(db, "INSERT INTO queue_recipients (message_id, address, orcpt, notify, state, next_attempt) VALUES (?, ?, ?, ?, 'incoming', ?)");
      const refBlob = sql(db, "INSERT INTO blobs (id, size, refs) VALUES (?, ?, 1) ON CONFLICT (id) DO UPDATE SET refs = refs + 1");
      for (const m of messages) {
        insertMessage.run(m.id, m.sender, m.blobId, m.size, m.receivedAt, m.trace, m.origin, m.envId ?? null, m.ret ?? null);
        refBlob.run(m.blobId, m.size);
        for (const r of m.recipients) insertRecipient.run(m.id, r.address, r.orcpt ?? null, r.notify ?? null, m.receivedAt);
      }
    }
  }

  /** A lease need not survive a power cut (a lost lease is simply taken again): no durable() wait. */
  async lease(owner: string, now: number, leaseUntil: number, limit: number): Promise<QueuedRecipient[]> {
    const db = this.db;
    return inTransaction(db, () => {
      const rows = sql(
        db,
        `SELECT * FROM queue_recipients
          WHERE ((state IN ('incoming', 'deferred') AND next_attempt <= ?) OR (state = 'active' AND lease_until <= ?))
          ORDER BY state = 'deferred', next_attempt LIMIT ?`,
      ).all(now, now, limit) as RecipientRow[];
      const take = sql(db, "UPDATE queue_recipients SET state = 'active', lease_owner = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ?");
      for (const r of rows) take.run(owner, leaseUntil, r.id);
      return rows.map((r) => ({ ...toRecipient(r), state: "active" as const, attempts: r.attempts + 1 }));
    });
  }

  async requeueActive(): Promise<number> {
    return sql(this.db, "UPDATE queue_recipients SET state = 'incoming', lease_owner = NULL, lease_until = 0 WHERE state = 'active'").run().changes;
  }

  async getMessage(id: string): Promise<QueuedMessage | undefined> {
    const row = sql(this.db, "SELECT * FROM queue_messages WHERE id = ?").get(id) as MessageRow | undefined;
    return row && this.withRecipients(row);
  }

  async listMessages(): Promise<QueuedMessage[]> {
    const rows = sql(this.db, "SELECT * FROM queue_messages ORDER BY received_at").all() as MessageRow[];
    return rows.map((r) => this.withRecipients(r));
  }

  private withRecipients(m: MessageRow): QueuedMessage {
    const recipients = (sql(this.db, "SELECT * FROM queue_recipients WHERE message_id = ? ORDER BY id").all(m.id) as RecipientRow[]).map(toRecipient);
    return {
      id: m.id, sender: m.sender, blobId: m.blob_id, size: m.size, receivedAt: m.received_at, trace: m.trace,
      origin: m.origin, envId: m.env_id, ret: m.ret, recipients,
    };
  }

  async commitLocalDelivery(commit: LocalDeliveryCommit): Promise<{ messages: MessageRecord[]; orphanBlobs: string[] }> {
    const db = this.db;
    return durably(db, inTransaction(db, () => {
      const messages = appendRows(db, commit.appends);
      const done = sql(db, `UPDATE queue_recipients SET state = 'done', lease_owner = NULL, last_error = NULL,
        notice = CASE WHEN ? THEN 'delivered' ELSE notice END, last_attempt = ? WHERE id = ? RETURNING message_id`);
      const touched = new Set<string>();
      const delivered = new Set(commit.delivered ?? []);
      const now = Date.now();
      for (const id of commit.completed) {
        const row = done.get(delivered.has(id) ? 1 : 0, now, id) as { message_id: string } | undefined;
        if (row) touched.add(row.message_id);
      }
      return { messages, orphanBlobs: this.purgeComplete([...touched]) };
    }));
  }

  /** Inside a transaction: deletes those of the given queue messages with nothing left to deliver. */
  private purgeComplete(messageIds: string[]): string[] {
    const find = sql(this.db, `SELECT blob_id FROM queue_messages q WHERE id = ? AND ${FINISHED}`);
    const del = sql(this.db, "DELETE FROM queue_messages WHERE id = ?");
    const blobs: string[] = [];
    for (const id of messageIds) {
      const row = find.get(id) as { blob_id: string } | undefined;
      if (!row) continue;
      del.run(id);
      blobs.push(row.blob_id);
    }
    return releaseBlobs(this.db, blobs);
  }

  async extendLease(owner: string, recipientIds: number[], leaseUntil: number): Promise<void> {
    const db = this.db;
    inTransaction(db, () => {
      const extend = sql(db, "UPDATE queue_recipients SET lease_until = ? WHERE id = ? AND state = 'active' AND lease_owner = ?");
      for (const id of recipientIds) extend.run(leaseUntil, id, owner);
    });
  }

  async settle(outcomes: RecipientOutcome[]): Promise<{ orphanBlobs: string[]; noticesDue: string[] }> {
    const db = this.db;
    return durably(db, inTransaction(db, () => {
      const update = sql(db, `UPDATE queue_recipients SET state = ?, lease_owner = NULL, lease_until = 0, last_error = ?,
        next_attempt = ?, notice = COALESCE(?, notice), remote_mta = ?, last_attempt = ?
        WHERE id = ? AND state = 'active' RETURNING message_id`);
      const touched = new Set<string>();
      for (const o of outcomes) {
        const row = update.get(o.state, o.error ?? null, o.nextAttempt ?? 0, o.notice ?? null, o.remoteMta ?? null, o.at, o.id) as { message_id: string } | undefined;
        if (row) touched.add(row.message_id);
      }
      const due = sql(db, `SELECT 1 FROM queue_recipients r WHERE message_id = ? AND notice IS NOT NULL AND NOT EXISTS
        (SELECT 1 FROM queue_recipients o WHERE o.message_id = r.message_id AND o.state IN ('incoming', 'active')) LIMIT 1`);
      const noticesDue = [...touched].filter((id) => due.get(id) !== undefined);
      return { orphanBlobs: this.purgeComplete([...touched]), noticesDue };
    }));
  }

  async pendingNotices(messageId: string): Promise<QueuedRecipient[]> {
    const rows = sql(this.db, `SELECT * FROM queue_recipients r WHERE message_id = ? AND notice IS NOT NULL AND NOT EXISTS
      (SELECT 1 FROM queue_recipients o WHERE o.message_id = r.message_id AND o.state IN ('incoming', 'active')) ORDER BY id`).all(messageId) as RecipientRow[];
    return rows.map(toRecipient);
  }

  async reportNotices(messageId: string, recipientIds: number[], notification: NewQueuedMessage | null): Promise<{ reported: boolean; orphanBlobs: string[] }> {
    const db = this.db;
    let result: { reported: boolean; orphanBlobs: string[] };
    try {
      result = inTransaction(db, () => {
      const clear = sql(db, "UPDATE queue_recipients SET warned = warned OR notice = 'delayed', notice = NULL WHERE id = ? AND message_id = ? AND notice IS NOT NULL");
      let cleared = 0;
      for (const id of recipientIds) cleared += clear.run(id, messageId).changes;
      if (cleared !== recipientIds.length) throw new NoticeRace();
      if (notification) this.insert([notification]);
      return { reported: true, orphanBlobs: this.purgeComplete([messageId]) };
      });
    } catch (err) {
      if (err instanceof NoticeRace) return { reported: false, orphanBlobs: [] };
      throw err;
    }
    return durably(db, result);
  }

  async defer(recipientId: number, error: string, nextAttempt: number): Promise<void> {
    sql(this.db, "UPDATE queue_recipients SET state = 'deferred', lease_owner = NULL, lease_until = 0, last_error = ?, next_attempt = ? WHERE id = ? AND state = 'active'")
      .run(error, nextAttempt, recipientId);
    await durable(this.db);
  }

  async fail(recipientId: number, error: string): Promise<void> {
    sql(this.db, "UPDATE queue_recipients SET state = 'failed', lease_owner = NULL, last_error = ? WHERE id = ? AND state = 'active'").run(error, recipientId);
    await durable(this.db);
  }

  async markDone(recipientId: number): Promise<void> {
    sql(this.db, "UPDATE queue_recipients SET state = 'done', lease_owner = NULL, last_error = NULL WHERE id = ? AND state = 'active'").run(recipientId);
    await durable(this.db);
  }

  async hold(messageId: string): Promise<number> {
    return durably(this.db, sql(this.db, "UPDATE queue_recipients SET state = 'hold', lease_owner = NULL WHERE message_id = ? AND state IN ('incoming', 'deferred', 'active')")
      .run(messageId).changes);
  }

  async release(messageId: string): Promise<number> {
    return durably(this.db, sql(this.db, "UPDATE queue_recipients SET state = 'deferred', next_attempt = 0 WHERE message_id = ? AND state = 'hold'").run(messageId).changes);
  }

  async flush(messageId?: string): Promise<number> {
    const text = "UPDATE queue_recipients SET next_attempt = 0 WHERE state IN ('incoming', 'deferred')";
    return durably(this.db, messageId === undefined
      ? sql(this.db, text).run().changes
      : sql(this.db, `${text} AND message_id = ?`).run(messageId).changes);
  }

  async flushDomain(domain: string): Promise<number> {
    const suffix = `@${domain.toLowerCase()}`;
    return durably(this.db, sql(this.db, `UPDATE queue_recipients SET next_attempt = 0
      WHERE state IN ('incoming', 'deferred') AND substr(address, -?) = ?`).run(suffix.length, suffix).changes);
  }

  async purge(messageId?: string, opts: { force?: boolean } = {}): Promise<string[]> {
    const db = this.db;
    const complete = FINISHED;
    const orphans = inTransaction(db, () => {
      type Row = { id: string; blob_id: string };
      const ids = messageId === undefined
        ? (sql(db, `SELECT id, blob_id FROM queue_messages q WHERE ${complete}`).all() as Row[])
        : opts.force
          ? (sql(db, "SELECT id, blob_id FROM queue_messages WHERE id = ?").all(messageId) as Row[])
          : (sql(db, `SELECT id, blob_id FROM queue_messages q WHERE id = ? AND ${complete}`).all(messageId) as Row[]);
      const del = sql(db, "DELETE FROM queue_messages WHERE id = ?");
      for (const row of ids) del.run(row.id);
      return releaseBlobs(db, ids.map((r) => r.blob_id));
    });
    return durably(db, orphans);
  }
}
