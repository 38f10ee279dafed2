// Storage contract, MailboxStore role, what IMAP needs beyond delivery: flag
// changes with MODSEQ and UNCHANGEDSINCE (RFC 7162), COPY/MOVE with UID pairs
// (RFC 4315, RFC 6851), STATUS counts, VANISHED (QRESYNC), RENAME with
// children, DELETE, and subscriptions kept as names.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { addUser, deliver, freshStores, usageOf, type OpenStores } from "./contract-helpers.js";

export function mailboxImapContract(open: OpenStores): void {
  describe("mailboxes for IMAP", () => {
    const stores = freshStores(open);

    it("updateFlags adds, removes and replaces; unchanged messages keep their MODSEQ; UNCHANGEDSINCE fails newer ones", async () => {
      const { inbox } = await addUser(stores(), "alice@example.test");
      const a = await deliver(stores(), inbox.id, "Subject: a\r\n\r\na\r\n");
      const b = await deliver(stores(), inbox.id, "Subject: b\r\n\r\nb\r\n", { flags: ["\\Seen"] });
      const added = await stores().mailboxes.updateFlags(inbox.id, [a.uid, b.uid], { op: "add", flags: ["\\seen", "$Work"] });
      assert.deepEqual(added.changed.map((m) => [m.uid, m.flags]), [[a.uid, ["\\seen", "$Work"]], [b.uid, ["\\Seen", "$Work"]]]);
      assert.ok(added.changed[1].modseq > b.modseq);
      const again = await stores().mailboxes.updateFlags(inbox.id, [a.uid], { op: "add", flags: ["$Work"] });
      assert.deepEqual(again.changed, [], "no change, no new MODSEQ");
      const removed = await stores().mailboxes.updateFlags(inbox.id, [a.uid], { op: "remove", flags: ["\\SEEN"] });
      assert.deepEqual(removed.changed[0].flags, ["$Work"]);
      const since = removed.changed[0].modseq - 1;
      assert.deepEqual((await stores().mailboxes.changedSince(inbox.id, since)).map((m) => m.uid), [a.uid]);
      const guarded = await stores().mailboxes.updateFlags(inbox.id, [a.uid, b.uid], { op: "replace", flags: ["\\Flagged"], unchangedSince: since });
      assert.deepEqual(guarded.failed, [a.uid]);
      assert.deepEqual(guarded.changed.map((m) => [m.uid, m.flags]), [[b.uid, ["\\Flagged"]]]);
    });

    it("copyMessages gives new UIDs in source order and shares the blob; move removes the source and records VANISHED", async () => {
      const { user, inbox } = await addUser(stores(), "alice@example.test");
      const archive = await stores().mailboxes.createMailbox(user.id, "Archive2");
      const m1 = await deliver(stores(), inbox.id, "Subject: 1\r\n\r\none\r\n", { flags: ["\\Seen"] });
      const m2 = await deliver(stores(), inbox.id, "Subject: 2\r\n\r\ntwo\r\n");
      const usage = await usageOf(stores(), user.id);
      const copied = await stores().mailboxes.copyMessages(inbox.id, [m2.uid, m1.uid, 999], archive.id);
      assert.deepEqual(copied.pairs, [[m1.uid, 1], [m2.uid, 2]]);
      assert.equal(copied.uidValidity, archive.uidValidity);
      assert.deepEqual(copied.copies.map((c) => [c.blobId, c.flags, c.size]), [[m1.blobId, ["\\Seen"], m1.size], [m2.blobId, [], m2.size]]);
      assert.equal(await usageOf(stores(), user.id), usage + m1.size + m2.size, "a copy counts toward the quota");
      const before = await stores().mailboxes.mailboxStatus(inbox.id);
      const moved = await stores().mailboxes.copyMessages(inbox.id, [m1.uid], archive.id, { move: true });
      assert.deepEqual(moved.pairs, [[m1.uid, 3]]);
      assert.deepEqual(moved.expunged, [m1.uid]);
      assert.deepEqual((await stores().mailboxes.listMessages(inbox.id)).map((m) => m.uid), [m2.uid]);
      assert.deepEqual(await stores().mailboxes.vanishedSince(inbox.id, before.highestModseq), [m1.uid]);
      assert.deepEqual(await stores().mailboxes.vanishedSince(inbox.id, before.highestModseq + 1), []);
      assert.equal(await stores().mailboxes.highestModseq(inbox.id), before.highestModseq + 1, "an expunge raises HIGHESTMODSEQ");
      assert.equal(await stores().mailboxes.highestModseq(inbox.id), (await stores().mailboxes.mailboxStatus(inbox.id)).highestModseq);
      assert.equal(await stores().mailboxes.highestModseq(987654), 0, "a mailbox that does not exist");
      // Pruning: the newest record stays exact, asking from before the pruned ones gives "unknown".
      const m3 = await deliver(stores(), inbox.id, "Subject: 3\r\n\r\nthree\r\n");
      const beforeThird = await stores().mailboxes.highestModseq(inbox.id);
      await stores().mailboxes.expunge(inbox.id, [m3.uid]);
      assert.equal(await stores().mailboxes.pruneExpunged(inbox.id, 1), 1, "m1's record goes, m3's stays");
      assert.equal(await stores().mailboxes.pruneExpunged(inbox.id, 1), 0);
      assert.deepEqual(await stores().mailboxes.vanishedSince(inbox.id, beforeThird), [m3.uid]);
      assert.equal(await stores().mailboxes.vanishedSince(inbox.id, before.highestModseq), undefined);
      assert.equal(await usageOf(stores(), user.id), usage + m1.size + m2.size, "a move does not change usage");
      const { orphanBlobs } = await stores().mailboxes.expunge(archive.id, [1, 3]);
      assert.deepEqual(orphanBlobs, [m1.blobId], "the last reference of m1's blob went with the archive copies");
    });

    it("mailboxStatus counts messages, unseen, deleted and size", async () => {
      const { inbox } = await addUser(stores(), "alice@example.test");
      const a = await deliver(stores(), inbox.id, "Subject: a\r\n\r\na\r\n", { flags: ["\\Seen"] });
      const b = await deliver(stores(), inbox.id, "Subject: b\r\n\r\nb\r\n", { flags: ["\\Deleted", "$Seen"] });
      const status = await stores().mailboxes.mailboxStatus(inbox.id);
      assert.deepEqual({ ...status, highestModseq: undefined }, {
        messages: 2, unseen: 1, deleted: 1, size: a.size + b.size, recent: 2, uidNext: b.uid + 1, uidValidity: inbox.uidValidity, highestModseq: undefined,
      });
      assert.ok(status.highestModseq >= b.modseq);
    });

    it("renameMailbox moves the children and subscriptions along; refuses a missing source or an existing target", async () => {
      const { user } = await addUser(stores(), "alice@example.test");
      for (const name of ["Work", "Work/2025", "Work/2025/Q1", "Workshop", "Play"]) await stores().mailboxes.createMailbox(user.id, name);
      await stores().mailboxes.setSubscribed(user.id, "Work/2025", true);
      const result = await stores().mailboxes.renameMailbox(user.id, "Work", "Jobs/Old");
      assert.ok(result.ok);
      assert.deepEqual(result.renamed.map((m) => m.name), ["Jobs/Old", "Jobs/Old/2025", "Jobs/Old/2025/Q1"]);
      const names = (await stores().mailboxes.listMailboxes(user.id)).map((m) => m.name);
      assert.ok(names.includes("Workshop"), "a mailbox that merely shares the prefix stays");
      assert.ok(!names.includes("Work"));
      assert.ok((await stores().mailboxes.listSubscriptions(user.id)).includes("Jobs/Old/2025"));
      assert.deepEqual(await stores().mailboxes.renameMailbox(user.id, "Nope", "X"), { ok: false, reason: "missing" });
      assert.deepEqual(await stores().mailboxes.renameMailbox(user.id, "Play", "Workshop"), { ok: false, reason: "exists" });
    });

    it("deleteMailbox removes its messages, gives back usage and releases blobs", async () => {
      const { user } = await addUser(stores(), "alice@example.test");
      const box = await stores().mailboxes.createMailbox(user.id, "Tmp");
      const m = await deliver(stores(), box.id, "Subject: tmp\r\n\r\nbye\r\n");
      const { orphanBlobs } = await stores().mailboxes.deleteMailbox(box.id);
      assert.deepEqual(orphanBlobs, [m.blobId]);
      assert.equal(await stores().mailboxes.getMailbox(user.id, "Tmp"), undefined);
      assert.equal(await usageOf(stores(), user.id), 0);
    });

    it("subscriptions are names: a new user is subscribed to its standard mailboxes; names without a mailbox may be subscribed", async () => {
      const { user } = await addUser(stores(), "alice@example.test");
      assert.deepEqual(await stores().mailboxes.listSubscriptions(user.id), ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]);
      await stores().mailboxes.setSubscribed(user.id, "Ghost", true);
      await stores().mailboxes.setSubscribed(user.id, "Ghost", true);
      await stores().mailboxes.setSubscribed(user.id, "Junk", false);
      assert.deepEqual(await stores().mailboxes.listSubscriptions(user.id), ["Archive", "Drafts", "Ghost", "INBOX", "Sent", "Trash"]);
      const { user: bob } = await addUser(stores(), "bob@example.test");
      assert.ok(!(await stores().mailboxes.listSubscriptions(bob.id)).includes("Ghost"), "subscriptions are per user");
    });
  });
}
