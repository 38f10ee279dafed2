// The mailbox service every protocol and tool uses (IMAP, POP3, export,
// import): reading a stored message as the client sees it (per-delivery
// prefix + shared blob, CRLF line ends) and appending new messages durably.
// Saving is transactional as in Dovecot's lib-storage: blobs are written and
// fsynced first, then one store transaction makes them visible.
import { PassThrough, type Readable } from "node:stream";
import type { MailboxRecord, MessageRecord, Stores } from "../store/interfaces.js";

export interface NewMessage {
  data: Buffer;
  flags: string[];
  internalDate: number;
}

export class Mailstore {
  constructor(private readonly stores: Stores) {}

  async mailbox(userId: number, name: string): Promise<MailboxRecord | undefined> {
    // INBOX is case-insensitive (RFC 3501 §5.1); other names are exact.
    return this.stores.mailboxes.getMailbox(userId, name.toUpperCase() === "INBOX" ? "INBOX" : name);
  }

  /** The whole message, as RFC822.SIZE counts it. */
  async read(message: MessageRecord): Promise<Buffer> {
    const body = await this.stores.blobs.readAll(message.blobId, message.size - message.prefix.length);
    return message.prefix.length === 0 ? body : Buffer.concat([message.prefix, body]);
  }

  /** The message as a stream (prefix, then the blob), for large messages. */
  stream(message: MessageRecord): Readable {
    const out = new PassThrough();
    out.write(message.prefix);
    const body = this.stores.blobs.read(message.blobId);
    body.on("error", (err) => out.destroy(err));
    out.on("close", () => body.destroy()); // a reader that stops early closes the file too
    body.pipe(out);
    return out;
  }

  /** Appends messages to one mailbox: blobs fsynced, then one transaction. */
  async append(mailbox: MailboxRecord, messages: NewMessage[]): Promise<MessageRecord[]> {
    const written: { id: string; size: number }[] = [];
    try {
      for (const m of messages) {
        const writer = await this.stores.blobs.create();
        await writer.write(m.data);
        written.push(await writer.finish());
      }
      await this.stores.blobs.sync();
      const records = await this.stores.mailboxes.append(
        messages.map((m, i) => ({
          mailboxId: mailbox.id, prefix: Buffer.alloc(0), blobId: written[i].id, blobSize: written[i].size, internalDate: m.internalDate, flags: m.flags, newBlob: true,
        })),
      );
      if (records.length > 0) {
        this.stores.changes.publish({ userId: mailbox.userId, mailboxId: mailbox.id, kind: "append", uids: records.map((r) => r.uid), modseq: records[records.length - 1].modseq });
      }
      return records;
    } catch (err) {
      for (const blob of written) await this.stores.blobs.remove(blob.id).catch(() => {});
      throw err;
    }
  }
}
