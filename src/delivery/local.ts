// The first MDA: files a queued message into the INBOX of each local
// recipient, once per final mailbox, with Return-Path and Delivered-To
// prepended to the Received trace (RFC 5321 §4.4). Mailbox append, queue
// state and queue cleanup share one transaction, so a crash between them
// can neither lose nor duplicate a delivery. Trusted to respect quotas.
import type { Logger } from "../log/logger.js";
import type { AppendRequest, MessageRecord, QueuedMessage, QueuedRecipient, Stores } from "../store/interfaces.js";
import type { RecipientResolver } from "../directory/resolve.js";
import { GroupCommit } from "../queue/group-commit.js";
import { deliveryHeaders } from "./trace.js";
import { exceedsQuota } from "../directory/quota.js";

interface Commit { appends: AppendRequest[]; completed: number[]; delivered: number[] }

/** What happened to one queue recipient, for the scheduler to record. */
export type DeliveryOutcome =
  | { status: "sent" }
  | { status: "deferred"; error: string }
  | { status: "bounced"; error: string }
  | { status: "remote" };

export class LocalDelivery {
  private readonly committer: GroupCommit<Commit, { messages: MessageRecord[]; orphanBlobs: string[] }>;

  constructor(private readonly stores: Stores, private readonly resolver: RecipientResolver, private readonly log: Logger) {
    this.committer = new GroupCommit(async (commits) => {
      const merged = await stores.queue.commitLocalDelivery({
        appends: commits.flatMap((c) => c.appends),
        completed: commits.flatMap((c) => c.completed),
        delivered: commits.flatMap((c) => c.delivered),
      });
      let offset = 0;
      return commits.map((c, i) => {
        const messages = merged.messages.slice(offset, (offset += c.appends.length));
        return { messages, orphanBlobs: i === 0 ? merged.orphanBlobs : [] };
      });
    });
  }

  /** Delivers one recipient of `message`; the outcome says what the queue should do with it. */
  async deliver(message: QueuedMessage, recipient: QueuedRecipient): Promise<DeliveryOutcome> {
    const resolution = await this.resolver.resolve(recipient.address);
    if (resolution.kind === "remote") return { status: "remote" };
    if (resolution.kind === "unknown") return { status: "bounced", error: "5.1.1 user unknown" };
    const appends: AppendRequest[] = [];
    const targets: { user: string; mailbox: string }[] = [];
    for (const destination of resolution.destinations) {
      if (destination.kind !== "mailbox") continue; // an alias that turned remote since acceptance: outbound's job
      const { user } = destination;
      if (exceedsQuota(user, message.size)) {
        return { status: "deferred", error: `4.2.2 mailbox of ${user.address} is full (quota ${user.quota} bytes)` };
      }
      const inbox = await this.stores.mailboxes.getMailbox(user.id, "INBOX");
      if (!inbox) return { status: "deferred", error: `4.3.0 ${user.address} has no INBOX` };
      const prefix = Buffer.from(deliveryHeaders(message.sender, destination.address) + message.trace);
      appends.push({ mailboxId: inbox.id, prefix, blobId: message.blobId, blobSize: message.size, internalDate: Date.now(), flags: [] });
      targets.push({ user: user.address, mailbox: "INBOX" });
    }
    // RFC 3461 §4.1 NOTIFY=SUCCESS: a "delivered" notice, owed in the same transaction.
    const wantsSuccess = message.sender !== "" && (recipient.notify ?? "").toUpperCase().split(",").includes("SUCCESS");
    const { messages, orphanBlobs } = await this.committer.submit({ appends, completed: [recipient.id], delivered: wantsSuccess ? [recipient.id] : [] });
    const sid = (JSON.parse(message.origin) as { sid?: string }).sid;
    messages.forEach((m, i) => {
      const user = resolution.destinations.find((d) => d.kind === "mailbox" && d.user.address === targets[i].user);
      if (user?.kind === "mailbox") this.stores.changes.publish({ userId: user.user.id, mailboxId: m.mailboxId, kind: "append", uids: [m.uid], modseq: m.modseq });
      this.log.info(
        { qid: message.id, sid, to: recipient.address, mailbox: `${targets[i].user}/${targets[i].mailbox}`, uid: m.uid, relay: "local", status: "sent", delay: (Date.now() - message.receivedAt) / 1000 },
        "delivered",
      );
    });
    for (const blob of orphanBlobs) await this.stores.blobs.remove(blob);
    return { status: "sent" };
  }
}
