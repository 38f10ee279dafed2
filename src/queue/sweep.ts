// The orphan sweep: a crash in the middle of DATA (or between the fsync of a
// message and its queue record) leaves a blob file nothing refers to. At
// start, files older than the grace period that the store does not know are
// removed. The grace period protects blobs a concurrent `petrel sendmail` or
// import is still writing.
import type { Logger } from "../log/logger.js";
import type { Stores } from "../store/interfaces.js";

export async function sweepOrphanBlobs(stores: Stores, log: Logger, graceMs = 3_600_000, now = Date.now()): Promise<number> {
  let removed = 0;
  let batch: string[] = [];
  const settle = async () => {
    const known = await stores.mailboxes.referencedBlobs(batch);
    for (const id of batch) {
      if (known.has(id)) continue;
      await stores.blobs.remove(id);
      removed++;
    }
    batch = [];
  };
  for await (const blob of stores.blobs.list()) {
    if (now - blob.modifiedAt < graceMs) continue;
    batch.push(blob.id);
    if (batch.length >= 500) await settle();
  }
  await settle();
  for (const id of await stores.mailboxes.takeOrphanBlobs()) {
    await stores.blobs.remove(id);
    removed++;
  }
  if (removed > 0) log.info({ removed }, "removed orphaned message files");
  return removed;
}
