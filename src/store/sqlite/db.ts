// Opens the embedded data store (SQLite through better-sqlite3, WAL journal,
// synchronous=FULL so that a committed transaction is fsynced) and keeps its
// schema current. Several processes (the server and `petrel` CLI verbs) share
// one database file; busy_timeout lets them take turns.
import Database from "better-sqlite3";
import fsp, { type FileHandle } from "node:fs/promises";

export type Db = Database.Database;

const SCHEMA_VERSION = 6;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS domains (name TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY,
  address TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  quota INTEGER NOT NULL DEFAULT 0,
  usage INTEGER NOT NULL DEFAULT 0,
  send_as TEXT NOT NULL DEFAULT 'own',
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (source TEXT PRIMARY KEY, targets TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mailboxes (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  special_use TEXT,
  uid_validity INTEGER NOT NULL,
  uid_next INTEGER NOT NULL DEFAULT 1,
  highest_modseq INTEGER NOT NULL DEFAULT 1,
  recent_uid INTEGER NOT NULL DEFAULT 0,
  vanished_floor INTEGER NOT NULL DEFAULT 0,
  UNIQUE (user_id, name)
);
CREATE TABLE IF NOT EXISTS subscriptions (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  PRIMARY KEY (user_id, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS expunged (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs (id TEXT PRIMARY KEY, size INTEGER NOT NULL, refs INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY,
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  prefix BLOB NOT NULL,
  blob_id TEXT NOT NULL,
  size INTEGER NOT NULL,
  internal_date INTEGER NOT NULL,
  flags TEXT NOT NULL DEFAULT '',
  UNIQUE (mailbox_id, uid)
);
CREATE INDEX IF NOT EXISTS messages_blob ON messages (blob_id);
CREATE INDEX IF NOT EXISTS messages_modseq ON messages (mailbox_id, modseq);
-- VANISHED and the sessions' catch-up look expunges up by MODSEQ
CREATE INDEX IF NOT EXISTS expunged_modseq ON expunged (mailbox_id, modseq);
CREATE TABLE IF NOT EXISTS queue_messages (
  id TEXT PRIMARY KEY,
  sender TEXT NOT NULL,
  blob_id TEXT NOT NULL,
  size INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  trace TEXT NOT NULL,
  origin TEXT NOT NULL,
  env_id TEXT,
  ret TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queue_recipients (
  id INTEGER PRIMARY KEY,
  message_id TEXT NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
  address TEXT NOT NULL,
  orcpt TEXT,
  notify TEXT,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt INTEGER NOT NULL,
  lease_owner TEXT,
  lease_until INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  notice TEXT,
  remote_mta TEXT,
  warned INTEGER NOT NULL DEFAULT 0,
  last_attempt INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS queue_due ON queue_recipients (state, next_attempt);
CREATE INDEX IF NOT EXISTS queue_by_message ON queue_recipients (message_id);
CREATE INDEX IF NOT EXISTS queue_leases ON queue_recipients (state, lease_until);
CREATE TABLE IF NOT EXISTS counter_hits (key TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS counter_hits_key ON counter_hits (key, at);
CREATE TABLE IF NOT EXISTS locks (key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires INTEGER NOT NULL) WITHOUT ROWID;
`;

export interface OpenOptions {
  /**
   * Commit without blocking the event loop on fsync: SQLite writes the WAL
   * (synchronous=OFF) and durable() fsyncs it on the thread pool, shared by
   * every commit since the last fsync; checkpoints run with synchronous=FULL.
   * Off (plain synchronous=FULL) for short-lived CLI processes.
   */
  asyncFsync?: boolean;
}

export function openDatabase(file: string, options: OpenOptions = {}): Db {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 10000");
  db.pragma("journal_size_limit = 67108864"); // the WAL shrinks back to 64 MB after a burst
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(SCHEMA);
    migrate(db);
    const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined;
    if (row && Number(row.value) > SCHEMA_VERSION) {
      throw new Error(`${file} was written by a newer Petrel (schema ${row.value}, this one knows ${SCHEMA_VERSION})`);
    }
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    db.close();
    throw err;
  }
  if (options.asyncFsync) syncers.set(db, new WalSyncer(db, `${file}-wal`));
  return db;
}

/** Closes the database, checkpointing the WAL durably first. */
export function closeDatabase(db: Db): void {
  syncers.get(db)?.stop();
  db.pragma("synchronous = FULL");
  db.close();
}

const syncers = new WeakMap<Db, WalSyncer>();

/**
 * Resolves once every transaction committed so far is on disk. Mutations of
 * the backends await it before they resolve, so "resolved" means "durable".
 */
export function durable(db: Db): Promise<void> {
  return syncers.get(db)?.sync() ?? Promise.resolve();
}

/** durable(db), then `value`. */
export async function durably<T>(db: Db, value: T): Promise<T> {
  await durable(db);
  return value;
}

class WalSyncer {
  private handle: Promise<FileHandle> | undefined;
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly db: Db, private readonly walFile: string) {
    db.pragma("synchronous = OFF");
    db.pragma("wal_autocheckpoint = 0");
    this.timer = setInterval(() => this.checkpoint(), CHECKPOINT_INTERVAL_MS);
    this.timer.unref();
  }

  /** Coalesces callers: one fsync covers every commit made before it started. */
  sync(): Promise<void> {
    if (!this.running) {
      this.running = this.fsyncWal().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    // Callers arriving during an fsync wait for the next one (theirs may have
    // committed after it started). (A failed fsync stops the process: see fsyncWal.)
    this.next ??= this.running
      .catch(() => {})
      .then(() => {
        this.next = undefined;
        return this.sync();
      });
    return this.next;
  }

  private async fsyncWal(): Promise<void> {
    try {
      this.handle ??= fsp.open(this.walFile, "r");
      await (await this.handle).sync();
    } catch (err) {
      // After a failed fsync nobody knows which committed transactions are on
      // disk, and retrying fsync cannot tell (the kernel may have dropped the
      // dirty pages). Like PostgreSQL, stop at once: on restart the queue is
      // recovered from what is really on disk, and nothing acknowledged after
      // this point was claimed durable.
      process.stderr.write(`petrel: fsync of ${this.walFile} failed (${(err as Error).message}); stopping to protect the mail store\n`);
      process.exit(75);
    }
  }

  /** Moves WAL pages into the database file, fsyncing both (so the WAL may be reused safely). */
  private checkpoint(): void {
    try {
      this.db.pragma("synchronous = FULL");
      this.db.pragma("wal_checkpoint(PASSIVE)");
    } catch {
      // busy or closing: the next interval tries again
    } finally {
      if (this.db.open) this.db.pragma("synchronous = OFF");
    }
  }

  stop(): void {
    clearInterval(this.timer);
    void this.handle?.then((h) => h.close()).catch(() => {});
  }
}

const CHECKPOINT_INTERVAL_MS = 1000;

/** Brings a database made by an older Petrel up to SCHEMA_VERSION (inside the opening transaction). */
function migrate(db: Db): void {
  const columnsOf = (table: string) => (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
  if (!columnsOf("users").includes("send_as")) db.exec("ALTER TABLE users ADD COLUMN send_as TEXT NOT NULL DEFAULT 'own'"); // v2
  if (columnsOf("mailboxes").includes("subscribed")) { // v4: subscriptions are names in their own table
    db.exec(`INSERT OR IGNORE INTO subscriptions (user_id, name) SELECT user_id, name FROM mailboxes WHERE subscribed = 1;
      ALTER TABLE mailboxes DROP COLUMN subscribed;`);
  }
  const mailboxColumns = columnsOf("mailboxes");
  if (!mailboxColumns.includes("recent_uid")) db.exec("ALTER TABLE mailboxes ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 0"); // v5: \Recent (RFC 3501 §2.3.2)
  if (!mailboxColumns.includes("vanished_floor")) db.exec("ALTER TABLE mailboxes ADD COLUMN vanished_floor INTEGER NOT NULL DEFAULT 0"); // v6: expunge records are pruned
  if (!columnsOf("queue_recipients").includes("notice")) { // v3: delivery status notifications
    db.exec(`ALTER TABLE queue_recipients ADD COLUMN notice TEXT;
      ALTER TABLE queue_recipients ADD COLUMN remote_mta TEXT;
      ALTER TABLE queue_recipients ADD COLUMN warned INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE queue_recipients ADD COLUMN last_attempt INTEGER NOT NULL DEFAULT 0;`);
  }
}

/** Runs fn in one IMMEDIATE transaction (taken at once, so writers never deadlock on upgrade). */
export function inTransaction<T>(db: Db, fn: () => T): T {
  return db.transaction(fn).immediate();
}

/** A UIDVALIDITY that never repeats in this database, even for a mailbox re-created in the same second. */
export function nextUidValidity(db: Db): number {
  const now = Math.floor(Date.now() / 1000);
  const row = db.prepare("SELECT value FROM meta WHERE key = 'last_uid_validity'").get() as { value: string } | undefined;
  const value = Math.max(now, row ? Number(row.value) + 1 : 0) >>> 0;
  db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_uid_validity', ?)").run(String(value));
  return value;
}

const statementCache = new WeakMap<Db, Map<string, Database.Statement>>();

/** A prepared statement, prepared once per database connection. */
export function sql(db: Db, text: string): Database.Statement {
  let cache = statementCache.get(db);
  if (!cache) statementCache.set(db, (cache = new Map()));
  let statement = cache.get(text);
  if (!statement) cache.set(text, (statement = db.prepare(text)));
  return statement;
}
