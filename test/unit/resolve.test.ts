// Recipient resolution against a real embedded store: users, nested
// aliases, catch-all, sub-addresses, case, alias loops, and postmaster@ of
// every local domain reaching someone (RFC 5321 §4.5.1).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openStores } from "../../src/store/open.js";
import type { Stores } from "../../src/store/interfaces.js";
import { RecipientResolver, type Resolution } from "../../src/directory/resolve.js";

const targets = (r: Resolution) =>
  r.kind === "local" ? r.destinations.map((d) => (d.kind === "mailbox" ? `mailbox:${d.user.address}` : `remote:${d.address}`)).sort() : r.kind;

describe("RecipientResolver", () => {
  let dir: string;
  let stores: Stores;
  let resolver: RecipientResolver;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "petrel-resolve-"));
    stores = openStores(dir);
    const d = stores.directory;
    for (const domain of ["example.test", "other.test", "empty.test"]) await d.addDomain(domain);
    await d.addUser("alice@example.test", "x", 0);
    await d.addUser("bob@example.test", "x", 0);
    await d.addUser("carol@other.test", "x", 0);
    await d.setAlias("team@example.test", ["alice@example.test", "bob@example.test", "list@example.test"]);
    await d.setAlias("list@example.test", ["alice@example.test", "friend@remote.test"]);
    await d.setAlias("loop1@example.test", ["loop2@example.test"]);
    await d.setAlias("loop2@example.test", ["loop1@example.test", "bob@example.test"]);
    await d.setAlias("@other.test", ["carol@other.test"]);
    resolver = new RecipientResolver(d);
  });
  after(async () => {
    await stores.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("finds users, and nothing for unknown local parts", async () => {
    assert.deepEqual(targets(await resolver.resolve("alice@example.test")), ["mailbox:alice@example.test"]);
    assert.equal(targets(await resolver.resolve("nobody@example.test")), "unknown");
    assert.equal(targets(await resolver.resolve("someone@remote.test")), "remote");
  });

  it("expands nested aliases once per final mailbox, keeping remote targets", async () => {
    assert.deepEqual(targets(await resolver.resolve("team@example.test")), ["mailbox:alice@example.test", "mailbox:bob@example.test", "remote:friend@remote.test"]);
  });

  it("survives alias loops", async () => {
    assert.deepEqual(targets(await resolver.resolve("loop1@example.test")), ["mailbox:bob@example.test"]);
  });

  it("uses the catch-all only for addresses that are nothing else", async () => {
    assert.deepEqual(targets(await resolver.resolve("anything@other.test")), ["mailbox:carol@other.test"]);
    assert.deepEqual(targets(await resolver.resolve("carol@other.test")), ["mailbox:carol@other.test"]);
  });

  it("delivers sub-addresses to the user, keeping the full address", async () => {
    const r = await resolver.resolve("alice+lists@example.test");
    assert.deepEqual(targets(r), ["mailbox:alice@example.test"]);
    assert.ok(r.kind === "local" && r.destinations[0].address === "alice+lists@example.test");
  });

  it("lets postmaster@ of every local domain reach someone", async () => {
    assert.deepEqual(targets(await resolver.resolve("postmaster@example.test")), ["mailbox:alice@example.test"]);
    const none = await resolver.resolve("postmaster@empty.test");
    assert.equal(none.kind, "local", "a domain without users still has a postmaster");
    await stores.directory.setAlias("postmaster@example.test", ["bob@example.test"]);
    assert.deepEqual(targets(await resolver.resolve("postmaster@example.test")), ["mailbox:bob@example.test"]);
  });
});
