// The outbound SMTP client against the programmable sink (loopback only):
// plain and pipelined transactions, per-recipient replies, RSET after a
// failed transaction, 421, HELO fallback, STARTTLS (opportunistic, required,
// implicit), AUTH, ESMTP parameters (SIZE, BODY, SMTPUTF8, DSN with xtext),
// dot-stuffing byte for byte (also as a property), per-stage timeouts,
// refused connections, a 5 MB message; and the bounded reply parser.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import fc from "fast-check";
import { connectSmtp, type ConnectOptions, type OutboundTransaction, type SmtpClientConnection } from "../../src/outbound/smtp-client.js";
import { makeReply, ReplyParser } from "../../src/outbound/reply-parser.js";
import { selfSignedCertificate } from "../helpers/certs.js";
import { DEFAULT_SINK_EXTENSIONS, startSink, type SinkHandle, type SinkOptions } from "../helpers/smtp-sink.js";

const MX = "mx.sink.test";
let cert = "";
let key = "";

before(async () => {
  ({ cert, key } = await selfSignedCertificate(MX));
});

const sinks: SinkHandle[] = [];
const connections: SmtpClientConnection[] = [];
after(async () => {
  for (const c of connections) c.close();
  await Promise.all(sinks.map((s) => s.close()));
});

async function sink(options: SinkOptions = {}): Promise<SinkHandle> {
  const s = await startSink(options);
  sinks.push(s);
  return s;
}

function options(s: SinkHandle, extra: Partial<ConnectOptions> = {}): ConnectOptions {
  return { host: MX, address: s.host, port: s.port, helo: "petrel.test", tls: "none", timeouts: { greeting: 5000, ehlo: 5000, mail: 5000, rcpt: 5000, dataInit: 5000, dataEnd: 5000 }, ...extra };
}

async function connect(s: SinkHandle, extra: Partial<ConnectOptions> = {}): Promise<SmtpClientConnection> {
  const r = await connectSmtp(options(s, extra));
  assert.ok(r.ok, r.ok ? "" : `${r.stage}: ${r.error}`);
  connections.push(r.connection);
  return r.connection;
}

const MESSAGE = Buffer.from("From: a@src.test\r\nTo: b@dst.test\r\nSubject: hi\r\n\r\nHello.\r\n");

/** A transaction whose content comes in the given chunks; `read` tells whether content() was called. */
function tx(body: Buffer | Buffer[] = MESSAGE, extra: Partial<OutboundTransaction> = {}): OutboundTransaction & { read: boolean } {
  const chunks = Array.isArray(body) ? body : [body];
  const t = {
    sender: "a@src.test",
    recipients: [{ address: "b@dst.test" }],
    size: chunks.reduce((n, c) => n + c.length, 0),
    read: false,
    content: async function* () {
      t.read = true;
      for (const c of chunks) yield c;
    },
    ...extra,
  };
  return t;
}

const codes = (replies: { code: number }[]) => replies.map((r) => r.code);
const verbs = (s: SinkHandle) => s.commands.map((c) => c.split(" ")[0].toUpperCase());

describe("SMTP client: transactions", () => {
  it("sends a message", async () => {
    const s = await sink();
    const c = await connect(s);
    assert.equal(c.greeting.code, 220);
    assert.equal(c.extensions.get("SIZE"), "52428800");
    assert.ok(c.extensions.has("PIPELINING"));
    assert.equal(c.tls, undefined);
    const r = await c.send(tx());
    assert.ok(r.ok);
    assert.equal(r.mail.code, 250);
    assert.deepEqual(codes(r.recipients), [250]);
    assert.equal(r.data?.code, 250);
    assert.equal(r.data?.enhanced, "2.0.0");
    assert.equal(r.data?.text, "250 2.0.0 Ok: queued");
    assert.equal(s.transactions.length, 1);
    const t = s.transactions[0];
    assert.equal(t.helo, "petrel.test");
    assert.equal(t.mailFrom, "a@src.test");
    assert.deepEqual(t.recipients.map((x) => x.address), ["b@dst.test"]);
    assert.ok(t.data.equals(MESSAGE));
    assert.equal(t.tls, false);
    assert.ok(c.usable);
    await c.quit();
    assert.equal(c.usable, false);
    assert.equal(s.commands.at(-1), "QUIT");
  });

  it("pipelines MAIL, RCPTs and DATA when PIPELINING is offered", async () => {
    // The sink answers nothing until DATA has arrived: a client waiting for the MAIL reply would time out.
    const s = await sink({ holdRepliesUntilData: true });
    const c = await connect(s, { timeouts: { mail: 3000 } });
    const r = await c.send(tx(MESSAGE, { recipients: [{ address: "b@dst.test" }, { address: "c@dst.test" }] }));
    assert.ok(r.ok, r.ok ? "" : r.error);
    assert.deepEqual(codes(r.recipients), [250, 250]);
    assert.equal(r.data?.code, 250);
    assert.deepEqual(verbs(s), ["EHLO", "MAIL", "RCPT", "RCPT", "DATA"]);
    assert.ok(s.transactions[0].data.equals(MESSAGE));
  });

  it("waits for each reply when PIPELINING is not offered", async () => {
    const s = await sink({ extensions: DEFAULT_SINK_EXTENSIONS.filter((e) => e !== "PIPELINING") });
    const c = await connect(s);
    const r = await c.send(tx(MESSAGE, { recipients: [{ address: "b@dst.test" }, { address: "c@dst.test" }] }));
    assert.ok(r.ok);
    assert.equal(r.data?.code, 250);
    const at = (verb: string, n = 0) => s.received.filter((x) => x.line.startsWith(verb))[n].repliesBefore;
    assert.ok(at("MAIL") < at("RCPT", 0));
    assert.ok(at("RCPT", 0) < at("RCPT", 1));
    assert.ok(at("RCPT", 1) < at("DATA"));
    assert.equal(s.transactions.length, 1);
  });

  it("dot-stuffs: leading dots, a lone dot line, content not ending in CRLF", async () => {
    const s = await sink();
    const c = await connect(s);
    const body = Buffer.from("Subject: dots\r\n\r\n.one\r\n..two\r\n.\r\nmiddle\r\n.\r\n\r\n. \r\nend.");
    // Split at awkward places: between CR and LF, just before a dot.
    const cuts = [0, 17, 18, 23, 24, 25, 33, 34, body.length];
    const chunks = cuts.slice(1).map((end, i) => body.subarray(cuts[i], end));
    const r = await c.send(tx(chunks));
    assert.ok(r.ok && r.data?.code === 250);
    assert.ok(s.transactions[0].data.equals(Buffer.concat([body, Buffer.from("\r\n")])), "CRLF added before the final dot");

    const exact = Buffer.from(".\r\n..\r\n.x\r\n");
    const r2 = await c.send(tx(exact));
    assert.ok(r2.ok && r2.data?.code === 250);
    assert.ok(s.transactions[1].data.equals(exact));

    const empty = await c.send(tx([]));
    assert.ok(empty.ok && empty.data?.code === 250);
    assert.equal(s.transactions[2].data.length, 0);
  });

  it("delivers any content byte for byte however it is chunked (property, one connection)", async () => {
    const s = await sink();
    const c = await connect(s);
    const line = fc.stringMatching(/^[.a-z \r]{0,12}$/).map((l) => l.replace(/\r/g, " "));
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 12 }), fc.array(fc.nat(200), { maxLength: 5 }), async (lines, cutList) => {
        const body = Buffer.from(lines.join("\r\n") + (lines.length ? "\r\n" : ""));
        const cuts = [...new Set([0, ...cutList.map((n) => n % (body.length + 1)), body.length])].sort((a, b) => a - b);
        const chunks = cuts.slice(1).map((end, i) => body.subarray(cuts[i], end));
        const before = s.transactions.length;
        const r = await c.send(tx(chunks));
        assert.ok(r.ok && r.data?.code === 250);
        assert.ok(s.transactions[before].data.equals(body));
      }),
      { numRuns: 40 },
    );
    assert.equal(s.connections, 1);
  });

  it("sends several messages over one connection", async () => {
    const s = await sink();
    const c = await connect(s);
    for (let i = 0; i < 3; i++) {
      const r = await c.send(tx(Buffer.from(`Subject: ${i}\r\n\r\nbody ${i}\r\n`), { recipients: [{ address: `r${i}@dst.test` }] }));
      assert.ok(r.ok && r.data?.code === 250);
    }
    await s.waitFor(3);
    assert.equal(s.connections, 1);
    assert.deepEqual(s.transactions.map((t) => t.recipients[0].address), ["r0@dst.test", "r1@dst.test", "r2@dst.test"]);
    assert.equal(s.transactions[2].data.toString(), "Subject: 2\r\n\r\nbody 2\r\n");
  });

  for (const pipelining of [true, false]) {
    const extensions = pipelining ? DEFAULT_SINK_EXTENSIONS : DEFAULT_SINK_EXTENSIONS.filter((e) => e !== "PIPELINING");
    const mode = pipelining ? "pipelined" : "one by one";

    it(`gives one reply per recipient, in order (${mode})`, async () => {
      const s = await sink({
        extensions,
        onRcpt: (to) => (to.startsWith("unknown") ? "550 5.1.1 no such user" : to.startsWith("later") ? "451 4.3.0 try later" : undefined),
      });
      const c = await connect(s);
      const r = await c.send(tx(MESSAGE, { recipients: [{ address: "ok@dst.test" }, { address: "unknown@dst.test" }, { address: "later@dst.test" }, { address: "ok2@dst.test" }] }));
      assert.ok(r.ok);
      assert.deepEqual(codes(r.recipients), [250, 550, 451, 250]);
      assert.deepEqual(r.recipients.map((x) => x.enhanced), ["2.1.5", "5.1.1", "4.3.0", "2.1.5"]);
      assert.equal(r.recipients[1].text, "550 5.1.1 no such user");
      assert.equal(r.data?.code, 250);
      assert.deepEqual(s.transactions[0].recipients.map((x) => x.address), ["ok@dst.test", "ok2@dst.test"]);
    });

    it(`sends no content when every recipient is refused, and stays usable (${mode})`, async () => {
      const s = await sink({ extensions, onRcpt: (to) => (to.startsWith("nobody") ? "550 5.1.1 no such user" : undefined) });
      const c = await connect(s);
      const bad = tx(MESSAGE, { recipients: [{ address: "nobody@dst.test" }, { address: "nobody2@dst.test" }] });
      const r = await c.send(bad);
      assert.ok(r.ok);
      assert.deepEqual(codes(r.recipients), [550, 550]);
      assert.equal(r.data, undefined);
      assert.equal(bad.read, false, "content() not called");
      assert.ok(c.usable);
      assert.deepEqual(verbs(s), pipelining ? ["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "RSET"] : ["EHLO", "MAIL", "RCPT", "RCPT", "RSET"]);
      const good = await c.send(tx());
      assert.ok(good.ok && good.data?.code === 250);
      assert.equal(s.transactions.length, 1);
      assert.equal(s.connections, 1);
    });

    it(`does not send DATA content when MAIL is refused (${mode})`, async () => {
      const s = await sink({ extensions, onMail: (from) => (from === "spammer@src.test" ? "550 5.7.1 sender rejected" : undefined) });
      const c = await connect(s);
      const t = tx(MESSAGE, { sender: "spammer@src.test" });
      const r = await c.send(t);
      assert.ok(r.ok);
      assert.equal(r.mail.code, 550);
      assert.equal(r.mail.enhanced, "5.7.1");
      assert.deepEqual(r.recipients, []);
      assert.equal(r.data, undefined);
      assert.equal(t.read, false);
      assert.equal(s.commands.at(-1), "RSET");
      assert.ok(c.usable);
      const next = await c.send(tx());
      assert.ok(next.ok && next.data?.code === 250);
      assert.equal(s.transactions.length, 1);
    });
  }

  it("a 421 makes the connection unusable", async () => {
    const s = await sink({ onRcpt: (to) => (to.startsWith("second") ? "421 4.3.2 shutting down" : undefined) });
    const c = await connect(s);
    const r = await c.send(tx(MESSAGE, { recipients: [{ address: "first@dst.test" }, { address: "second@dst.test" }, { address: "third@dst.test" }] }));
    assert.ok(r.ok);
    assert.deepEqual(codes(r.recipients), [250, 421, 421]);
    assert.equal(c.usable, false);
    const again = await c.send(tx());
    assert.equal(again.ok, false);
    assert.equal(s.transactions.length, 0);
    await c.quit(); // never throws
  });

  it("a 421 to MAIL makes the connection unusable", async () => {
    const s = await sink({ onMail: () => "421 4.7.0 too busy" });
    const c = await connect(s);
    const r = await c.send(tx());
    assert.ok(r.ok);
    assert.equal(r.mail.code, 421);
    assert.equal(c.usable, false);
  });

  it("falls back to HELO when EHLO is refused", async () => {
    const s = await sink({ ehloReply: "502 5.5.1 no" });
    const c = await connect(s);
    assert.equal(c.extensions.size, 0);
    assert.deepEqual(verbs(s), ["EHLO", "HELO"]);
    const r = await c.send(tx(MESSAGE, { eightBit: true, ret: "FULL" }));
    assert.ok(r.ok && r.data?.code === 250);
    assert.equal(s.transactions[0].mailParams, "", "no ESMTP parameters after HELO");
    assert.equal(s.transactions[0].helo, "petrel.test");
  });

  it("refuses CR/LF in addresses without writing anything", async () => {
    const s = await sink();
    const c = await connect(s);
    const before = s.commands.length;
    const r = await c.send(tx(MESSAGE, { sender: "a@src.test>\r\nRCPT TO:<victim@x.test" }));
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.stage, "mail");
    const r2 = await c.send(tx(MESSAGE, { recipients: [{ address: "b@dst.test\r\nDATA" }] }));
    assert.equal(!r2.ok && r2.stage, "rcpt");
    assert.equal(s.commands.length, before);
    assert.ok(c.usable);
  });

  it("drops the connection when reading the content fails", async () => {
    const s = await sink();
    const c = await connect(s);
    const t = tx();
    t.content = async function* () {
      yield Buffer.from("Subject: half\r\n\r\n");
      throw new Error("blob vanished");
    };
    const r = await c.send(t);
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.stage === "data" && /blob vanished/.test(r.error));
    assert.equal(c.usable, false);
    assert.equal(s.transactions.length, 0);
  });

  it("streams a 5 MB message", async () => {
    const s = await sink();
    const c = await connect(s);
    const line = Buffer.from(".a line of text that starts with a dot and is fairly long, 0123456789 abcdefghij\r\n");
    const body = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < body.length; i += line.length) line.copy(body, i);
    body.write("\r\n", body.length - 2);
    const chunks: Buffer[] = [];
    for (let i = 0; i < body.length; i += 65536) chunks.push(body.subarray(i, i + 65536));
    const r = await c.send(tx(chunks));
    assert.ok(r.ok && r.data?.code === 250, JSON.stringify(r));
    assert.equal(s.transactions[0].data.length, body.length);
    assert.ok(s.transactions[0].data.equals(body));
    assert.ok(s.transactions[0].mailParams.includes(`SIZE=${body.length}`));
  });
});

describe("SMTP client: ESMTP parameters", () => {
  it("sends SIZE, BODY=8BITMIME, SMTPUTF8 and DSN parameters when offered", async () => {
    const s = await sink();
    const c = await connect(s);
    const r = await c.send(
      tx(MESSAGE, {
        sender: "",
        eightBit: true,
        smtputf8: true,
        ret: "HDRS",
        envid: "id+1=x",
        recipients: [
          { address: "b@dst.test", notify: "success,failure", orcpt: "rfc822;B+x=y@dst.test" },
          { address: "c@dst.test", notify: "NEVER" },
          { address: "d@dst.test" },
        ],
      }),
    );
    assert.ok(r.ok && r.data?.code === 250);
    const t = s.transactions[0];
    assert.equal(t.mailFrom, "");
    assert.equal(t.mailParams, `SIZE=${MESSAGE.length} BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1+3Dx`);
    assert.deepEqual(
      t.recipients.map((x) => x.params),
      ["NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;B+2Bx+3Dy@dst.test", "NOTIFY=NEVER", ""],
    );
  });

  it("leaves out what the server does not offer", async () => {
    const s = await sink({ extensions: ["PIPELINING", "ENHANCEDSTATUSCODES"] });
    const c = await connect(s);
    const r = await c.send(tx(MESSAGE, { eightBit: true, smtputf8: true, ret: "FULL", envid: "x", recipients: [{ address: "b@dst.test", notify: "NEVER", orcpt: "rfc822;b@dst.test" }] }));
    assert.ok(r.ok && r.data?.code === 250);
    assert.equal(s.transactions[0].mailParams, "");
    assert.equal(s.transactions[0].recipients[0].params, "");
  });
});

describe("SMTP client: TLS and AUTH", () => {
  it("opportunistic STARTTLS: unverified, EHLO again, records the TLS version", async () => {
    const s = await sink({ tls: { key, cert } });
    const c = await connect(s, { tls: "opportunistic" });
    assert.ok(c.tls);
    assert.match(c.tls.version, /^TLSv1\.[23]$/);
    assert.ok(c.tls.cipher.length > 0);
    assert.equal(c.tls.verified, false);
    assert.equal(c.extensions.has("STARTTLS"), false, "the extension list is the one given after TLS");
    assert.deepEqual(verbs(s), ["EHLO", "STARTTLS", "EHLO"]);
    const r = await c.send(tx());
    assert.ok(r.ok && r.data?.code === 250);
    assert.equal(s.transactions[0].tls, true);
  });

  it("discards what the server sent before the TLS handshake", async () => {
    // A man in the middle appends a fake EHLO answer to the plaintext 220 (CVE-2011-0411 class).
    const s = await sink({ tls: { key, cert }, starttlsReply: "220 2.0.0 go ahead\r\n250 fake.injected" });
    const c = await connect(s, { tls: "opportunistic" });
    assert.ok(c.tls);
    assert.ok(c.extensions.has("PIPELINING"), "extensions come from the EHLO answer after TLS");
    const r = await c.send(tx());
    assert.ok(r.ok && r.data?.code === 250);
  });

  it("a refused STARTTLS: opportunistic goes on in plaintext, required fails", async () => {
    const s = await sink({ tls: { key, cert }, starttlsReply: "454 4.7.0 TLS not available" });
    const c = await connect(s, { tls: "opportunistic" });
    assert.equal(c.tls, undefined);
    const r = await c.send(tx());
    assert.ok(r.ok && r.data?.code === 250);
    const req = await connectSmtp(options(s, { tls: "required", ca: cert }));
    assert.ok(!req.ok && req.stage === "starttls");
    assert.equal(!req.ok && req.reply?.code, 454);
  });

  it("opportunistic without STARTTLS offered stays plaintext", async () => {
    const s = await sink();
    const c = await connect(s, { tls: "opportunistic" });
    assert.equal(c.tls, undefined);
  });

  it("required TLS verifies the certificate against the given CA", async () => {
    const s = await sink({ tls: { key, cert } });
    const c = await connect(s, { tls: "required", ca: cert });
    assert.equal(c.tls?.verified, true);
    const r = await c.send(tx());
    assert.ok(r.ok && r.data?.code === 250);
  });

  it("required TLS fails at starttls without the CA, with the wrong name, or when not offered", async () => {
    const s = await sink({ tls: { key, cert } });
    const r = await connectSmtp(options(s, { tls: "required" }));
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.stage === "starttls", JSON.stringify(r));
    assert.match(!r.ok ? r.error : "", /certificate/i);

    const wrongName = await connectSmtp(options(s, { tls: "required", ca: cert, host: "other.sink.test" }));
    assert.ok(!wrongName.ok && wrongName.stage === "starttls", JSON.stringify(wrongName));

    const plain = await sink();
    const r2 = await connectSmtp(options(plain, { tls: "required", ca: cert }));
    assert.ok(!r2.ok && r2.stage === "starttls" && /STARTTLS/.test(r2.error));
    assert.equal(plain.commands.at(-1), "QUIT");
  });

  it("implicit TLS from the first byte", async () => {
    const s = await sink({ tls: { key, cert }, implicitTls: true });
    const c = await connect(s, { tls: "implicit", ca: cert });
    assert.equal(c.tls?.verified, true);
    assert.equal(c.extensions.has("STARTTLS"), false);
    assert.deepEqual(verbs(s), ["EHLO"]);
    const r = await c.send(tx());
    assert.ok(r.ok && r.data?.code === 250);
    assert.equal(s.transactions[0].tls, true);
  });

  it("AUTH PLAIN after STARTTLS", async () => {
    const s = await sink({ tls: { key, cert }, auth: { username: "relay", password: "s3cret" } });
    const c = await connect(s, { tls: "opportunistic", auth: { username: "relay", password: "s3cret" } });
    const r = await c.send(tx());
    assert.ok(r.ok && r.data?.code === 250);
    assert.equal(s.transactions[0].auth, "relay");
    assert.ok(s.commands.some((x) => x.startsWith("AUTH PLAIN ")));
  });

  it("AUTH LOGIN when only LOGIN is offered", async () => {
    const s = await sink({ tls: { key, cert }, auth: { username: "relay", password: "s3cret" }, extensions: [...DEFAULT_SINK_EXTENSIONS, "AUTH LOGIN"] });
    const c = await connect(s, { tls: "opportunistic", auth: { username: "relay", password: "s3cret" } });
    const r = await c.send(tx());
    assert.ok(r.ok && r.data?.code === 250);
    assert.equal(s.transactions[0].auth, "relay");
    assert.ok(s.commands.includes("AUTH LOGIN"));
  });

  it("a wrong password fails at stage auth with the reply", async () => {
    const s = await sink({ tls: { key, cert }, auth: { username: "relay", password: "s3cret" } });
    const r = await connectSmtp(options(s, { tls: "opportunistic", auth: { username: "relay", password: "wrong" } }));
    assert.ok(!r.ok && r.stage === "auth");
    assert.equal(!r.ok && r.reply?.code, 535);
    assert.equal(s.commands.at(-1), "QUIT");
  });

  it("never sends credentials without TLS", async () => {
    const s = await sink({ auth: { username: "relay", password: "s3cret" } });
    const r = await connectSmtp(options(s, { tls: "opportunistic", auth: { username: "relay", password: "s3cret" } }));
    assert.ok(!r.ok && r.stage === "auth" && /TLS/.test(r.error));
    assert.ok(!s.commands.some((x) => x.toUpperCase().startsWith("AUTH")));
  });
});

describe("SMTP client: failures", () => {
  it("a 554 greeting fails at stage greeting, after QUIT", async () => {
    const s = await sink({ greeting: "554 5.7.1 go away" });
    const r = await connectSmtp(options(s));
    assert.ok(!r.ok && r.stage === "greeting");
    assert.equal(!r.ok && r.reply?.code, 554);
    assert.deepEqual(s.commands, ["QUIT"]);
  });

  it("a refused connection fails at stage connect", async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const r = await connectSmtp({ host: MX, address: "127.0.0.1", port, helo: "petrel.test", tls: "none" });
    assert.ok(!r.ok && r.stage === "connect");
    assert.equal(!r.ok && r.error, `connect to ${MX}[127.0.0.1]:${port}: ECONNREFUSED`);
  });

  it("a silent server times out at stage greeting", async () => {
    const s = await sink({ hangAt: "greeting" });
    const r = await connectSmtp(options(s, { timeouts: { greeting: 200 } }));
    assert.ok(!r.ok && r.stage === "greeting");
    assert.match(!r.ok ? r.error : "", /^timeout after 200 ms waiting for greeting/);
  });

  it("a server silent after MAIL times out at stage mail", async () => {
    const s = await sink({ hangAt: "mail" });
    const c = await connect(s, { timeouts: { mail: 200 } });
    const r = await c.send(tx());
    assert.ok(!r.ok && r.stage === "mail" && /^timeout/.test(r.error));
    assert.equal(c.usable, false);
  });

  it("a server silent after the final dot times out at stage dataEnd", async () => {
    const s = await sink({ hangAt: "data-end" });
    const c = await connect(s, { timeouts: { dataEnd: 200 } });
    const r = await c.send(tx());
    assert.ok(!r.ok && r.stage === "dataEnd" && /^timeout/.test(r.error));
    assert.equal(c.usable, false);
    assert.equal(!r.ok && r.replies?.recipients?.[0].code, 250);
  });

  it("only loopback sinks", async () => {
    await assert.rejects(startSink({ host: "0.0.0.0" }));
  });
});

describe("SMTP reply parser", () => {
  const parse = (...chunks: string[]) => {
    const p = new ReplyParser({ maxLines: 5, maxReplyOctets: 200, maxLineOctets: 100 });
    for (const c of chunks) p.push(Buffer.from(c));
    const replies = [];
    for (let r = p.shift(); r; r = p.shift()) replies.push(r);
    return { replies, error: p.error, midReply: p.midReply };
  };

  it("joins multi-line replies, split anywhere", () => {
    const { replies } = parse("250-mx.test hi\r", "\n250-PIPE", "LINING\r\n250 SIZE 10\r\n", "550 5.1.1 no\r\n");
    assert.equal(replies.length, 2);
    assert.deepEqual(replies[0].lines, ["mx.test hi", "PIPELINING", "SIZE 10"]);
    assert.equal(replies[1].text, "550 5.1.1 no");
    assert.equal(replies[1].enhanced, "5.1.1");
  });

  it("takes the enhanced code only when its class matches", () => {
    assert.equal(makeReply(550, ["2.1.0 odd"]).enhanced, undefined);
    assert.equal(makeReply(451, ["4.3.0"]).enhanced, "4.3.0");
    assert.equal(makeReply(250, ["2.1.0x"]).enhanced, undefined);
    assert.equal(makeReply(250, []).text, "");
    assert.equal(parse("250\r\n").replies[0].text, "250");
  });

  it("bounds lines, line count and size", () => {
    assert.match(parse("250-a\r\n".repeat(6)).error ?? "", /lines/);
    assert.match(parse("250 " + "x".repeat(200)).error ?? "", /octets/);
    assert.match(parse(`250-${"x".repeat(90)}\r\n`.repeat(3)).error ?? "", /octets/);
    assert.match(parse("hello\r\n").error ?? "", /malformed/);
    assert.equal(parse("250-partial").midReply, true);
  });
});
