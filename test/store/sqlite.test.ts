// The embedded backend (SQLite data store, file blobs, in-process change bus,
// as built by openStores) against the storage contract, plus what it promises
// beyond it: several Stores on one data dir (the server and CLI verbs) see each
// other's writes, and data survives closing and reopening.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openStores } from "../../src/store/open.js";
import type { Stores } from "../../src/store/interfaces.js";
import { storeContract } from "./contract.js";
import { addUser, deliver, putBlob, queueMessage, T0 } from "./contract-helpers.js";

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "petrel-store-"));

for (const asyncFsync of [false, true]) {
  // Both ways the server and the CLI commit: fsync on commit, and the server's fsync on the thread pool.
  storeContract(`sqlite+fs${asyncFsync ? " (async fsync)" : ""}`, async () => {
    const dir = tempDir();
    const stores = openStores(dir, { asyncFsync });
    return {
      stores,
      async cleanup() {
        await stores.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}

describe("sqlite+fs: one data dir, several Stores", () => {
  /** Runs fn with two Stores open on one fresh data dir, then closes both and removes the dir. */
  async function withTwo(fn: (a: Stores, b: Stores, dir: string) => Promise<void>): Promise<void> {
    const dir = tempDir();
    const a = openStores(dir, { asyncFsync: true }); // the server
    const b = openStores(dir); // a CLI verb
    try {
      await fn(a, b, dir);
    } finally {
      await a.close();
      await b.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  it("sees the directory, mailbox and blob writes of the other", async () => {
    await withTwo(async (server, cli) => {
      const { user, inbox } = await addUser(cli, "alice@example.test");
      await cli.directory.setAlias("postmaster@example.test", ["alice@example.test"]);
      assert.equal(await server.directory.hasDomain("example.test"), true);
      assert.deepEqual(await server.directory.getUser("alice@example.test"), user);
      assert.deepEqual(await server.directory.getAlias("postmaster@example.test"), ["alice@example.test"]);

      const message = await deliver(server, inbox.id, "Subject: from the server\r\n\r\nhi\r\n");
      assert.deepEqual(await cli.mailboxes.listMessages(inbox.id), [message]);
      assert.equal((await cli.blobs.readAll(message.blobId)).toString(), "Subject: from the server\r\n\r\nhi\r\n");
      assert.equal((await cli.directory.getUserById(user.id))?.usage, message.size);

      await cli.directory.removeUser("alice@example.test");
      assert.equal(await server.directory.getUser("alice@example.test"), undefined);
      assert.deepEqual(await server.mailboxes.takeOrphanBlobs(), [message.blobId]);
    });
  });

  it("shares queue leases, counters and locks, and never repeats UIDVALIDITY", async () => {
    await withTwo(async (server, cli) => {
      const queued = await queueMessage(cli, [{ address: "bob@remote.test" }]);
      await cli.queue.enqueue([queued]);
      assert.equal((await server.queue.lease("server", T0, T0 + 60_000, 10)).length, 1);
      assert.deepEqual(await cli.queue.lease("cli", T0 + 1, T0 + 60_000, 10), []);
      assert.equal((await cli.queue.getMessage(queued.id))?.recipients[0].state, "active");

      assert.equal(await server.counters.acquire("pop3:alice", "server", 60_000, T0), true);
      assert.equal(await cli.counters.acquire("pop3:alice", "cli", 60_000, T0 + 1), false);
      await server.counters.hit("login:192.0.2.1", 60_000, T0);
      assert.equal(await cli.counters.hit("login:192.0.2.1", 60_000, T0 + 1), 2);

      const { user } = await addUser(server, "carol@example.test");
      const validities = new Set<number>();
      for (let i = 0; i < 4; i++) {
        validities.add((await server.mailboxes.createMailbox(user.id, `s${i}`)).uidValidity);
        validities.add((await cli.mailboxes.createMailbox(user.id, `c${i}`)).uidValidity);
      }
      for (const box of await cli.mailboxes.listMailboxes(user.id)) validities.add(box.uidValidity);
      assert.equal(validities.size, 14);
    });
  });

  it("keeps everything across close and reopen", async () => {
    const dir = tempDir();
    try {
      const first = openStores(dir);
      const { user, inbox } = await addUser(first, "alice@example.test");
      const blob = await putBlob(first, "durable\r\n", 3);
      await first.blobs.sync();
      const message = await deliver(first, inbox.id, blob, { flags: ["\\Seen"] });
      await first.close();

      const second = openStores(dir);
      try {
        assert.deepEqual(await second.directory.getUser("alice@example.test"), { ...user, usage: message.size });
        assert.deepEqual(await second.mailboxes.getMessage(inbox.id, message.uid), message);
        assert.equal((await second.blobs.readAll(blob.id)).toString(), "durable\r\n");
        assert.equal((await deliver(second, inbox.id, "next\r\n")).uid, message.uid + 1);
      } finally {
        await second.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
