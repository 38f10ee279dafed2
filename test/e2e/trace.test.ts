// Trace headers and the log trail: the Received line names the client's
// verified reverse-DNS name (PTR whose A record leads back) or "unknown",
// Return-Path and Delivered-To are added at delivery, and one grep of the
// queue id finds every step of a message in the log.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startPetrel, type PetrelServer } from "../helpers/petrel.js";

async function send(server: PetrelServer, localAddress: string, to: string, extraRcpt?: string): Promise<string> {
  const { host, port } = server.listeners.smtp;
  const socket = net.connect({ host, port, localAddress });
  let buffer = "";
  const replies: string[] = [];
  let wake: (() => void) | undefined;
  socket.on("data", (d) => {
    buffer += d.toString();
    let m: RegExpExecArray | null;
    while ((m = /^(\d{3}) .*\r\n/m.exec(buffer))) {
      replies.push(buffer.slice(0, m.index + m[0].length));
      buffer = buffer.slice(m.index + m[0].length);
    }
    wake?.();
  });
  const next = async () => {
    while (replies.length === 0) await new Promise<void>((r) => (wake = r));
    return replies.shift()!;
  };
  await next();
  const rcpts = [to, ...(extraRcpt ? [extraRcpt] : [])];
  socket.write(`EHLO Client.Example\r\nMAIL FROM:<sender@elsewhere.test>\r\n${rcpts.map((r) => `RCPT TO:<${r}>\r\n`).join("")}DATA\r\n`);
  for (let i = 0; i < 3 + rcpts.length; i++) assert.match(await next(), /^(250|354)/);
  socket.write("Subject: trace\r\n\r\nbody\r\n.\r\nQUIT\r\n");
  const done = await next();
  const m = /^250 2\.0\.0 Ok: queued as (\S+)/.exec(done);
  assert.ok(m, done);
  socket.end();
  return m[1];
}

describe("trace headers", () => {
  let server: PetrelServer;

  before(async () => {
    server = await startPetrel({
      dnsRecords: {
        ptr: { "127.0.0.1": "client.example.net", "127.0.0.2": "liar.example.net" },
        a: { "client.example.net": ["127.0.0.1"], "liar.example.net": ["192.0.2.1"] },
      },
    });
    assert.equal((await server.cli(["domain", "add", "example.test"])).code, 0);
    assert.equal((await server.cli(["user", "add", "alice@example.test", "--password-stdin"], "pw\n")).code, 0);
    assert.equal((await server.cli(["user", "add", "bob@example.test", "--password-stdin"], "pw\n")).code, 0);
  });
  after(async () => server?.close());

  const stored = async (user: string, qid: string) => {
    await server.waitForLog((e) => e.msg === "delivered" && e.qid === qid && e.to === user);
    const exported = await server.cli(["export", user]);
    assert.equal(exported.code, 0, exported.stderr);
    const message = exported.stdout.split(/^From /m).find((m) => m.includes(`id ${qid}`));
    assert.ok(message, `message ${qid} not in the export of ${user}`);
    return message;
  };

  it("names a forward-confirmed reverse name, the protocol and the queue id", async () => {
    const qid = await send(server, "127.0.0.1", "alice@example.test");
    const message = await stored("alice@example.test", qid);
    assert.match(message, /\nReturn-Path: <sender@elsewhere\.test>\nDelivered-To: alice@example\.test\nReceived: from Client\.Example \(client\.example\.net \[127\.0\.0\.1\]\)\n\tby mx\.test \(Petrel\) with ESMTP\n\tid /);
    assert.match(message, new RegExp(`\\tid ${qid}\\n\\tfor <alice@example\\.test>;\\n\\t\\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\\n`));
  });

  it("says unknown when the PTR name does not lead back, and omits 'for' with several recipients", async () => {
    const qid = await send(server, "127.0.0.2", "alice@example.test", "bob@example.test");
    const message = await stored("bob@example.test", qid);
    assert.match(message, /Received: from Client\.Example \(unknown \[127\.0\.0\.2\]\)/);
    assert.doesNotMatch(message, /\tfor </);
    await stored("alice@example.test", qid);
  });

  it("logs every step of a message under its queue id", async () => {
    const qid = await send(server, "127.0.0.1", "bob@example.test");
    await server.waitForLog((e) => e.msg === "delivered" && e.qid === qid);
    const lines = server.entries.filter((e) => e.qid === qid);
    assert.deepEqual(lines.map((e) => e.msg), ["mail from", "queued", "delivered"]);
    const sid = lines[0].sid;
    assert.ok(typeof sid === "string" && sid.length > 0);
    for (const e of lines) assert.equal(e.sid, sid, `line "${e.msg}" lacks the session id`);
  });
});
