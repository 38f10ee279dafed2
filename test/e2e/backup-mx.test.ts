// Backup MX (relay.domains) end to end: the test DNS lists a primary on
// 127.0.0.x (preference 10) and Petrel (mx.test, preference 20). Mail for the
// partner domain is accepted from anyone, held while the primary is down and
// forwarded when it is back (queue flush DOMAIN, or ETRN from relay.networks),
// never delivered locally, never sent to an MX of equal or higher preference;
// a DNS list where Petrel is the best MX is reported and nothing loops.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startPetrel, type LogEntry, type PetrelServer } from "../helpers/petrel.js";
import { connect, expectReply } from "../helpers/smtp-client.js";
import { startSink, type SinkHandle } from "../helpers/smtp-sink.js";
import { sendMessages } from "../helpers/submit.js";

const OUTSIDER = "127.0.0.2";

/** One message to `to` from an outside host: the RCPT replies, and the queue id when a recipient was accepted. */
const offer = (server: PetrelServer, to: string[]) =>
  sendMessages(server, { from: "someone@sender.example", to }, { localAddress: OUTSIDER, helo: "sender.example", allowRefusals: true });

const is = (msg: string, qid: string | undefined) => (e: LogEntry) => e.msg === msg && e.qid === qid;

describe("backup MX for relay.domains", () => {
  let server: PetrelServer;
  let port: number;
  const sinks: SinkHandle[] = [];
  let wrong: SinkHandle; // an MX of higher preference than ours: must never get anything

  before(async () => {
    // Reserve a port on the loopback addresses the primaries will use.
    const probe = await startSink({ host: "127.0.0.30" });
    port = probe.port;
    await probe.close();
    wrong = await startSink({ host: "127.0.0.33", port });
    sinks.push(wrong);
    server = await startPetrel({
      dnsRecords: {
        mx: {
          "partner.test": [{ preference: 20, exchange: "mx.test" }, { preference: 10, exchange: "primary.partner.test" }, { preference: 30, exchange: "tertiary.partner.test" }],
          "etrn.test": [{ preference: 10, exchange: "primary.etrn.test" }, { preference: 20, exchange: "mx.test" }, { preference: 20, exchange: "peer.etrn.test" }],
          "strict.test": [{ preference: 10, exchange: "primary.partner.test" }, { preference: 20, exchange: "mx.test" }],
          "misconf.test": [{ preference: 10, exchange: "mx.test" }, { preference: 20, exchange: "other.misconf.test" }],
        },
        a: {
          "mx.test": ["127.0.0.1"],
          "primary.partner.test": ["127.0.0.30"],
          "tertiary.partner.test": ["127.0.0.33"],
          "primary.etrn.test": ["127.0.0.32"],
          "peer.etrn.test": ["127.0.0.33"],
          "other.misconf.test": ["127.0.0.33"],
        },
      },
      extraToml: `
[relay]
networks = ["127.0.0.1/32"]
domains = ["partner.test", "etrn.test", "strict.test", "misconf.test"]
recipients = ["known@strict.test"]
[delivery]
remote_port = ${port}
[queue]
retry_schedule = ["1h"]
`,
    });
  });
  after(async () => {
    await server?.close();
    await Promise.all(sinks.map((s) => s.close()));
  });

  it("accepts mail for a relay domain from anyone, holds it while the primary is down, forwards it on queue flush DOMAIN", async () => {
    const { rcpt, qid } = await offer(server, ["anyone@partner.test", "user%other.test@partner.test"]);
    assert.match(rcpt[0], /^250/);
    assert.match(rcpt[1], /^250/, "a percent-hack address is just a partner.test recipient");
    assert.ok(qid);
    const deferred = await server.waitForLog(is("delivery deferred", qid));
    assert.match(String(deferred.error), /^4\.4\.1 primary\.partner\.test\[127\.0\.0\.30\]/);
    const list = JSON.parse((await server.cli(["queue", "list", "--json"])).stdout) as { id: string; state: string }[];
    assert.equal(list.find((m) => m.id === qid)?.state, "deferred");

    const primary = await startSink({ host: "127.0.0.30", port });
    sinks.push(primary);
    const flushed = await server.cli(["queue", "flush", "Partner.Test"]);
    assert.equal(flushed.code, 0, flushed.stderr);
    assert.match(flushed.stdout, /^2 recipient\(s\) at partner\.test made due now/);
    await primary.waitFor(1);
    const sent = await server.waitForLog(is("sent", qid));
    assert.equal(sent.relay, `primary.partner.test[127.0.0.30]:${port}`);
    const tx = primary.transactions[0];
    assert.deepEqual(tx.recipients.map((r) => r.address).sort(), ["anyone@partner.test", "user%other.test@partner.test"]);
    assert.match(tx.data.toString(), new RegExp(`^Received: from sender\\.example \\(unknown \\[127\\.0\\.0\\.2\\]\\)\\r\\n\\s+by mx\\.test .*id ${qid}`, "s"));
    assert.equal(server.entries.some(is("delivered", qid)), false, "relay-domain mail was delivered locally");
    assert.equal(wrong.transactions.length, 0, "mail went to an MX of higher preference than ours");
  });

  it("ETRN from relay.networks starts the delivery; others get 459", async () => {
    const { qid } = await offer(server, ["someone@etrn.test"]);
    assert.ok(qid);
    await server.waitForLog(is("delivery deferred", qid));
    const primary = await startSink({ host: "127.0.0.32", port });
    sinks.push(primary);

    const outsider = await connect(server.listeners.smtp.host, server.listeners.smtp.port, OUTSIDER);
    await outsider.read();
    assert.match(await expectReply(outsider, "EHLO sender.example", /^250/), /^250[- ]ETRN$/m);
    await expectReply(outsider, "ETRN etrn.test", /^459 4\.7\.1 /);
    outsider.close();

    const trusted = await connect(server.listeners.smtp.host, server.listeners.smtp.port, "127.0.0.1");
    await trusted.read();
    await expectReply(trusted, "ETRN etrn.test", /^503 /);
    await expectReply(trusted, "EHLO partner-primary.test", /^250/);
    await expectReply(trusted, "ETRN", /^501 /);
    await expectReply(trusted, "ETRN elsewhere.test", /^459 4\.7\.1 .*not a relay domain/);
    await expectReply(trusted, "ETRN etrn.test", /^253 2\.0\.0 OK, 1 pending messages for node etrn\.test started/);
    const sent = await server.waitForLog(is("sent", qid));
    assert.equal(sent.relay, `primary.etrn.test[127.0.0.32]:${port}`);
    await expectReply(trusted, "ETRN @etrn.test", /^251 2\.0\.0 OK, no messages waiting/);
    trusted.close();
    assert.equal(wrong.transactions.length, 0, "mail went to an MX of equal preference to ours");
  });

  it("a relay domain with a recipient table refuses unknown recipients at RCPT (no backscatter)", async () => {
    const { rcpt } = await offer(server, ["known@strict.test", "known+tag@strict.test", "unknown@strict.test"]);
    assert.match(rcpt[0], /^250/);
    assert.match(rcpt[1], /^250/);
    assert.match(rcpt[2], /^550 5\.1\.1 .*relay recipient table/);
  });

  it("only the configured domains: other domains and subdomains are still refused to outsiders", async () => {
    const { rcpt } = await offer(server, ["x@other.test", "x@sub.partner.test", "x@partner.test.evil.test"]);
    for (const r of rcpt) assert.match(r, /^554 5\.7\.1 /);
  });

  it("Petrel as the best MX of a relay domain: logged as a misconfiguration, kept in the queue, nothing loops", async () => {
    const { qid } = await offer(server, ["someone@misconf.test"]);
    assert.ok(qid);
    const problem = await server.waitForLog((e) => e.msg === "relay domain misconfigured: mail kept in the queue" && e.domain === "misconf.test");
    assert.match(String(problem.err), /best MX of relay domain misconf\.test/);
    const deferred = await server.waitForLog(is("delivery deferred", qid));
    assert.match(String(deferred.error), /^4\.4\.6 /);
    assert.equal(wrong.transactions.length, 0);
    assert.equal(server.entries.some(is("sent", qid)), false);
    assert.equal(server.entries.some(is("delivery failed", qid)), false, "a configuration problem must not bounce the mail");

    const check = await server.cli(["dns", "check", "misconf.test"]);
    assert.equal(check.code, 1, check.stdout);
    assert.match(check.stdout, /^FAIL\s+backup MX\s+mx\.test is the most preferred MX of relay domain misconf\.test/m);
    const good = await server.cli(["dns", "check", "partner.test", "--json"]);
    const report = JSON.parse(good.stdout) as { checks: { id: string; status: string }[] };
    assert.equal(report.checks.find((c) => c.id === "backup-mx")?.status, "ok");
  });
});
