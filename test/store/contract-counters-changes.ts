// Storage contract, CounterStore and ChangeBus roles: sliding-window hit
// counters and expiring locks (explicit `now` values, no sleeping), and
// per-user change delivery. Delivery may be asynchronous (a LISTEN/NOTIFY bus),
// so tests wait for the changes they expect, and check that others did not
// arrive once a later marker change (to another user) has been delivered: the
// one ordering assumed is that one process's changes arrive in publish order.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ChangeBus, MailboxChange } from "../../src/store/interfaces.js";
import { freshStores, T0, type OpenStores } from "./contract-helpers.js";

/** A listener that records changes and lets a test wait until it has seen `n` of them. */
class Recorder {
  readonly seen: MailboxChange[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];

  readonly listener = (change: MailboxChange): void => {
    this.seen.push(change);
    this.waiters = this.waiters.filter((w) => (this.seen.length >= w.n ? (w.resolve(), false) : true));
  };

  until(n: number): Promise<MailboxChange[]> {
    if (this.seen.length >= n) return Promise.resolve(this.seen);
    return new Promise((resolve) => this.waiters.push({ n, resolve: () => resolve(this.seen) }));
  }
}

const change = (userId: number, uid: number, kind: MailboxChange["kind"] = "append"): MailboxChange => ({
  userId, mailboxId: 100 + userId, kind, uids: [uid], modseq: uid + 1,
});

/** Resolves once a marker change published now has been delivered, so every earlier change has been too. */
async function settle(bus: ChangeBus): Promise<void> {
  const witness = new Recorder();
  const unsubscribe = bus.subscribe(WITNESS_USER, witness.listener);
  bus.publish(change(WITNESS_USER, 0, "mailboxes"));
  await witness.until(1);
  unsubscribe();
}

const WITNESS_USER = 999_999;

export function counterContract(open: OpenStores): void {
  describe("counters", () => {
    const stores = freshStores(open);
    const WINDOW = 60_000;

    it("hit counts the hits within the window", async () => {
      const c = stores().counters;
      assert.equal(await c.hit("login:1.2.3.4", WINDOW, T0), 1);
      assert.equal(await c.hit("login:1.2.3.4", WINDOW, T0 + 1000), 2);
      assert.equal(await c.hit("login:1.2.3.4", WINDOW, T0 + 2000), 3);
      assert.equal(await c.count("login:1.2.3.4", WINDOW, T0 + 2000), 3);
      assert.equal(await c.count("login:1.2.3.4", WINDOW, T0 + WINDOW + 500), 2, "the first hit left the window");
      assert.equal(await c.count("login:1.2.3.4", 1500, T0 + 2000), 2, "a narrower window counts fewer");
      assert.equal(await c.hit("login:1.2.3.4", WINDOW, T0 + WINDOW + 1500), 2);
      assert.equal(await c.count("login:1.2.3.4", WINDOW, T0 + 10 * WINDOW), 0);
      assert.equal(await c.hit("login:1.2.3.4", WINDOW, T0 + 10 * WINDOW), 1);
    });

    it("count does not add a hit, and keys are independent", async () => {
      const c = stores().counters;
      assert.equal(await c.count("rate:a", WINDOW, T0), 0);
      assert.equal(await c.count("rate:a", WINDOW, T0), 0);
      await c.hit("rate:a", WINDOW, T0);
      await c.hit("rate:a", WINDOW, T0);
      assert.equal(await c.hit("rate:b", WINDOW, T0), 1);
      assert.equal(await c.count("rate:a", WINDOW, T0), 2);
      assert.equal(await c.count("rate:", WINDOW, T0), 0);
    });

    it("reset clears one key", async () => {
      const c = stores().counters;
      await c.hit("k1", WINDOW, T0);
      await c.hit("k1", WINDOW, T0 + 1);
      await c.hit("k2", WINDOW, T0);
      await c.reset("k1");
      await c.reset("never-hit");
      assert.equal(await c.count("k1", WINDOW, T0 + 2), 0);
      assert.equal(await c.count("k2", WINDOW, T0 + 2), 1);
      assert.equal(await c.hit("k1", WINDOW, T0 + 3), 1);
    });

    it("a live lock belongs to one owner, who can re-acquire it", async () => {
      const c = stores().counters;
      assert.equal(await c.acquire("pop3:alice", "session-1", 1000, T0), true);
      assert.equal(await c.acquire("pop3:alice", "session-2", 1000, T0 + 1), false);
      assert.equal(await c.acquire("pop3:alice", "session-1", 1000, T0 + 500), true, "re-acquire extends to T0+1500");
      assert.equal(await c.acquire("pop3:alice", "session-2", 1000, T0 + 1200), false, "extended, so still live");
      assert.equal(await c.acquire("pop3:bob", "session-2", 1000, T0 + 1200), true, "other keys are independent");
    });

    it("an expired lock can be taken by another owner", async () => {
      const c = stores().counters;
      assert.equal(await c.acquire("pop3:alice", "session-1", 1000, T0), true);
      assert.equal(await c.acquire("pop3:alice", "session-2", 1000, T0 + 1001), true);
      assert.equal(await c.acquire("pop3:alice", "session-1", 1000, T0 + 1002), false, "the old owner lost it");
    });

    it("release frees the lock only for its owner", async () => {
      const c = stores().counters;
      assert.equal(await c.acquire("pop3:alice", "session-1", 60_000, T0), true);
      await c.release("pop3:alice", "session-2");
      assert.equal(await c.acquire("pop3:alice", "session-2", 60_000, T0 + 1), false, "a stranger's release is ignored");
      await c.release("pop3:alice", "session-1");
      assert.equal(await c.acquire("pop3:alice", "session-2", 60_000, T0 + 2), true);
      await c.release("never-locked", "anyone");
    });
  });

  describe("change bus", () => {
    const stores = freshStores(open);

    it("delivers a user's changes to that user's listeners", async () => {
      const a = new Recorder();
      const b = new Recorder();
      stores().changes.subscribe(1, a.listener);
      stores().changes.subscribe(1, b.listener);
      const changes = [change(1, 1), change(1, 2, "flags"), change(1, 3, "expunge")];
      for (const c of changes) stores().changes.publish(c);
      assert.deepEqual(await a.until(3), changes);
      assert.deepEqual(await b.until(3), changes);
    });

    it("other users' changes are not delivered", async () => {
      const one = new Recorder();
      const two = new Recorder();
      stores().changes.subscribe(1, one.listener);
      stores().changes.subscribe(2, two.listener);
      stores().changes.publish(change(2, 7));
      stores().changes.publish(change(1, 8));
      assert.deepEqual(await two.until(1), [change(2, 7)]);
      assert.deepEqual(await one.until(1), [change(1, 8)]);
      stores().changes.publish(change(3, 9));
      stores().changes.publish(change(2, 10));
      await settle(stores().changes);
      assert.deepEqual(one.seen, [change(1, 8)]);
      assert.deepEqual(two.seen, [change(2, 7), change(2, 10)]);
    });

    it("unsubscribe stops delivery to that listener only", async () => {
      const gone = new Recorder();
      const stays = new Recorder();
      const unsubscribe = stores().changes.subscribe(1, gone.listener);
      stores().changes.subscribe(1, stays.listener);
      stores().changes.publish(change(1, 1));
      await gone.until(1);
      await stays.until(1);
      unsubscribe();
      stores().changes.publish(change(1, 2));
      await settle(stores().changes);
      assert.deepEqual(stays.seen, [change(1, 1), change(1, 2)]);
      assert.deepEqual(gone.seen, [change(1, 1)]);
    });

    it("calling an unsubscribe function twice does not affect later subscriptions", async () => {
      const first = new Recorder();
      const later = new Recorder();
      const unsubscribe = stores().changes.subscribe(1, first.listener);
      unsubscribe();
      stores().changes.subscribe(1, later.listener);
      unsubscribe();
      stores().changes.publish(change(1, 1));
      await settle(stores().changes);
      assert.deepEqual(later.seen, [change(1, 1)]);
      assert.deepEqual(first.seen, []);
    });
  });
}
