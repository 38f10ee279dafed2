// Builds the Stores of one process from the configuration: today the embedded
// default (SQLite data store + file blobs + in-process change bus). The one
// place that chooses backends.
import fs from "node:fs";
import path from "node:path";
import type { Stores } from "./interfaces.js";
import { closeDatabase, openDatabase } from "./sqlite/db.js";
import { SqliteDirectory } from "./sqlite/directory.js";
import { SqliteMailboxes } from "./sqlite/mailboxes.js";
import { SqliteQueue } from "./sqlite/queue.js";
import { SqliteCounters } from "./sqlite/counters.js";
import { FsBlobStore } from "./fs-blob/blobs.js";
import { MemoryChangeBus } from "./memory/change-bus.js";

/** `asyncFsync` for the long-running server (see store/sqlite/db.ts); CLI verbs commit with plain fsync. */
export function openStores(dataDir: string, options: { asyncFsync?: boolean } = {}): Stores {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = openDatabase(path.join(dataDir, "petrel.db"), options);
  return {
    directory: new SqliteDirectory(db),
    mailboxes: new SqliteMailboxes(db),
    queue: new SqliteQueue(db),
    counters: new SqliteCounters(db),
    blobs: new FsBlobStore(path.join(dataDir, "blobs")),
    changes: new MemoryChangeBus(),
    async close() {
      closeDatabase(db);
    },
  };
}
