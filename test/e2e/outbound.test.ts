// Outbound delivery end to end: a real `petrel serve` relays mail for other
// domains to SMTP sinks on 127.0.0.x, found through a DNS server on loopback
// (MX in preference order, next MX when one is down, the A record when there
// is no MX, null MX, NXDOMAIN, a loop back to ourselves), retries after a
// failure, and returns failures to the sender as RFC 3464 reports.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startPetrel, type LogEntry, type PetrelServer } from "../helpers/petrel.js";
import { startSink, type SinkHandle } from "../helpers/smtp-sink.js";
import { sendMessages } from "../helpers/submit.js";

/** The mbox export of a user's INBOX, split into messages. */
async function mailbox(server: PetrelServer, user: string): Promise<string[]> {
  const r = await server.cli(["export", user]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split(/^From /m).filter((m) => m.trim() !== "");
}

const is = (msg: string, qid: string) => (e: LogEntry) => e.msg === msg && e.qid === qid;

describe("outbound delivery by MX", () => {
  let server: PetrelServer;
  let port: number;
  const sinks: SinkHandle[] = [];
  let primary: SinkHandle; // 127.0.0.2
  let secondary: SinkHandle; // 127.0.0.3
  let aOnly: SinkHandle; // 127.0.0.4

  before(async () => {
    primary = await startSink({ host: "127.0.0.2", onRcpt: (to) => (to.startsWith("nobody@") ? "550 5.1.1 <nobody@remote.test>: no such user" : undefined) });
    port = primary.port;
    secondary = await startSink({ host: "127.0.0.3", port });
    aOnly = await startSink({ host: "127.0.0.4", port, extensions: ["PIPELINING", "SIZE 2000", "ENHANCEDSTATUSCODES"] });
    sinks.push(primary, secondary, aOnly);
    server = await startPetrel({
      dnsRecords: {
        mx: {
          "remote.test": [{ preference: 20, exchange: "mx2.remote.test" }, { preference: 10, exchange: "mx1.remote.test" }],
          "backup.test": [{ preference: 10, exchange: "dead.backup.test" }, { preference: 20, exchange: "mx2.remote.test" }],
          "down.test": [{ preference: 10, exchange: "later.down.test" }],
          "nullmx.test": [{ preference: 0, exchange: "." }],
          "loop.test": [{ preference: 10, exchange: "mx.test" }],
        },
        a: {
          "mx1.remote.test": ["127.0.0.2"],
          "mx2.remote.test": ["127.0.0.3"],
          "dead.backup.test": ["127.0.0.5"],
          "later.down.test": ["127.0.0.6"],
          "a-only.test": ["127.0.0.4"],
        },
        nxdomain: ["nxdomain.test"],
      },
      extraToml: `[delivery]\nremote_port = ${port}\nconnect_timeout = "5s"\n[queue]\nretry_schedule = ["1h"]\n`,
    });
    assert.equal((await server.cli(["domain", "add", "local.test"])).code, 0);
    assert.equal((await server.cli(["user", "add", "alice@local.test", "--password-stdin"], "pw\n")).code, 0);
  });
  after(async () => {
    await server?.close();
    await Promise.all(sinks.map((s) => s.close()));
  });

  it("goes to the MX with the lowest preference, with our Received line", async () => {
    const before = primary.transactions.length;
    const { qid } = await sendMessages(server, { from: "alice@local.test", to: ["bob@remote.test"] });
    const sent = await server.waitForLog(is("sent", qid));
    assert.equal(sent.relay, `mx1.remote.test[127.0.0.2]:${port}`);
    assert.match(String(sent.reply), /^250/);
    await primary.waitFor(before + 1);
    const tx = primary.transactions[before];
    assert.equal(tx.mailFrom, "alice@local.test");
    assert.deepEqual(tx.recipients.map((r) => r.address), ["bob@remote.test"]);
    assert.equal(tx.helo, "mx.test");
    assert.match(tx.data.toString(), new RegExp(`^Received: from client\\.test .*\\r\\n\\s+by mx\\.test .*id ${qid}`, "s"));
    assert.match(tx.data.toString(), /\r\n\r\nHello there\.\r\n$/);
    assert.equal(secondary.transactions.filter((t) => t.data.includes(qid)).length, 0);
    assert.equal((await server.cli(["queue", "list", "--json"])).stdout.includes(qid), false, "sent message still queued");
  });

  it("skips an MX that does not answer and uses the next one", async () => {
    const before = secondary.transactions.length;
    const { qid } = await sendMessages(server, { from: "alice@local.test", to: ["carol@backup.test"] });
    const sent = await server.waitForLog(is("sent", qid));
    assert.equal(sent.relay, `mx2.remote.test[127.0.0.3]:${port}`);
    await secondary.waitFor(before + 1);
    assert.ok(server.entries.some((e) => e.msg === "cannot use mail host" && e.host === "dead.backup.test"));
  });

  it("uses the A record of a domain without MX", async () => {
    const { qid } = await sendMessages(server, { from: "alice@local.test", to: ["dave@a-only.test"] });
    const sent = await server.waitForLog(is("sent", qid));
    assert.equal(sent.relay, `a-only.test[127.0.0.4]:${port}`);
  });

  it("a 5xx to RCPT returns a DSN to the sender; the other recipient is delivered", async () => {
    const { qid } = await sendMessages(server, { from: "alice@local.test", to: ["nobody@remote.test", "erin@remote.test"], subject: "outbound test" });
    const failed = await server.waitForLog(is("delivery failed", qid));
    assert.equal(failed.to, "nobody@remote.test");
    assert.match(String(failed.error), /^550 5\.1\.1 /);
    const sent = await server.waitForLog(is("sent", qid));
    assert.equal(sent.to, "erin@remote.test");
    const notified = await server.waitForLog(is("sender notified", qid));
    await server.waitForLog(is("delivered", String(notified.notice)));
    const report = (await mailbox(server, "alice@local.test")).find((m) => m.includes(`X-Petrel-Queue-ID: ${qid}`));
    assert.ok(report, "no DSN in the sender's mailbox");
    assert.match(report, /^Return-Path: <>$/m);
    assert.match(report, /^Content-Type: multipart\/report; report-type=delivery-status;/m);
    assert.match(report, /^Final-Recipient: rfc822; ?nobody@remote\.test$/m);
    assert.match(report, /^Action: failed$/m);
    assert.match(report, /^Status: 5\.1\.1$/m);
    assert.match(report, /^Remote-MTA: dns; ?mx1\.remote\.test$/m);
    assert.match(report, /^Diagnostic-Code: smtp; ?550 5\.1\.1 /m);
    assert.doesNotMatch(report, /Final-Recipient: rfc822; ?erin@remote\.test/);
    assert.match(report, /Subject: outbound test/);
  });

  for (const [domain, status] of [["nullmx.test", "5.1.10"], ["nxdomain.test", "5.1.2"], ["loop.test", "5.4.6"]] as const) {
    it(`${domain} bounces at once with ${status}`, async () => {
      const { qid } = await sendMessages(server, { from: "alice@local.test", to: [`someone@${domain}`] });
      const failed = await server.waitForLog(is("delivery failed", qid));
      assert.match(String(failed.error), new RegExp(`^${status.replace(/\./g, "\\.")} `));
      const notified = await server.waitForLog(is("sender notified", qid));
      await server.waitForLog(is("delivered", String(notified.notice)));
      const report = (await mailbox(server, "alice@local.test")).find((m) => m.includes(`X-Petrel-Queue-ID: ${qid}`));
      assert.ok(report);
      assert.match(report, new RegExp(`^Status: ${status.replace(/\./g, "\\.")}$`, "m"));
    });
  }

  it("a size over the next hop's SIZE limit bounces with 5.3.4 before sending", async () => {
    const { qid } = await sendMessages(server, {
      from: "alice@local.test", to: ["big@a-only.test"],
      body: `Subject: big\r\n\r\n${"x".repeat(70)}\r\n`.repeat(40),
    });
    const failed = await server.waitForLog(is("delivery failed", qid));
    assert.match(String(failed.error), /^5\.3\.4 /);
    assert.equal(aOnly.transactions.filter((t) => t.recipients.some((r) => r.address === "big@a-only.test")).length, 0);
  });

  it("8-bit mail to a server without 8BITMIME is returned (5.6.3), never damaged", async () => {
    const { qid } = await sendMessages(server, {
      from: "alice@local.test", to: ["eight@a-only.test"], mailParams: "BODY=8BITMIME",
      body: "Subject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n",
    });
    const failed = await server.waitForLog(is("delivery failed", qid));
    assert.match(String(failed.error), /^5\.6\.3 /);
  });

  it("DSN parameters: NOTIFY=NEVER gets no report, ORCPT/ENVID/RET are passed to a DSN-capable next hop", async () => {
    const before = primary.transactions.length;
    const { qid } = await sendMessages(server, {
      from: "alice@local.test", to: ["frank@remote.test"], mailParams: "RET=HDRS ENVID=env+2B42", rcptParams: "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Frank@Remote.test",
    });
    await server.waitForLog(is("sent", qid));
    await primary.waitFor(before + 1);
    const tx = primary.transactions[before];
    assert.match(tx.mailParams, /RET=HDRS/);
    assert.match(tx.mailParams, /ENVID=env\+2B42/);
    assert.match(tx.recipients[0].params, /NOTIFY=SUCCESS,FAILURE/);
    assert.match(tx.recipients[0].params, /ORCPT=rfc822;Frank@Remote\.test/);

    const { qid: never } = await sendMessages(server, { from: "alice@local.test", to: ["nobody@remote.test"], rcptParams: "NOTIFY=NEVER" });
    await server.waitForLog(is("delivery failed", never));
    const mark = server.entries.length;
    // A later message's notice proves the scheduler moved on; none was sent for `never`.
    const { qid: later } = await sendMessages(server, { from: "alice@local.test", to: ["nobody@remote.test"] });
    await server.waitForLog(is("sender notified", later), 10_000, mark);
    assert.equal(server.entries.some(is("sender notified", never)), false);
  });

  it("NOTIFY=SUCCESS to a next hop without DSN gets a 'relayed' notice", async () => {
    const { qid } = await sendMessages(server, { from: "alice@local.test", to: ["gina@a-only.test"], rcptParams: "NOTIFY=SUCCESS" });
    await server.waitForLog(is("sent", qid));
    const notified = await server.waitForLog(is("sender notified", qid));
    assert.equal(notified.action, "relayed");
  });

  it("mail from the null sender that fails is never bounced", async () => {
    const { qid } = await sendMessages(server, { from: "", to: ["nobody@remote.test"] });
    await server.waitForLog(is("delivery failed", qid));
    const mark = server.entries.length;
    const { qid: later } = await sendMessages(server, { from: "alice@local.test", to: ["nobody@remote.test"] });
    await server.waitForLog(is("sender notified", later), 10_000, mark);
    assert.equal(server.entries.some(is("sender notified", qid)), false);
  });

  it("all hosts down: deferred; delivered after the host is back and the queue is flushed, with no bounce", async () => {
    const { qid } = await sendMessages(server, { from: "alice@local.test", to: ["henry@down.test"] });
    const deferred = await server.waitForLog(is("delivery deferred", qid));
    assert.match(String(deferred.error), /^4\.4\.1 later\.down\.test\[127\.0\.0\.6\]/);
    const list = JSON.parse((await server.cli(["queue", "list", "--json"])).stdout) as { id: string; state: string }[];
    assert.equal(list.find((m) => m.id === qid)?.state, "deferred");

    const later = await startSink({ host: "127.0.0.6", port });
    sinks.push(later);
    const mark = server.entries.length;
    assert.equal((await server.cli(["queue", "flush"])).code, 0);
    const sent = await server.waitForLog(is("sent", qid), 15_000, mark);
    assert.equal(sent.relay, `later.down.test[127.0.0.6]:${port}`);
    await later.waitFor(1);
    assert.equal(server.entries.some(is("sender notified", qid)), false, "a delivered message was bounced");
    assert.equal(server.entries.some(is("delivery failed", qid)), false);
  });
});

describe("outbound: delay warning and queue maximum age", () => {
  let server: PetrelServer;

  before(async () => {
    server = await startPetrel({
      dnsRecords: { mx: { "gone.test": [{ preference: 10, exchange: "mx.gone.test" }] }, a: { "mx.gone.test": ["127.0.0.7"] } },
      extraToml: `[delivery]\nremote_port = 9\n[queue]\nretry_schedule = ["1s"]\nmax_age = "4s"\ndelay_warning = "1s"\n`,
    });
    assert.equal((await server.cli(["domain", "add", "local.test"])).code, 0);
    assert.equal((await server.cli(["user", "add", "alice@local.test", "--password-stdin"], "pw\n")).code, 0);
  });
  after(async () => server?.close());

  it("one 'delayed' notice after delay_warning, then a bounce with the last error past queue.max_age", async () => {
    const { qid } = await sendMessages(server, { from: "alice@local.test", to: ["ivan@gone.test"] });
    await server.waitForLog(is("delivery deferred", qid));
    const delayed = await server.waitForLog((e) => is("sender notified", qid)(e) && e.action === "delayed", 15_000);
    await server.waitForLog(is("delivered", String(delayed.notice)));
    const failed = await server.waitForLog(is("delivery failed", qid), 15_000);
    assert.match(String(failed.error), /^4\.4\.1 .*gave up: in the queue longer than the maximum age/);
    const notified = await server.waitForLog((e) => is("sender notified", qid)(e) && e.action === "failed");
    await server.waitForLog(is("delivered", String(notified.notice)));
    assert.equal(server.entries.filter((e) => is("sender notified", qid)(e) && e.action === "delayed").length, 1, "one delay warning only");
    const reports = (await mailbox(server, "alice@local.test")).filter((m) => m.includes(`X-Petrel-Queue-ID: ${qid}`));
    const warning = reports.find((m) => /^Action: delayed$/m.test(m));
    assert.ok(warning, "no delay warning in the sender's mailbox");
    assert.match(warning, /^Subject: Delayed Mail/m);
    assert.match(warning, /^Will-Retry-Until: /m);
    const report = reports.find((m) => /^Action: failed$/m.test(m));
    assert.ok(report);
    assert.match(report, /^Status: 4\.4\.1$/m);
  });
});
