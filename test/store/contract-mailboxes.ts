// Storage contract, MailboxStore role: mailbox creation (UIDVALIDITY, UIDNEXT),
// atomic appends (ascending UIDs, MODSEQ, sizes, usage), flag changes, and
// expunge (UIDs never reused, blob references counted, usage shrinks).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { AppendRequest } from "../../src/store/interfaces.js";
import { addUser, deliver, freshStores, putBlob, sorted, T0, usageOf, type OpenStores } from "./contract-helpers.js";

export function mailboxContract(open: OpenStores): void {
  describe("mailboxes", () => {
    const stores = freshStores(open);

    it("createMailbox starts at UID 1 with distinct UIDVALIDITY, even within one second", async () => {
      const { user, inbox } = await addUser(stores(), "alice@example.test");
      const created = [];
      for (const name of ["Lists", "Lists/petrel", "Receipts", "Old", "Older"]) {
        created.push(await stores().mailboxes.createMailbox(user.id, name));
      }
      const work = await stores().mailboxes.createMailbox(user.id, "Work", "\\Flagged");
      for (const box of [...created, work]) {
        assert.equal(box.userId, user.id);
        assert.equal(box.uidNext, 1);
        assert.ok(Number.isInteger(box.uidValidity) && box.uidValidity > 0 && box.uidValidity < 2 ** 32, "UIDVALIDITY is a nonzero uint32");
        assert.ok(Number.isInteger(box.highestModseq) && box.highestModseq >= 0);
      }
      assert.equal(created[0].specialUse, null);
      assert.equal(work.specialUse, "\\Flagged");
      assert.equal(new Set([inbox, ...created, work].map((b) => b.uidValidity)).size, 7);
      assert.deepEqual(await stores().mailboxes.getMailbox(user.id, "Lists/petrel"), created[1]);
      assert.equal(await stores().mailboxes.getMailbox(user.id, "Nope"), undefined);
      const names = (await stores().mailboxes.listMailboxes(user.id)).map((b) => b.name);
      assert.deepEqual(sorted(names), sorted(["INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive", "Lists", "Lists/petrel", "Receipts", "Old", "Older", "Work"]));
    });

    it("mailbox names are per user and unique within a user", async () => {
      const { user } = await addUser(stores(), "alice@example.test");
      const { user: bob } = await addUser(stores(), "bob@example.test");
      const mine = await stores().mailboxes.createMailbox(user.id, "Projects");
      await assert.rejects(stores().mailboxes.createMailbox(user.id, "Projects"));
      const his = await stores().mailboxes.createMailbox(bob.id, "Projects");
      assert.notEqual(mine.id, his.id);
      assert.equal((await stores().mailboxes.getMailbox(bob.id, "Projects"))?.id, his.id);
      await assert.rejects(stores().mailboxes.createMailbox(bob.id + user.id + 1000, "Orphan"), "no mailbox without a user");
    });

    it("append assigns ascending UIDs, bumps UIDNEXT and HIGHESTMODSEQ, and records the message", async () => {
      const { user, inbox } = await addUser(stores(), "alice@example.test");
      const blob = await putBlob(stores(), "Subject: hi\r\n\r\nbody\r\n");
      const prefix = Buffer.from("Return-Path: <a@example.test>\r\nDelivered-To: alice@example.test\r\n");
      const requests: AppendRequest[] = [0, 1, 2].map((i) => ({
        mailboxId: inbox.id, prefix, blobId: blob.id, blobSize: blob.size, internalDate: T0 + i, flags: i === 1 ? ["\\Seen", "$Label"] : [], newBlob: true,
      }));
      const messages = await stores().mailboxes.append(requests);
      assert.deepEqual(messages.map((m) => m.uid), [1, 2, 3]);
      for (const [i, m] of messages.entries()) {
        assert.equal(m.mailboxId, inbox.id);
        assert.ok(m.prefix.equals(prefix));
        assert.equal(m.blobId, blob.id);
        assert.equal(m.size, prefix.length + blob.size);
        assert.equal(m.internalDate, T0 + i);
        assert.ok(m.modseq > inbox.highestModseq);
      }
      assert.deepEqual(sorted(messages[1].flags), ["$Label", "\\Seen"]);
      assert.deepEqual(messages[0].flags, []);
      const after = await stores().mailboxes.getMailbox(user.id, "INBOX");
      assert.equal(after?.uidNext, 4);
      assert.ok(after && after.highestModseq >= Math.max(...messages.map((m) => m.modseq)));
      assert.equal(after?.uidValidity, inbox.uidValidity);
      assert.equal(await usageOf(stores(), user.id), 3 * (prefix.length + blob.size));

      const next = await deliver(stores(), inbox.id, "another\r\n");
      assert.equal(next.uid, 4);
      assert.ok(next.modseq > Math.max(...messages.map((m) => m.modseq)));
    });

    it("append is atomic: a bad request leaves nothing behind", async () => {
      const { user, inbox } = await addUser(stores(), "alice@example.test");
      const blob = await putBlob(stores(), "body\r\n");
      const good: AppendRequest = { mailboxId: inbox.id, prefix: Buffer.alloc(0), blobId: blob.id, blobSize: blob.size, internalDate: T0, flags: [], newBlob: true };
      await assert.rejects(stores().mailboxes.append([good, { ...good, mailboxId: inbox.id + 100_000 }]));
      assert.deepEqual(await stores().mailboxes.listMessages(inbox.id), []);
      assert.equal((await stores().mailboxes.getMailbox(user.id, "INBOX"))?.uidNext, 1);
      assert.equal(await usageOf(stores(), user.id), 0);
      const [message] = await stores().mailboxes.append([good]);
      assert.equal(message.uid, 1);
      assert.deepEqual((await stores().mailboxes.expunge(inbox.id, [1])).orphanBlobs, [blob.id], "the failed append took no reference");
    });

    it("append of a blob the store no longer references (deleted from the queue) is refused", async () => {
      const { inbox } = await addUser(stores(), "alice@example.test");
      const blob = await putBlob(stores(), "body\r\n");
      const stale: AppendRequest = { mailboxId: inbox.id, prefix: Buffer.alloc(0), blobId: blob.id, blobSize: blob.size, internalDate: T0, flags: [] };
      await assert.rejects(stores().mailboxes.append([stale]));
      assert.deepEqual(await stores().mailboxes.listMessages(inbox.id), []);
    });

    it("append to several mailboxes in one call numbers each mailbox separately", async () => {
      const { user, inbox } = await addUser(stores(), "alice@example.test");
      const { user: bob, inbox: bobInbox } = await addUser(stores(), "bob@example.test");
      const blob = await putBlob(stores(), "to both\r\n");
      const req = (mailboxId: number): AppendRequest => ({ mailboxId, prefix: Buffer.from("X: y\r\n"), blobId: blob.id, blobSize: blob.size, internalDate: T0, flags: [], newBlob: true });
      const messages = await stores().mailboxes.append([req(inbox.id), req(bobInbox.id), req(inbox.id)]);
      assert.deepEqual(messages.map((m) => [m.mailboxId, m.uid]), [[inbox.id, 1], [bobInbox.id, 1], [inbox.id, 2]]);
      assert.equal(await usageOf(stores(), user.id), 2 * messages[0].size);
      assert.equal(await usageOf(stores(), bob.id), messages[0].size);
    });

    it("listMessages is ordered by UID and getMessage finds one", async () => {
      const { inbox } = await addUser(stores(), "alice@example.test");
      const appended = [];
      for (let i = 0; i < 5; i++) appended.push(await deliver(stores(), inbox.id, `message ${i}\r\n`));
      await stores().mailboxes.expunge(inbox.id, [2, 4]);
      const listed = await stores().mailboxes.listMessages(inbox.id);
      assert.deepEqual(listed.map((m) => m.uid), [1, 3, 5]);
      assert.deepEqual(listed, [appended[0], appended[2], appended[4]]);
      assert.deepEqual(await stores().mailboxes.getMessage(inbox.id, 3), appended[2]);
      assert.equal(await stores().mailboxes.getMessage(inbox.id, 2), undefined);
      assert.equal(await stores().mailboxes.getMessage(inbox.id, 99), undefined);
      const { user: bob } = await addUser(stores(), "bob@example.test");
      const empty = await stores().mailboxes.createMailbox(bob.id, "Empty");
      assert.deepEqual(await stores().mailboxes.listMessages(empty.id), []);
      assert.equal(await stores().mailboxes.getMessage(empty.id, 1), undefined);
    });

    it("setFlags replaces flags, bumps MODSEQ and returns only the updated records", async () => {
      const { user, inbox } = await addUser(stores(), "alice@example.test");
      const m1 = await deliver(stores(), inbox.id, "one\r\n", { flags: ["\\Draft"] });
      const m2 = await deliver(stores(), inbox.id, "two\r\n");
      const m3 = await deliver(stores(), inbox.id, "three\r\n");
      const before = await stores().mailboxes.getMailbox(user.id, "INBOX");
      assert.ok(before);
      const changed = await stores().mailboxes.setFlags(inbox.id, [1, 3, 42], ["\\Seen", "\\Flagged"]);
      assert.deepEqual(changed.map((m) => m.uid).sort((a, b) => a - b), [1, 3]);
      for (const m of changed) {
        assert.deepEqual(sorted(m.flags), ["\\Flagged", "\\Seen"]);
        assert.ok(m.modseq > before.highestModseq, "new MODSEQ above the old HIGHESTMODSEQ");
        assert.deepEqual(await stores().mailboxes.getMessage(inbox.id, m.uid), m);
      }
      assert.equal(changed.find((m) => m.uid === 1)?.blobId, m1.blobId);
      assert.equal(changed.find((m) => m.uid === 3)?.size, m3.size);
      const after = await stores().mailboxes.getMailbox(user.id, "INBOX");
      assert.ok(after && after.highestModseq >= Math.max(...changed.map((m) => m.modseq)));
      assert.deepEqual(await stores().mailboxes.getMessage(inbox.id, 2), m2, "untouched message unchanged");

      const [cleared] = await stores().mailboxes.setFlags(inbox.id, [1], []);
      assert.deepEqual(cleared.flags, []);
      assert.ok(cleared.modseq > Math.max(...changed.map((m) => m.modseq)));
    });

    it("expunge removes messages, shrinks usage and never reuses UIDs", async () => {
      const { user, inbox } = await addUser(stores(), "alice@example.test");
      const m1 = await deliver(stores(), inbox.id, "one\r\n");
      const m2 = await deliver(stores(), inbox.id, "two two\r\n");
      const m3 = await deliver(stores(), inbox.id, "three three three\r\n");
      assert.equal(await usageOf(stores(), user.id), m1.size + m2.size + m3.size);
      const before = await stores().mailboxes.getMailbox(user.id, "INBOX");
      const result = await stores().mailboxes.expunge(inbox.id, [3, 1, 77]);
      assert.deepEqual(sorted(result.expunged.map(String)), ["1", "3"]);
      assert.deepEqual((await stores().mailboxes.listMessages(inbox.id)).map((m) => m.uid), [2]);
      assert.equal(await usageOf(stores(), user.id), m2.size);
      const after = await stores().mailboxes.getMailbox(user.id, "INBOX");
      assert.ok(before && after && after.highestModseq > before.highestModseq, "expunge bumps HIGHESTMODSEQ");
      assert.equal(after.uidNext, 4);
      const m4 = await deliver(stores(), inbox.id, "four\r\n");
      assert.equal(m4.uid, 4, "UID 3 is not reused");
      assert.deepEqual(await stores().mailboxes.expunge(inbox.id, [3]), { expunged: [], orphanBlobs: [] });
      await stores().mailboxes.expunge(inbox.id, [2, 4]);
      assert.equal(await usageOf(stores(), user.id), 0);
      assert.equal((await deliver(stores(), inbox.id, "five\r\n")).uid, 5);
    });

    it("expunge reports a blob as orphaned only when its last reference goes", async () => {
      const { inbox } = await addUser(stores(), "alice@example.test");
      const { inbox: bobInbox } = await addUser(stores(), "bob@example.test");
      const shared = await putBlob(stores(), "shared body\r\n");
      const own = await putBlob(stores(), "own body\r\n");
      const a = await deliver(stores(), inbox.id, shared);
      const b = await deliver(stores(), inbox.id, shared);
      const c = await deliver(stores(), bobInbox.id, shared);
      const d = await deliver(stores(), inbox.id, own);
      assert.deepEqual(await stores().mailboxes.expunge(inbox.id, [a.uid]), { expunged: [a.uid], orphanBlobs: [] });
      assert.deepEqual(await stores().mailboxes.expunge(inbox.id, [d.uid]), { expunged: [d.uid], orphanBlobs: [own.id] });
      assert.deepEqual(await stores().mailboxes.expunge(inbox.id, [b.uid]), { expunged: [b.uid], orphanBlobs: [] });
      assert.deepEqual(await stores().mailboxes.expunge(bobInbox.id, [c.uid]), { expunged: [c.uid], orphanBlobs: [shared.id] });
      assert.deepEqual(await stores().mailboxes.takeOrphanBlobs(), [], "expunge already handed them out");
    });

    it("expunging two copies of one blob in one call reports it once", async () => {
      const { inbox } = await addUser(stores(), "alice@example.test");
      const shared = await putBlob(stores(), "shared body\r\n");
      const a = await deliver(stores(), inbox.id, shared);
      const b = await deliver(stores(), inbox.id, shared);
      const result = await stores().mailboxes.expunge(inbox.id, [a.uid, b.uid]);
      assert.deepEqual(sorted(result.expunged.map(String)), sorted([String(a.uid), String(b.uid)]));
      assert.deepEqual(result.orphanBlobs, [shared.id]);
    });
  });
}
