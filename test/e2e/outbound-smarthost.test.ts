// Outbound delivery through a smarthost (relay.smarthost), end to end: a real
// `petrel serve` hands every non-local message to "relay.test:PORT" (an A
// record in the test DNS, never an MX lookup of the recipient's domain), with
// STARTTLS verified against smarthost_ca_file and AUTH from
// smarthost_password_file; a wrong password, an untrusted certificate or a
// smarthost without STARTTLS keep the mail deferred and never put the
// password on the wire in the clear; implicit TLS; and opportunistic STARTTLS
// toward an ordinary MX. Every Petrel-side difference is a config difference,
// so each case has its own (small, fast-starting) instance and its own sink.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generate } from "selfsigned";
import { startPetrel, type LogEntry, type PetrelServer } from "../helpers/petrel.js";
import { connect, expectReply } from "../helpers/smtp-client.js";
import { startSink, type SinkHandle, type SinkOptions } from "../helpers/smtp-sink.js";

const RELAY_NAME = "relay.test";
const RELAY_ADDRESS = "127.0.0.8";
const USER = "petrel-relay-user";
const PASSWORD = "correct horse battery staple";

let dir = "";
let cert = "";
let key = "";
let caFile = "";
let passwordFile = "";
let wrongPasswordFile = "";

before(async () => {
  const pems = await generate([{ name: "commonName", value: RELAY_NAME }], {
    keyType: "ec",
    algorithm: "sha256",
    notAfterDate: new Date(Date.now() + 86_400_000),
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: [{ type: 2, value: RELAY_NAME }] },
    ],
  } as Parameters<typeof generate>[1]);
  cert = pems.cert;
  key = pems.private;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "petrel-smarthost-"));
  caFile = path.join(dir, "relay-ca.pem");
  passwordFile = path.join(dir, "relay-password");
  wrongPasswordFile = path.join(dir, "relay-password-wrong");
  fs.writeFileSync(caFile, cert);
  fs.writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  fs.writeFileSync(wrongPasswordFile, "not the password\n", { mode: 0o600 });
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Sends one message through Petrel's smtp listener; returns the queue id. (outbound.test.ts has the same helper, but importing a test file would register its tests here too.) */
async function send(server: PetrelServer, opts: { from: string; to: string[] }): Promise<string> {
  const { host, port } = server.listeners.smtp;
  const c = await connect(host, port);
  try {
    await c.read();
    await expectReply(c, "EHLO client.test", /^250/);
    await expectReply(c, `MAIL FROM:<${opts.from}>`, /^250/);
    for (const to of opts.to) await expectReply(c, `RCPT TO:<${to}>`, /^250/);
    await expectReply(c, "DATA", /^354/);
    const id = `${Math.random().toString(36).slice(2)}@client.test`;
    await c.write(`From: <${opts.from}>\r\nTo: <${opts.to[0]}>\r\nSubject: smarthost test\r\nMessage-ID: <${id}>\r\n\r\nHello there.\r\n.\r\n`);
    const done = await c.read();
    const m = /^250 2\.0\.0 Ok: queued as (\S+)/.exec(done);
    assert.ok(m, done);
    await c.send("QUIT");
    return m[1];
  } finally {
    c.close();
  }
}

const is = (msg: string, qid: string) => (e: LogEntry) => e.msg === msg && e.qid === qid;

interface SmarthostCase {
  sink: SinkOptions;
  tls: "starttls" | "implicit" | "opportunistic";
  ca?: boolean;
  /** which password file Petrel reads (none: no AUTH configured) */
  password?: "right" | "wrong";
}

/** A sink on 127.0.0.8 and a Petrel whose smarthost is relay.test at the sink's port. */
async function smarthostSetup(c: SmarthostCase): Promise<{ server: PetrelServer; sink: SinkHandle; relay: string }> {
  const sink = await startSink({ host: RELAY_ADDRESS, ...c.sink });
  const lines = [
    "[relay]",
    `smarthost = ${JSON.stringify(`${RELAY_NAME}:${sink.port}`)}`,
    `smarthost_tls = ${JSON.stringify(c.tls)}`,
  ];
  if (c.ca) lines.push(`smarthost_ca_file = ${JSON.stringify(caFile)}`);
  if (c.password) {
    lines.push(`smarthost_username = ${JSON.stringify(USER)}`);
    lines.push(`smarthost_password_file = ${JSON.stringify(c.password === "right" ? passwordFile : wrongPasswordFile)}`);
  }
  lines.push("[delivery]", 'connect_timeout = "5s"', "[queue]", 'retry_schedule = ["1h"]');
  let server: PetrelServer;
  try {
    server = await startPetrel({
      // elsewhere.test has no records at all: with a smarthost it must never be looked up.
      dnsRecords: { a: { [RELAY_NAME]: [RELAY_ADDRESS] } },
      extraToml: `${lines.join("\n")}\n`,
    });
  } catch (err) {
    await sink.close();
    throw err;
  }
  return { server, sink, relay: `${RELAY_NAME}[${RELAY_ADDRESS}]:${sink.port}` };
}

type QueueRow = { id: string; state: string; last_error: string | null };

async function queueList(server: PetrelServer): Promise<QueueRow[]> {
  const r = await server.cli(["queue", "list", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as QueueRow[];
}

/** No AUTH command (PLAIN or LOGIN, any case) ever reached the sink. */
function assertNoAuth(sink: SinkHandle): void {
  const auth = sink.commands.filter((c) => /^AUTH\b/i.test(c));
  assert.deepEqual(auth, [], `credentials were offered: ${JSON.stringify(sink.commands)}`);
}

/** The deferral of `qid`, and proof it was not bounced and is still queued as deferred. */
async function expectDeferred(server: PetrelServer, qid: string): Promise<LogEntry> {
  const deferred = await server.waitForLog(is("delivery deferred", qid));
  assert.equal(server.entries.some(is("delivery failed", qid)), false, "bounced instead of deferred");
  assert.equal(server.entries.some(is("sent", qid)), false);
  const row = (await queueList(server)).find((m) => m.id === qid);
  assert.ok(row, "message left the queue");
  assert.equal(row.state, "deferred");
  assert.equal(row.last_error, deferred.error);
  return deferred;
}

describe("smarthost: STARTTLS verified against smarthost_ca_file, then AUTH", () => {
  let server: PetrelServer;
  let sink: SinkHandle;
  let relay: string;
  before(async () => {
    ({ server, sink, relay } = await smarthostSetup({
      sink: { tls: { key, cert }, auth: { username: USER, password: PASSWORD } },
      tls: "starttls", ca: true, password: "right",
    }));
  });
  after(async () => {
    await server?.close();
    await sink?.close();
  });

  it("mail for a domain without any DNS record is relayed over TLS, authenticated, with no MX lookup", async () => {
    const qid = await send(server, { from: "alice@client.test", to: ["anyone@elsewhere.test"] });
    const sent = await server.waitForLog(is("sent", qid));
    assert.equal(sent.relay, relay);
    assert.match(String(sent.tls), /^TLSv1\.[23] \S+/);
    assert.match(String(sent.reply), /^250/);
    await sink.waitFor(1);
    const tx = sink.transactions[0];
    assert.equal(tx.tls, true);
    assert.equal(tx.auth, USER);
    assert.equal(tx.mailFrom, "alice@client.test");
    assert.deepEqual(tx.recipients.map((r) => r.address), ["anyone@elsewhere.test"]);
    assert.match(tx.data.toString(), new RegExp(`id ${qid}`));
    // STARTTLS came before any AUTH, and AUTH only once.
    const starttls = sink.commands.findIndex((c) => /^STARTTLS$/i.test(c));
    const auth = sink.commands.findIndex((c) => /^AUTH\b/i.test(c));
    assert.ok(starttls !== -1 && auth > starttls, JSON.stringify(sink.commands));
    const asked = server.dns.queries.filter((q) => q.name === "elsewhere.test" || q.name.endsWith(".elsewhere.test"));
    assert.deepEqual(asked, [], "the recipient's domain was looked up despite the smarthost");
    assert.ok(server.dns.queries.some((q) => q.name === RELAY_NAME && q.type === "A"));
    assert.deepEqual(await queueList(server), []);
    assert.equal(server.logs.some((l) => l.includes(PASSWORD)), false, "the smarthost password is in the log");
  });
});

describe("smarthost: a wrong password", () => {
  let server: PetrelServer;
  let sink: SinkHandle;
  let relay: string;
  before(async () => {
    ({ server, sink, relay } = await smarthostSetup({
      sink: { tls: { key, cert }, auth: { username: USER, password: PASSWORD } },
      tls: "starttls", ca: true, password: "wrong",
    }));
  });
  after(async () => {
    await server?.close();
    await sink?.close();
  });

  it("is deferred (an AUTH failure is about our config, not the message), never bounced, also on the next attempt", async () => {
    const qid = await send(server, { from: "alice@client.test", to: ["anyone@elsewhere.test"] });
    const deferred = await expectDeferred(server, qid);
    assert.match(String(deferred.error), /^4\.\d\.\d /);
    assert.match(String(deferred.error), /\bauth\b/i);
    assert.match(String(deferred.error), /535/);
    assert.ok(String(deferred.error).includes(relay), String(deferred.error));
    assert.ok(server.entries.some((e) => e.msg === "cannot use mail host" && e.stage === "auth"));
    assert.equal(sink.transactions.length, 0);
    assert.ok(sink.commands.some((c) => /^AUTH\b/i.test(c)), "AUTH was never tried");
    assert.equal(sink.commands.filter((c) => /^MAIL\b/i.test(c)).length, 0, "MAIL sent without authenticating");

    // A second attempt (flush) is deferred again: still no bounce.
    const mark = server.entries.length;
    assert.equal((await server.cli(["queue", "flush"])).code, 0);
    const again = await server.waitForLog(is("delivery deferred", qid), 10_000, mark);
    assert.equal(again.attempt, 2);
    assert.equal(server.entries.some(is("delivery failed", qid)), false);
    assert.equal(server.entries.some(is("sender notified", qid)), false);
    assert.equal((await queueList(server)).find((m) => m.id === qid)?.state, "deferred");
    assert.equal(server.logs.some((l) => l.includes("not the password")), false, "the smarthost password is in the log");
  });
});

describe("smarthost: a certificate that is not trusted (self-signed, no smarthost_ca_file)", () => {
  let server: PetrelServer;
  let sink: SinkHandle;
  before(async () => {
    ({ server, sink } = await smarthostSetup({
      sink: { tls: { key, cert }, auth: { username: USER, password: PASSWORD } },
      tls: "starttls", ca: false, password: "right",
    }));
  });
  after(async () => {
    await server?.close();
    await sink?.close();
  });

  it("is deferred at the starttls stage and the password is never sent", async () => {
    const qid = await send(server, { from: "alice@client.test", to: ["anyone@elsewhere.test"] });
    const deferred = await expectDeferred(server, qid);
    assert.match(String(deferred.error), /^4\.4\.1 .* starttls: /);
    assert.match(String(deferred.error), /certificate/i);
    const hostError = server.entries.find((e) => e.msg === "cannot use mail host" && e.host === RELAY_NAME);
    assert.equal(hostError?.stage, "starttls");
    assert.ok(sink.commands.includes("STARTTLS"), JSON.stringify(sink.commands));
    assertNoAuth(sink);
    assert.equal(sink.transactions.length, 0);
    // No fallback to plaintext either (that is only for opportunistic TLS toward an MX).
    assert.equal(server.entries.some((e) => e.msg === "TLS handshake failed, retrying without TLS"), false);
    assert.equal(sink.commands.filter((c) => /^MAIL\b/i.test(c)).length, 0);
  });
});

describe("smarthost: STARTTLS required but not offered", () => {
  let server: PetrelServer;
  let sink: SinkHandle;
  before(async () => {
    // The sink offers AUTH PLAIN LOGIN in the clear (and no STARTTLS): a tempting target.
    ({ server, sink } = await smarthostSetup({
      sink: { auth: { username: USER, password: PASSWORD } },
      tls: "starttls", ca: true, password: "right",
    }));
  });
  after(async () => {
    await server?.close();
    await sink?.close();
  });

  it("is deferred with no plaintext AUTH and no mail sent", async () => {
    const qid = await send(server, { from: "alice@client.test", to: ["anyone@elsewhere.test"] });
    const deferred = await expectDeferred(server, qid);
    assert.match(String(deferred.error), /^4\.4\.1 .* starttls: .*does not offer STARTTLS/);
    assert.ok(sink.connections >= 1);
    assertNoAuth(sink);
    assert.equal(sink.commands.filter((c) => /^(MAIL|RCPT|DATA)\b/i.test(c)).length, 0, JSON.stringify(sink.commands));
    assert.equal(sink.transactions.length, 0);
  });
});

describe("smarthost: implicit TLS", () => {
  let server: PetrelServer;
  let sink: SinkHandle;
  let relay: string;
  before(async () => {
    ({ server, sink, relay } = await smarthostSetup({
      sink: { tls: { key, cert }, implicitTls: true, auth: { username: USER, password: PASSWORD } },
      tls: "implicit", ca: true, password: "right",
    }));
  });
  after(async () => {
    await server?.close();
    await sink?.close();
  });

  it("delivers over TLS from the first byte, authenticated", async () => {
    const qid = await send(server, { from: "alice@client.test", to: ["anyone@elsewhere.test"] });
    const sent = await server.waitForLog(is("sent", qid));
    assert.equal(sent.relay, relay);
    assert.match(String(sent.tls), /^TLSv1\.[23] /);
    await sink.waitFor(1);
    assert.equal(sink.transactions[0].tls, true);
    assert.equal(sink.transactions[0].auth, USER);
    assert.equal(sink.commands.includes("STARTTLS"), false, "STARTTLS inside implicit TLS");
  });
});

describe("MX delivery without smarthost: opportunistic STARTTLS", () => {
  let server: PetrelServer;
  let tlsSink: SinkHandle; // 127.0.0.11, offers STARTTLS (a certificate for another name: not verified toward an MX)
  let plainSink: SinkHandle; // 127.0.0.12, no STARTTLS
  let port: number;
  before(async () => {
    tlsSink = await startSink({ host: "127.0.0.11", tls: { key, cert } });
    port = tlsSink.port;
    plainSink = await startSink({ host: "127.0.0.12", port });
    server = await startPetrel({
      dnsRecords: {
        mx: {
          "secure.test": [{ preference: 10, exchange: "mx.secure.test" }],
          "plain.test": [{ preference: 10, exchange: "mx.plain.test" }],
        },
        a: { "mx.secure.test": ["127.0.0.11"], "mx.plain.test": ["127.0.0.12"] },
      },
      extraToml: `[delivery]\nremote_port = ${port}\nconnect_timeout = "5s"\n[queue]\nretry_schedule = ["1h"]\n`,
    });
  });
  after(async () => {
    await server?.close();
    await tlsSink?.close();
    await plainSink?.close();
  });

  it("an MX offering STARTTLS gets the mail over TLS", async () => {
    const qid = await send(server, { from: "alice@client.test", to: ["bob@secure.test"] });
    const sent = await server.waitForLog(is("sent", qid));
    assert.equal(sent.relay, `mx.secure.test[127.0.0.11]:${port}`);
    assert.match(String(sent.tls), /^TLSv1\.[23] /);
    await tlsSink.waitFor(1);
    assert.equal(tlsSink.transactions[0].tls, true);
    assert.equal(tlsSink.transactions[0].auth, undefined);
  });

  it("an MX without STARTTLS gets it in plaintext", async () => {
    const qid = await send(server, { from: "alice@client.test", to: ["carol@plain.test"] });
    const sent = await server.waitForLog(is("sent", qid));
    assert.equal(sent.relay, `mx.plain.test[127.0.0.12]:${port}`);
    assert.equal(sent.tls, undefined);
    await plainSink.waitFor(1);
    assert.equal(plainSink.transactions[0].tls, false);
    assert.equal(plainSink.commands.includes("STARTTLS"), false);
  });
});
