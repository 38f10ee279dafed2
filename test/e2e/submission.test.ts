// Submission and relay control end to end ("users send anywhere after AUTH,
// nobody else relays"), with swaks, Python's smtplib and a raw client that
// can connect from any loopback source address: AUTH only over TLS for
// clients outside auth.plaintext_networks (538 before STARTTLS), MAIL only
// after AUTH on submission/submissions (530), mail to other domains relayed
// to their MX (a sink on 127.0.0.20) and local mail delivered "with ESMTPSA"; sender
// ownership for MAIL FROM and From: (553 5.7.1); relay refused outside
// relay.networks (554 5.7.1); SMTP after POP opening and closing with its
// window; the hourly sending limit (451 4.7.1); the login throttle blocking
// only the guessing address (454 4.7.0) while others log in at once.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startPetrel, type LogEntry, type PetrelServer } from "../helpers/petrel.js";
import { run, type RunResult } from "../helpers/run.js";
import { connectFrom, expectReply as expect, type SmtpClient } from "../helpers/smtp-client.js";
import { stored } from "../helpers/stored.js";
import { startSink, type SinkHandle } from "../helpers/smtp-sink.js";

// ------------------------------------------------------------ helpers



type Raw = SmtpClient;
const rawConnect = connectFrom;


const plain = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`).toString("base64");

const PASSWORDS: Record<string, string> = {};
const pw = (user: string) => (PASSWORDS[user] ??= `pw-${user.split("@")[0]}-7f3e`);

/** Connects to `listener` from `from`, EHLO, STARTTLS when the listener is plain submission, EHLO again; no AUTH. */
async function session(server: PetrelServer, listener: string, from = "127.0.0.1", helo = "client.test"): Promise<Raw> {
  const implicit = listener === "submissions";
  const c = await rawConnect(server.listeners[listener], { from, tls: implicit });
  assert.match(await c.read(), /^220 mx\.test /);
  await expect(c, `EHLO ${helo}`, /^250-mx\.test/);
  if (listener === "submission") {
    await expect(c, "STARTTLS", /^220 2\.0\.0 /);
    await c.startTls();
    await expect(c, `EHLO ${helo}`, /^250-mx\.test/);
  }
  return c;
}

/** A session authenticated as `user` (AUTH PLAIN, 235). */
async function authed(server: PetrelServer, listener: string, user: string, from = "127.0.0.1"): Promise<Raw> {
  const c = await session(server, listener, from);
  await expect(c, `AUTH PLAIN ${plain(user, pw(user))}`, /^235 2\.7\.0 /);
  return c;
}

const message = (from: string, to: string, subject: string, extraHeaders = "") =>
  `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, "")}.${Date.now()}@example.test>\r\n${extraHeaders}\r\nbody of ${subject}\r\n`;

/** MAIL, RCPTs, DATA with `body`; returns the final reply (the 250 "queued as", or the refusal). */
async function transaction(c: Raw, from: string, to: string[], body: string): Promise<string> {
  await expect(c, `MAIL FROM:<${from}>`, /^250 2\.1\.0 /);
  for (const r of to) await expect(c, `RCPT TO:<${r}>`, /^250 2\.1\.5 /);
  await expect(c, "DATA", /^354 /);
  await c.write(`${body}.\r\n`);
  return c.read();
}

function queuedId(text: string): string {
  const m = /250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)/.exec(text);
  assert.ok(m, `no "250 ... queued as" in:\n${text}`);
  return m[1];
}

interface QueueRow {
  id: string;
  recipients: string[];
  state: string;
  last_error: string | null;
}

async function queueList(server: PetrelServer): Promise<QueueRow[]> {
  const r = await server.cli(["queue", "list", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as QueueRow[];
}

/** The message was relayed to remote.test's MX (a sink), for exactly `to`. */
async function assertRelayed(server: PetrelServer, qid: string, to: string[]): Promise<void> {
  for (const address of to) {
    const sent = await server.waitForLog((e) => e.msg === "sent" && e.qid === qid && e.to === address);
    assert.equal(sent.relay, `mx.remote.test[127.0.0.20]:${remoteMx.port}`);
  }
  const tx = remoteMx.transactions.filter((t) => t.data.includes(qid));
  assert.deepEqual(tx.flatMap((t) => t.recipients.map((r) => r.address)).sort(), [...to].sort());
  assert.equal((await queueList(server)).some((m) => m.id === qid), false, `${qid} is still queued`);
}

/** The Received header of what `address` got with queue id `qid`, unfolded. */
async function deliveredReceived(server: PetrelServer, address: string, qid: string): Promise<string> {
  await server.waitForLog((e) => e.msg === "delivered" && e.qid === qid && e.to === address, 15_000);
  const copies = stored(server, address, qid);
  assert.equal(copies.length, 1, `${address} should hold one copy of ${qid}`);
  const m = /^Received: .*(?:\r\n[ \t].*)*/m.exec(copies[0].prefix);
  assert.ok(m, copies[0].prefix);
  return m[0].replace(/\r\n[ \t]+/g, " ");
}

const PY = String.raw`
import base64, json, smtplib, ssl, sys
a = json.loads(sys.argv[1])
def d(r):
    return [r[0], r[1].decode("utf-8", "replace") if isinstance(r[1], bytes) else str(r[1])]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
src = (a["source"], 0) if a.get("source") else None
out = {}
if a["mode"] == "ssl":
    s = smtplib.SMTP_SSL(a["host"], a["port"], local_hostname="py.test", timeout=20, source_address=src, context=ctx)
    out["tls"] = s.sock.version()
else:
    s = smtplib.SMTP(a["host"], a["port"], local_hostname="py.test", timeout=20, source_address=src)
out["ehlo"] = d(s.ehlo())
out["features"] = sorted(s.esmtp_features.keys())
if a["mode"] == "starttls":
    out["starttls"] = d(s.starttls(context=ctx))
    out["tls"] = s.sock.version()
    s.ehlo()
    out["features_tls"] = sorted(s.esmtp_features.keys())
    out["auth_tls"] = s.esmtp_features.get("auth")
if a.get("user"):
    try:
        out["login"] = d(s.login(a["user"], a["password"]))
    except smtplib.SMTPAuthenticationError as e:
        out["login"] = d((e.smtp_code, e.smtp_error))
    except smtplib.SMTPNotSupportedError as e:
        out["login"] = [0, str(e)]
out["mail"] = d(s.mail(a["from"]))
if out["mail"][0] == 250:
    out["rcpt"] = [d(s.rcpt(r)) for r in a["to"]]
    if a.get("data") and any(r[0] == 250 for r in out["rcpt"]):
        try:
            out["data"] = d(s.data(base64.b64decode(a["data"])))
        except smtplib.SMTPDataError as e:
            out["data"] = d((e.smtp_code, e.smtp_error))
s.quit()
print(json.dumps(out))
`;

interface PyResult {
  tls?: string;
  ehlo: [number, string];
  features: string[];
  starttls?: [number, string];
  features_tls?: string[];
  auth_tls?: string;
  login?: [number, string];
  mail: [number, string];
  rcpt?: [number, string][];
  data?: [number, string];
}

async function smtplib(
  server: PetrelServer,
  listener: string,
  args: { mode: "plain" | "starttls" | "ssl"; source?: string; user?: string; from: string; to: string[]; data?: string },
): Promise<PyResult> {
  const { host, port } = server.listeners[listener];
  const input = { host, port, ...args, password: args.user ? pw(args.user) : undefined, data: args.data ? Buffer.from(args.data).toString("base64") : undefined };
  const r = await run("python3", ["-c", PY, JSON.stringify(input)]);
  assert.equal(r.code, 0, `python smtplib failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as PyResult;
}

function swaks(server: PetrelServer, listener: string, args: string[]): Promise<RunResult> {
  const { host, port } = server.listeners[listener];
  return run("swaks", ["--server", host, "--port", String(port), "--helo", "swaks.test", "--timeout", "15", ...args]);
}

async function setUpDirectory(server: PetrelServer, users: string[], aliases: [string, ...string[]][]): Promise<void> {
  const ok = async (args: string[], stdin?: string) => {
    const r = await server.cli(args, stdin);
    assert.equal(r.code, 0, `petrel ${args.join(" ")}: ${r.stderr}`);
  };
  await ok(["domain", "add", "example.test"]);
  for (const user of users) await ok(["user", "add", user, "--password-stdin"], `${pw(user)}\n`);
  for (const [source, ...targets] of aliases) await ok(["alias", "add", source, ...targets]);
}

/** Waits for a log entry appended after index `from`. */
const logAfter = (server: PetrelServer, from: number, pred: (e: LogEntry) => boolean, timeoutMs = 10_000) => server.waitForLog(pred, timeoutMs, from);

// ------------------------------------------------------------ set-up
//
// Client addresses (all loopback): 127.0.0.1 the harness and CLI-like tools;
// 127.0.0.2 a roaming user outside plaintext_networks and relay.networks;
// 127.0.0.3 a POP3 user (in plaintext_networks); 127.0.0.4 a password
// guesser; 127.0.0.5 the one trusted relay network; 127.0.0.6 a stranger who
// never logged in over POP3; 127.0.0.7 a user logging in during an attack.

const ALICE = "alice@example.test";
const BOB = "bob@example.test";
const DAVE = "dave@example.test";

let server: PetrelServer;
let remoteMx: SinkHandle;

before(async () => {
  remoteMx = await startSink({ host: "127.0.0.20" });
  server = await startPetrel({
    listeners: ["smtp", "submission", "submissions", "pop3"],
    dnsRecords: { mx: { "remote.test": [{ preference: 10, exchange: "mx.remote.test" }] }, a: { "mx.remote.test": ["127.0.0.20"] } },
    extraToml: `
[delivery]
remote_port = ${remoteMx.port}
[auth]
plaintext_networks = ["127.0.0.1/32", "127.0.0.3/32"]
failure_delay = "100ms"
max_failures = 10
[relay]
networks = ["127.0.0.5/32"]
smtp_after_pop = "30s"
[smtp]
max_connections_per_ip = 100
`,
  });
  await setUpDirectory(server, [ALICE, BOB, DAVE], [["sales@example.test", ALICE], ["team@example.test", BOB]]);
});

after(async () => {
  await server?.close();
  await remoteMx?.close();
});

// ------------------------------------------------------------ submission: TLS, then AUTH, then MAIL

describe("submission (587) from outside auth.plaintext_networks", () => {
  test("raw: no AUTH before STARTTLS, AUTH PLAIN → 538 5.7.11, MAIL → 530 5.7.0; after STARTTLS AUTH is offered, MAIL still needs it, AUTH → 235 2.7.0", async () => {
    const c = await rawConnect(server.listeners.submission, { from: "127.0.0.2" });
    assert.match(await c.read(), /^220 mx\.test /);
    const ehlo = await expect(c, "EHLO roaming.test", /^250-mx\.test/);
    assert.match(ehlo, /^250[- ]STARTTLS$/m);
    assert.doesNotMatch(ehlo, /AUTH/, "AUTH must not be offered over plain text to 127.0.0.2");
    await expect(c, `AUTH PLAIN ${plain(ALICE, pw(ALICE))}`, /^538 5\.7\.11 /);
    await expect(c, "AUTH LOGIN", /^538 5\.7\.11 /);
    await expect(c, `MAIL FROM:<${ALICE}>`, /^530 5\.7\.0 /);
    await expect(c, "STARTTLS", /^220 2\.0\.0 /);
    await c.startTls();
    const ehloTls = await expect(c, "EHLO roaming.test", /^250-mx\.test/);
    assert.match(ehloTls, /^250[- ]AUTH PLAIN LOGIN$/m);
    assert.doesNotMatch(ehloTls, /STARTTLS/);
    await expect(c, `MAIL FROM:<${ALICE}>`, /^530 5\.7\.0 /);
    await expect(c, `AUTH PLAIN ${plain(ALICE, "not-the-password")}`, /^535 5\.7\.8 /);
    await expect(c, `MAIL FROM:<${ALICE}>`, /^530 5\.7\.0 /);
    await expect(c, `AUTH PLAIN ${plain(ALICE, pw(ALICE))}`, /^235 2\.7\.0 /);
    await expect(c, `MAIL FROM:<${ALICE}>`, /^250 2\.1\.0 /);
    await expect(c, "RCPT TO:<friend@remote.test>", /^250 2\.1\.5 /);
    await expect(c, "QUIT", /^221 /);
    c.close();
  });

  test("raw: AUTH LOGIN after STARTTLS (two challenges) → 235", async () => {
    const c = await session(server, "submission", "127.0.0.2");
    await expect(c, "AUTH LOGIN", /^334 VXNlcm5hbWU6$/);
    await expect(c, Buffer.from(BOB).toString("base64"), /^334 UGFzc3dvcmQ6$/);
    await expect(c, Buffer.from(pw(BOB)).toString("base64"), /^235 2\.7\.0 /);
    c.close();
  });

  test("raw: the relay network does not replace AUTH on submission (127.0.0.5, MAIL → 530)", async () => {
    const c = await session(server, "submission", "127.0.0.5");
    await expect(c, `MAIL FROM:<${ALICE}>`, /^530 5\.7\.0 /);
    c.close();
  });

  test("smtplib: AUTH absent before starttls(), present after; login() → 235; mail to another domain → 250 and relayed to its MX", async () => {
    const data = message(ALICE, "friend@remote.test", "py submission remote");
    const r = await smtplib(server, "submission", { mode: "starttls", source: "127.0.0.2", user: ALICE, from: ALICE, to: ["friend@remote.test"], data });
    assert.ok(r.features.includes("starttls"), `${r.features}`);
    assert.ok(!r.features.includes("auth"), `AUTH offered before TLS: ${r.features}`);
    assert.equal(r.starttls?.[0], 220);
    assert.match(r.tls ?? "", /^TLSv1\.[23]$/);
    assert.ok(r.features_tls?.includes("auth"), `AUTH not offered after TLS: ${r.features_tls}`);
    assert.match(r.auth_tls ?? "", /\bPLAIN\b/);
    assert.deepEqual(r.login, [235, "2.7.0 Authentication successful"]);
    assert.deepEqual(r.mail, [250, "2.1.0 Ok"]);
    assert.deepEqual(r.rcpt, [[250, "2.1.5 Ok"]]);
    assert.equal(r.data?.[0], 250, JSON.stringify(r));
    await assertRelayed(server, queuedId(`250 ${r.data![1]}`), ["friend@remote.test"]);
  });

  test("smtplib: local mail after AUTH is delivered, Received says ESMTPSA from [127.0.0.2]", async () => {
    const data = message(ALICE, BOB, "py submission local");
    const r = await smtplib(server, "submission", { mode: "starttls", source: "127.0.0.2", user: ALICE, from: ALICE, to: [BOB], data });
    assert.equal(r.login?.[0], 235);
    assert.equal(r.data?.[0], 250, JSON.stringify(r));
    const received = await deliveredReceived(server, BOB, queuedId(`250 ${r.data![1]}`));
    assert.match(received, /^Received: from py\.test \((?:\S+ )?\[127\.0\.0\.2\]\) by mx\.test \(Petrel\) with ESMTPSA \(version=TLSv1\.[23] cipher=\S+\) id /);
  });

  test("smtplib without starttls(): login() fails (no AUTH offered), MAIL → 530", async () => {
    const r = await smtplib(server, "submission", { mode: "plain", source: "127.0.0.2", user: ALICE, from: ALICE, to: [BOB] });
    assert.equal(r.login?.[0], 0, `login should be refused as unsupported: ${JSON.stringify(r.login)}`);
    assert.match(r.login?.[1] ?? "", /AUTH extension not supported/);
    assert.equal(r.mail[0], 530);
    assert.match(r.mail[1], /^5\.7\.0 /);
  });

  test("swaks --tls --auth PLAIN from 127.0.0.2: remote mail relayed to its MX", async () => {
    const r = await swaks(server, "submission", ["-li", "127.0.0.2", "--tls", "--auth", "PLAIN", "--auth-user", ALICE, "--auth-password", pw(ALICE), "--from", ALICE, "--to", "pal@remote.test", "--header", "Subject: swaks 587"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /<~ {1,2}235 2\.7\.0 /);
    await assertRelayed(server, queuedId(r.stdout), ["pal@remote.test"]);
  });

  test("swaks --auth without --tls from 127.0.0.2: the server does not offer AUTH, nothing is sent", async () => {
    const r = await swaks(server, "submission", ["-li", "127.0.0.2", "--auth", "PLAIN", "--auth-user", ALICE, "--auth-password", pw(ALICE), "--from", ALICE, "--to", "pal@remote.test"]);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stdout + r.stderr, /did not advertise authentication/i);
    assert.doesNotMatch(r.stdout, /queued as/);
  });
});

describe("submissions (465, implicit TLS)", () => {
  test("raw: MAIL before AUTH → 530 5.7.0; AUTH offered from the first EHLO (no STARTTLS); AUTH → 235", async () => {
    const c = await rawConnect(server.listeners.submissions, { from: "127.0.0.2", tls: true });
    assert.match(await c.read(), /^220 mx\.test /);
    const ehlo = await expect(c, "EHLO roaming.test", /^250-mx\.test/);
    assert.match(ehlo, /^250[- ]AUTH PLAIN LOGIN$/m);
    assert.doesNotMatch(ehlo, /STARTTLS/);
    await expect(c, "MAIL FROM:<>", /^530 5\.7\.0 /);
    await expect(c, `AUTH PLAIN ${plain(ALICE, pw(ALICE))}`, /^235 2\.7\.0 /);
    await expect(c, "AUTH PLAIN " + plain(ALICE, pw(ALICE)), /^503 5\.5\.1 /);
    c.close();
  });

  test("smtplib.SMTP_SSL (no verification): login, local and remote recipients; ESMTPSA locally, remote relayed", async () => {
    const data = message(BOB, `${ALICE}, far@remote.test`, "py 465");
    const r = await smtplib(server, "submissions", { mode: "ssl", source: "127.0.0.2", user: BOB, from: BOB, to: [ALICE, "far@remote.test"], data });
    assert.match(r.tls ?? "", /^TLSv1\.[23]$/);
    assert.deepEqual(r.login, [235, "2.7.0 Authentication successful"]);
    assert.deepEqual(r.rcpt, [[250, "2.1.5 Ok"], [250, "2.1.5 Ok"]]);
    assert.equal(r.data?.[0], 250, JSON.stringify(r));
    const qid = queuedId(`250 ${r.data![1]}`);
    assert.match(await deliveredReceived(server, ALICE, qid), / with ESMTPSA \(version=TLSv1\.[23] cipher=\S+\) id /);
    await assertRelayed(server, qid, ["far@remote.test"]);
  });

  test("swaks --tlsc --auth PLAIN: remote mail relayed to its MX", async () => {
    const r = await swaks(server, "submissions", ["-li", "127.0.0.2", "--tlsc", "--auth", "PLAIN", "--auth-user", BOB, "--auth-password", pw(BOB), "--from", BOB, "--to", "other@remote.test", "--header", "Subject: swaks 465"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /=== TLS started with cipher TLSv1\.[23]/);
    assert.match(r.stdout, /<~ {1,2}235 2\.7\.0 /);
    await assertRelayed(server, queuedId(r.stdout), ["other@remote.test"]);
  });
});

// ------------------------------------------------------------ sender ownership

describe("sender ownership after AUTH (alice)", () => {
  test("MAIL FROM another user or an alias of someone else → 553 5.7.1; own address (any case), sub-address, own alias, <> → 250", async () => {
    const c = await authed(server, "submissions", ALICE, "127.0.0.2");
    for (const other of [BOB, "team@example.test", "alice@remote.test", "ceo@example.test"]) {
      const r = await expect(c, `MAIL FROM:<${other}>`, /^553 5\.7\.1 /);
      assert.ok(r.includes(`<${other}>`), r);
    }
    for (const own of [ALICE, "Alice@Example.TEST", "alice+x@example.test", "sales@example.test", ""]) {
      await expect(c, `MAIL FROM:<${own}>`, /^250 2\.1\.0 /);
      await expect(c, "RSET", /^250 /);
    }
    c.close();
  });

  test("From: header naming someone else → 553 5.7.1 after DATA, nothing queued; own From: with a display name → 250", async () => {
    const c = await authed(server, "submissions", ALICE, "127.0.0.2");
    const mark = server.entries.length;
    const refused = await transaction(c, ALICE, [BOB], message(`"Bob" <${BOB}>`, BOB, "forged from"));
    assert.match(refused, /^553 5\.7\.1 /);
    await logAfter(server, mark, (e) => e.msg === "message refused" && e.why === "from header" && e.reply === 553);
    // The session goes on; a proper From: is accepted.
    const ok = await transaction(c, "alice+news@example.test", [BOB], message(`"Alice A." <${ALICE}>`, BOB, "own from"));
    const qid = queuedId(ok);
    await deliveredReceived(server, BOB, qid);
    const queuedSince = server.entries.slice(mark).filter((e) => e.msg === "queued");
    assert.deepEqual(queuedSince.map((e) => e.qid), [qid], "only the second message may be queued");
    c.close();
  });

  test("From: with several addresses, one of them not hers → 553 5.7.1", async () => {
    const c = await authed(server, "submissions", ALICE, "127.0.0.2");
    assert.match(await transaction(c, ALICE, [BOB], message(`${ALICE}, ${BOB}`, BOB, "two froms in one")), /^553 5\.7\.1 /);
    c.close();
  });

  test("a second From: header naming someone else → 553 5.7.1", async () => {
    const c = await authed(server, "submissions", ALICE, "127.0.0.2");
    const r = await transaction(c, ALICE, [BOB], message(ALICE, BOB, "duplicate from", `From: ${BOB}\r\n`));
    c.close();
    assert.match(r, /^553 5\.7\.1 /);
  });

  test("a From: hidden after 256 KiB of other header fields cannot slip through (refused: header too large to check)", async () => {
    const c = await authed(server, "submissions", ALICE, "127.0.0.2");
    const pad = Array.from({ length: 5 }, (_, i) => `X-Pad-${i}: ${"p".repeat(60_000)}\r\n`).join("");
    const r = await transaction(c, ALICE, [BOB], `${pad}From: ${BOB}\r\nTo: ${BOB}\r\nSubject: hidden from\r\n\r\nbody\r\n`);
    c.close();
    assert.match(r, /^552 5\.3\.4 /);
  });
});

// ------------------------------------------------------------ relay without AUTH

describe("relay without AUTH on port 25 (smtp listener)", () => {
  const attempt = async (from: string) => {
    const c = await rawConnect(server.listeners.smtp, { from });
    assert.match(await c.read(), /^220 /);
    await expect(c, "EHLO relay.test", /^250-/);
    await expect(c, "MAIL FROM:<someone@outside.test>", /^250 /);
    await c.send("RCPT TO:<target@remote.test>");
    const r = await c.read();
    c.close();
    return r;
  };

  test("from 127.0.0.2 (not in relay.networks) → 554 5.7.1, logged", async () => {
    const mark = server.entries.length;
    assert.match(await attempt("127.0.0.2"), /^554 5\.7\.1 <target@remote\.test>: Relay access denied/);
    await logAfter(server, mark, (e) => e.msg === "recipient rejected" && e.client === "127.0.0.2" && e.reply === 554);
  });

  test("from 127.0.0.5 (relay.networks) → 250", async () => {
    assert.match(await attempt("127.0.0.5"), /^250 2\.1\.5 /);
  });
});

// ------------------------------------------------------------ SMTP after POP

/** POP3 USER/PASS (plain text; the client is in plaintext_networks) from `from`; resolves after +OK. */
async function popLogin(server: PetrelServer, from: string, user: string): Promise<void> {
  const c = await rawConnect(server.listeners.pop3, { from });
  const line = () => c.read();
  assert.match(await line(), /^\+OK/);
  await c.send(`USER ${user}`);
  assert.match(await line(), /^\+OK/);
  await c.send(`PASS ${pw(user)}`);
  assert.match(await line(), /^\+OK/, "POP3 login");
  await c.send("QUIT");
  assert.match(await line(), /^\+OK/);
  c.close();
}

/** An smtp-listener session from `from` with MAIL done, ready for RCPTs. */
async function relayProbe(server: PetrelServer, from: string): Promise<Raw> {
  const c = await rawConnect(server.listeners.smtp, { from });
  assert.match(await c.read(), /^220 /);
  await expect(c, "EHLO pop-user.test", /^250-/);
  await expect(c, "MAIL FROM:<pop-user@outside.test>", /^250 /);
  return c;
}

async function rcpt(c: Raw, to: string): Promise<string> {
  await c.send(`RCPT TO:<${to}>`);
  return c.read();
}

describe("SMTP after POP (relay.smtp_after_pop = 30s)", () => {
  test("before a POP3 login 127.0.0.3 may not relay; after one it may (250, queued), 127.0.0.6 still may not (554)", async () => {
    const before3 = await relayProbe(server, "127.0.0.3");
    assert.match(await rcpt(before3, "pop-friend@remote.test"), /^554 5\.7\.1 /);
    before3.close();

    await popLogin(server, "127.0.0.3", DAVE);
    const c = await relayProbe(server, "127.0.0.3");
    assert.match(await rcpt(c, "pop-friend@remote.test"), /^250 2\.1\.5 /);
    await expect(c, "DATA", /^354 /);
    await c.write(`${message("pop-user@outside.test", "pop-friend@remote.test", "smtp after pop")}.\r\n`);
    const qid = queuedId(await c.read());
    c.close();
    await assertRelayed(server, qid, ["pop-friend@remote.test"]);

    const stranger = await relayProbe(server, "127.0.0.6");
    assert.match(await rcpt(stranger, "pop-friend@remote.test"), /^554 5\.7\.1 /);
    stranger.close();
  });
});

// ------------------------------------------------------------ login throttle

describe("login throttle (failure_delay 100ms, max_failures 10)", () => {
  test("50 wrong passwords in parallel from 127.0.0.4 block it within seconds (454 4.7.0 even for the right password); dave from 127.0.0.7 logs in at once", async () => {
    const started = Date.now();
    const guess = async (i: number) => {
      const c = await session(server, "submissions", "127.0.0.4", `guesser${i}.test`);
      await c.send(`AUTH PLAIN ${plain(ALICE, `guess-${i}`)}`);
      const r = await c.read(15_000);
      c.close();
      return r;
    };
    const attack = Promise.all(Array.from({ length: 50 }, (_, i) => guess(i)));
    // While the attack runs, a user elsewhere is not affected.
    const during = Date.now();
    const d = await authed(server, "submissions", DAVE, "127.0.0.7");
    const daveMs = Date.now() - during;
    d.close();
    const answers = await attack;
    const attackMs = Date.now() - started;
    for (const a of answers) assert.match(a, /^(535 5\.7\.8|454 4\.7\.0) /);
    assert.ok(answers.some((a) => a.startsWith("454")), `no guess was answered 454: ${answers.map((a) => a.slice(0, 3))}`);
    assert.ok(attackMs < 15_000, `the attack took ${attackMs} ms`);
    assert.ok(daveMs < 5_000, `dave's login took ${daveMs} ms during the attack`);

    // The right password from the blocked address: refused without being checked.
    const mark = server.entries.length;
    const c = await session(server, "submissions", "127.0.0.4");
    await expect(c, `AUTH PLAIN ${plain(ALICE, pw(ALICE))}`, /^454 4\.7\.0 /);
    c.close();
    await logAfter(server, mark, (e) => e.msg === "login refused: too many failures from this address" && e.client === "127.0.0.4");

    // And once more after the attack: dave, then alice herself, from elsewhere, at once.
    const t0 = Date.now();
    (await authed(server, "submissions", DAVE, "127.0.0.7")).close();
    (await authed(server, "submissions", ALICE, "127.0.0.2")).close();
    assert.ok(Date.now() - t0 < 3_000, `logins from elsewhere took ${Date.now() - t0} ms`);
  });

  test("a parallel burst cannot have more passwords checked than max_failures", async () => {
    // 30 guesses at once from a fresh address (127.0.0.8); each "login failed" line is one password checked.
    const guesses = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const c = await session(server, "submissions", "127.0.0.8", `burst${i}.test`);
        await c.send(`AUTH PLAIN ${plain(BOB, `burst-${i}`)}`);
        const r = await c.read(15_000);
        c.close();
        return r;
      }),
    );
    for (const g of guesses) assert.match(g, /^(535 5\.7\.8|454 4\.7\.0) /);
    const checked = server.entries.filter((e) => e.msg === "login failed" && e.client === "127.0.0.8").length;
    assert.ok(checked <= 10, `${checked} of 30 parallel guesses from 127.0.0.8 had their password checked (max_failures = 10)`);
  });
});

// ------------------------------------------------------------ a second server: sending limits and a short SMTP-after-POP window

describe("with max_messages_per_hour = 2 and smtp_after_pop = 1s", () => {
  let small: PetrelServer;
  before(async () => {
    small = await startPetrel({
      listeners: ["smtp", "submissions", "pop3"],
      extraToml: `
[auth]
plaintext_networks = ["127.0.0.1/32", "127.0.0.3/32"]
[relay]
networks = ["127.0.0.5/32"]
smtp_after_pop = "1s"
[submission]
max_messages_per_hour = 2
`,
    });
    await setUpDirectory(small, [ALICE, BOB, DAVE], []);
  });
  after(async () => {
    await small?.close();
  });

  test("the third message within the hour → 451 4.7.1, not queued; another user still sends", async () => {
    const c = await authed(small, "submissions", ALICE, "127.0.0.2");
    for (let i = 1; i <= 2; i++) queuedId(await transaction(c, ALICE, [BOB, `far${i}@remote.test`], message(ALICE, BOB, `limit ${i}`)));
    const mark = small.entries.length;
    assert.match(await transaction(c, ALICE, [BOB], message(ALICE, BOB, "limit 3")), /^451 4\.7\.1 /);
    await logAfter(small, mark, (e) => e.msg === "message refused" && e.why === "rate limit");
    assert.equal(small.entries.slice(mark).filter((e) => e.msg === "queued").length, 0);
    // Still refused in a new session, via smtplib.
    const py = await smtplib(small, "submissions", { mode: "ssl", user: ALICE, from: ALICE, to: [BOB], data: message(ALICE, BOB, "limit 4") });
    assert.equal(py.data?.[0], 451, JSON.stringify(py));
    c.close();
    const d = await authed(small, "submissions", DAVE, "127.0.0.2");
    queuedId(await transaction(d, DAVE, [BOB], message(DAVE, BOB, "dave is not limited")));
    d.close();
  });

  test("SMTP after POP closes when the window ends: 250 just after the POP3 login, 554 once 1s has passed", async () => {
    const c = await relayProbe(small, "127.0.0.3");
    assert.match(await rcpt(c, "x@remote.test"), /^554 5\.7\.1 /, "no POP login yet");
    await popLogin(small, "127.0.0.3", DAVE);
    const loggedIn = Date.now();
    assert.match(await rcpt(c, "x@remote.test"), /^250 2\.1\.5 /, "right after the POP3 login");
    // Poll until refused (bounded); accepted RCPTs do not count as errors.
    let last = "";
    while (Date.now() - loggedIn < 6_000) {
      last = await rcpt(c, "x@remote.test");
      if (!last.startsWith("250")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const closedAfter = Date.now() - loggedIn;
    assert.match(last, /^554 5\.7\.1 /, `still relaying ${closedAfter} ms after the POP3 login`);
    assert.ok(closedAfter >= 900, `the window closed after ${closedAfter} ms, before its 1s`);
    c.close();
  });
});
