// SQLite backend of the CounterStore role: sliding-window hit counters (login
// throttling, rate limits) and expiring locks (POP3 maildrop locks). Shared by
// every process on the data_dir, so a lock held by the server is seen by all.
import type { CounterStore } from "../interfaces.js";
import { inTransaction, sql, type Db } from "./db.js";

export class SqliteCounters implements CounterStore {
  constructor(private readonly db: Db) {}

  async hit(key: string, windowMs: number, now = Date.now()): Promise<number> {
    return inTransaction(this.db, () => {
      sql(this.db, "DELETE FROM counter_hits WHERE key = ? AND at <= ?").run(key, now - windowMs);
      sql(this.db, "INSERT INTO counter_hits (key, at) VALUES (?, ?)").run(key, now);
      return this.countNow(key, windowMs, now);
    });
  }

  async count(key: string, windowMs: number, now = Date.now()): Promise<number> {
    return this.countNow(key, windowMs, now);
  }

  private countNow(key: string, windowMs: number, now: number): number {
    return (sql(this.db, "SELECT count(*) AS n FROM counter_hits WHERE key = ? AND at > ?").get(key, now - windowMs) as { n: number }).n;
  }

  async reset(key: string): Promise<void> {
    sql(this.db, "DELETE FROM counter_hits WHERE key = ?").run(key);
  }

  async acquire(key: string, owner: string, ttlMs: number, now = Date.now()): Promise<boolean> {
    return inTransaction(this.db, () => {
      const row = sql(this.db, "SELECT owner, expires FROM locks WHERE key = ?").get(key) as { owner: string; expires: number } | undefined;
      if (row && row.owner !== owner && row.expires > now) return false;
      sql(this.db, "INSERT OR REPLACE INTO locks (key, owner, expires) VALUES (?, ?, ?)").run(key, owner, now + ttlMs);
      return true;
    });
  }

  async releaseAll(prefix: string): Promise<number> {
    return sql(this.db, "DELETE FROM locks WHERE substr(key, 1, length(?)) = ?").run(prefix, prefix).changes;
  }

  async release(key: string, owner: string): Promise<void> {
    sql(this.db, "DELETE FROM locks WHERE key = ? AND owner = ?").run(key, owner);
  }
}
