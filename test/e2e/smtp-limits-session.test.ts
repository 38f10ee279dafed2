// SMTP limits that end a session, against a live `petrel serve` configured
// with small values: max_connections_per_ip = 2 (the third connection from
// one address gets 421 4.7.0), max_errors = 3 (421 and close), and
// command_timeout = "2s" (421 4.4.2 and close: before EHLO, inside a
// transaction, and after STARTTLS). The timeouts are waited for as replies
// and log lines, never with sleeps.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startPetrel, type PetrelServer } from "../helpers/petrel.js";
import { connect, type SmtpClient } from "../helpers/smtp-client.js";

let server: PetrelServer;

before(async () => {
  server = await startPetrel({
    extraToml: `
[smtp]
max_errors = 3
command_timeout = "2s"
max_connections_per_ip = 2
`,
  });
  const r = await server.cli(["domain", "add", "example.test"]);
  assert.equal(r.code, 0, r.stderr);
  const u = await server.cli(["user", "add", "alice@example.test", "--password-stdin"], "secret-alice-pw\n");
  assert.equal(u.code, 0, u.stderr);
});

after(async () => {
  await server?.close();
});

const open = () => connect(server.listeners.smtp.host, server.listeners.smtp.port);

async function greeted(): Promise<SmtpClient> {
  const c = await open();
  assert.match(await c.read(), /^220 mx\.test /);
  return c;
}

/** Waits until the server has logged a disconnect for every connect: no session of an earlier test holds a slot. */
function quiet(): Promise<unknown> {
  const count = (msg: string) => server.entries.filter((e) => e.msg === msg).length;
  return server.waitForLog(() => count("connect") === count("disconnect"), 10_000);
}

describe("connections per client address", () => {
  test("max_connections_per_ip = 2: the third connection gets 421 4.7.0 and is closed; a freed slot can be reused", async () => {
    await quiet();
    const first = await greeted();
    const second = await greeted();
    const third = await open();
    assert.match(await third.read(), /^421 4\.7\.0 /);
    await third.closed();
    // The two admitted sessions still work.
    await second.send("NOOP");
    assert.match(await second.read(), /^250 /);
    await first.send("QUIT");
    assert.match(await first.read(), /^221 /);
    await first.closed();
    await quiet();
    const fourth = await greeted();
    await fourth.send("EHLO again.test");
    assert.match(await fourth.read(), /^250-mx\.test/);
    second.close();
    fourth.close();
    await quiet();
  });
});

describe("max_errors", () => {
  test("max_errors = 3: the third refused command is answered, then 421 and the connection closes", async () => {
    const c = await greeted();
    await c.send("EHLO errors.test");
    assert.match(await c.read(), /^250-/);
    await c.send("FROB");
    assert.match(await c.read(), /^502 /);
    await c.send("NOOP"); // successes do not reset the count
    assert.match(await c.read(), /^250 /);
    await c.send("MAIL FROM:<broken");
    assert.match(await c.read(), /^501 /);
    await c.send("RCPT TO:<alice@example.test>");
    assert.match(await c.read(), /^503 /);
    assert.match(await c.read(), /^421 4\.7\.0 /);
    await c.closed();
    await server.waitForLog((e) => e.msg === "too many errors" && e.errors === 3);
  });

  test("the count is per session: a new connection starts again from zero", async () => {
    const c = await greeted();
    await c.write("FROB\r\nFROB\r\nEHLO fresh.test\r\nMAIL FROM:<s@outside.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
    const got: string[] = [];
    for (let i = 0; i < 6; i++) got.push((await c.read()).slice(0, 3));
    assert.deepEqual(got, ["502", "502", "250", "250", "250", "354"]);
    await c.write("Subject: still here\r\n\r\nok\r\n.\r\n");
    const done = await c.read();
    assert.match(done, /^250 2\.0\.0 Ok: queued as /);
    c.close();
  });

  test("pipelined junk after the limit is not answered", async () => {
    const c = await greeted();
    await c.write("FROB\r\nFROB\r\nFROB\r\nNOOP\r\nNOOP\r\n");
    assert.match(await c.read(), /^502 /);
    assert.match(await c.read(), /^502 /);
    assert.match(await c.read(), /^502 /);
    assert.match(await c.read(), /^421 /);
    await assert.rejects(c.read(5_000), /closed/, "nothing may follow the 421");
  });
});

describe("command_timeout", () => {
  test('command_timeout = "2s": an idle client gets 421 4.4.2 and is disconnected', async () => {
    const c = await greeted();
    const from = server.entries.length;
    assert.match(await c.read(10_000), /^421 4\.4\.2 /);
    await c.closed();
    await server.waitForLog((e) => e.msg === "timeout" && e.in_data === false, 5_000, from);
  });

  test("idle in the middle of a transaction: 421 4.4.2, nothing is queued", async () => {
    const c = await greeted();
    await c.write("EHLO slow.test\r\nMAIL FROM:<slow@outside.test>\r\nRCPT TO:<alice@example.test>\r\n");
    for (let i = 0; i < 3; i++) assert.match(await c.read(), /^250[ -]/);
    const mail = await server.waitForLog((e) => e.msg === "mail from" && e.from === "slow@outside.test");
    assert.match(await c.read(10_000), /^421 4\.4\.2 /);
    await c.closed();
    assert.equal(server.entries.some((e) => e.msg === "queued" && e.qid === mail.qid), false);
  });

  test("the timeout still applies after STARTTLS (on the TLS socket)", async () => {
    const c = await greeted();
    await c.send("EHLO tls.test");
    assert.match(await c.read(), /^250-/);
    await c.send("STARTTLS");
    assert.match(await c.read(), /^220 /);
    await c.startTls();
    await c.send("EHLO tls.test");
    assert.match(await c.read(), /^250-/);
    assert.match(await c.read(10_000), /^421 4\.4\.2 /);
    await c.closed();
  });
});
