// Durable acceptance (issue: "a 250 after DATA means the message is on disk"):
// many sessions send at once, the server is killed with SIGKILL while they
// do, and after a restart every message that got its 250 is delivered —
// exactly once — while messages that got no 250 may or may not exist.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import Database from "better-sqlite3";
import { startPetrel, type PetrelServer } from "../helpers/petrel.js";
import { connect } from "../helpers/smtp-client.js";

const SESSIONS = 8;
const PER_SESSION = 40;

describe("durability", () => {
  let server: PetrelServer;

  before(async () => {
    server = await startPetrel();
    assert.equal((await server.cli(["domain", "add", "example.test"])).code, 0);
    assert.equal((await server.cli(["user", "add", "alice@example.test", "--password-stdin"], "pw\n")).code, 0);
  });
  after(async () => server?.close());

  it("delivers every acknowledged message exactly once after kill -9", async () => {
    const { host, port } = server.listeners.smtp;
    const acknowledged = new Set<string>();
    let killed = false;
    const session = async (n: number) => {
      try {
        const c = await connect(host, port);
        await c.read();
        await c.send("EHLO client.test");
        await c.read();
        for (let i = 0; i < PER_SESSION && !killed; i++) {
          await c.write(`MAIL FROM:<s${n}@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n`);
          assert.match(await c.read(), /^250/);
          assert.match(await c.read(), /^250/);
          assert.match(await c.read(), /^354/);
          await c.write(`Subject: s${n} m${i}\r\n\r\n${"x".repeat(2000)}\r\n.\r\n`);
          const reply = await c.read();
          const m = /^250 2\.0\.0 Ok: queued as (\S+)/.exec(reply);
          assert.ok(m, reply);
          acknowledged.add(m[1]);
        }
        c.close();
      } catch {
        // the server went away mid-session: only what got a 250 counts
      }
    };
    const running = Array.from({ length: SESSIONS }, (_, n) => session(n));
    // Kill once a good share of the messages are in, while sessions are still sending.
    await server.waitForLog(() => acknowledged.size >= (SESSIONS * PER_SESSION) / 3, 60_000);
    killed = true;
    await server.kill9();
    await Promise.all(running);
    assert.ok(acknowledged.size > 0);

    await server.restart();
    const db = new Database(path.join(server.dir, "data", "petrel.db"), { readonly: true, fileMustExist: true });
    try {
      const count = () =>
        new Map((db.prepare("SELECT blob_id AS id, count(*) AS n FROM messages GROUP BY blob_id").all() as { id: string; n: number }[]).map((r) => [r.id, r.n]));
      // Wait until every acknowledged message is in the mailbox (the scheduler works through the queue after restart).
      await server.waitForLog(() => [...acknowledged].every((id) => count().has(id)), 60_000);
      const delivered = count();
      for (const id of acknowledged) assert.equal(delivered.get(id), 1, `message ${id} delivered ${delivered.get(id) ?? 0} times`);
      for (const [id, n] of delivered) assert.equal(n, 1, `message ${id} delivered ${n} times`);
    } finally {
      db.close();
    }
  });
});
