// The queue manager (Postfix's qmgr): takes due recipients under an expiring
// lease (a crashed process's leases run out and its work is taken again, and
// a long remote delivery keeps renewing its own), hands local ones to the MDA
// and the rest to outbound delivery, and records each outcome: done, retried
// on the configured schedule, or failed — then owed notices go out (DSN).
// At most queue.max_active recipients are in delivery at once, and fresh
// mail is leased before a deferred backlog, so a dead destination with
// thousands of messages never starves new mail.
import { randomUUID } from "node:crypto";
import type { Logger } from "../log/logger.js";
import type { QueuedMessage, QueuedRecipient, RecipientOutcome, Stores } from "../store/interfaces.js";
import type { LocalDelivery } from "../delivery/local.js";
import { decideOutcome, type AttemptResult, type RetryPolicy } from "./retry-policy.js";
import type { Notifier } from "./notices.js";
import { GroupCommit } from "./group-commit.js";

/** Hands the remote recipients of one message (one destination domain) to the next MTA. */
export interface RemoteDelivery {
  deliver(message: QueuedMessage, domain: string, recipients: QueuedRecipient[]): Promise<AttemptResult[]>;
}

export interface SchedulerOptions {
  leaseMs: number;
  batch: number;
  pollMs: number;
  maxActive: number;
}

const STOP_GRACE_MS = 10_000;
/**
 * After a wake-up, wait this long before leasing, so that the messages
 * accepted and the deliveries finished meanwhile are taken in one lease
 * instead of one transaction each.
 */
const COALESCE_MS = 10;

export const DEFAULT_SCHEDULER: SchedulerOptions = { leaseMs: 5 * 60_000, batch: 128, pollMs: 1000, maxActive: 2000 };

export class QueueScheduler {
  private readonly owner = `scheduler-${process.pid}-${randomUUID().slice(0, 8)}`;
  private running = false;
  private wake: (() => void) | undefined;
  private kicked = false;
  private loopDone: Promise<void> | undefined;
  /** Outcomes of many messages recorded in one transaction (and one WAL fsync). */
  private readonly settler: GroupCommit<RecipientOutcome[], { orphanBlobs: string[]; noticesDue: string[] }>;
  /** Recipients leased and not yet settled. */
  private readonly inFlight = new Set<number>();
  private readonly work = new Set<Promise<void>>();
  private renewTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stores: Stores,
    private readonly local: LocalDelivery,
    private readonly remote: RemoteDelivery,
    private readonly notifier: Notifier,
    private readonly policy: RetryPolicy,
    private readonly log: Logger,
    private readonly options: SchedulerOptions = DEFAULT_SCHEDULER,
  ) {
    this.settler = new GroupCommit(async (batches) => {
      const result = await stores.queue.settle(batches.flat());
      // The orphaned blobs are removed once (by the first caller); every caller looks for its own message in noticesDue.
      return batches.map((_, i) => ({ orphanBlobs: i === 0 ? result.orphanBlobs : [], noticesDue: result.noticesDue }));
    });
  }

  async start(): Promise<void> {
    const recovered = await this.stores.queue.requeueActive();
    if (recovered > 0) this.log.warn({ recipients: recovered }, "recovered deliveries interrupted by a crash");
    this.running = true;
    this.renewTimer = setInterval(() => void this.renewLeases(), Math.max(1000, this.options.leaseMs / 3));
    this.renewTimer.unref();
    this.loopDone = this.loop();
  }

  /** Stops leasing and waits (briefly) for the deliveries under way. */
  async stop(): Promise<void> {
    this.running = false;
    this.kick();
    await this.loopDone;
    // Deliveries under way get a moment to finish; what is still active after
    // that is taken again at the next start (requeueActive).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.work), new Promise((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS)))]);
    clearTimeout(timer);
    clearInterval(this.renewTimer);
  }

  /** New mail is waiting: look now instead of at the next poll. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.kicked = false;
      let taken = 0;
      const room = Math.min(this.options.batch, this.options.maxActive - this.inFlight.size);
      if (room > 0) {
        try {
          const now = Date.now();
          const leased = await this.stores.queue.lease(this.owner, now, now + this.options.leaseMs, room);
          taken = leased.length;
          if (taken > 0) this.dispatch(leased);
        } catch (err) {
          this.log.error({ err: (err as Error).message }, "queue scheduler error");
        }
      }
      if (taken > 0 && taken === room) continue; // a full batch: more may be due at once
      if (!this.kicked && this.running) await this.sleep();
      if (this.running) await new Promise((resolve) => setTimeout(resolve, COALESCE_MS));
    }
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.options.pollMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  private async renewLeases(): Promise<void> {
    if (this.inFlight.size === 0) return;
    try {
      await this.stores.queue.extendLease(this.owner, [...this.inFlight], Date.now() + this.options.leaseMs);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "cannot renew queue leases");
    }
  }

  private dispatch(recipients: QueuedRecipient[]): void {
    const byMessage = new Map<string, QueuedRecipient[]>();
    for (const r of recipients) {
      this.inFlight.add(r.id);
      byMessage.set(r.messageId, [...(byMessage.get(r.messageId) ?? []), r]);
    }
    for (const [id, list] of byMessage) {
      const job = this.processMessage(id, list).finally(() => {
        // Only a full active set kept the loop from leasing: then the freed room is worth a look now.
        const wasFull = this.inFlight.size >= this.options.maxActive;
        for (const r of list) this.inFlight.delete(r.id);
        this.work.delete(job);
        if (wasFull) this.kick();
      });
      this.work.add(job);
    }
  }

  private async processMessage(id: string, recipients: QueuedRecipient[]): Promise<void> {
    try {
      const message = await this.stores.queue.getMessage(id);
      if (!message) return;
      const remote = new Map<string, QueuedRecipient[]>();
      let local = false;
      await Promise.all(recipients.map(async (r) => {
        const result = await this.deliverLocally(message, r);
        if (result === "remote") {
          const domain = r.address.slice(r.address.lastIndexOf("@") + 1);
          remote.set(domain, [...(remote.get(domain) ?? []), r]);
          return;
        }
        local = true;
        if (result) await this.settle(message, [[r, result]]);
      }));
      let noticesDue = false;
      await Promise.all([...remote].map(async ([domain, list]) => {
        let results: AttemptResult[];
        try {
          results = await this.remote.deliver(message, domain, list);
        } catch (err) {
          this.log.error({ qid: message.id, domain, err: (err as Error).stack }, "outbound delivery error");
          results = list.map(() => ({ status: "deferred", error: `4.3.0 local error: ${(err as Error).message}` }));
        }
        if (await this.settle(message, list.map((r, i) => [r, results[i]]))) noticesDue = true;
      }));
      // The local path records its outcomes itself (commitLocalDelivery): look there; the remote path was told.
      if (local || noticesDue) await this.notifier.check(message.id);
    } catch (err) {
      this.log.error({ qid: id, err: (err as Error).message }, "queue scheduler error");
    }
  }

  /** The MDA's attempt; "remote" for recipients outbound must take, undefined when it already recorded success. */
  private async deliverLocally(message: QueuedMessage, recipient: QueuedRecipient): Promise<AttemptResult | "remote" | undefined> {
    try {
      const outcome = await this.local.deliver(message, recipient);
      switch (outcome.status) {
        case "sent": return undefined;
        case "remote": return "remote";
        case "deferred": return { status: "deferred", error: outcome.error };
        case "bounced": return { status: "bounced", error: outcome.error };
      }
    } catch (err) {
      return { status: "deferred", error: `4.3.0 local delivery error: ${(err as Error).message}` };
    }
  }

  /** Records the outcomes; true when the message now owes its sender a notice. */
  private async settle(message: QueuedMessage, results: [QueuedRecipient, AttemptResult][]): Promise<boolean> {
    const now = Date.now();
    const outcomes: RecipientOutcome[] = results.map(([r, result]) => decideOutcome(this.policy, message, r, result, now));
    const { orphanBlobs, noticesDue } = await this.settler.submit(outcomes);
    for (const blob of orphanBlobs) await this.stores.blobs.remove(blob);
    outcomes.forEach((o, i) => {
      const [r, result] = results[i];
      if (result.status === "sent" && result.local) return;
      const fields = {
        qid: message.id, to: r.address, attempt: r.attempts, delay: (now - message.receivedAt) / 1000,
        relay: result.relay ?? result.remoteMta ?? "none",
        ...(result.tls ? { tls: result.tls } : {}),
        status: o.state === "done" ? "sent" : o.state === "failed" ? "bounced" : "deferred",
        ...(o.state === "done" ? { reply: o.error } : { error: o.error }),
        ...(o.state === "deferred" ? { retry: new Date(o.nextAttempt!).toISOString() } : {}),
        ...(o.notice ? { notice: o.notice } : {}),
      };
      if (o.state === "done") this.log.info(fields, "sent");
      else if (o.state === "failed") this.log.warn(fields, "delivery failed");
      else this.log.info(fields, "delivery deferred");
    });
    return noticesDue.includes(message.id);
  }
}
