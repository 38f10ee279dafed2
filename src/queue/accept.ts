// Durable acceptance: the step between "end of DATA" and the 250 reply (and
// its equivalents for `petrel sendmail` and, later, submission). A message is
// accepted only when its body is fsynced (BlobWriter.finish), its directory
// entry is fsynced (BlobStore.sync) and its queue record is committed — the
// last two shared by every message in the same group commit. After that, a
// crash or kill -9 cannot lose it: the scheduler finds it on restart.
import type { Logger } from "../log/logger.js";
import type { NewQueuedMessage, Stores } from "../store/interfaces.js";
import { GroupCommit } from "./group-commit.js";

export class Acceptor {
  private readonly committer: GroupCommit<NewQueuedMessage, undefined>;
  private readonly listeners = new Set<() => void>();

  constructor(stores: Stores, private readonly log: Logger) {
    this.committer = new GroupCommit(async (messages) => {
      await stores.blobs.sync();
      await stores.queue.enqueue(messages);
      return messages.map(() => undefined);
    });
  }

  /** Resolves when the message is durable; the caller may then say 250. */
  async accept(message: NewQueuedMessage): Promise<void> {
    await this.committer.submit(message);
    const origin = JSON.parse(message.origin) as Record<string, unknown>;
    this.log.info({ qid: message.id, sid: origin.sid, from: message.sender, size: message.size, nrcpt: message.recipients.length, origin }, "queued");
    for (const listener of this.listeners) listener();
  }

  /** Called after each acceptance (the scheduler wakes up at once instead of at its next poll). */
  onAccepted(listener: () => void): void {
    this.listeners.add(listener);
  }
}
