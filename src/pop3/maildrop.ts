// A POP3 maildrop (RFC 1939 §8): the INBOX as it was at login, numbered 1..n
// for the whole session, with deletion marks that only QUIT commits. UIDL
// ids are "<UIDVALIDITY>.<UID>": stable for the life of a message and never
// reused, and the same message IMAP sees.
import type { MailboxRecord, MessageRecord, Stores } from "../store/interfaces.js";

export class Maildrop {
  private readonly deleted = new Set<number>();

  private constructor(readonly mailbox: MailboxRecord, readonly messages: MessageRecord[]) {}

  static async open(stores: Stores, mailbox: MailboxRecord): Promise<Maildrop> {
    return new Maildrop(mailbox, await stores.mailboxes.listMessages(mailbox.id));
  }

  /** The message with number n (1-based), unless it does not exist or is marked deleted. */
  get(n: number): MessageRecord | undefined {
    if (!Number.isInteger(n) || n < 1 || n > this.messages.length || this.deleted.has(n)) return undefined;
    return this.messages[n - 1];
  }

  isDeleted(n: number): boolean {
    return this.deleted.has(n);
  }

  delete(n: number): boolean {
    if (!this.get(n)) return false;
    this.deleted.add(n);
    return true;
  }

  reset(): void {
    this.deleted.clear();
  }

  uidl(message: MessageRecord): string {
    return `${this.mailbox.uidValidity}.${message.uid}`;
  }

  /** Messages not marked deleted, with their numbers. */
  *live(): Generator<[number, MessageRecord]> {
    for (let i = 0; i < this.messages.length; i++) if (!this.deleted.has(i + 1)) yield [i + 1, this.messages[i]];
  }

  stat(): { count: number; size: number } {
    let count = 0;
    let size = 0;
    for (const [, m] of this.live()) {
      count++;
      size += m.size;
    }
    return { count, size };
  }

  /** The UPDATE state (RFC 1939 §6): removes the marked messages; returns how many went. */
  async commit(stores: Stores): Promise<number> {
    if (this.deleted.size === 0) return 0;
    const uids = [...this.deleted].map((n) => this.messages[n - 1].uid);
    const { expunged, orphanBlobs } = await stores.mailboxes.expunge(this.mailbox.id, uids);
    if (expunged.length > 0) {
      stores.changes.publish({ userId: this.mailbox.userId, mailboxId: this.mailbox.id, kind: "expunge", uids: expunged, modseq: 0 });
    }
    // The messages are gone from the store; their files can go after the reply
    // (a crash in between leaves files the orphan sweep removes at start).
    void Promise.all(orphanBlobs.map((blob) => stores.blobs.remove(blob))).catch(() => {});
    return expunged.length;
  }
}
