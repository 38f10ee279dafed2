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
import { selfSignedCertificate } from "../helpers/certs.js";
import { startPetrel, type LogEntry, type PetrelServer } from "../helpers/petrel.js";
import { startSink, type SinkHandle } from "../helpers/smtp-sink.js";
import { sendMessages } from "../helpers/submit.js";

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
  ({ cert, key } = await selfSignedCertificate(RELAY_NAME));
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

const is = (msg: string, qid: string) => (e: LogEntry) => e.msg === msg && e.qid === qid;

interface SmarthostCase {
  /** what the sink on relay.test offers besides AUTH PLAIN LOGIN: STARTTLS, TLS from the first byte, or no TLS at all */
  sinkTls: "starttls" | "implicit" | "none";
  /** Petrel's smarthost_tls */
  tls: "starttls" | "implicit" | "opportunistic";
  ca?: boolean;
  /** which password file Petrel reads (none: no AUTH configured) */
  password?: "right" | "wrong";
  /** what the message ends as: sent, or deferred (and still queued, not bounced: expectDeferred) */
  outcome: "sent" | "deferred";
}

interface Smarthost {
  server: PetrelServer;
  sink: SinkHandle;
  /** how the "sent" entry names the smarthost */
  relay: string;
}

/** A sink on 127.0.0.8 and a Petrel whose smarthost is relay.test at the sink's port. */
async function smarthostSetup(c: SmarthostCase): Promise<Smarthost> {
  const sink = await startSink({
    host: RELAY_ADDRESS,
    auth: { username: USER, password: PASSWORD },
    ...(c.sinkTls === "none" ? {} : { tls: { key, cert }, implicitTls: c.sinkTls === "implicit" }),
  });
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

/**
 * A describe block with its own sink and Petrel (smarthostSetup) and one test:
 * it sends a message from alice@client.test to anyone@elsewhere.test, waits
 * for the case's outcome, and hands that log entry ("sent" or "delivery
 * deferred") and the queue id to `check`.
 */
function smarthostCase(title: string, c: SmarthostCase, test: string, check: (run: Smarthost & { qid: string; outcome: LogEntry }) => Promise<void>): void {
  describe(title, () => {
    let setup: Smarthost | undefined;
    before(async () => {
      setup = await smarthostSetup(c);
    });
    after(async () => {
      await setup?.server.close();
      await setup?.sink.close();
    });

    it(test, async () => {
      assert.ok(setup);
      const { server } = setup;
      const { qid } = await sendMessages(server, { from: "alice@client.test", to: ["anyone@elsewhere.test"] });
      const outcome = c.outcome === "sent" ? await server.waitForLog(is("sent", qid)) : await expectDeferred(server, qid);
      await check({ ...setup, qid, outcome });
    });
  });
}

smarthostCase(
  "smarthost: STARTTLS verified against smarthost_ca_file, then AUTH",
  { sinkTls: "starttls", tls: "starttls", ca: true, password: "right", outcome: "sent" },
  "mail for a domain without any DNS record is relayed over TLS, authenticated, with no MX lookup",
  async ({ server, sink, relay, qid, outcome: sent }) => {
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
  },
);

smarthostCase(
  "smarthost: a wrong password",
  { sinkTls: "starttls", tls: "starttls", ca: true, password: "wrong", outcome: "deferred" },
  "is deferred (an AUTH failure is about our config, not the message), never bounced, also on the next attempt",
  async ({ server, sink, relay, qid, outcome: deferred }) => {
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
  },
);

smarthostCase(
  "smarthost: a certificate that is not trusted (self-signed, no smarthost_ca_file)",
  { sinkTls: "starttls", tls: "starttls", ca: false, password: "right", outcome: "deferred" },
  "is deferred at the starttls stage and the password is never sent",
  async ({ server, sink, outcome: deferred }) => {
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
  },
);

smarthostCase(
  "smarthost: STARTTLS required but not offered",
  // The sink offers AUTH PLAIN LOGIN in the clear (and no STARTTLS): a tempting target.
  { sinkTls: "none", tls: "starttls", ca: true, password: "right", outcome: "deferred" },
  "is deferred with no plaintext AUTH and no mail sent",
  async ({ sink, outcome: deferred }) => {
    assert.match(String(deferred.error), /^4\.4\.1 .* starttls: .*does not offer STARTTLS/);
    assert.ok(sink.connections >= 1);
    assertNoAuth(sink);
    assert.equal(sink.commands.filter((c) => /^(MAIL|RCPT|DATA)\b/i.test(c)).length, 0, JSON.stringify(sink.commands));
    assert.equal(sink.transactions.length, 0);
  },
);

smarthostCase(
  "smarthost: implicit TLS",
  { sinkTls: "implicit", tls: "implicit", ca: true, password: "right", outcome: "sent" },
  "delivers over TLS from the first byte, authenticated",
  async ({ sink, relay, outcome: sent }) => {
    assert.equal(sent.relay, relay);
    assert.match(String(sent.tls), /^TLSv1\.[23] /);
    await sink.waitFor(1);
    assert.equal(sink.transactions[0].tls, true);
    assert.equal(sink.transactions[0].auth, USER);
    assert.equal(sink.commands.includes("STARTTLS"), false, "STARTTLS inside implicit TLS");
  },
);

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
    const { qid } = await sendMessages(server, { from: "alice@client.test", to: ["bob@secure.test"] });
    const sent = await server.waitForLog(is("sent", qid));
    assert.equal(sent.relay, `mx.secure.test[127.0.0.11]:${port}`);
    assert.match(String(sent.tls), /^TLSv1\.[23] /);
    await tlsSink.waitFor(1);
    assert.equal(tlsSink.transactions[0].tls, true);
    assert.equal(tlsSink.transactions[0].auth, undefined);
  });

  it("an MX without STARTTLS gets it in plaintext", async () => {
    const { qid } = await sendMessages(server, { from: "alice@client.test", to: ["carol@plain.test"] });
    const sent = await server.waitForLog(is("sent", qid));
    assert.equal(sent.relay, `mx.plain.test[127.0.0.12]:${port}`);
    assert.equal(sent.tls, undefined);
    await plainSink.waitFor(1);
    assert.equal(plainSink.transactions[0].tls, false);
    assert.equal(plainSink.commands.includes("STARTTLS"), false);
  });
});
