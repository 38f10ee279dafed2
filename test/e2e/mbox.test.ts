// `petrel export` / `petrel import` end to end (mboxrd): messages delivered
// over SMTP (the raw test client, and swaks for one) are exported, imported
// into other users' mailboxes (INBOX and --mailbox Archive) and exported
// again, byte for byte the same; body lines starting with "From " and
// ">From " survive the quoting; Status/X-Status of an external mbox become
// flags; garbage input and unknown users fail with one line on stderr. The
// exported file is also read by an independent mbox parser (Python's
// mailbox module) when python3 is available.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { startPetrel, type PetrelServer } from "../helpers/petrel.js";
import { blobPath } from "../helpers/stored.js";
import { connect } from "../helpers/smtp-client.js";

interface Row {
  uid: number;
  data: Buffer;
  prefixLength: number;
  size: number;
  flags: string[];
  internalDate: number;
}


/** Every message of a mailbox, in UID order, read from the store (read-only). */
function mailbox(server: PetrelServer, address: string, name = "INBOX"): Row[] {
  const db = new Database(path.join(server.dir, "data", "petrel.db"), { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        `SELECT m.uid, m.prefix, m.blob_id, m.size, m.flags, m.internal_date FROM messages m
         JOIN mailboxes b ON b.id = m.mailbox_id JOIN users u ON u.id = b.user_id
         WHERE u.address = ? AND b.name = ? ORDER BY m.uid`,
      )
      .all(address, name) as { uid: number; prefix: Buffer; blob_id: string; size: number; flags: string; internal_date: number }[];
    return rows.map((r) => ({
      uid: r.uid,
      data: Buffer.concat([r.prefix, fs.readFileSync(blobPath(server, r.blob_id))]),
      prefixLength: r.prefix.length,
      size: r.size,
      flags: r.flags.split(/[\s,]+/).filter(Boolean),
      internalDate: r.internal_date,
    }));
  } finally {
    db.close();
  }
}

/**
 * An independent mboxrd reader for checking export: splits at "From " lines
 * that follow a blank line (or start the file), drops the separator blank
 * line, removes one ">" from /^>+From /, and turns LF into CRLF.
 */
function parseMboxrd(text: string): { fromLine: string; data: string }[] {
  assert.ok(text === "" || text.startsWith("From "), `mbox does not start with a From_ line: ${JSON.stringify(text.slice(0, 40))}`);
  assert.ok(!text.includes("\r"), "mboxrd export should use LF line ends");
  const out: { fromLine: string; data: string }[] = [];
  const lines = text.split("\n");
  assert.equal(lines.pop(), "", "mbox does not end with a line end");
  let current: string[] | undefined;
  let fromLine = "";
  const finish = () => {
    if (!current) return;
    assert.equal(current.pop(), "", "message not followed by a blank separator line");
    out.push({ fromLine, data: current.map((l) => `${l.replace(/^>(>*From )/, "$1")}\r\n`).join("") });
  };
  for (const line of lines) {
    if (line.startsWith("From ") && (current === undefined || current[current.length - 1] === "")) {
      finish();
      current = [];
      fromLine = line;
    } else {
      current!.push(line);
    }
  }
  finish();
  return out;
}

function oneLine(stderr: string): void {
  assert.notEqual(stderr.trim(), "", "nothing on stderr");
  assert.equal(stderr.trimEnd().split("\n").length, 1, `expected exactly one line on stderr, got ${JSON.stringify(stderr)}`);
}

const FROM_LINES_BODY = [
  "From here on, it is tricky",
  ">From quoted once",
  ">>From quoted twice",
  "From",
  " From indented",
  "From:not a separator",
  "",
  "From the last line",
].join("\r\n");

describe("petrel export / import (mboxrd)", () => {
  let server: PetrelServer;
  let tmp: string;
  let aliceExport = "";

  /** Sends one message over SMTP and waits for its delivery; returns the queue id. */
  async function smtpSend(from: string, to: string, data: string): Promise<string> {
    const { host, port } = server.listeners.smtp;
    const c = await connect(host, port);
    try {
      assert.match(await c.read(), /^220/);
      await c.send("EHLO client.test");
      assert.match(await c.read(), /^250/);
      await c.write(`MAIL FROM:<${from}> BODY=8BITMIME\r\nRCPT TO:<${to}>\r\nDATA\r\n`);
      assert.match(await c.read(), /^250/);
      assert.match(await c.read(), /^250/);
      assert.match(await c.read(), /^354/);
      await c.write(`${data.replace(/^\./gm, "..")}.\r\n`);
      const m = /^250 .*queued as (\S+)/.exec(await c.read());
      assert.ok(m, "no queue id in the reply");
      await c.send("QUIT");
      await server.waitForLog((e) => e.msg === "delivered" && e.qid === m[1] && e.to === to);
      return m[1];
    } finally {
      c.close();
    }
  }

  before(async () => {
    server = await startPetrel();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "petrel-mbox-"));
    assert.equal((await server.cli(["domain", "add", "example.test"])).code, 0);
    for (const r of await Promise.all(["alice", "bob", "carol", "dave"].map((u) => server.cli(["user", "add", `${u}@example.test`, "--password-stdin"], "pw\n")))) {
      assert.equal(r.code, 0, r.stderr);
    }
    await smtpSend("one@client.test", "alice@example.test", "Subject: one\r\n\r\nhello\r\n");
    await smtpSend("two@client.test", "alice@example.test", `Subject: from lines\r\n\r\n${FROM_LINES_BODY}\r\n`);
    await smtpSend("three@client.test", "alice@example.test", "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nGrüße, 8 bit\r\n.leading dot\r\n");
    // One from swaks, a real SMTP client with its own idea of a message.
    const from = server.entries.length;
    const { host, port } = server.listeners.smtp;
    const swaks = spawnSync(
      "swaks",
      ["--server", host, "--port", String(port), "--helo", "swaks.test", "--from", "four@client.test", "--to", "alice@example.test",
        "--header", "Subject: via swaks", "--body", "From swaks, with love\n>From swaks, quoted", "--hide-all"],
      { encoding: "utf8", timeout: 15_000 },
    );
    assert.equal(swaks.status, 0, `swaks failed (${swaks.error?.message ?? ""}): ${swaks.stderr}`);
    await server.waitForLog((e) => e.msg === "delivered" && e.to === "alice@example.test", 10_000, from);
    assert.equal(mailbox(server, "alice@example.test").length, 4);
  });
  after(async () => {
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("exports a mailbox as mboxrd: one From_ line per message, From lines quoted, bytes as stored", async () => {
    const r = await server.cli(["export", "alice@example.test"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    aliceExport = r.stdout;
    const fromLines = aliceExport.split("\n").filter((l) => l.startsWith("From "));
    assert.equal(fromLines.length, 4, `From_ lines: ${JSON.stringify(fromLines)}`);
    assert.match(fromLines[0], /^From one@client\.test (Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$/);
    assert.match(fromLines[3], /^From four@client\.test /);
    for (const quoted of [">From here on, it is tricky", ">>From quoted once", ">>>From quoted twice", ">From the last line", ">From swaks, with love", ">>From swaks, quoted"]) {
      assert.ok(aliceExport.split("\n").includes(quoted), `export lacks the line ${JSON.stringify(quoted)}`);
    }
    for (const plain of ["From", " From indented", "From:not a separator", ".leading dot"]) {
      assert.ok(aliceExport.split("\n").includes(plain), `export lacks the unquoted line ${JSON.stringify(plain)}`);
    }
    const stored = mailbox(server, "alice@example.test");
    const parsed = parseMboxrd(aliceExport);
    assert.equal(parsed.length, stored.length);
    parsed.forEach((m, i) => assert.equal(m.data, stored[i].data.toString("utf8"), `message ${i + 1} differs from the store`));
    // What was sent is in there, after the trace headers.
    assert.ok(stored[1].data.toString("latin1").endsWith(`\r\n\r\n${FROM_LINES_BODY}\r\n`));
    assert.ok(stored[2].data.toString("utf8").endsWith("\r\n\r\nGrüße, 8 bit\r\n.leading dot\r\n"));
    for (const m of stored) assert.match(m.data.toString("latin1"), /^Return-Path: <[^>]+>\r\nDelivered-To: alice@example\.test\r\nReceived: /);
  });

  it("an independent mbox reader (Python's mailbox module) sees the same messages", { skip: spawnSync("python3", ["--version"]).status === 0 ? false : "python3 not found" }, async () => {
    const file = path.join(tmp, "alice.mbox");
    fs.writeFileSync(file, aliceExport || (await server.cli(["export", "alice@example.test"])).stdout);
    const script = `import mailbox, json, sys
print(json.dumps([{"subject": m["subject"], "from_": m.get_from(), "body": m.get_payload(decode=True).decode("utf-8", "replace")} for m in mailbox.mbox(sys.argv[1])]))`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile("python3", ["-c", script, file], { timeout: 15_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))),
    );
    const messages = JSON.parse(out) as { subject: string; from_: string; body: string }[];
    assert.deepEqual(messages.map((m) => m.subject), ["one", "from lines", "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=", "via swaks"]);
    assert.match(messages[0].from_, /^one@client\.test /);
    // Python reads mboxo: it splits correctly but leaves the quoting in the body.
    assert.match(messages[1].body, /^>From here on, it is tricky\n>>From quoted once\n/);
    assert.match(messages[2].body, /Grüße, 8 bit/);
  });

  it("import into another user's INBOX, then export: the same bytes", async () => {
    const r = await server.cli(["import", "bob@example.test"], aliceExport);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /imported 4 message\(s\) into INBOX/);
    const alice = mailbox(server, "alice@example.test");
    const bob = mailbox(server, "bob@example.test");
    assert.equal(bob.length, 4);
    bob.forEach((m, i) => {
      assert.ok(m.data.equals(alice[i].data), `message ${i + 1} differs after import`);
      assert.equal(m.size, m.data.length, "size is not the message length");
      // The From_ line's date became the internal date (to the second).
      assert.equal(m.internalDate, Math.floor(alice[i].internalDate / 1000) * 1000);
      assert.deepEqual(m.flags, []);
    });
    const again = await server.cli(["export", "bob@example.test"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, aliceExport, "second export differs from the first");
  });

  it("import --mailbox Archive puts the messages there and nowhere else", async () => {
    const r = await server.cli(["import", "carol@example.test", "--mailbox", "Archive"], aliceExport);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /imported 4 message\(s\) into Archive/);
    assert.equal(mailbox(server, "carol@example.test", "INBOX").length, 0);
    const archive = await server.cli(["export", "carol@example.test", "--mailbox", "Archive"]);
    assert.equal(archive.code, 0, archive.stderr);
    assert.equal(archive.stdout, aliceExport);
    const inbox = await server.cli(["export", "carol@example.test"]);
    assert.equal(inbox.code, 0, inbox.stderr);
    assert.equal(inbox.stdout, "");
  });

  it("an external mbox: Status RO becomes \\Seen, X-Status AF \\Answered \\Flagged, dates and quoting are kept", async () => {
    const mbox = [
      "From someone@example.org Mon Jan  1 10:00:00 2024",
      "Subject: read one",
      "Status: RO",
      "",
      "seen body",
      "",
      "From other@example.org Tue Jan  2 11:30:05 2024",
      "Subject: unread one",
      "Status: O",
      "X-Status: AF",
      "",
      "unread body",
      ">From quoted in an external mbox",
      "",
    ].join("\n");
    const r = await server.cli(["import", "dave@example.test"], mbox);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /imported 2 message\(s\)/);
    const dave = mailbox(server, "dave@example.test");
    assert.equal(dave.length, 2);
    assert.equal(dave[0].data.toString(), "Subject: read one\r\n\r\nseen body\r\n");
    assert.deepEqual(dave[0].flags, ["\\Seen"]);
    assert.equal(dave[0].internalDate, Date.UTC(2024, 0, 1, 10, 0, 0));
    assert.equal(dave[1].data.toString(), "Subject: unread one\r\n\r\nunread body\r\nFrom quoted in an external mbox\r\n");
    assert.deepEqual([...dave[1].flags].sort(), ["\\Answered", "\\Flagged"]);
    assert.equal(dave[1].internalDate, Date.UTC(2024, 0, 2, 11, 30, 5));

    const out = await server.cli(["export", "dave@example.test"]);
    assert.equal(out.code, 0, out.stderr);
    const messages = out.stdout.split(/(?<=\n\n)(?=From )/);
    assert.equal(messages.length, 2);
    assert.match(messages[0], /^From \S+ Mon Jan  1 10:00:00 2024\nSubject: read one\nStatus: RO\n\nseen body\n\n$/);
    assert.match(messages[1], /^From \S+ Tue Jan  2 11:30:05 2024\nSubject: unread one\nStatus: O\nX-Status: AF\n\nunread body\n>From quoted in an external mbox\n\n$/);
  });

  it("garbage on stdin: non-zero exit, one line on stderr, nothing imported", async () => {
    const before = mailbox(server, "dave@example.test").length;
    const inputs = ["this is not an mbox\nat all\n", "\u0000\u0001\u0002binary\n"];
    for (const [i, r] of (await Promise.all(inputs.map((input) => server.cli(["import", "dave@example.test"], input)))).entries()) {
      const garbage = inputs[i];
      assert.notEqual(r.code, 0, `import of ${JSON.stringify(garbage)} succeeded`);
      oneLine(r.stderr);
      assert.match(r.stderr, /mbox/i);
    }
    assert.equal(mailbox(server, "dave@example.test").length, before);
  });

  it("unknown user or mailbox: non-zero exit and one line on stderr", async () => {
    const cases = [
      ["export", "nobody@example.test"],
      ["import", "nobody@example.test"],
      ["export", "alice@nowhere.test"],
      ["export", "alice@example.test", "--mailbox", "NoSuchBox"],
      ["import", "alice@example.test", "--mailbox", "NoSuchBox"],
      ["export"],
    ];
    const results = await Promise.all(cases.map((args) => server.cli(args, aliceExport)));
    results.forEach((r, i) => {
      assert.notEqual(r.code, 0, `${cases[i].join(" ")} succeeded`);
      oneLine(r.stderr);
      assert.equal(r.stdout, "", `${cases[i].join(" ")} wrote to stdout`);
    });
    const r = await server.cli(["export", "nobody@example.test"]);
    assert.match(r.stderr, /nobody@example\.test/);
    assert.equal(mailbox(server, "alice@example.test").length, 4, "a failed import changed alice's INBOX");
  });
});
