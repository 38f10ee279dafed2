// The mailbox service every protocol and tool uses (IMAP, POP3, export,
// import): reading a stored message as the client sees it (per-delivery
// prefix + shared blob, CRLF line ends), appending new messages durably,
// and the mailbox operations of IMAP (create with parents, delete, rename
// with the INBOX rule of RFC 3501 §6.3.5, copy, move, flags, expunge), each
// published on the change bus so every other session of the user hears of
// it. Saving is transactional as in Dovecot's lib-storage: blobs are written
// and fsynced first, then one store transaction makes them visible.
// Mailbox names are rows, never paths: no name can reach the file system.
import { PassThrough, type Readable } from "node:stream";
import type { CopyResult, FlagChange, MailboxChange, MailboxRecord, MessageRecord, Stores } from "../store/interfaces.js";
import { parseHeader } from "../mime/header.js";

/** How much of a large message is read to find its header (readHeaderIfPresent). */
const HEADER_READ = 64 * 1024;

/** The result, or undefined when the blob's file is gone (ENOENT). */
async function ifPresent<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Why a mailbox operation was refused, as IMAP response codes name it (RFC 5530, RFC 9051 §7.1). */
export type MailboxRefusal = "NONEXISTENT" | "ALREADYEXISTS" | "HASCHILDREN" | "CANNOT";
export type MailboxResult<T = void> = { ok: true; value: T } | { ok: false; code: MailboxRefusal; text: string };

export interface NewMessage {
  data: Buffer;
  flags: string[];
  internalDate: number;
}

export class Mailstore {
  /** `origin`: the session using this mailstore, named in every change it publishes. */
  constructor(private readonly stores: Stores, private readonly origin?: string) {}

  async mailbox(userId: number, name: string): Promise<MailboxRecord | undefined> {
    // INBOX is case-insensitive (RFC 3501 §5.1); other names are exact.
    return this.stores.mailboxes.getMailbox(userId, name.toUpperCase() === "INBOX" ? "INBOX" : name);
  }

  /** Creates NAME and any missing parents (RFC 3501 §6.3.3). */
  async create(userId: number, name: string, specialUse: string | null = null): Promise<MailboxResult<MailboxRecord>> {
    if (name.toUpperCase() === "INBOX" || (await this.mailbox(userId, name))) return { ok: false, code: "ALREADYEXISTS", text: "Mailbox already exists" };
    await this.createParents(userId, name);
    const created = await this.stores.mailboxes.createMailbox(userId, name, specialUse);
    this.publishMailbox(userId, { name });
    return { ok: true, value: created };
  }

  /** Deletes a mailbox and its messages; INBOX and mailboxes with children stay (as Dovecot: delete the children first). */
  async delete(userId: number, name: string): Promise<MailboxResult> {
    const box = await this.mailbox(userId, name);
    if (!box) return { ok: false, code: "NONEXISTENT", text: "Mailbox does not exist" };
    if (box.name === "INBOX") return { ok: false, code: "CANNOT", text: "INBOX cannot be deleted" };
    const all = await this.stores.mailboxes.listMailboxes(userId);
    if (all.some((m) => m.name.startsWith(`${box.name}/`))) return { ok: false, code: "HASCHILDREN", text: "Mailbox has children, delete them first" };
    const { orphanBlobs } = await this.stores.mailboxes.deleteMailbox(box.id);
    await this.removeBlobs(orphanBlobs);
    this.publishMailbox(userId, { name: box.name, deleted: true });
    return { ok: true, value: undefined };
  }

  /**
   * Renames a mailbox with its children. Renaming INBOX moves its messages
   * to a new mailbox and leaves INBOX empty (RFC 3501 §6.3.5).
   */
  async rename(userId: number, from: string, to: string): Promise<MailboxResult> {
    const source = await this.mailbox(userId, from);
    if (!source) return { ok: false, code: "NONEXISTENT", text: "Mailbox does not exist" };
    if (to.toUpperCase() === "INBOX" || (await this.mailbox(userId, to))) return { ok: false, code: "ALREADYEXISTS", text: "Target mailbox already exists" };
    if (to.startsWith(`${source.name}/`)) return { ok: false, code: "CANNOT", text: "Cannot rename a mailbox into itself" };
    await this.createParents(userId, to);
    if (source.name === "INBOX") {
      const target = await this.stores.mailboxes.createMailbox(userId, to);
      const uids = (await this.stores.mailboxes.listMessages(source.id)).map((m) => m.uid);
      if (uids.length > 0) await this.copy(source, uids, target, { move: true });
    } else {
      const result = await this.stores.mailboxes.renameMailbox(userId, source.name, to);
      if (!result.ok) return { ok: false, code: result.reason === "missing" ? "NONEXISTENT" : "ALREADYEXISTS", text: "Rename failed" };
    }
    // Children move with their parent and are not told of one by one (RFC 5465 §5.4).
    this.publishMailbox(userId, { name: to, oldName: source.name });
    return { ok: true, value: undefined };
  }

  /** SUBSCRIBE / UNSUBSCRIBE: a name, whether or not such a mailbox exists (RFC 9051 §6.3.7). */
  async setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void> {
    await this.stores.mailboxes.setSubscribed(userId, name, subscribed);
    this.publish({ userId, mailboxId: 0, kind: "subscription", uids: [], modseq: 0, name });
  }

  /** The missing parents of NAME, each created and published. */
  private async createParents(userId: number, name: string): Promise<void> {
    const levels = name.split("/");
    for (let i = 1; i < levels.length; i++) {
      const parent = levels.slice(0, i).join("/");
      if (await this.mailbox(userId, parent)) continue;
      await this.stores.mailboxes.createMailbox(userId, parent);
      this.publishMailbox(userId, { name: parent });
    }
  }

  /** COPY / MOVE (RFC 6851): UID pairs for COPYUID, changes published to both mailboxes. */
  async copy(from: MailboxRecord, uids: number[], to: MailboxRecord, opts: { move?: boolean } = {}): Promise<CopyResult> {
    const result = await this.stores.mailboxes.copyMessages(from.id, uids, to.id, opts);
    if (result.copies.length > 0) {
      this.publish({ userId: to.userId, mailboxId: to.id, kind: "append", uids: result.copies.map((c) => c.uid), modseq: result.copies[result.copies.length - 1].modseq });
    }
    if (result.expunged.length > 0) this.publish({ userId: from.userId, mailboxId: from.id, kind: "expunge", uids: result.expunged, modseq: 0 });
    return result;
  }

  async updateFlags(box: MailboxRecord, uids: number[], change: FlagChange): Promise<{ changed: MessageRecord[]; failed: number[] }> {
    const result = await this.stores.mailboxes.updateFlags(box.id, uids, change);
    if (result.changed.length > 0) {
      this.publish({ userId: box.userId, mailboxId: box.id, kind: "flags", uids: result.changed.map((m) => m.uid), modseq: Math.max(...result.changed.map((m) => m.modseq)) });
    }
    return result;
  }

  async expunge(box: MailboxRecord, uids: number[]): Promise<number[]> {
    if (uids.length === 0) return [];
    const { expunged, orphanBlobs } = await this.stores.mailboxes.expunge(box.id, uids);
    await this.removeBlobs(orphanBlobs);
    if (expunged.length > 0) this.publish({ userId: box.userId, mailboxId: box.id, kind: "expunge", uids: expunged, modseq: 0 });
    return expunged;
  }

  private publishMailbox(userId: number, what: { name: string; oldName?: string; deleted?: boolean }): void {
    this.publish({ userId, mailboxId: 0, kind: "mailboxes", uids: [], modseq: 0, ...what });
  }

  /** Tells every session of the user, naming this mailstore's session as the origin. */
  private publish(change: Omit<MailboxChange, "origin">): void {
    this.stores.changes.publish({ ...change, origin: this.origin });
  }

  private async removeBlobs(ids: string[]): Promise<void> {
    for (const id of ids) await this.stores.blobs.remove(id).catch(() => {});
  }

  /**
   * The message, or undefined when it is gone: another session expunged it
   * and its file was removed before this session heard (RFC 2180 §4.1).
   */
  async readIfPresent(message: MessageRecord): Promise<Buffer | undefined> {
    return ifPresent(() => this.read(message));
  }

  /**
   * What ENVELOPE and header fetches need: the header block alone (through
   * its blank line) when the message is large, so an attachment is not read
   * for it; the whole message when it is small or its header does not end
   * within the first HEADER_READ bytes. Undefined when the message is gone
   * (as readIfPresent).
   */
  async readHeaderIfPresent(message: MessageRecord): Promise<Buffer | undefined> {
    if (message.size <= HEADER_READ) return this.readIfPresent(message);
    const head = await ifPresent(() => collect(this.stores.blobs.read(message.blobId, 0, HEADER_READ - message.prefix.length)));
    if (!head) return undefined;
    const buf = message.prefix.length === 0 ? head : Buffer.concat([message.prefix, head]);
    const header = parseHeader(buf);
    return header.blankLine ? buf.subarray(0, header.headerEnd) : this.readIfPresent(message);
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
        this.publish({ userId: mailbox.userId, mailboxId: mailbox.id, kind: "append", uids: records.map((r) => r.uid), modseq: records[records.length - 1].modseq });
      }
      return records;
    } catch (err) {
      for (const blob of written) await this.stores.blobs.remove(blob.id).catch(() => {});
      throw err;
    }
  }
}
