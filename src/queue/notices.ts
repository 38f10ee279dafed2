// Delivery status notifications leave the queue here: once a message's
// delivery pass is over (no recipient incoming or active), every notice owed
// for it goes out as ONE multipart/report (RFC 3464) to the envelope sender,
// from the null sender so it can never bounce back (RFC 5321 §4.5.5, §6.1).
// The notification is queued in the same transaction that clears the
// notices, so a crash neither loses nor repeats it. Trusted with the
// original's header (RET=HDRS) or whole text (RET=FULL or absent, up to
// queue.bounce_size_limit).
import { randomUUID } from "node:crypto";
import type { Logger } from "../log/logger.js";
import type { DsnAction, QueuedMessage, QueuedRecipient, Stores } from "../store/interfaces.js";
import { buildDsn, originalHeaderBlock, type DsnRecipient } from "./dsn.js";
import { newQueueId } from "./queue-id.js";
import { statusOf } from "./retry-policy.js";
import { receivedHeader } from "../delivery/trace.js";
import { isAscii } from "node:buffer";

export interface NoticeOptions {
  hostname: string;
  bounceSizeLimit: number;
  maxAge: number;
}

const HEADER_READ = 256 * 1024;

export class Notifier {
  /** Per message, one report at a time (two outcomes finishing together must not both report). */
  private readonly busy = new Map<string, Promise<void>>();
  private readonly listeners = new Set<() => void>();

  constructor(private readonly stores: Stores, private readonly options: NoticeOptions, private readonly log: Logger) {}

  /** Called after each queued notification (the scheduler delivers it at once). */
  onQueued(listener: () => void): void {
    this.listeners.add(listener);
  }

  /** Sends what is owed for this message, if its pass is over. Never throws. */
  check(messageId: string): Promise<void> {
    const previous = this.busy.get(messageId) ?? Promise.resolve();
    const next = previous.then(() => this.report(messageId)).catch((err: Error) => {
      this.log.error({ qid: messageId, err: err.message }, "cannot send delivery status notification");
    });
    this.busy.set(messageId, next);
    void next.then(() => {
      if (this.busy.get(messageId) === next) this.busy.delete(messageId);
    });
    return next;
  }

  private async report(messageId: string): Promise<void> {
    const owed = await this.stores.queue.pendingNotices(messageId);
    if (owed.length === 0) return;
    const message = await this.stores.queue.getMessage(messageId);
    if (!message) return;
    if (message.sender === "") {
      // Never a notice to <>: clear what was (wrongly) owed and say so.
      const { orphanBlobs } = await this.stores.queue.reportNotices(messageId, owed.map((r) => r.id), null);
      await this.removeBlobs(orphanBlobs);
      this.log.warn({ qid: messageId }, "notice for the null sender discarded");
      return;
    }
    const id = newQueueId();
    const content = await this.compose(message, owed, id);
    const writer = await this.stores.blobs.create(id);
    await writer.write(content);
    const blob = await writer.finish();
    await this.stores.blobs.sync();
    const now = Date.now();
    const { reported, orphanBlobs } = await this.stores.queue.reportNotices(messageId, owed.map((r) => r.id), {
      id,
      sender: "",
      blobId: blob.id,
      size: blob.size,
      receivedAt: now,
      trace: receivedHeader({ protocol: "local", hostname: this.options.hostname, queueId: id, date: new Date(now), recipient: message.sender }),
      origin: JSON.stringify({ notice: messageId, eightBit: !isAscii(content) }),
      recipients: [{ address: message.sender }],
    });
    if (!reported) {
      await this.stores.blobs.remove(blob.id);
      return;
    }
    await this.removeBlobs(orphanBlobs);
    const actions = [...new Set(owed.map((r) => r.notice))].join(",");
    this.log.info({ qid: messageId, notice: id, to: message.sender, action: actions, recipients: owed.map((r) => r.address) }, "sender notified");
    for (const listener of this.listeners) listener();
  }

  private async compose(message: QueuedMessage, owed: QueuedRecipient[], noticeId: string): Promise<Buffer> {
    const trace = Buffer.from(message.trace, "latin1");
    const whole = trace.length + message.size;
    const wantsFull = message.ret !== "HDRS" && owed.some((r) => r.notice === "failed");
    let header: Buffer;
    let body: Buffer | undefined;
    if (wantsFull && whole <= this.options.bounceSizeLimit) {
      const all = Buffer.concat([trace, await this.stores.blobs.readAll(message.blobId, message.size)]);
      header = originalHeaderBlock(all);
      body = all.subarray(header.length);
    } else {
      const start = await readStart(this.stores, message.blobId, Math.min(message.size, HEADER_READ));
      header = originalHeaderBlock(Buffer.concat([trace, start]));
    }
    const recipients: DsnRecipient[] = owed.map((r) => ({
      address: r.address,
      orcpt: r.orcpt,
      action: r.notice as DsnAction,
      status: statusOf(r.lastError, r.notice === "failed" ? "5" : r.notice === "delayed" ? "4" : "2"),
      diagnostic: r.lastError ?? undefined,
      remoteMta: r.remoteMta ?? undefined,
      lastAttempt: r.lastAttempt || undefined,
      willRetryUntil: r.notice === "delayed" ? message.receivedAt + this.options.maxAge : undefined,
    }));
    return buildDsn({
      hostname: this.options.hostname,
      queueId: message.id,
      messageId: `<${noticeId}.${randomUUID().slice(0, 8)}@${this.options.hostname}>`,
      sender: message.sender,
      envId: message.envId,
      arrival: message.receivedAt,
      recipients,
      original: { header, body },
      date: new Date(),
    });
  }

  private async removeBlobs(ids: string[]): Promise<void> {
    for (const blob of ids) await this.stores.blobs.remove(blob);
  }
}

async function readStart(stores: Stores, blobId: string, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stores.blobs.read(blobId, 0, length)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
