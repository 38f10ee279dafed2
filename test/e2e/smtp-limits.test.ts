// SMTP limits and the DATA phase against a live `petrel serve`: message size
// (SIZE= refused at MAIL, no SIZE refused after the data while memory stays
// flat, a 20 MB message stored byte for byte), max_recipients, the command
// line limit, max_received_headers (loops), SMTP smuggling with bare LF,
// dot-stuffing, 8BITMIME and SMTPUTF8, and input pipelined after STARTTLS.
// The limits that end sessions (max_errors, timeouts, connections per
// client) are in smtp-limits-session.test.ts.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import { startPetrel, type PetrelServer } from "../helpers/petrel.js";
import { findBlob, stored, type Stored } from "../helpers/stored.js";
import { connect, type SmtpClient } from "../helpers/smtp-client.js";

const MAX_SIZE = 25 * 1024 * 1024; // "25M"
const MB = 1024 * 1024;

// ------------------------------------------------------------ helpers




/** The one copy of `qid` in the INBOX of `address`, once it was delivered (to `address`, or `to` when an alias or sub-address led there). */
async function deliveredOnce(server: PetrelServer, address: string, qid: string, to = address): Promise<Stored> {
  await server.waitForLog((e) => e.msg === "delivered" && e.qid === qid && e.to === to, 20_000);
  const copies = stored(server, address, qid);
  assert.equal(copies.length, 1, `${address} should hold exactly one copy of ${qid}`);
  assert.equal(copies[0].size, Buffer.byteLength(copies[0].prefix) + copies[0].body.length);
  return copies[0];
}

function queuedId(text: string): string {
  const m = /^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)/.exec(text);
  assert.ok(m, `expected "250 2.0.0 Ok: queued as ...", got ${JSON.stringify(text)}`);
  return m[1];
}

async function replies(c: SmtpClient, n: number, timeoutMs?: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await c.read(timeoutMs));
  return out;
}

const heads = (rs: string[]) => rs.map((r) => r.slice(0, 9));

async function ehlo(server: PetrelServer, name = "limits.test"): Promise<SmtpClient> {
  const c = await connect(server.listeners.smtp.host, server.listeners.smtp.port);
  assert.match(await c.read(), /^220 mx\.test /);
  await c.send(`EHLO ${name}`);
  assert.match(await c.read(), /^250-mx\.test\r\n/);
  return c;
}

/** MAIL + RCPT(s) + DATA pipelined; asserts 250s and the 354. */
async function begin(c: SmtpClient, from: string, to: string[], mailParams = ""): Promise<void> {
  await c.write(`MAIL FROM:<${from}>${mailParams}\r\n${to.map((t) => `RCPT TO:<${t}>\r\n`).join("")}DATA\r\n`);
  const got = await replies(c, 2 + to.length);
  assert.deepEqual(heads(got), ["250 2.1.0", ...to.map(() => "250 2.1.5"), "354 End d"], got.join("\n"));
}

/** Sends a body (already dot-stuffed) and the final dot; returns the queue id. */
async function finish(c: SmtpClient, wire: Buffer | string): Promise<string> {
  await c.write(wire);
  await c.write(".\r\n");
  return queuedId(await c.read(30_000));
}

/** Deterministic message text of exactly `size` bytes: headers, then 78-octet lines, never a leading dot. */
function bigMessage(size: number, tag: string): Buffer {
  const head = Buffer.from(`From: big@outside.test\r\nTo: alice@example.test\r\nSubject: ${tag}\r\n\r\n`);
  const buf = Buffer.alloc(size);
  head.copy(buf);
  let pos = head.length;
  for (let n = 0; pos < size; n++) {
    const line = `${tag} line ${String(n).padStart(9, "0")} ${"abcdefghijklmnopqrstuvwxyz0123456789".repeat(2)}`.slice(0, 76) + "\r\n";
    pos += buf.write(line, pos, "latin1");
  }
  // The message ends with CRLF: overwrite the last two bytes.
  buf[size - 2] = 0x0d;
  buf[size - 1] = 0x0a;
  return buf;
}

async function writeChunked(c: SmtpClient, data: Buffer, onChunk?: () => void): Promise<void> {
  for (let pos = 0; pos < data.length; pos += MB) {
    await c.write(data.subarray(pos, Math.min(pos + MB, data.length)));
    onChunk?.();
  }
}

/** The pid of the `petrel serve` process, from its "starting" log line, checked against /proc. */
function serverPid(server: PetrelServer): number {
  const starting = [...server.entries].reverse().find((e) => e.msg === "starting" && typeof e.pid === "number");
  assert.ok(starting, "petrel logs no pid in its \"starting\" line");
  const pid = starting.pid as number;
  const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
  assert.ok(cmdline.includes(server.configFile), `pid ${pid} is not petrel serve: ${cmdline}`);
  return pid;
}

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  assert.ok(m, "no VmRSS in /proc status");
  return Number(m[1]) * 1024;
}

// ------------------------------------------------------------ set-up

let server: PetrelServer;

before(async () => {
  server = await startPetrel({
    extraToml: `
[smtp]
max_message_size = "25M"
max_recipients = 3
max_received_headers = 5
[relay]
networks = ["127.0.0.5/32"]
`,
  });
  const ok = async (args: string[], stdin?: string) => {
    const r = await server.cli(args, stdin);
    assert.equal(r.code, 0, `petrel ${args.join(" ")}: ${r.stderr}`);
  };
  await ok(["domain", "add", "example.test"]);
  await ok(["user", "add", "alice@example.test", "--password-stdin"], "secret-alice-pw\n");
  await ok(["user", "add", "ünï@example.test", "--password-stdin"], "secret-uni-pw\n");
  await ok(["alias", "add", "jörg@example.test", "alice@example.test"]);
});

after(async () => {
  await server?.close();
});

// ------------------------------------------------------------ size

describe("message size", () => {
  test("SIZE= over the limit → 552 5.3.4 at MAIL; SIZE= exactly the limit → 250", async () => {
    const c = await ehlo(server);
    await c.send(`MAIL FROM:<big@outside.test> SIZE=${MAX_SIZE + 1}`);
    assert.match(await c.read(), /^552 5\.3\.4 /);
    await c.send("MAIL FROM:<big@outside.test> SIZE=99999999999999999999999");
    assert.match(await c.read(), /^552 5\.3\.4 /);
    await c.send(`MAIL FROM:<big@outside.test> SIZE=${MAX_SIZE}`);
    assert.match(await c.read(), /^250 2\.1\.0 /);
    c.close();
  });

  test("20 MB within the limit (SIZE= given): accepted and stored with the exact size and bytes", async () => {
    const data = bigMessage(20 * MB, "twenty");
    const c = await ehlo(server);
    await begin(c, "big@outside.test", ["alice@example.test"], ` SIZE=${data.length} BODY=8BITMIME`);
    await writeChunked(c, data);
    await c.write(".\r\n");
    const qid = queuedId(await c.read(60_000));
    const m = await deliveredOnce(server, "alice@example.test", qid);
    assert.equal(m.body.length, data.length);
    assert.equal(createHash("sha256").update(m.body).digest("hex"), createHash("sha256").update(data).digest("hex"));
    assert.equal(m.size, Buffer.byteLength(m.prefix) + data.length);
    c.close();
  });

  test("exactly max_message_size octets (no SIZE=) are accepted; one octet more → 552 5.3.4", async () => {
    const c = await ehlo(server);
    const exact = bigMessage(MAX_SIZE, "exact");
    await begin(c, "big@outside.test", ["alice@example.test"]);
    await writeChunked(c, exact);
    await c.write(".\r\n");
    const qid = queuedId(await c.read(60_000));
    const m = await deliveredOnce(server, "alice@example.test", qid);
    assert.equal(m.body.length, MAX_SIZE);
    assert.ok(m.body.equals(exact), "stored bytes differ");
    // One more octet: "x" at the start of the body line.
    await begin(c, "big@outside.test", ["alice@example.test"]);
    const over = Buffer.concat([exact.subarray(0, exact.indexOf("\r\n\r\n") + 4), Buffer.from("x"), exact.subarray(exact.indexOf("\r\n\r\n") + 4)]);
    assert.equal(over.length, MAX_SIZE + 1);
    await writeChunked(c, over);
    await c.write(".\r\n");
    assert.match(await c.read(60_000), /^552 5\.3\.4 /);
    c.close();
  });

  // After the 20 MB message: a fresh process grows once by some 50 MB (heap
  // and allocator warm-up) during its first big message and then stays flat,
  // so the baseline is taken warm; what must not happen is growth with the size.
  test("40 MB without SIZE: read to the end, 552 5.3.4, memory stays flat, blob removed, the connection still works", async () => {
    const pid = serverPid(server);
    const c = await ehlo(server);
    await begin(c, "big@outside.test", ["alice@example.test"]);
    const baseline = rssBytes(pid);
    let peak = baseline;
    const data = bigMessage(40 * MB, "oversized");
    await writeChunked(c, data, () => {
      peak = Math.max(peak, rssBytes(pid));
    });
    await c.write(".\r\n");
    const refusal = await c.read(60_000);
    peak = Math.max(peak, rssBytes(pid));
    assert.match(refusal, /^552 5\.3\.4 /);
    const growth = peak - baseline;
    if (process.env.PETREL_TEST_VERBOSE) console.log(`RSS ${(baseline / MB).toFixed(1)} MB → peak ${(peak / MB).toFixed(1)} MB`);
    assert.ok(growth < 64 * MB, `RSS grew by ${(growth / MB).toFixed(1)} MB while receiving 40 MB (baseline ${(baseline / MB).toFixed(1)} MB)`);
    const refused = await server.waitForLog((e) => e.msg === "message refused" && e.why === "size");
    assert.equal(findBlob(server, String(refused.qid)), undefined, "the refused message's blob must be removed");
    // The same connection goes on with a normal transaction.
    await begin(c, "small@outside.test", ["alice@example.test"]);
    const body = Buffer.from("Subject: after the big one\r\n\r\nsmall\r\n");
    const qid = await finish(c, body);
    assert.deepEqual((await deliveredOnce(server, "alice@example.test", qid)).body, body);
    c.close();
  });
});

// ------------------------------------------------------------ recipients, lines, loops

describe("per-transaction limits", () => {
  test("max_recipients = 3: the 4th RCPT gets 452 4.5.3, the message goes to the first three", async () => {
    const c = await ehlo(server);
    await c.write("MAIL FROM:<s@outside.test>\r\nRCPT TO:<alice+1@example.test>\r\nRCPT TO:<alice+2@example.test>\r\nRCPT TO:<alice+3@example.test>\r\n");
    assert.deepEqual(heads(await replies(c, 4)), ["250 2.1.0", "250 2.1.5", "250 2.1.5", "250 2.1.5"]);
    await c.send("RCPT TO:<alice+4@example.test>");
    assert.match(await c.read(), /^452 4\.5\.3 /);
    await c.send("RCPT TO:<alice+5@example.test>");
    assert.match(await c.read(), /^452 4\.5\.3 /);
    await c.send("DATA");
    assert.match(await c.read(), /^354 /);
    const body = Buffer.from("Subject: three recipients\r\n\r\nhi\r\n");
    const qid = await finish(c, body);
    // All three reach alice's one mailbox: one copy, for the first address that led there.
    const queued = await server.waitForLog((e) => e.msg === "queued" && e.qid === qid);
    assert.equal(queued.nrcpt, 1);
    assert.deepEqual((await deliveredOnce(server, "alice@example.test", qid, "alice+1@example.test")).body, body);
    c.close();
  });

  test("command line of 1000 octets (CRLF included) is accepted, 1001+ → 500 5.5.2 and the session goes on", async () => {
    const c = await ehlo(server);
    await c.send(`NOOP ${"x".repeat(1000 - 7)}`);
    assert.match(await c.read(), /^250 /);
    await c.send(`NOOP ${"x".repeat(1000 - 6)}`);
    assert.match(await c.read(), /^500 5\.5\.2 /);
    await c.send(`MAIL FROM:<${"a".repeat(3000)}@outside.test>`);
    assert.match(await c.read(), /^500 5\.5\.2 /);
    await c.send("NOOP");
    assert.match(await c.read(), /^250 2\.0\.0 /);
    c.close();
  });

  test(
    "an over-long line that arrives in pieces gets one 500, and its tail is not run as a command",
    async () => {
      const c = await ehlo(server);
      await c.write(`NOOP ${"y".repeat(1500)}`); // no line end yet
      assert.match(await c.read(), /^500 5\.5\.2 /);
      await c.write(" QUIT\r\nNOOP\r\n"); // the end of that same line, then a real command
      const next = await c.read();
      c.close();
      assert.match(next, /^250 2\.0\.0 /, "the next reply must answer NOOP, not the tail of the long line");
    },
  );

  test("max_received_headers = 5: five Received headers accepted (more in the body do not count), six → 554 5.4.6", async () => {
    const hop = (n: number, name = "Received") => `${name}: from hop${n}.test by hop${n + 1}.test; Mon, 1 Jan 2024 00:00:0${n} +0000\r\n`;
    const c = await ehlo(server);
    const five = Buffer.from(`${[1, 2, 3, 4, 5].map((n) => hop(n)).join("")}Subject: five hops\r\n\r\n${hop(6)}${hop(7)}body\r\n`);
    await begin(c, "s@outside.test", ["alice@example.test"]);
    const qid = await finish(c, five);
    assert.deepEqual((await deliveredOnce(server, "alice@example.test", qid)).body, five);
    const six = `${[1, 2, 3, 4, 5].map((n) => hop(n)).join("")}${hop(6, "RECEIVED")}Subject: six hops\r\n\r\nloop\r\n`;
    await begin(c, "s@outside.test", ["alice@example.test"]);
    await c.write(six + ".\r\n");
    assert.match(await c.read(), /^554 5\.4\.6 /);
    await c.send("NOOP");
    assert.match(await c.read(), /^250 /);
    c.close();
  });
});

// ------------------------------------------------------------ the DATA phase

describe("DATA", () => {
  test("SMTP smuggling: a bare-LF end of data (\\n.\\n, \\r\\n.\\n, \\n.\\r\\n, \\r.\\r\\n) does not end the message; only CRLF.CRLF does", async () => {
    const c = await ehlo(server);
    for (const [i, fake] of ["\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r\n"].entries()) {
      const evil = `smuggled${i}@evil.test`;
      await begin(c, "s@outside.test", ["alice@example.test"]);
      const payload = `Subject: smuggle ${i}\r\n\r\nbefore${fake}MAIL FROM:<${evil}>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nsecond message\r\n`;
      await c.write(payload + ".\r\nNOOP\r\n");
      const [done, noop] = await replies(c, 2);
      const qid = queuedId(done);
      assert.equal(noop, "250 2.0.0 Ok", `the reply after the message must be NOOP's, not one for a smuggled command (variant ${JSON.stringify(fake)})`);
      const m = await deliveredOnce(server, "alice@example.test", qid);
      const text = m.body.toString("latin1");
      assert.ok(text.includes(`MAIL FROM:<${evil}>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nsecond message\r\n`), JSON.stringify(text));
      assert.ok(text.startsWith(`Subject: smuggle ${i}\r\n\r\nbefore`));
      assert.equal(server.entries.some((e) => e.msg === "mail from" && e.from === evil), false, `${evil} became an envelope sender`);
    }
    c.close();
  });

  test("dot-stuffed lines come back unstuffed", async () => {
    const c = await ehlo(server);
    await begin(c, "s@outside.test", ["alice@example.test"]);
    const wire = "Subject: dots\r\n\r\n..one dot\r\n...two dots\r\n..\r\n. lone\r\nmiddle . dot\r\n.. \r\nlast\r\n";
    const qid = await finish(c, wire);
    const m = await deliveredOnce(server, "alice@example.test", qid);
    assert.equal(m.body.toString(), "Subject: dots\r\n\r\n.one dot\r\n..two dots\r\n.\r\n lone\r\nmiddle . dot\r\n. \r\nlast\r\n");
    c.close();
  });

  test("8-bit body (BODY=8BITMIME): every byte value except CR/LF/NUL stored unchanged", async () => {
    const c = await ehlo(server);
    await begin(c, "s@outside.test", ["alice@example.test"], " BODY=8BITMIME");
    const octets = Buffer.from(Array.from({ length: 256 }, (_, i) => i).filter((b) => b !== 0 && b !== 10 && b !== 13 && b !== 0x2e));
    const body = Buffer.concat([Buffer.from("Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße, Jörg — 日本語\r\n"), octets, Buffer.from("\r\n")]);
    const qid = await finish(c, body);
    assert.deepEqual((await deliveredOnce(server, "alice@example.test", qid)).body, body);
    c.close();
  });

  test("SMTPUTF8: UTF-8 sender, a UTF-8 user and a UTF-8 alias are accepted; Received says UTF8SMTP", async () => {
    const c = await ehlo(server);
    await c.write(Buffer.from("MAIL FROM:<jörg@outside.test> SMTPUTF8\r\nRCPT TO:<ünï@example.test>\r\nRCPT TO:<jörg@example.test>\r\nDATA\r\n", "utf8"));
    assert.deepEqual(heads(await replies(c, 4)), ["250 2.1.0", "250 2.1.5", "250 2.1.5", "354 End d"]);
    const body = Buffer.from("From: Jörg <jörg@outside.test>\r\nTo: ünï@example.test\r\nSubject: Grüße\r\n\r\nUTF-8 everywhere\r\n", "utf8");
    const qid = await finish(c, body);
    const uni = await deliveredOnce(server, "ünï@example.test", qid);
    const alice = await deliveredOnce(server, "alice@example.test", qid);
    for (const m of [uni, alice]) {
      assert.deepEqual(m.body, body);
      assert.match(m.prefix, /^Return-Path: <jörg@outside\.test>\r\n/);
      assert.match(m.prefix, / with UTF8SMTP\r?\n?\s/);
    }
    assert.match(uni.prefix, /\r\nDelivered-To: ünï@example\.test\r\n/);
    c.close();
  });

  test("a non-ASCII address without SMTPUTF8 → 553 5.6.7 (sender, recipient, IDN domain)", async () => {
    const c = await ehlo(server);
    await c.write(Buffer.from("MAIL FROM:<jörg@outside.test>\r\n", "utf8"));
    assert.match(await c.read(), /^553 5\.6\.7 /);
    await c.write(Buffer.from("MAIL FROM:<s@outside.test>\r\nRCPT TO:<ünï@example.test>\r\nRCPT TO:<alice@exämple.test>\r\nRCPT TO:<alice@example.test>\r\n", "utf8"));
    assert.deepEqual(heads(await replies(c, 4)), ["250 2.1.0", "553 5.6.7", "553 5.6.7", "250 2.1.5"]);
    c.close();
  });

  test("STARTTLS with a command pipelined in the same packet: the command is discarded, not answered after the handshake", async () => {
    const c = await ehlo(server);
    await c.write("STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\nRCPT TO:<alice@example.test>\r\n");
    assert.match(await c.read(), /^220 /);
    await c.startTls();
    await c.send("EHLO after.test");
    const ehloReply = await c.read();
    assert.match(ehloReply, /^250-mx\.test\r\n/, "the first reply over TLS must answer our EHLO");
    assert.doesNotMatch(ehloReply, /STARTTLS/);
    await c.send("RCPT TO:<alice@example.test>");
    assert.match(await c.read(), /^503 5\.5\.1 /, "the injected MAIL must not have started a transaction");
    await c.send("NOOP");
    assert.equal(await c.read(), "250 2.0.0 Ok");
    assert.equal(server.entries.some((e) => e.msg === "mail from" && e.from === "injected@evil.test"), false);
    c.close();
  });
});
