// SQLite backend of the DirectoryStore role: domains, users and aliases.
// Trusted with password hashes (never plaintext). Addresses arrive
// normalised (lower-case) from directory/address.ts.
import type { AliasRecord, DirectoryStore, UserRecord } from "../interfaces.js";
import { durable, durably, inTransaction, nextUidValidity, sql, type Db } from "./db.js";

/** The mailboxes every user starts with; special-use attributes of RFC 6154. */
export const STANDARD_MAILBOXES: [string, string | null][] = [
  ["INBOX", null],
  ["Drafts", "\\Drafts"],
  ["Sent", "\\Sent"],
  ["Trash", "\\Trash"],
  ["Junk", "\\Junk"],
  ["Archive", "\\Archive"],
];

interface UserRow { id: number; address: string; password_hash: string; quota: number; usage: number; created_at: number; send_as: string }

const toUser = (r: UserRow): UserRecord => ({
  id: r.id, address: r.address, passwordHash: r.password_hash, quota: r.quota, usage: r.usage, createdAt: r.created_at,
  sendAs: r.send_as === "any" ? "any" : "own",
});

export class SqliteDirectory implements DirectoryStore {
  constructor(private readonly db: Db) {}

  async addDomain(domain: string): Promise<void> {
    sql(this.db, "INSERT OR IGNORE INTO domains (name) VALUES (?)").run(domain);
    await durable(this.db);
  }

  async removeDomain(domain: string): Promise<void> {
    sql(this.db, "DELETE FROM domains WHERE name = ?").run(domain);
    await durable(this.db);
  }

  async listDomains(): Promise<string[]> {
    return (sql(this.db, "SELECT name FROM domains ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  }

  async hasDomain(domain: string): Promise<boolean> {
    return sql(this.db, "SELECT 1 FROM domains WHERE name = ?").get(domain) !== undefined;
  }

  async addUser(address: string, passwordHash: string, quota: number): Promise<UserRecord> {
    return durably(this.db, inTransaction(this.db, () => {
      const now = Date.now();
      const { lastInsertRowid } = sql(this.db, "INSERT INTO users (address, password_hash, quota, created_at) VALUES (?, ?, ?, ?)")
        .run(address, passwordHash, quota, now);
      const userId = Number(lastInsertRowid);
      const insert = sql(this.db, "INSERT INTO mailboxes (user_id, name, special_use, uid_validity) VALUES (?, ?, ?, ?)");
      const subscribe = sql(this.db, "INSERT INTO subscriptions (user_id, name) VALUES (?, ?)");
      for (const [name, specialUse] of STANDARD_MAILBOXES) {
        insert.run(userId, name, specialUse, nextUidValidity(this.db));
        subscribe.run(userId, name);
      }
      return { id: userId, address, passwordHash, quota, usage: 0, createdAt: now, sendAs: "own" as const };
    }));
  }

  async removeUser(address: string): Promise<void> {
    // Message blobs lose their references here; blobs.refs is settled per mailbox message.
    inTransaction(this.db, () => {
      const user = sql(this.db, "SELECT id FROM users WHERE address = ?").get(address) as { id: number } | undefined;
      if (!user) return;
      sql(this.db, 
          `UPDATE blobs SET refs = refs - (SELECT count(*) FROM messages m JOIN mailboxes b ON m.mailbox_id = b.id
             WHERE b.user_id = ? AND m.blob_id = blobs.id)
           WHERE id IN (SELECT m.blob_id FROM messages m JOIN mailboxes b ON m.mailbox_id = b.id WHERE b.user_id = ?)`,
        )
        .run(user.id, user.id);
      sql(this.db, "DELETE FROM users WHERE id = ?").run(user.id);
    });
    await durable(this.db);
  }

  async getUser(address: string): Promise<UserRecord | undefined> {
    const row = sql(this.db, "SELECT * FROM users WHERE address = ?").get(address) as UserRow | undefined;
    return row && toUser(row);
  }

  async getUserById(id: number): Promise<UserRecord | undefined> {
    const row = sql(this.db, "SELECT * FROM users WHERE id = ?").get(id) as UserRow | undefined;
    return row && toUser(row);
  }

  async listUsers(domain?: string): Promise<UserRecord[]> {
    const rows = domain
      ? sql(this.db, "SELECT * FROM users WHERE address LIKE ? ESCAPE '\\' ORDER BY address").all(`%@${domain.replace(/[\\%_]/g, "\\$&")}`)
      : sql(this.db, "SELECT * FROM users ORDER BY address").all();
    return (rows as UserRow[]).map(toUser);
  }

  async setPassword(address: string, passwordHash: string): Promise<void> {
    sql(this.db, "UPDATE users SET password_hash = ? WHERE address = ?").run(passwordHash, address);
    await durable(this.db);
  }

  async setQuota(address: string, quota: number): Promise<void> {
    sql(this.db, "UPDATE users SET quota = ? WHERE address = ?").run(quota, address);
    await durable(this.db);
  }

  async setSendAs(address: string, mode: "own" | "any"): Promise<void> {
    sql(this.db, "UPDATE users SET send_as = ? WHERE address = ?").run(mode, address);
    await durable(this.db);
  }

  async setAlias(source: string, targets: string[]): Promise<void> {
    sql(this.db, "INSERT OR REPLACE INTO aliases (source, targets) VALUES (?, ?)").run(source, JSON.stringify(targets));
    await durable(this.db);
  }

  async removeAlias(source: string): Promise<void> {
    sql(this.db, "DELETE FROM aliases WHERE source = ?").run(source);
    await durable(this.db);
  }

  async getAlias(source: string): Promise<string[] | undefined> {
    const row = sql(this.db, "SELECT targets FROM aliases WHERE source = ?").get(source) as { targets: string } | undefined;
    return row && (JSON.parse(row.targets) as string[]);
  }

  async listAliases(): Promise<AliasRecord[]> {
    const rows = sql(this.db, "SELECT source, targets FROM aliases ORDER BY source").all() as { source: string; targets: string }[];
    return rows.map((r) => ({ source: r.source, targets: JSON.parse(r.targets) as string[] }));
  }
}
