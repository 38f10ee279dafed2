// The queue manager: takes due recipients under an expiring lease (a crashed
// process's leases run out and its work is taken again), hands local ones to
// the MDA and records the outcome (done, deferred with backoff, failed).
// Recipients for other domains wait, deferred, until outbound delivery
// exists. A bounded batch keeps a deferred backlog from starving fresh mail.
import { randomUUID } from "node:crypto";
import type { Logger } from "../log/logger.js";
import type { QueuedMessage, QueuedRecipient, Stores } from "../store/interfaces.js";
import type { LocalDelivery } from "../delivery/local.js";

export interface SchedulerOptions {
  leaseMs: number;
  batch: number;
  pollMs: number;
  /** Delay before retry n (1-based) of a deferred recipient. */
  backoff: (attempt: number) => number;
}

export const DEFAULT_SCHEDULER: SchedulerOptions = {
  leaseMs: 5 * 60_000,
  batch: 128,
  pollMs: 1000,
  backoff: (attempt) => Math.min(5 * 60_000 * 2 ** (attempt - 1), 4 * 3_600_000),
};

const REMOTE_WAIT_MS = 3_600_000;

export class QueueScheduler {
  private readonly owner = `scheduler-${process.pid}-${randomUUID().slice(0, 8)}`;
  private running = false;
  private wake: (() => void) | undefined;
  private kicked = false;
  private loopDone: Promise<void> | undefined;

  constructor(
    private readonly stores: Stores,
    private readonly local: LocalDelivery,
    private readonly log: Logger,
    private readonly options: SchedulerOptions = DEFAULT_SCHEDULER,
  ) {}

  async start(): Promise<void> {
    const recovered = await this.stores.queue.requeueActive();
    if (recovered > 0) this.log.warn({ recipients: recovered }, "recovered deliveries interrupted by a crash");
    this.running = true;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.kick();
    await this.loopDone;
  }

  /** New mail is waiting: look now instead of at the next poll. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.kicked = false;
      let taken: QueuedRecipient[] = [];
      try {
        const now = Date.now();
        taken = await this.stores.queue.lease(this.owner, now, now + this.options.leaseMs, this.options.batch);
        if (taken.length > 0) await this.process(taken);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, "queue scheduler error");
      }
      if (taken.length < this.options.batch && !this.kicked && this.running) await this.sleep();
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

  private async process(recipients: QueuedRecipient[]): Promise<void> {
    const byMessage = new Map<string, QueuedRecipient[]>();
    for (const r of recipients) byMessage.set(r.messageId, [...(byMessage.get(r.messageId) ?? []), r]);
    await Promise.all(
      [...byMessage].map(async ([id, list]) => {
        const message = await this.stores.queue.getMessage(id);
        if (!message) return;
        await Promise.all(list.map((r) => this.deliverOne(message, r)));
      }),
    );
  }

  private async deliverOne(message: QueuedMessage, recipient: QueuedRecipient): Promise<void> {
    const base = { qid: message.id, to: recipient.address, attempt: recipient.attempts };
    try {
      const outcome = await this.local.deliver(message, recipient);
      switch (outcome.status) {
        case "sent":
          return;
        case "remote":
          await this.stores.queue.defer(recipient.id, "4.4.0 waiting for outbound delivery (not available in this version)", Date.now() + REMOTE_WAIT_MS);
          this.log.info({ ...base, status: "deferred", relay: "none" }, "waiting for outbound delivery");
          return;
        case "deferred":
          await this.stores.queue.defer(recipient.id, outcome.error, Date.now() + this.options.backoff(recipient.attempts));
          this.log.warn({ ...base, status: "deferred", error: outcome.error }, "delivery deferred");
          return;
        case "bounced":
          await this.stores.queue.fail(recipient.id, outcome.error);
          for (const blob of await this.stores.queue.purge(message.id)) await this.stores.blobs.remove(blob);
          this.log.warn({ ...base, status: "bounced", error: outcome.error }, "delivery failed");
          return;
      }
    } catch (err) {
      const error = `4.3.0 ${(err as Error).message}`;
      await this.stores.queue.defer(recipient.id, error, Date.now() + this.options.backoff(recipient.attempts));
      this.log.error({ ...base, status: "deferred", error }, "delivery error");
    }
  }
}
