// Storage contract, QueueStore role, the outbound half: outcomes recorded in
// one transaction (settle), lease renewal for long deliveries, and notices
// (DSN) owed per message — reported once, together with the queued
// notification, and only when the message's delivery pass is over.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { QueuedRecipient } from "../../src/store/interfaces.js";
import { freshStores, queueMessage, T0, type OpenStores } from "./contract-helpers.js";

const MINUTE = 60_000;

export function queueOutcomeContract(open: OpenStores): void {
  describe("queue outcomes and notices", () => {
    const stores = freshStores(open);
    const recipientsOf = async (id: string): Promise<QueuedRecipient[]> => (await stores().queue.getMessage(id))?.recipients ?? [];

    async function leaseAll(...addresses: string[]): Promise<{ id: string; blobId: string; leased: QueuedRecipient[] }> {
      const message = await queueMessage(stores(), addresses.map((address) => ({ address })));
      await stores().queue.enqueue([message]);
      const leased = (await stores().queue.lease("w1", T0, T0 + MINUTE, 100)).filter((r) => r.messageId === message.id);
      assert.equal(leased.length, addresses.length);
      return { id: message.id, blobId: message.blobId, leased };
    }

    it("a new recipient has no notice, no remote MTA, no warning and no attempt yet", async () => {
      const message = await queueMessage(stores(), [{ address: "a@remote.test" }]);
      await stores().queue.enqueue([message]);
      const [r] = await recipientsOf(message.id);
      assert.deepEqual([r.notice, r.remoteMta, r.warned, r.lastAttempt], [null, null, false, 0]);
    });

    it("settle records every outcome in one go and removes a finished message", async () => {
      const { id, leased } = await leaseAll("a@remote.test", "b@remote.test");
      const { orphanBlobs: orphans, noticesDue } = await stores().queue.settle([
        { id: leased[0].id, state: "done", error: "250 ok", remoteMta: "mx.remote.test", at: T0 + 1 },
        { id: leased[1].id, state: "deferred", error: "451 4.3.0 later", nextAttempt: T0 + 5 * MINUTE, remoteMta: "mx.remote.test", at: T0 + 1 },
      ]);
      assert.deepEqual(orphans, []);
      assert.deepEqual(noticesDue, []);
      const [a, b] = await recipientsOf(id);
      assert.deepEqual([a.state, a.remoteMta, a.lastAttempt], ["done", "mx.remote.test", T0 + 1]);
      assert.deepEqual([b.state, b.lastError, b.nextAttempt], ["deferred", "451 4.3.0 later", T0 + 5 * MINUTE]);
      const [again] = await stores().queue.lease("w1", T0 + 5 * MINUTE, T0 + 6 * MINUTE, 10);
      assert.equal(again.id, b.id);
      const last = await stores().queue.settle([{ id: b.id, state: "done", at: T0 + 6 * MINUTE }]);
      assert.equal(last.orphanBlobs.length, 1, "the blob lost its last reference");
      assert.equal(await stores().queue.getMessage(id), undefined);
    });

    it("settle ignores recipients that are no longer active (held or deleted meanwhile)", async () => {
      const { id, leased } = await leaseAll("a@remote.test");
      await stores().queue.hold(id);
      await stores().queue.settle([{ id: leased[0].id, state: "failed", error: "550 no", notice: "failed", at: T0 }]);
      const [r] = await recipientsOf(id);
      assert.deepEqual([r.state, r.notice], ["hold", null]);
    });

    it("extendLease keeps only the owner's active leases", async () => {
      const { leased } = await leaseAll("a@remote.test");
      await stores().queue.extendLease("someone-else", [leased[0].id], T0 + 10 * MINUTE);
      assert.equal((await stores().queue.lease("w2", T0 + MINUTE + 1, T0 + 2 * MINUTE, 10)).length, 1, "a stranger cannot extend");
      const { leased: mine } = await leaseAll("b@remote.test");
      await stores().queue.extendLease("w1", [mine[0].id], T0 + 10 * MINUTE);
      const taken = await stores().queue.lease("w2", T0 + 5 * MINUTE, T0 + 6 * MINUTE, 10);
      assert.equal(taken.some((r) => r.id === mine[0].id), false, "the extended lease is still held");
    });

    it("notices wait until no recipient is incoming or active, then are reported once with the notification", async () => {
      const { id, leased } = await leaseAll("a@remote.test", "b@remote.test");
      const first = await stores().queue.settle([{ id: leased[0].id, state: "failed", error: "550 5.1.1 no such user", notice: "failed", at: T0 }]);
      assert.deepEqual(first.noticesDue, [], "b is still active");
      assert.deepEqual(await stores().queue.pendingNotices(id), [], "b is still active");
      const second = await stores().queue.settle([{ id: leased[1].id, state: "deferred", error: "451 later", nextAttempt: T0 + MINUTE, at: T0 }]);
      assert.deepEqual(second.noticesDue, [id], "the pass is over: the notice is due");
      const owed = await stores().queue.pendingNotices(id);
      assert.deepEqual(owed.map((r) => [r.address, r.notice]), [["a@remote.test", "failed"]]);
      assert.ok(await stores().queue.getMessage(id), "a message with a notice owed is kept");

      const notification = await queueMessage(stores(), [{ address: "sender@example.test" }], { sender: "" });
      const reported = await stores().queue.reportNotices(id, owed.map((r) => r.id), notification);
      assert.equal(reported.reported, true);
      assert.ok(await stores().queue.getMessage(notification.id), "the notification is queued");
      assert.deepEqual(await stores().queue.pendingNotices(id), []);
      const other = await queueMessage(stores(), [{ address: "sender@example.test" }], { sender: "" });
      const again = await stores().queue.reportNotices(id, owed.map((r) => r.id), other);
      assert.equal(again.reported, false, "reported twice");
      assert.equal(await stores().queue.getMessage(other.id), undefined, "a second notification was queued");
    });

    it("a message whose last notice is reported is removed; delayed notices mark the recipient warned", async () => {
      const { id, leased } = await leaseAll("a@remote.test", "b@remote.test");
      await stores().queue.settle([
        { id: leased[0].id, state: "failed", error: "550 no", notice: "failed", at: T0 },
        { id: leased[1].id, state: "deferred", error: "451 later", nextAttempt: T0 + MINUTE, notice: "delayed", at: T0 },
      ]);
      const owed = await stores().queue.pendingNotices(id);
      assert.equal(owed.length, 2);
      const { reported, orphanBlobs } = await stores().queue.reportNotices(id, owed.map((r) => r.id), null);
      assert.equal(reported, true);
      assert.deepEqual(orphanBlobs, [], "b is still deferred: the message stays");
      const b = (await recipientsOf(id)).find((r) => r.address === "b@remote.test")!;
      assert.deepEqual([b.state, b.notice, b.warned], ["deferred", null, true]);

      const [again] = await stores().queue.lease("w1", T0 + MINUTE, T0 + 2 * MINUTE, 10);
      await stores().queue.settle([{ id: again.id, state: "failed", error: "550 gone", notice: "failed", at: T0 + MINUTE }]);
      const last = await stores().queue.pendingNotices(id);
      const done = await stores().queue.reportNotices(id, last.map((r) => r.id), null);
      assert.equal(done.orphanBlobs.length, 1);
      assert.equal(await stores().queue.getMessage(id), undefined);
    });

    it("flushDomain makes the waiting recipients of one domain due, whatever the case of the name", async () => {
      const message = await queueMessage(stores(), [{ address: "a@partner.test" }, { address: "b@other.test" }, { address: "c@sub.partner.test" }]);
      await stores().queue.enqueue([message]);
      for (const r of await stores().queue.lease("w1", T0, T0 + MINUTE, 10)) {
        await stores().queue.settle([{ id: r.id, state: "deferred", error: "451", nextAttempt: T0 + 60 * MINUTE, at: T0 }]);
      }
      assert.equal(await stores().queue.flushDomain("Partner.TEST"), 1);
      const due = await stores().queue.lease("w1", T0 + MINUTE, T0 + 2 * MINUTE, 10);
      assert.deepEqual(due.map((r) => r.address), ["a@partner.test"]);
    });

    it("a local delivery with NOTIFY=SUCCESS owes a 'delivered' notice in the same transaction", async () => {
      const message = await queueMessage(stores(), [{ address: "a@local.test", notify: "SUCCESS" }]);
      await stores().queue.enqueue([message]);
      const [r] = await stores().queue.lease("w1", T0, T0 + MINUTE, 10);
      await stores().queue.commitLocalDelivery({ appends: [], completed: [r.id], delivered: [r.id] });
      const owed = await stores().queue.pendingNotices(message.id);
      assert.deepEqual(owed.map((x) => [x.state, x.notice]), [["done", "delivered"]]);
    });
  });
}
