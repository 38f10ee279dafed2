// Storage contract, DirectoryStore role: domains, users with their standard
// mailboxes, the domain filter of listUsers (no LIKE wildcards, no suffix
// matches), passwords, quotas, aliases, and removing a user (its mailboxes,
// messages and blob references go with it).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { addUser, deliver, freshStores, putBlob, queueMessage, sorted, type OpenStores } from "./contract-helpers.js";

const STANDARD: [string, string | null][] = [
  ["Archive", "\\Archive"],
  ["Drafts", "\\Drafts"],
  ["INBOX", null],
  ["Junk", "\\Junk"],
  ["Sent", "\\Sent"],
  ["Trash", "\\Trash"],
];

export function directoryContract(open: OpenStores): void {
  describe("directory", () => {
    const stores = freshStores(open);

    it("adds (idempotently), lists, checks and removes domains", async () => {
      const dir = stores().directory;
      assert.deepEqual(await dir.listDomains(), []);
      await dir.addDomain("example.test");
      await dir.addDomain("example.test");
      await dir.addDomain("other.test");
      assert.deepEqual(sorted(await dir.listDomains()), ["example.test", "other.test"]);
      assert.equal(await dir.hasDomain("example.test"), true);
      assert.equal(await dir.hasDomain("xexample.test"), false);
      assert.equal(await dir.hasDomain("sub.example.test"), false);
      await dir.removeDomain("example.test");
      await dir.removeDomain("never.test");
      assert.equal(await dir.hasDomain("example.test"), false);
      assert.deepEqual(await dir.listDomains(), ["other.test"]);
    });

    it("addUser returns the record and creates the standard mailboxes", async () => {
      await stores().directory.addDomain("example.test");
      const user = await stores().directory.addUser("alice@example.test", "$hash$", 5000);
      assert.equal(user.address, "alice@example.test");
      assert.equal(user.passwordHash, "$hash$");
      assert.equal(user.quota, 5000);
      assert.equal(user.usage, 0);
      assert.equal(typeof user.id, "number");
      assert.equal(typeof user.createdAt, "number");
      const boxes = await stores().mailboxes.listMailboxes(user.id);
      assert.deepEqual(
        boxes.map((b) => [b.name, b.specialUse] as [string, string | null]).sort((a, b) => a[0].localeCompare(b[0])),
        STANDARD,
      );
      for (const box of boxes) {
        assert.equal(box.userId, user.id);
        assert.equal(box.uidNext, 1, `${box.name} starts at UID 1`);
      }
      assert.equal(new Set(boxes.map((b) => b.uidValidity)).size, boxes.length, "distinct UIDVALIDITY per mailbox");
    });

    it("refuses a second user with the same address", async () => {
      await addUser(stores(), "alice@example.test");
      await assert.rejects(stores().directory.addUser("alice@example.test", "other", 0));
      assert.equal((await stores().directory.listUsers()).length, 1);
    });

    it("finds users by address and by id", async () => {
      const { user } = await addUser(stores(), "alice@example.test");
      const { user: bob } = await addUser(stores(), "bob@example.test");
      assert.deepEqual(await stores().directory.getUser("alice@example.test"), user);
      assert.deepEqual(await stores().directory.getUserById(user.id), user);
      assert.deepEqual(await stores().directory.getUserById(bob.id), bob);
      assert.notEqual(user.id, bob.id);
      assert.equal(await stores().directory.getUser("nobody@example.test"), undefined);
      assert.equal(await stores().directory.getUser("alice@xexample.test"), undefined);
      assert.equal(await stores().directory.getUserById(bob.id + 1000), undefined);
    });

    it("listUsers filters by exact domain, taking _ and % literally", async () => {
      for (const address of [
        "a@example.test", "b@example.test", "c@xexample.test", "d@sub.example.test", "e@exa_ple.test",
        "f@exam%le.test", "g@example.test.org",
      ]) await addUser(stores(), address);
      const addresses = async (domain?: string) => sorted((await stores().directory.listUsers(domain)).map((u) => u.address));
      assert.equal((await addresses()).length, 7);
      assert.deepEqual(await addresses("example.test"), ["a@example.test", "b@example.test"]);
      assert.deepEqual(await addresses("xexample.test"), ["c@xexample.test"]);
      assert.deepEqual(await addresses("exa_ple.test"), ["e@exa_ple.test"]);
      assert.deepEqual(await addresses("exam%le.test"), ["f@exam%le.test"]);
      assert.deepEqual(await addresses("%"), []);
      assert.deepEqual(await addresses("%example.test"), []);
      assert.deepEqual(await addresses("_xample.test"), []);
      assert.deepEqual(await addresses("nowhere.test"), []);
    });

    it("setPassword and setQuota change only that user", async () => {
      const { user } = await addUser(stores(), "alice@example.test");
      const { user: bob } = await addUser(stores(), "bob@example.test");
      await stores().directory.setPassword("alice@example.test", "$new$");
      await stores().directory.setQuota("alice@example.test", 12345);
      const alice = await stores().directory.getUserById(user.id);
      assert.equal(alice?.passwordHash, "$new$");
      assert.equal(alice?.quota, 12345);
      assert.deepEqual(await stores().directory.getUserById(bob.id), bob);
      await stores().directory.setQuota("alice@example.test", 0);
      assert.equal((await stores().directory.getUser("alice@example.test"))?.quota, 0);
    });

    it("sets, replaces, lists and removes aliases, including a catch-all", async () => {
      const dir = stores().directory;
      assert.equal(await dir.getAlias("postmaster@example.test"), undefined);
      await dir.setAlias("postmaster@example.test", ["alice@example.test"]);
      await dir.setAlias("team@example.test", ["alice@example.test", "bob@example.test", "carol@other.test"]);
      await dir.setAlias("@example.test", ["catchall@example.test"]);
      assert.deepEqual(await dir.getAlias("team@example.test"), ["alice@example.test", "bob@example.test", "carol@other.test"]);
      assert.deepEqual(await dir.getAlias("@example.test"), ["catchall@example.test"]);
      assert.equal(await dir.getAlias("@other.test"), undefined);
      await dir.setAlias("postmaster@example.test", ["bob@example.test"]);
      assert.deepEqual(await dir.getAlias("postmaster@example.test"), ["bob@example.test"]);
      const all = (await dir.listAliases()).sort((a, b) => a.source.localeCompare(b.source));
      assert.deepEqual(all, [
        { source: "@example.test", targets: ["catchall@example.test"] },
        { source: "postmaster@example.test", targets: ["bob@example.test"] },
        { source: "team@example.test", targets: ["alice@example.test", "bob@example.test", "carol@other.test"] },
      ]);
      await dir.removeAlias("team@example.test");
      await dir.removeAlias("never@example.test");
      assert.equal(await dir.getAlias("team@example.test"), undefined);
      assert.deepEqual(sorted((await dir.listAliases()).map((a) => a.source)), ["@example.test", "postmaster@example.test"]);
    });

    it("removeUser removes the user, its mailboxes and messages", async () => {
      const { user, inbox } = await addUser(stores(), "alice@example.test");
      const { user: bob, inbox: bobInbox } = await addUser(stores(), "bob@example.test");
      await deliver(stores(), inbox.id, "for alice\r\n");
      const bobMessage = await deliver(stores(), bobInbox.id, "for bob\r\n");
      await stores().directory.removeUser("alice@example.test");
      assert.equal(await stores().directory.getUser("alice@example.test"), undefined);
      assert.equal(await stores().directory.getUserById(user.id), undefined);
      assert.deepEqual(await stores().mailboxes.listMailboxes(user.id), []);
      assert.deepEqual(await stores().mailboxes.listMessages(inbox.id), []);
      assert.deepEqual((await stores().directory.listUsers()).map((u) => u.address), ["bob@example.test"]);
      assert.deepEqual(await stores().mailboxes.listMessages(bobInbox.id), [bobMessage]);
      assert.equal((await stores().directory.getUserById(bob.id))?.usage, bobMessage.size);
      await stores().directory.removeUser("nobody@example.test");
    });

    it("removeUser drops its blob references: takeOrphanBlobs returns exactly the unreferenced blobs, once", async () => {
      const { user, inbox } = await addUser(stores(), "alice@example.test");
      const { inbox: bobInbox } = await addUser(stores(), "bob@example.test");
      const sent = await stores().mailboxes.getMailbox(user.id, "Sent");
      assert.ok(sent);
      const own = await putBlob(stores(), "only alice has this\r\n");
      const twice = await putBlob(stores(), "alice has this in two mailboxes\r\n");
      const shared = await putBlob(stores(), "alice and bob have this\r\n");
      const queued = await queueMessage(stores(), [{ address: "carol@remote.test" }]);
      await stores().queue.enqueue([queued]);
      await deliver(stores(), inbox.id, own);
      await deliver(stores(), inbox.id, twice);
      await deliver(stores(), sent.id, twice);
      await deliver(stores(), inbox.id, shared);
      await deliver(stores(), bobInbox.id, shared);
      await deliver(stores(), inbox.id, { id: queued.blobId, size: queued.size });
      assert.deepEqual(await stores().mailboxes.takeOrphanBlobs(), []);

      await stores().directory.removeUser("alice@example.test");
      assert.deepEqual(sorted(await stores().mailboxes.takeOrphanBlobs()), sorted([own.id, twice.id]));
      assert.deepEqual(await stores().mailboxes.takeOrphanBlobs(), [], "orphans are handed out once");

      // The shared blob keeps bob's reference, the queued one the queue's.
      const [bobCopy] = await stores().mailboxes.listMessages(bobInbox.id);
      assert.deepEqual((await stores().mailboxes.expunge(bobInbox.id, [bobCopy.uid])).orphanBlobs, [shared.id]);
      assert.deepEqual(await stores().queue.purge(queued.id, { force: true }), [queued.blobId]);
    });

    it("a re-created user gets mailboxes with new UIDVALIDITY values", async () => {
      const { inbox } = await addUser(stores(), "alice@example.test");
      await stores().directory.removeUser("alice@example.test");
      const { user, inbox: again } = await addUser(stores(), "alice@example.test");
      assert.ok(again.uidValidity > inbox.uidValidity, "UIDVALIDITY grows (RFC 3501 §2.3.1.1)");
      assert.equal(again.uidNext, 1);
      assert.equal(user.usage, 0);
    });
  });
}
