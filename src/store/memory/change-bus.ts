// The in-process ChangeBus: mailbox changes pushed to every session of this
// process that watches the user. A multi-node backend (PostgreSQL
// LISTEN/NOTIFY) implements the same interface.
import type { ChangeBus, MailboxChange } from "../interfaces.js";

export class MemoryChangeBus implements ChangeBus {
  private readonly listeners = new Map<number, Set<(change: MailboxChange) => void>>();

  publish(change: MailboxChange): void {
    for (const listener of this.listeners.get(change.userId) ?? []) {
      try {
        listener(change);
      } catch {
        // one broken session must not keep the change from the others
      }
    }
  }

  subscribe(userId: number, listener: (change: MailboxChange) => void): () => void {
    let set = this.listeners.get(userId);
    if (!set) this.listeners.set(userId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(userId) === set) this.listeners.delete(userId);
    };
  }
}
