// Storage contract, QueueStore role: enqueue, leases (exclusive until they
// expire), defer/hold/release/flush/fail, local delivery committed atomically
// with the mailbox append, purge semantics, and blob references shared between
// the queue and the mailboxes. All times are explicit `now` values.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { QueuedRecipient, Stores } from "../../src/store/interfaces.js";
import { addUser, freshStores, queueMessage, sorted, T0, type OpenStores } from "./contract-helpers.js";

const MINUTE = 60_000;

async function recipientsOf(stores: Stores, messageId: string): Promise<QueuedRecipient[]> {
  const message = await stores.queue.getMessage(messageId);
  assert.ok(message, `queue message ${messageId} exists`);
  return message.recipients;
}

const statesOf = async (stores: Stores, messageId: string) => (await recipientsOf(stores, messageId)).map((r) => r.state);

export function queueContract(open: OpenStores): void {
  describe("queue", () => {
    const stores = freshStores(open);

    /** Enqueues one message for ADDRESSES and returns its id and recipients. */
    async function enqueueOne(...addresses: string[]): Promise<{ id: string; blobId: string; recipients: QueuedRecipient[] }> {
      const message = await queueMessage(stores(), addresses.map((address) => ({ address })));
      await stores().queue.enqueue([message]);
      return { id: message.id, blobId: message.blobId, recipients: await recipientsOf(stores(), message.id) };
    }

    it("enqueue records messages and recipients in state incoming", async () => {
      const first = await queueMessage(stores(), [
        { address: "bob@remote.test", orcpt: "rfc822;Bob@Remote.test", notify: "SUCCESS,FAILURE" },
        { address: "carol@remote.test" },
      ], { envId: "ENV123", ret: "HDRS" });
      const second = await queueMessage(stores(), [{ address: "dave@remote.test" }], { receivedAt: T0 + 1 });
      await stores().queue.enqueue([first, second]);
      const got = await stores().queue.getMessage(first.id);
      assert.ok(got);
      const { recipients, ...fields } = got;
      assert.deepEqual(fields, {
        id: first.id, sender: first.sender, blobId: first.blobId, size: first.size, receivedAt: first.receivedAt,
        trace: first.trace, origin: first.origin, envId: "ENV123", ret: "HDRS",
      });
      assert.deepEqual(recipients.map((r) => [r.address, r.orcpt, r.notify, r.state, r.messageId, r.lastError]), [
        ["bob@remote.test", "rfc822;Bob@Remote.test", "SUCCESS,FAILURE", "incoming", first.id, null],
        ["carol@remote.test", null, null, "incoming", first.id, null],
      ]);
      assert.notEqual(recipients[0].id, recipients[1].id);
      for (const r of recipients) assert.equal(r.attempts, 0);
      const other = await stores().queue.getMessage(second.id);
      assert.equal(other?.envId, null);
      assert.equal(other?.ret, null);
      assert.deepEqual(sorted((await stores().queue.listMessages()).map((m) => m.id)), sorted([first.id, second.id]));
      assert.deepEqual((await stores().queue.listMessages()).find((m) => m.id === first.id), got);
      assert.equal(await stores().queue.getMessage("NOSUCHMESSAGE"), undefined);
    });

    it("enqueue is atomic: a duplicate id rejects the whole batch", async () => {
      const { id } = await enqueueOne("bob@remote.test");
      const fresh = await queueMessage(stores(), [{ address: "carol@remote.test" }]);
      const duplicate = await queueMessage(stores(), [{ address: "dave@remote.test" }], { id });
      await assert.rejects(stores().queue.enqueue([fresh, duplicate]));
      assert.equal(await stores().queue.getMessage(fresh.id), undefined);
      assert.deepEqual((await stores().queue.listMessages()).map((m) => m.id), [id]);
      assert.deepEqual((await recipientsOf(stores(), id)).map((r) => r.address), ["bob@remote.test"]);
    });

    it("lease takes due recipients, marks them active, and respects the limit", async () => {
      const { id } = await enqueueOne("a@remote.test", "b@remote.test", "c@remote.test");
      const first = await stores().queue.lease("worker-1", T0, T0 + MINUTE, 2);
      assert.equal(first.length, 2);
      for (const r of first) {
        assert.equal(r.state, "active");
        assert.equal(r.messageId, id);
        assert.equal(r.attempts, 1, "a lease counts as an attempt");
      }
      const rest = await stores().queue.lease("worker-1", T0, T0 + MINUTE, 10);
      assert.equal(rest.length, 1);
      assert.deepEqual(sorted([...first, ...rest].map((r) => r.address)), ["a@remote.test", "b@remote.test", "c@remote.test"]);
      assert.deepEqual(await statesOf(stores(), id), ["active", "active", "active"]);
    });

    it("a live lease is exclusive; an expired one can be taken again", async () => {
      const { recipients } = await enqueueOne("a@remote.test", "b@remote.test");
      const taken = await stores().queue.lease("worker-1", T0, T0 + MINUTE, 10);
      assert.equal(taken.length, 2);
      assert.deepEqual(await stores().queue.lease("worker-2", T0 + 1, T0 + 1 + MINUTE, 10), []);
      assert.deepEqual(await stores().queue.lease("worker-1", T0 + MINUTE - 1, T0 + 2 * MINUTE, 10), [], "not even the owner leases twice");
      const retaken = await stores().queue.lease("worker-2", T0 + MINUTE + 1, T0 + 2 * MINUTE, 10);
      assert.deepEqual(sorted(retaken.map((r) => r.id)), sorted(recipients.map((r) => r.id)));
      for (const r of retaken) assert.equal(r.attempts, 2);
      assert.deepEqual(await stores().queue.lease("worker-1", T0 + MINUTE + 2, T0 + 2 * MINUTE, 10), []);
    });

    it("defer records the error and the next attempt; lease ignores it until then", async () => {
      const { id } = await enqueueOne("a@remote.test");
      const [r] = await stores().queue.lease("worker-1", T0, T0 + MINUTE, 10);
      await stores().queue.defer(r.id, "451 4.3.0 try later", T0 + 10 * MINUTE);
      const [deferred] = await recipientsOf(stores(), id);
      assert.equal(deferred.state, "deferred");
      assert.equal(deferred.nextAttempt, T0 + 10 * MINUTE);
      assert.equal(deferred.lastError, "451 4.3.0 try later");
      assert.deepEqual(await stores().queue.lease("worker-2", T0 + 2 * MINUTE, T0 + 3 * MINUTE, 10), [], "lease expiry does not matter once deferred");
      assert.deepEqual(await stores().queue.lease("worker-2", T0 + 10 * MINUTE - 1, T0 + 11 * MINUTE, 10), []);
      const again = await stores().queue.lease("worker-2", T0 + 10 * MINUTE, T0 + 11 * MINUTE, 10);
      assert.deepEqual(again.map((x) => [x.id, x.state, x.lastError]), [[r.id, "active", "451 4.3.0 try later"]]);
    });

    it("flush makes waiting recipients due now, for one message or all", async () => {
      const one = await enqueueOne("a@remote.test");
      const two = await enqueueOne("b@remote.test");
      for (const r of await stores().queue.lease("worker-1", T0, T0 + MINUTE, 10)) {
        await stores().queue.defer(r.id, "busy", T0 + 60 * MINUTE);
      }
      assert.deepEqual(await stores().queue.lease("worker-1", T0 + MINUTE, T0 + 2 * MINUTE, 10), []);
      assert.equal(await stores().queue.flush(one.id), 1);
      assert.deepEqual((await stores().queue.lease("worker-1", T0 + MINUTE, T0 + 2 * MINUTE, 10)).map((r) => r.messageId), [one.id]);
      assert.equal(await stores().queue.flush(), 1, "only two's recipient was still waiting");
      assert.deepEqual((await stores().queue.lease("worker-1", T0 + MINUTE, T0 + 2 * MINUTE, 10)).map((r) => r.messageId), [two.id]);
    });

    it("hold keeps recipients from leases until release", async () => {
      const { id } = await enqueueOne("a@remote.test", "b@remote.test");
      const other = await enqueueOne("c@remote.test");
      assert.equal(await stores().queue.hold(id), 2);
      assert.deepEqual(await statesOf(stores(), id), ["hold", "hold"]);
      assert.deepEqual((await stores().queue.lease("worker-1", T0, T0 + 100 * MINUTE, 10)).map((r) => r.messageId), [other.id]);
      await stores().queue.flush();
      assert.deepEqual(await stores().queue.lease("worker-1", T0 + 2 * MINUTE, T0 + 3 * MINUTE, 10), [], "flush does not release held mail");
      assert.equal(await stores().queue.release(id), 2);
      assert.ok((await statesOf(stores(), id)).every((s) => s !== "hold"));
      const leased = await stores().queue.lease("worker-1", T0 + 2 * MINUTE, T0 + 3 * MINUTE, 10);
      assert.deepEqual(leased.map((r) => r.messageId), [id, id]);
      assert.equal(await stores().queue.release(id), 0, "nothing left on hold");
      assert.equal(await stores().queue.hold("NOSUCHMESSAGE"), 0);
    });

    it("a recipient held while leased stays held when its worker defers it", async () => {
      const { id } = await enqueueOne("a@remote.test");
      const [r] = await stores().queue.lease("worker-1", T0, T0 + MINUTE, 10);
      assert.equal(await stores().queue.hold(id), 1);
      await stores().queue.defer(r.id, "451 try later", T0 + 2 * MINUTE);
      assert.deepEqual(await statesOf(stores(), id), ["hold"]);
      assert.deepEqual(await stores().queue.lease("worker-2", T0 + 10 * MINUTE, T0 + 11 * MINUTE, 10), []);
    });

    it("hold leaves finished recipients alone", async () => {
      const { id, recipients } = await enqueueOne("a@remote.test", "b@remote.test", "c@remote.test");
      await stores().queue.lease("worker-1", T0, T0 + MINUTE, 100); // outcomes apply to leased recipients
      await stores().queue.markDone(recipients[0].id);
      await stores().queue.fail(recipients[1].id, "550 5.1.1 no such user");
      assert.equal(await stores().queue.hold(id), 1);
      assert.deepEqual(await statesOf(stores(), id), ["done", "failed", "hold"]);
    });

    it("outcomes apply only to leased recipients: a finished or held one is not changed back", async () => {
      const { id, recipients } = await enqueueOne("a@remote.test", "b@remote.test");
      await stores().queue.markDone(recipients[0].id);
      await stores().queue.defer(recipients[1].id, "451 later", T0 + MINUTE);
      assert.deepEqual(await statesOf(stores(), id), ["incoming", "incoming"], "not leased: nothing changes");
      await stores().queue.lease("worker-1", T0, T0 + MINUTE, 10);
      await stores().queue.markDone(recipients[0].id);
      await stores().queue.defer(recipients[0].id, "451 later", T0 + MINUTE);
      await stores().queue.fail(recipients[0].id, "550 no");
      assert.deepEqual(await statesOf(stores(), id), ["done", "active"], "a done recipient is never deferred or failed afterwards");
    });

    it("fail and markDone are final: lease never returns them", async () => {
      const { id, recipients } = await enqueueOne("a@remote.test", "b@remote.test");
      await stores().queue.lease("worker-1", T0, T0 + MINUTE, 10);
      await stores().queue.fail(recipients[0].id, "550 5.1.1 no such user");
      await stores().queue.markDone(recipients[1].id);
      const [failed, done] = await recipientsOf(stores(), id);
      assert.equal(failed.state, "failed");
      assert.equal(failed.lastError, "550 5.1.1 no such user");
      assert.equal(done.state, "done");
      await stores().queue.flush();
      assert.deepEqual(await stores().queue.lease("worker-2", T0 + 100 * MINUTE, T0 + 101 * MINUTE, 10), []);
    });

    it("purge() removes only messages whose recipients are all done or failed", async () => {
      const finished = await enqueueOne("a@remote.test", "b@remote.test");
      const pending = await enqueueOne("c@remote.test", "d@remote.test");
      await stores().queue.lease("worker-1", T0, T0 + MINUTE, 100); // outcomes apply to leased recipients
      await stores().queue.markDone(finished.recipients[0].id);
      await stores().queue.fail(finished.recipients[1].id, "550 no");
      await stores().queue.markDone(pending.recipients[0].id);
      assert.deepEqual(await stores().queue.purge(), [finished.blobId]);
      assert.equal(await stores().queue.getMessage(finished.id), undefined);
      assert.deepEqual(await statesOf(stores(), pending.id), ["done", "active"]);
      assert.deepEqual(await stores().queue.purge(), []);
    });

    it("purge(id) removes that message only when finished; force removes it whatever its state", async () => {
      const a = await enqueueOne("a@remote.test");
      const b = await enqueueOne("b@remote.test");
      await stores().queue.lease("worker-1", T0, T0 + MINUTE, 100); // outcomes apply to leased recipients
      await stores().queue.markDone(b.recipients[0].id);
      assert.deepEqual(await stores().queue.purge(a.id), []);
      assert.ok(await stores().queue.getMessage(a.id));
      assert.deepEqual(await stores().queue.purge(a.id, { force: true }), [a.blobId]);
      assert.equal(await stores().queue.getMessage(a.id), undefined);
      assert.deepEqual(await stores().queue.lease("worker-1", T0, T0 + MINUTE, 10), [], "its recipients went with it");
      assert.ok(await stores().queue.getMessage(b.id), "purge(id) touches no other message");
      assert.deepEqual(await stores().queue.purge(b.id), [b.blobId]);
      assert.deepEqual(await stores().queue.purge("NOSUCHMESSAGE"), []);
      assert.deepEqual(await stores().queue.purge("NOSUCHMESSAGE", { force: true }), []);
      assert.deepEqual(await stores().queue.listMessages(), []);
    });

    it("commitLocalDelivery appends, marks done and purges the finished message, keeping the blob referenced", async () => {
      const { user, inbox } = await addUser(stores(), "alice@example.test");
      const { inbox: bobInbox } = await addUser(stores(), "bob@example.test");
      const { id, blobId, recipients } = await enqueueOne("alice@example.test", "bob@example.test", "carol@remote.test");
      const queued = await stores().queue.getMessage(id);
      assert.ok(queued);
      await stores().queue.lease("worker-1", T0, T0 + MINUTE, 10);
      const append = (mailboxId: number, who: string) => ({
        mailboxId, prefix: Buffer.from(`Delivered-To: ${who}\r\n`), blobId, blobSize: queued.size, internalDate: T0, flags: [],
      });

      const first = await stores().queue.commitLocalDelivery({ appends: [append(inbox.id, "alice@example.test")], completed: [recipients[0].id] });
      assert.deepEqual(first.orphanBlobs, []);
      assert.equal(first.messages.length, 1);
      assert.deepEqual(await stores().mailboxes.listMessages(inbox.id), first.messages);
      assert.deepEqual(await statesOf(stores(), id), ["done", "active", "active"]);
      assert.equal((await stores().directory.getUserById(user.id))?.usage, first.messages[0].size);

      await stores().queue.fail(recipients[2].id, "550 5.1.1 unknown");
      const second = await stores().queue.commitLocalDelivery({ appends: [append(bobInbox.id, "bob@example.test")], completed: [recipients[1].id] });
      assert.deepEqual(second.orphanBlobs, [], "the mailbox messages still reference the blob");
      assert.equal(second.messages[0].mailboxId, bobInbox.id);
      assert.equal(second.messages[0].blobId, blobId);
      assert.equal(await stores().queue.getMessage(id), undefined, "nothing left to deliver: purged");

      assert.deepEqual((await stores().mailboxes.expunge(inbox.id, [first.messages[0].uid])).orphanBlobs, []);
      assert.deepEqual((await stores().mailboxes.expunge(bobInbox.id, [second.messages[0].uid])).orphanBlobs, [blobId]);
    });

    it("commitLocalDelivery returns messages in the order of the appends", async () => {
      const { inbox } = await addUser(stores(), "alice@example.test");
      const { user: bob } = await addUser(stores(), "bob@example.test");
      const bobSent = await stores().mailboxes.getMailbox(bob.id, "Sent");
      assert.ok(bobSent);
      const { blobId, recipients } = await enqueueOne("alice@example.test", "bob@example.test");
      const size = (await stores().queue.getMessage(recipients[0].messageId))!.size;
      const req = (mailboxId: number) => ({ mailboxId, prefix: Buffer.alloc(0), blobId, blobSize: size, internalDate: T0, flags: ["\\Seen"] });
      const { messages } = await stores().queue.commitLocalDelivery({
        appends: [req(bobSent.id), req(inbox.id), req(bobSent.id)], completed: recipients.map((r) => r.id),
      });
      assert.deepEqual(messages.map((m) => [m.mailboxId, m.uid]), [[bobSent.id, 1], [inbox.id, 1], [bobSent.id, 2]]);
    });

    it("commitLocalDelivery is atomic: a failed append leaves the recipient undelivered", async () => {
      const { inbox } = await addUser(stores(), "alice@example.test");
      const { id, blobId, recipients } = await enqueueOne("alice@example.test");
      await stores().queue.lease("worker-1", T0, T0 + MINUTE, 10);
      const req = (mailboxId: number) => ({ mailboxId, prefix: Buffer.alloc(0), blobId, blobSize: 10, internalDate: T0, flags: [] });
      await assert.rejects(stores().queue.commitLocalDelivery({ appends: [req(inbox.id), req(inbox.id + 100_000)], completed: [recipients[0].id] }));
      assert.deepEqual(await stores().mailboxes.listMessages(inbox.id), []);
      assert.deepEqual(await statesOf(stores(), id), ["active"]);
      assert.deepEqual(await stores().queue.purge(id, { force: true }), [blobId], "the failed commit took no blob reference");
    });

    it("a blob stays referenced while either the queue or a mailbox holds it", async () => {
      const { inbox } = await addUser(stores(), "alice@example.test");
      const { id, blobId, recipients } = await enqueueOne("alice@example.test", "bob@remote.test");
      await stores().queue.lease("worker-1", T0, T0 + MINUTE, 100); // outcomes apply to leased recipients
      const size = (await stores().queue.getMessage(id))!.size;
      const { messages } = await stores().queue.commitLocalDelivery({
        appends: [{ mailboxId: inbox.id, prefix: Buffer.alloc(0), blobId, blobSize: size, internalDate: T0, flags: [] }],
        completed: [recipients[0].id],
      });
      assert.deepEqual((await stores().mailboxes.expunge(inbox.id, [messages[0].uid])).orphanBlobs, [], "the queue still needs it");
      assert.deepEqual(await stores().mailboxes.takeOrphanBlobs(), []);
      await stores().queue.fail(recipients[1].id, "550 no");
      assert.deepEqual(await stores().queue.purge(), [blobId]);
    });
  });
}
