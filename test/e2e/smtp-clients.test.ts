// SMTP reception end to end with clients nobody here wrote: Python's smtplib
// (plain, STARTTLS, several recipients incl. an alias, relay from inside and
// outside relay.networks), swaks (STARTTLS, PIPELINING), curl (smtp:// with
// and without --ssl-reqd) and the raw byte-level client (pipelined whole
// transactions; the replies of RFC 5321 for wrong, early or odd commands).
// Every check reads the stored bytes back from the data dir (SQLite row +
// blob file) or the reply codes the client saw.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startPetrel, type LogEntry, type PetrelServer } from "../helpers/petrel.js";
import { run } from "../helpers/run.js";
import { stored, type Stored } from "../helpers/stored.js";
import { connect, type SmtpClient } from "../helpers/smtp-client.js";

// ------------------------------------------------------------ helpers






/** The one copy of `qid` in the INBOX of `address`, once the delivery log line is there. */
async function deliveredOnce(server: PetrelServer, address: string, qid: string): Promise<Stored> {
  await server.waitForLog((e) => e.msg === "delivered" && e.qid === qid && e.to === address, 15_000);
  const copies = stored(server, address, qid);
  assert.equal(copies.length, 1, `${address} should hold exactly one copy of ${qid}`);
  assert.equal(copies[0].size, Buffer.byteLength(copies[0].prefix) + copies[0].body.length);
  return copies[0];
}

function queuedId(text: string): string {
  const m = /250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)/.exec(text);
  assert.ok(m, `no "250 ... queued as" in:\n${text}`);
  return m[1];
}

/** The Received header of a prefix, unfolded. */
function receivedOf(prefix: string): string {
  const m = /^Received: .*(?:\r\n[ \t].*)*/m.exec(prefix);
  assert.ok(m, `no Received header in ${JSON.stringify(prefix)}`);
  return m[0].replace(/\r\n[ \t]+/g, " ");
}

const PY_CLIENT = String.raw`
import base64, json, smtplib, ssl, sys
a = json.loads(sys.argv[1])
d = lambda r: [r[0], r[1].decode("utf-8", "replace")]
out = {}
src = (a["source"], 0) if a.get("source") else None
s = smtplib.SMTP(a["host"], a["port"], local_hostname=a["helo"], timeout=20, source_address=src)
out["ehlo"] = d(s.ehlo())
out["features"] = sorted(s.esmtp_features.keys())
if a.get("starttls"):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    out["starttls"] = d(s.starttls(context=ctx))
    out["tls"] = [s.sock.version(), s.sock.cipher()[0]]
    out["ehlo_tls"] = d(s.ehlo())
    out["features_tls"] = sorted(s.esmtp_features.keys())
out["mail"] = d(s.mail(a["from"]))
out["rcpt"] = [d(s.rcpt(r)) for r in a["to"]]
if a.get("data") is not None and any(r[0] == 250 for r in out["rcpt"]):
    out["data"] = d(s.data(base64.b64decode(a["data"])))
else:
    out["rset"] = d(s.rset())
s.quit()
print(json.dumps(out))
`;

interface PyResult {
  ehlo: [number, string];
  features: string[];
  starttls?: [number, string];
  tls?: [string, string];
  features_tls?: string[];
  mail: [number, string];
  rcpt: [number, string][];
  data?: [number, string];
  rset?: [number, string];
}

async function smtplib(server: PetrelServer, args: { from: string; to: string[]; data?: Buffer; starttls?: boolean; source?: string; helo?: string }): Promise<PyResult> {
  const { host, port } = server.listeners.smtp;
  const input = JSON.stringify({ host, port, helo: args.helo ?? "py.test", from: args.from, to: args.to, data: args.data?.toString("base64"), starttls: args.starttls, source: args.source });
  const r = await run("python3", ["-c", PY_CLIENT, input]);
  assert.equal(r.code, 0, `python smtplib failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as PyResult;
}

/** Reads n replies and returns their first lines' "code enhanced" heads, e.g. "250 2.1.0". */
async function replies(c: SmtpClient, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await c.read());
  return out;
}

async function ehlo(server: PetrelServer, name = "raw.test"): Promise<SmtpClient> {
  const c = await connect(server.listeners.smtp.host, server.listeners.smtp.port);
  assert.match(await c.read(), /^220 mx\.test /);
  await c.send(`EHLO ${name}`);
  assert.match(await c.read(), /^250-mx\.test\r\n/);
  return c;
}

const msg = (subject: string, body = "hello\r\n") =>
  Buffer.from(`From: sender@outside.test\r\nTo: alice@example.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, "")}@outside.test>\r\n\r\n${body}`);

// ------------------------------------------------------------ set-up

let server: PetrelServer;
let tmp: string;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "petrel-clients-"));
  // Only 127.0.0.5 may relay, so 127.0.0.1 and 127.0.0.2 are "the world".
  server = await startPetrel({ extraToml: `[relay]\nnetworks = ["127.0.0.5/32"]\n` });
  const ok = async (args: string[], stdin?: string) => {
    const r = await server.cli(args, stdin);
    assert.equal(r.code, 0, `petrel ${args.join(" ")}: ${r.stderr}`);
  };
  await ok(["domain", "add", "example.test"]);
  for (const user of ["alice", "bob"]) await ok(["user", "add", `${user}@example.test`, "--password-stdin"], `secret-${user}-pw\n`);
  await ok(["alias", "add", "team@example.test", "alice@example.test", "bob@example.test"]);
});

after(async () => {
  await server?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// ------------------------------------------------------------ Python smtplib

describe("python smtplib", () => {
  test("plain: EHLO features, MAIL/RCPT/DATA, stored byte for byte (leading dot unstuffed)", async () => {
    const data = msg("py plain", ".leading dot survives\r\nsecond line\r\n");
    const r = await smtplib(server, { from: "sender@outside.test", to: ["alice@example.test"], data });
    assert.equal(r.ehlo[0], 250);
    for (const ext of ["pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes", "starttls"]) assert.ok(r.features.includes(ext), `EHLO lacks ${ext}: ${r.features}`);
    assert.deepEqual(r.mail, [250, "2.1.0 Ok"]);
    assert.deepEqual(r.rcpt, [[250, "2.1.5 Ok"]]);
    assert.equal(r.data?.[0], 250);
    const qid = queuedId(`250 ${r.data![1]}`);
    const m = await deliveredOnce(server, "alice@example.test", qid);
    assert.deepEqual(m.body, data);
    assert.match(m.prefix, /^Return-Path: <sender@outside\.test>\r\nDelivered-To: alice@example\.test\r\nReceived: /);
    const received = receivedOf(m.prefix);
    assert.match(received, /^Received: from py\.test \((?:\S+ )?\[127\.0\.0\.1\]\) by mx\.test \(Petrel\) with ESMTP id /);
    assert.ok(received.includes(`id ${qid} for <alice@example.test>;`), received);
  });

  test("starttls(): the session restarts, STARTTLS is no longer offered, Received says ESMTPS with the negotiated TLS", async () => {
    const data = msg("py tls");
    const r = await smtplib(server, { from: "sender@outside.test", to: ["alice@example.test"], data, starttls: true });
    assert.ok(r.features.includes("starttls"));
    assert.equal(r.starttls?.[0], 220);
    assert.ok(r.features_tls && !r.features_tls.includes("starttls"), `STARTTLS offered again after TLS: ${r.features_tls}`);
    const [version, cipher] = r.tls!;
    assert.match(version, /^TLSv1\.[23]$/);
    assert.equal(r.data?.[0], 250);
    const qid = queuedId(`250 ${r.data![1]}`);
    const m = await deliveredOnce(server, "alice@example.test", qid);
    assert.deepEqual(m.body, data);
    const received = receivedOf(m.prefix);
    assert.match(received, / with ESMTPS /);
    assert.ok(received.includes(`(version=${version} cipher=${cipher})`), `Received should name ${version} ${cipher}: ${received}`);
  });

  test("several recipients incl. an alias that expands to a user already listed: one copy per mailbox", async () => {
    const data = msg("py many");
    const r = await smtplib(server, { from: "sender@outside.test", to: ["alice@example.test", "team@example.test", "bob@example.test", "BOB@Example.Test"], data });
    assert.deepEqual(r.rcpt.map((x) => x[0]), [250, 250, 250, 250]);
    assert.equal(r.data?.[0], 250);
    const qid = queuedId(`250 ${r.data![1]}`);
    const queued = await server.waitForLog((e) => e.msg === "queued" && e.qid === qid);
    assert.equal(queued.nrcpt, 2, "the queue should hold one recipient per final mailbox");
    const a = await deliveredOnce(server, "alice@example.test", qid);
    const b = await deliveredOnce(server, "bob@example.test", qid);
    assert.deepEqual(a.body, data);
    assert.deepEqual(b.body, data);
    assert.match(a.prefix, /^Return-Path: <sender@outside\.test>\r\nDelivered-To: alice@example\.test\r\n/);
    assert.match(b.prefix, /^Return-Path: <sender@outside\.test>\r\nDelivered-To: bob@example\.test\r\n/);
    assert.doesNotMatch(receivedOf(a.prefix), / for </, "no 'for' clause with several recipients");
    assert.equal(server.entries.filter((e) => e.msg === "delivered" && e.qid === qid).length, 2);
  });

  test("relay: another domain from 127.0.0.2 (outside relay.networks) → 554 5.7.1; local users still accepted", async () => {
    const r = await smtplib(server, { source: "127.0.0.2", from: "someone@outside.test", to: ["victim@elsewhere.test", "alice@example.test"] });
    assert.equal(r.mail[0], 250);
    assert.equal(r.rcpt[0][0], 554);
    assert.match(r.rcpt[0][1], /^5\.7\.1 /);
    assert.deepEqual(r.rcpt[1], [250, "2.1.5 Ok"]);
    await server.waitForLog((e) => e.msg === "recipient rejected" && e.to === "victim@elsewhere.test" && e.client === "127.0.0.2" && e.reply === 554);
  });

  test("relay: the same from 127.0.0.5 (inside relay.networks) → 250", async () => {
    const r = await smtplib(server, { source: "127.0.0.5", from: "someone@outside.test", to: ["victim@elsewhere.test"] });
    assert.deepEqual(r.rcpt, [[250, "2.1.5 Ok"]]);
    assert.deepEqual(r.rset, [250, "2.0.0 Ok"]);
  });
});

// ------------------------------------------------------------ swaks

describe("swaks", () => {
  const swaks = (args: string[]) => {
    const { host, port } = server.listeners.smtp;
    return run("swaks", ["--server", host, "--port", String(port), "--helo", "swaks.test", "--timeout", "20", ...args]);
  };

  test("--tls (STARTTLS): stored with Return-Path, Delivered-To and an ESMTPS Received naming TLS version, cipher and queue id", async () => {
    // swaks ends the data with CRLF "." CRLF itself, so the text is given without its last line end.
    const data = "Subject: swaks tls\r\nFrom: sender@outside.test\r\n\r\nover TLS\r\n";
    const r = await swaks(["--tls", "--from", "sender@outside.test", "--to", "alice@example.test", "--data", data.slice(0, -2)]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const tls = /=== TLS started with cipher (TLSv[\d.]+):([A-Z0-9_-]+):/.exec(r.stdout);
    assert.ok(tls, r.stdout);
    const qid = queuedId(r.stdout);
    const m = await deliveredOnce(server, "alice@example.test", qid);
    assert.equal(m.body.toString(), data);
    assert.match(m.prefix, /^Return-Path: <sender@outside\.test>\r\nDelivered-To: alice@example\.test\r\nReceived: /);
    const received = receivedOf(m.prefix);
    assert.match(received, /^Received: from swaks\.test \((?:\S+ )?\[127\.0\.0\.1\]\) by mx\.test \(Petrel\) with ESMTPS \(version=TLSv[\d.]+ cipher=\S+\) id /);
    assert.ok(received.includes(`(version=${tls[1]} cipher=${tls[2]})`), `${received} vs swaks ${tls[0]}`);
    assert.ok(received.includes(`id ${qid} for <alice@example.test>;`), received);
    // The date of the Received line is an RFC 5322 date.
    assert.match(received, /; (?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$/);
  });

  test("--pipeline: MAIL, RCPTs and DATA in one go; the replies come back in order (250, 550, 250, 354)", async () => {
    const data = "Subject: swaks pipeline\r\n\r\npipelined\r\n";
    const r = await swaks(["--pipeline", "--from", "sender@outside.test", "--to", "alice@example.test,nobody@example.test,bob@example.test", "--data", data.slice(0, -2)]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // swaks writes its pipelined commands first, then reads the replies.
    const lines = r.stdout.split("\n");
    const sent = lines.findIndex((l) => l.startsWith(" -> MAIL FROM:"));
    assert.deepEqual(lines.slice(sent, sent + 5).map((l) => l.trim()), [
      "-> MAIL FROM:<sender@outside.test>",
      "-> RCPT TO:<alice@example.test>",
      "-> RCPT TO:<nobody@example.test>",
      "-> RCPT TO:<bob@example.test>",
      "-> DATA",
    ]);
    const got = lines.slice(sent + 5, sent + 10).map((l) => l.replace(/^<\*?\*?-?\s+/, "").slice(0, 9));
    assert.deepEqual(got, ["250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5", "354 End d"]);
    const qid = queuedId(r.stdout);
    assert.equal((await deliveredOnce(server, "alice@example.test", qid)).body.toString(), data);
    assert.equal((await deliveredOnce(server, "bob@example.test", qid)).body.toString(), data);
  });
});

// ------------------------------------------------------------ curl

describe("curl smtp://", () => {
  const curl = (file: string, extra: string[]) => {
    const { host, port } = server.listeners.smtp;
    return run("curl", ["-sS", "-v", "--max-time", "20", "--url", `smtp://${host}:${port}/curl.test`, "--mail-from", "sender@outside.test", "--mail-rcpt", "alice@example.test", "--upload-file", file, ...extra]);
  };

  test("plain upload: stored exactly (curl dot-stuffs, the server unstuffs)", async () => {
    const data = msg("curl plain", "a line\r\n.starts with a dot\r\n..two dots\r\nend\r\n");
    const file = path.join(tmp, "curl-plain.eml");
    fs.writeFileSync(file, data);
    const r = await curl(file, []);
    assert.equal(r.code, 0, r.stderr);
    const qid = queuedId(r.stderr);
    const m = await deliveredOnce(server, "alice@example.test", qid);
    assert.deepEqual(m.body, data);
    assert.match(receivedOf(m.prefix), /^Received: from curl\.test \((?:\S+ )?\[127\.0\.0\.1\]\) by mx\.test \(Petrel\) with ESMTP id /);
  });

  test("--ssl-reqd -k: STARTTLS, then the message; Received says ESMTPS", async () => {
    const data = msg("curl tls");
    const file = path.join(tmp, "curl-tls.eml");
    fs.writeFileSync(file, data);
    const r = await curl(file, ["--ssl-reqd", "-k"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^> STARTTLS\r?$/m);
    assert.match(r.stderr, /^< 220 2\.0\.0 /m);
    const qid = queuedId(r.stderr);
    const m = await deliveredOnce(server, "alice@example.test", qid);
    assert.deepEqual(m.body, data);
    assert.match(receivedOf(m.prefix), / with ESMTPS \(version=TLSv1\.[23] cipher=\S+\) id /);
  });
});

// ------------------------------------------------------------ raw: pipelining and replies

describe("raw client", () => {
  test("three whole transactions, NOOP and QUIT in one write: every reply correct and in order", async () => {
    const c = await ehlo(server, "pipe.test");
    const bodies = [1, 2, 3].map((n) => msg(`pipelined ${n}`, `message number ${n}\r\n`));
    const script = bodies.map((b, i) => `MAIL FROM:<p${i}@outside.test>\r\nRCPT TO:<${i === 1 ? "bob" : "alice"}@example.test>\r\nDATA\r\n${b.toString()}.\r\n`).join("") + "NOOP\r\nQUIT\r\n";
    await c.write(script);
    const got = await replies(c, 3 * 4 + 2);
    const heads = got.map((r) => r.slice(0, 9));
    assert.deepEqual(heads, [
      ...[0, 1, 2].flatMap(() => ["250 2.1.0", "250 2.1.5", "354 End d", "250 2.0.0"]),
      "250 2.0.0",
      "221 2.0.0",
    ]);
    await c.closed();
    const qids = [3, 7, 11].map((i) => queuedId(got[i]));
    assert.equal(new Set(qids).size, 3, "three distinct queue ids");
    for (const [i, qid] of qids.entries()) {
      const m = await deliveredOnce(server, i === 1 ? "bob@example.test" : "alice@example.test", qid);
      assert.deepEqual(m.body, bodies[i]);
      assert.match(m.prefix, new RegExp(`^Return-Path: <p${i}@outside\\.test>\r\n`));
    }
  });

  test("pipelined group with a refused recipient: 250, 550, 250, 354 and only the good recipient gets it", async () => {
    const c = await ehlo(server);
    const body = msg("pipelined partial");
    await c.write(`MAIL FROM:<sender@outside.test>\r\nRCPT TO:<ghost@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n`);
    const got = await replies(c, 4);
    assert.deepEqual(got.map((r) => r.slice(0, 9)), ["250 2.1.0", "550 5.1.1", "250 2.1.5", "354 End d"]);
    assert.match(got[1], /ghost@example\.test/);
    await c.write(Buffer.concat([body, Buffer.from(".\r\nQUIT\r\n")]));
    const [done, bye] = await replies(c, 2);
    assert.match(bye, /^221 /);
    const qid = queuedId(done);
    assert.deepEqual((await deliveredOnce(server, "bob@example.test", qid)).body, body);
    const queued = await server.waitForLog((e) => e.msg === "queued" && e.qid === qid);
    assert.equal(queued.nrcpt, 1);
    c.close();
  });

  test("unknown local user → 550 5.1.1; relay to another domain from 127.0.0.1 (not in relay.networks) → 554 5.7.1", async () => {
    const c = await ehlo(server);
    await c.send("MAIL FROM:<sender@outside.test>");
    assert.match(await c.read(), /^250 2\.1\.0 /);
    await c.send("RCPT TO:<nobody@example.test>");
    assert.match(await c.read(), /^550 5\.1\.1 <nobody@example\.test>/);
    await c.send("RCPT TO:<someone@elsewhere.test>");
    assert.match(await c.read(), /^554 5\.7\.1 <someone@elsewhere\.test>/);
    // Routing tricks do not turn a remote address local or the other way round.
    await c.send("RCPT TO:<someone%elsewhere.test@example.test>");
    assert.match(await c.read(), /^550 5\.1\.1 /);
    await c.send("RCPT TO:<@example.test:someone@elsewhere.test>");
    assert.match(await c.read(), /^554 5\.7\.1 /);
    await c.send("RCPT TO:<someone@[127.0.0.1]>");
    assert.match(await c.read(), /^554 5\.7\.1 /);
    await c.send('RCPT TO:<"someone@elsewhere.test"@example.test>');
    assert.match(await c.read(), /^550 5\.1\.1 /);
    await c.send("DATA");
    assert.match(await c.read(), /^554 5\.5\.1 /, "DATA with no valid recipient");
    c.close();
  });

  test("order of commands: MAIL before EHLO → 503, RCPT before MAIL → 503, DATA before MAIL → 503, nested MAIL → 503", async () => {
    const c = await connect(server.listeners.smtp.host, server.listeners.smtp.port);
    assert.match(await c.read(), /^220 /);
    await c.send("MAIL FROM:<sender@outside.test>");
    assert.match(await c.read(), /^503 5\.5\.1 /);
    await c.send("EHLO order.test");
    assert.match(await c.read(), /^250-mx\.test/);
    await c.send("RCPT TO:<alice@example.test>");
    assert.match(await c.read(), /^503 5\.5\.1 /);
    await c.send("DATA");
    assert.match(await c.read(), /^503 5\.5\.1 /);
    await c.send("MAIL FROM:<sender@outside.test>");
    assert.match(await c.read(), /^250 2\.1\.0 /);
    await c.send("MAIL FROM:<other@outside.test>");
    assert.match(await c.read(), /^503 5\.5\.1 /);
    c.close();
  });

  test("HELP → 214, VRFY → 252 (neither yes nor no), NOOP → 250, unknown command → 502, QUIT → 221 and close", async () => {
    const c = await ehlo(server);
    await c.send("HELP");
    assert.match(await c.read(), /^214[- ]2\.0\.0 /);
    await c.send("VRFY alice@example.test");
    const known = await c.read();
    assert.match(known, /^252 /);
    await c.send("VRFY nobody@example.test");
    assert.equal((await c.read()).slice(0, 4), known.slice(0, 4), "VRFY must not tell users from non-users");
    await c.send("NOOP");
    assert.match(await c.read(), /^250 2\.0\.0 /);
    await c.send("FROB something");
    assert.match(await c.read(), /^502 5\.5\.[12] /);
    await c.send("QUIT");
    assert.match(await c.read(), /^221 2\.0\.0 /);
    await c.closed();
  });

  test("RSET forgets the transaction; NOOP inside a transaction keeps it", async () => {
    const c = await ehlo(server);
    await c.write("MAIL FROM:<sender@outside.test>\r\nRCPT TO:<alice@example.test>\r\nNOOP\r\nRSET\r\nDATA\r\n");
    const got = await replies(c, 5);
    assert.deepEqual(got.map((r) => r.slice(0, 9)), ["250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.0.0", "503 5.5.1"]);
    // A new transaction after RSET works normally.
    await c.write("MAIL FROM:<sender@outside.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
    assert.deepEqual((await replies(c, 3)).map((r) => r.slice(0, 3)), ["250", "250", "354"]);
    const body = msg("after rset");
    await c.write(Buffer.concat([body, Buffer.from(".\r\n")]));
    const qid = queuedId(await c.read());
    assert.deepEqual((await deliveredOnce(server, "alice@example.test", qid)).body, body);
    c.close();
  });

  test("bad address syntax → 501; the session goes on", async () => {
    const c = await ehlo(server);
    for (const bad of ["MAIL FROM:<sender@@outside.test>", "MAIL FROM:<sender@outside.test", "MAIL FROM:<a b@outside.test>", "MAIL FROM:<sender@-bad-.test>"]) {
      await c.send(bad);
      assert.match(await c.read(), /^501 5\.(?:1\.7|5\.4) /, bad);
    }
    await c.send("MAIL FROM:<sender@outside.test>");
    assert.match(await c.read(), /^250 /);
    for (const bad of ["RCPT TO:<alice@example..test>", "RCPT TO:<>", "RCPT TO:alice@example.test>"]) {
      await c.send(bad);
      assert.match(await c.read(), /^501 5\.(?:1\.3|5\.4) /, bad);
    }
    await c.send("RCPT TO:<alice@example.test>");
    assert.match(await c.read(), /^250 2\.1\.5 /);
    c.close();
  });

  test('"RCPT TO:<postmaster>" without a domain is accepted and delivered (RFC 5321 §4.1.1.3)', async () => {
    const c = await ehlo(server);
    const body = msg("to bare postmaster");
    await c.write("MAIL FROM:<sender@outside.test>\r\nRCPT TO:<Postmaster>\r\nDATA\r\n");
    assert.deepEqual((await replies(c, 3)).map((r) => r.slice(0, 9)), ["250 2.1.0", "250 2.1.5", "354 End d"]);
    await c.write(Buffer.concat([body, Buffer.from(".\r\n")]));
    const qid = queuedId(await c.read());
    const delivered: LogEntry = await server.waitForLog((e) => e.msg === "delivered" && e.qid === qid, 15_000);
    assert.equal(delivered.to, "postmaster@example.test");
    const owner = String(delivered.mailbox).split("/")[0];
    const m = stored(server, owner, qid);
    assert.equal(m.length, 1);
    assert.deepEqual(m[0].body, body);
    assert.match(m[0].prefix, /^Return-Path: <sender@outside\.test>\r\nDelivered-To: postmaster@example\.test\r\n/);
    c.close();
  });
});
