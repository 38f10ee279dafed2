// SORT and THREAD end to end (RFC 5256, RFC 5957 SORT=DISPLAY) against a
// real petrel serve: every sort key with REVERSE and ties, UID forms, search
// keys selecting the messages (header and body keys), MODSEQ on SORT
// results, both thread algorithms with a dummy parent and a parent searched
// out, charsets (BADCHARSET), bad arguments, states; then Python's imaplib
// sort() / thread() / uid() as a real client.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startPetrel, type PetrelServer } from "../helpers/petrel.js";
import { connectImap, loginImap, type RawImap } from "../helpers/imap-client.js";
import { run } from "../helpers/run.js";

let server: PetrelServer;
let port: number;

const login = (user: string): Promise<RawImap> => loginImap(port, user, "pw");

/** A message with the given header lines, padded to make sizes distinct. */
function message(headers: string[], body: string, pad: number): string {
  return [...headers, "", body, ..."x".repeat(pad).match(/.{1,70}/g) ?? [], ""].join("\r\n");
}

// Sequence numbers 1..7 (UIDs 2..8: a first message is expunged).
const MESSAGES: [string, string][] = [
  ["05-Jul-2024 10:00:00 +0000", message([
    "From: Carol <carol@example.test>", "To: zed@example.test", "Subject: Lunch",
    "Date: Mon, 1 Jul 2024 12:00:00 +0000", "Message-ID: <lunch@example.test>",
  ], "Shall we eat?", 3000)],
  ["04-Jul-2024 10:00:00 +0000", message([
    "From: =?utf-8?q?=C3=89mile?= <emile@example.test>", "To: Yann <yann@example.test>", "Subject: Re: Lunch",
    "Date: Mon, 1 Jul 2024 13:00:00 +0000", "Message-ID: <re-lunch@example.test>",
    "In-Reply-To: <lunch@example.test>", "References: <lunch@example.test>",
  ], "Yes.", 1000)],
  ["03-Jul-2024 10:00:00 +0000", message([
    "From: alice@example.test", "To: xavier@example.test", "Subject: [team] Budget",
    "Date: Sun, 30 Jun 2024 09:00:00 -0700", "Message-ID: <budget@example.test>",
  ], "Numbers attached.", 5000)],
  ["02-Jul-2024 10:00:00 +0000", message([
    "From: Bob <bob@example.test>", "Subject: Re: [team] Budget",
    "Date: Tue, 2 Jul 2024 08:00:00 +0200", "Message-ID: <re-budget@example.test>",
    "References:\r\n <budget@example.test>",
  ], "The quarterly numbers look fine.", 0)],
  ["06-Jul-2024 08:00:00 +0000", message([
    "From: Dave <dave@example.test>", "Subject: RE: Lunch", "Message-ID: <re-re-lunch@example.test>",
    "References: <lunch@example.test> <re-lunch@example.test>",
  ], "Count me in.", 2000)],
  ["01-Jul-2024 10:00:00 +0000", message([
    "From: carol@example.test", "Subject: Fwd: Holiday plans", "Date: Wed, 3 Jul 2024 10:00:00 +0000",
    "Message-ID: <fwd-holiday@example.test>", "References: <holiday@example.test>",
  ], "See below.", 4000)],
  ["07-Jul-2024 10:00:00 +0000", message([
    "From: Erin <erin@example.test>", "Subject: Holiday plans (fwd)", "Date: Thu, 4 Jul 2024 10:00:00 +0000",
    "Message-ID: <holiday2@example.test>", "In-Reply-To: <holiday@example.test>",
  ], "Also below.", 6000)],
];

/** Runs a Python imaplib script; its last printed line is JSON. */
async function imaplib(script: string): Promise<unknown> {
  const r = await run("python3", ["-c", `import imaplib, json\nPORT=${port}\n${script}`], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

before(async () => {
  server = await startPetrel({ listeners: ["smtp", "imap"] });
  port = server.listeners.imap.port;
  assert.equal((await server.cli(["domain", "add", "example.test"])).code, 0);
  assert.equal((await server.cli(["user", "add", "alice@example.test", "--password-stdin"], "pw\n")).code, 0);
  const c = await login("alice@example.test");
  const junk = "Subject: junk\r\n\r\ngone\r\n";
  assert.match((await c.command(`APPEND INBOX (\\Deleted) {${junk.length}+}\r\n${junk}`)).status, /^OK/);
  await c.command("SELECT INBOX");
  assert.match((await c.command("EXPUNGE")).status, /^OK/);
  for (const [date, text] of MESSAGES) {
    assert.match((await c.command(`APPEND INBOX "${date}" {${text.length}+}\r\n${text}`)).status, /^OK \[APPENDUID/);
  }
  c.close();
});
after(async () => server?.close());

describe("IMAP SORT", () => {
  let c: RawImap;
  const sort = async (args: string) => {
    const r = await c.command(args);
    assert.match(r.status, /^OK /, `${args}: ${r.status}`);
    const lines = r.untagged.filter((l) => /^\* (SORT|THREAD)\b/.test(l));
    assert.equal(lines.length, 1, `${args}: ${r.untagged.join(" | ")}`);
    return lines[0];
  };

  before(async () => {
    c = await login("alice@example.test");
    assert.match((await c.command("SELECT INBOX")).untagged.join("\n"), /\* 7 EXISTS/);
  });
  after(() => c.close());

  it("announces SORT, SORT=DISPLAY, THREAD=ORDEREDSUBJECT and THREAD=REFERENCES once logged in", async () => {
    const caps = (await c.command("CAPABILITY")).untagged[0].split(" ");
    for (const cap of ["SORT", "SORT=DISPLAY", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES"]) assert.ok(caps.includes(cap), cap);
    const pre = await connectImap(port);
    assert.doesNotMatch(pre.greeting, /SORT|THREAD/);
    pre.close();
  });

  it("every key, with REVERSE, ties by sequence number", async () => {
    assert.equal(await sort("SORT (ARRIVAL) UTF-8 ALL"), "* SORT 6 4 3 2 1 5 7");
    assert.equal(await sort("SORT (DATE) UTF-8 ALL"), "* SORT 3 1 2 4 6 7 5"); // 5 has no Date: its INTERNALDATE
    assert.equal(await sort("SORT (REVERSE DATE) UTF-8 ALL"), "* SORT 5 7 6 4 2 1 3");
    assert.equal(await sort("SORT (SUBJECT) UTF-8 ALL"), "* SORT 3 4 6 7 1 2 5");
    assert.equal(await sort("SORT (SUBJECT REVERSE DATE) UTF-8 ALL"), "* SORT 4 3 7 6 5 2 1");
    assert.equal(await sort("SORT (FROM) UTF-8 ALL"), "* SORT 3 4 1 6 5 2 7");
    assert.equal(await sort("SORT (TO) UTF-8 ALL"), "* SORT 4 5 6 7 3 2 1");
    assert.equal(await sort("SORT (CC) UTF-8 ALL"), "* SORT 1 2 3 4 5 6 7");
    assert.equal(await sort("SORT (SIZE) UTF-8 ALL"), "* SORT 4 2 5 1 6 3 7");
    assert.equal(await sort("SORT (REVERSE SIZE) US-ASCII ALL"), "* SORT 7 3 6 1 5 2 4");
    assert.equal(await sort("SORT (DISPLAYFROM) UTF-8 ALL"), "* SORT 3 4 1 6 5 7 2");
    assert.equal(await sort("SORT (DISPLAYTO) UTF-8 ALL"), "* SORT 4 5 6 7 3 2 1");
    assert.equal(await sort("sort (reverse from subject) utf-8 all"), "* SORT 7 2 5 6 1 4 3");
  });

  it("UID SORT answers UIDs; search keys select, header and body keys alike", async () => {
    assert.equal(await sort("UID SORT (SUBJECT) UTF-8 ALL"), "* SORT 4 5 7 8 2 3 6");
    assert.equal(await sort("UID SORT (DATE) UTF-8 UID 5:*"), "* SORT 5 7 8 6");
    assert.equal(await sort("SORT (DATE) UTF-8 BODY quarterly"), "* SORT 4");
    assert.equal(await sort("SORT (REVERSE ARRIVAL) UTF-8 OR SUBJECT lunch FROM erin"), "* SORT 7 5 1 2");
    assert.equal(await sort("SORT (DISPLAYFROM) US-ASCII SUBJECT lunch"), "* SORT 1 5 2");
    assert.equal(await sort("SORT (SIZE) UTF-8 2:4 TEXT numbers"), "* SORT 4 3");
    assert.equal(await sort("SORT (DATE) UTF-8 SUBJECT nothing-like-this"), "* SORT");
    assert.match(await sort("SORT (SIZE) UTF-8 MODSEQ 1"), /^\* SORT 4 2 5 1 6 3 7 \(MODSEQ \d+\)$/);
  });

  it("ESORT (RFC 5267): SORT RETURN answers ESEARCH, MIN/MAX first and last in sort order, ALL in sort order", async () => {
    const r = await c.command("SORT RETURN (MIN MAX COUNT ALL) (ARRIVAL) UTF-8 ALL");
    assert.match(r.untagged[0], /^\* ESEARCH \(TAG "t\d+"\) MIN 6 MAX 7 ALL 6,4,3,2,1,5,7 COUNT 7$/);
    const uid = await c.command("UID SORT RETURN (COUNT) (ARRIVAL) UTF-8 ALL");
    assert.match(uid.untagged[0], /^\* ESEARCH \(TAG "t\d+"\) UID COUNT 7$/);
  });

  it("THREAD=REFERENCES: reply chains, a dummy parent for a missing message, parents searched out", async () => {
    assert.equal(await sort("THREAD REFERENCES UTF-8 ALL"), "* THREAD (3 4)(1 2 5)((6)(7))");
    assert.equal(await sort("UID THREAD REFERENCES UTF-8 ALL"), "* THREAD (4 5)(2 3 6)((7)(8))");
    assert.equal(await sort("THREAD REFERENCES UTF-8 2:7"), "* THREAD (3 4)(2 5)((6)(7))");
    assert.equal(await sort("THREAD REFERENCES US-ASCII NOT SUBJECT lunch"), "* THREAD (3 4)((6)(7))");
    assert.equal(await sort("THREAD REFERENCES UTF-8 SUBJECT nothing-like-this"), "* THREAD");
  });

  it("THREAD=ORDEREDSUBJECT: one thread per base subject, by first sent date", async () => {
    assert.equal(await sort("THREAD ORDEREDSUBJECT UTF-8 ALL"), "* THREAD (3 4)(1 (2)(5))(6 7)");
    assert.equal(await sort("UID THREAD ORDEREDSUBJECT UTF-8 ALL"), "* THREAD (4 5)(2 (3)(6))(7 8)");
  });

  it("charsets other than US-ASCII and UTF-8: NO [BADCHARSET]; bad arguments: BAD", async () => {
    assert.match((await c.command("SORT (ARRIVAL) ISO-8859-1 ALL")).status, /^NO \[BADCHARSET \(US-ASCII UTF-8\)\] /);
    assert.match((await c.command("UID THREAD REFERENCES KOI8-R ALL")).status, /^NO \[BADCHARSET \(US-ASCII UTF-8\)\] /);
    for (const bad of ["SORT (FOO) UTF-8 ALL", "SORT DATE UTF-8 ALL", "SORT (REVERSE) UTF-8 ALL", "SORT (DATE) UTF-8", "SORT (DATE) UTF-8 BOGUS",
      "THREAD REFS UTF-8 ALL", "THREAD FOO UTF-8 ALL", "THREAD REFERENCES UTF-8", "THREAD"]) {
      const r = await c.command(bad);
      assert.match(r.status, /^BAD /, bad);
      assert.equal(r.untagged.filter((l) => /^\* (SORT|THREAD)/.test(l)).length, 0, bad);
    }
  });

  it("needs a selected mailbox", async () => {
    const d = await login("alice@example.test");
    assert.match((await d.command("SORT (DATE) UTF-8 ALL")).status, /^BAD /);
    assert.match((await d.command("THREAD REFERENCES UTF-8 ALL")).status, /^BAD /);
    d.close();
  });
});

describe("imaplib", () => {
  it("sort(), thread() and uid('SORT' / 'THREAD')", async () => {
    const result = await imaplib(`
M = imaplib.IMAP4("127.0.0.1", PORT)
M.login("alice@example.test", "pw")
M.select("INBOX")
out = []
out.append(M.sort("(REVERSE DATE)", "UTF-8", "ALL"))
out.append(M.sort("DISPLAYFROM", "US-ASCII", "SUBJECT", "lunch"))
out.append(M.thread("REFERENCES", "UTF-8", "ALL"))
out.append(M.thread("ORDEREDSUBJECT", "UTF-8", "ALL"))
out.append(M.uid("SORT", "(SUBJECT)", "UTF-8", "ALL"))
out.append(M.uid("THREAD", "REFERENCES", "UTF-8", "SINCE", "1-Jul-2024"))
out.append(M.sort("(DATE)", "KOI8-R", "ALL"))
M.logout()
print(json.dumps([[t, [x.decode() if isinstance(x, bytes) else x for x in d]] for t, d in out]))`);
    assert.deepEqual(result, [
      ["OK", ["5 7 6 4 2 1 3"]],
      ["OK", ["1 5 2"]],
      ["OK", ["(3 4)(1 2 5)((6)(7))"]],
      ["OK", ["(3 4)(1 (2)(5))(6 7)"]],
      ["OK", ["4 5 7 8 2 3 6"]],
      ["OK", ["(4 5)(2 3 6)((7)(8))"]],
      ["NO", ["[BADCHARSET (US-ASCII UTF-8)] Unsupported charset KOI8-R"]],
    ]);
  });
});
