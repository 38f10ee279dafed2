// Two IMAP clients no one here wrote, both Debian packages, against a real
// `petrel serve`: fetchmail (--protocol IMAP) and curl (imap://, imaps://).
// fetchmail: mail delivered over SMTP (lines starting with ".", 8-bit text)
// is fetched through an MDA into a file and must arrive byte for byte as
// BODY[] gives it (with LF line ends, fetchmail's own Received line turned
// off by "set invisible"); --nokeep over plain IMAP (loopback is in
// auth.plaintext_networks, STARTTLS refused with sslproto '') leaves INBOX
// empty (STATUS); --keep over IMAPS (--ssl, sslcertck off for the self-signed
// certificate) leaves the messages \Seen, and a second run with default
// settings finds nothing new (exit 1); --folder fetches from another mailbox
// only. curl: LIST of a user's mailboxes, one message by UID and by
// MAILINDEX (UIDs and sequence numbers made to differ), EXAMINE as a custom
// request, SEARCH from the URL query, APPEND by upload (-T) checked back with
// a raw IMAP session, a wrong password refused; over imaps:// with -k too.
// Private rc files (0600), HOME and FETCHMAILHOME in a temp dir, no syslog.
// Each part is skipped when its program is missing.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startPetrel, type PetrelServer } from "../helpers/petrel.js";
import { loginImap } from "../helpers/imap-client.js";
import { sendMessages } from "../helpers/submit.js";

const PASSWORD = "imap pw"; // a space: LOGIN must quote it
const CLIENT_TIMEOUT = 60_000;
const have = (cmd: string) => !spawnSync(cmd, ["--version"], { stdio: "ignore", timeout: 10_000 }).error;
const haveFetchmail = have("fetchmail");
const haveCurl = have("curl");

let server: PetrelServer;
let home: string;

before(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "petrel-imap-fetchmail-"));
  server = await startPetrel({ listeners: ["smtp", "imap", "imaps"] });
  assert.equal((await server.cli(["domain", "add", "example.test"])).code, 0);
  for (const u of ["nokeep", "keep", "folder", "curl", "curls"]) {
    const r = await server.cli(["user", "add", `${u}@example.test`, "--password-stdin"], `${PASSWORD}\n`);
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => {
  await server?.close();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

// ------------------------------------------------------------------ helpers

/** The message as submitted: headers, blank line, body; CRLF lines. */
const message = (to: string, subject: string, body: string) => `From: <a@client.test>\r\nTo: <${to}>\r\nSubject: ${subject}\r\n\r\n${body}`;

/** Delivers over SMTP (dot-stuffing the body here) and waits until the message is in the mailbox. */
async function deliver(to: string, subject: string, body: string): Promise<string> {
  const text = message(to, subject, body);
  const { qid } = await sendMessages(server, { from: "a@client.test", to: [to], body: text.replace(/^\./gm, "..") });
  await server.waitForLog((e) => e.msg === "delivered" && e.qid === qid, 20_000);
  return text;
}

interface Stored {
  uid: number;
  flags: string[];
  body: Buffer;
}

/** One FETCH response line (literal inlined) taken apart: UID, FLAGS (but \Recent) and the BODY[] literal. */
function parseFetch(line: string): Stored {
  const lit = /\{(\d+)\}\r\n/.exec(line);
  let rest = line;
  let body = Buffer.alloc(0);
  if (lit) {
    const start = lit.index + lit[0].length;
    const end = start + Number(lit[1]);
    body = Buffer.from(line.slice(start, end), "latin1");
    rest = line.slice(0, lit.index) + line.slice(end);
  }
  const uid = /\bUID (\d+)/.exec(rest);
  const flags = /\bFLAGS \(([^)]*)\)/.exec(rest);
  assert.ok(uid && flags, `FETCH response without UID or FLAGS: ${rest}`);
  // \Recent depends on which session saw the message first: left out.
  return { uid: Number(uid[1]), flags: flags[1].split(" ").filter((f) => f !== "" && f !== "\\Recent"), body };
}

/** A mailbox's messages as a raw IMAP session sees them (EXAMINE: nothing changes). */
async function stored(user: string, mailbox = "INBOX"): Promise<Stored[]> {
  const c = await loginImap(server.listeners.imap.port, user, PASSWORD);
  try {
    const ex = await c.command(`EXAMINE ${mailbox}`);
    assert.match(ex.status, /^OK \[READ-ONLY\]/);
    if (ex.untagged.includes("* 0 EXISTS")) return [];
    const r = await c.command("UID FETCH 1:* (UID FLAGS BODY.PEEK[])");
    assert.match(r.status, /^OK/);
    return r.untagged.filter((l) => / FETCH \(/.test(l)).map(parseFetch);
  } finally {
    c.close();
  }
}

/** STATUS of a mailbox: MESSAGES, UNSEEN, UIDNEXT. */
async function status(user: string, mailbox = "INBOX"): Promise<{ messages: number; unseen: number; uidnext: number }> {
  const c = await loginImap(server.listeners.imap.port, user, PASSWORD);
  try {
    const r = await c.command(`STATUS ${mailbox} (MESSAGES UNSEEN UIDNEXT)`);
    const m = /\(MESSAGES (\d+) UNSEEN (\d+) UIDNEXT (\d+)\)$/.exec(r.untagged[0] ?? "");
    assert.ok(m, `STATUS: ${r.untagged.join("\n")} ${r.status}`);
    return { messages: Number(m[1]), unseen: Number(m[2]), uidnext: Number(m[3]) };
  } finally {
    c.close();
  }
}

/** Runs raw IMAP commands as a user (each must end OK); returns the untagged lines of each. */
async function imap(user: string, commands: string[]): Promise<string[][]> {
  const c = await loginImap(server.listeners.imap.port, user, PASSWORD);
  try {
    const out: string[][] = [];
    for (const cmd of commands) {
      const r = await c.command(cmd);
      assert.match(r.status, /^OK/, `${cmd}: ${r.status}`);
      out.push(r.untagged);
    }
    return out;
  } finally {
    c.close();
  }
}

const lf = (b: Buffer) => Buffer.from(b.toString("latin1").replace(/\r\n/g, "\n"), "latin1");
const show = (b: Buffer) => JSON.stringify(b.toString("latin1"));

/** Runs a program without blocking the event loop (the test DNS server lives here); stdout also as bytes. */
function spawnAsync(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | string; stdout: string; stderr: string; raw: Buffer }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env: { ...process.env, ...env }, timeout: CLIENT_TIMEOUT, maxBuffer: 16 * 1024 * 1024, encoding: "buffer" },
      (err, stdout, stderr) =>
        resolve({
          code: err ? ((err as NodeJS.ErrnoException).code ?? (err as { signal?: string }).signal ?? 1) : 0,
          stdout: stdout.toString("latin1"),
          stderr: stderr.toString("latin1"),
          raw: stdout,
        }),
    );
  });
}

// ---------------------------------------------------------------- fetchmail

interface FetchmailRun {
  code: number | string;
  stdout: string;
  stderr: string;
  /** What the MDA was handed, message by message, in order. */
  messages: Buffer[];
}

describe("fetchmail --protocol IMAP against Petrel", { skip: haveFetchmail ? false : "fetchmail is not installed (Debian package fetchmail; .ci/run installs it)" }, () => {
  const bodies = {
    dots: "first line\r\n.leading dot\r\n..two dots\r\n.\r\nlast\r\n",
    eightBit: "caf\u00e9 8-bit \u00fc \u2603\r\nline 2\r\n",
    short: "short\r\n",
  };

  /** Runs fetchmail on a private rc file; the MDA frames each message it gets into one output file. */
  async function fetchmail(name: string, poll: string, user: string, options: string, flags: string[]): Promise<FetchmailRun> {
    const dir = fs.mkdtempSync(path.join(home, `${name}-`));
    const out = path.join(dir, "mail.out");
    const rc = path.join(dir, "fetchmailrc");
    const rcText = [
      "set no syslog",
      "set invisible", // no Received: line of fetchmail's own: what the MDA gets is the stored message
      poll,
      `  user "${user}" there with password "${PASSWORD}" is "${os.userInfo().username}" here`,
      `  options no rewrite ${options}`,
      `  mda "/bin/sh -c '{ echo ==BEGIN==; cat; echo ==END==; } >> ${out}'"`,
      "",
    ].join("\n");
    fs.writeFileSync(rc, rcText, { mode: 0o600 });
    fs.chmodSync(rc, 0o600);
    const r = await spawnAsync("fetchmail", ["-f", rc, "--nosyslog", "-v", ...flags], { HOME: dir, FETCHMAILHOME: dir, LC_ALL: "C" });
    const text = fs.existsSync(out) ? fs.readFileSync(out).toString("latin1") : "";
    const messages = [...text.matchAll(/==BEGIN==\n([\s\S]*?)==END==\n/g)].map((m) => Buffer.from(m[1], "latin1"));
    assert.equal(text.split("==BEGIN==\n").length - 1, messages.length, "every message framed");
    return { ...r, messages };
  }

  /** fetchmail got exactly the stored messages (LF line ends), and each ends with what was sent. */
  function assertFetched(got: FetchmailRun, expected: Stored[], sent: string[]) {
    const log = `${got.stdout}\n${got.stderr}`;
    assert.equal(got.messages.length, sent.length, `fetchmail handed the MDA ${got.messages.length} messages\n${log}`);
    assert.equal(expected.length, sent.length);
    got.messages.forEach((m, i) => {
      assert.ok(m.equals(lf(expected[i].body)), `message ${i + 1} is BODY[] with LF line ends:\n got ${show(m)}\nwant ${show(lf(expected[i].body))}`);
      const tail = lf(Buffer.from(sent[i], "utf8"));
      assert.ok(m.subarray(m.length - tail.length).equals(tail), `message ${i + 1} ends with what was sent:\n${show(m)}`);
    });
  }

  it("--nokeep over plain IMAP: the MDA gets the 3 messages byte for byte, and INBOX is empty afterwards", async () => {
    const user = "nokeep@example.test";
    const sent = [
      await deliver(user, "dots", bodies.dots),
      await deliver(user, "eight-bit", bodies.eightBit),
      await deliver(user, "short", bodies.short),
    ];
    const before = await stored(user);
    assert.equal(before.length, 3);
    const from = server.entries.length;
    const got = await fetchmail(
      "nokeep",
      `poll 127.0.0.1 protocol IMAP port ${server.listeners.imap.port} auth password timeout 20`,
      user,
      "sslproto ''", // no STARTTLS (fetchmail's certificate check would refuse ours): the password goes in the clear, allowed from loopback
      ["--nokeep"],
    );
    assert.equal(got.code, 0, `fetchmail exit ${got.code} (0 = mail retrieved)\n${got.stdout}\n${got.stderr}`);
    assertFetched(got, before, sent);
    assert.match(got.stdout, /IMAP> A\d+ LOGIN "nokeep@example\.test" \*/, "fetchmail logged in with LOGIN");
    assert.doesNotMatch(got.stdout, /SSL\/TLS: using protocol/, "in the clear");
    assert.match(got.messages[0].toString("latin1"), /\n\.leading dot\n\.\.two dots\n\.\nlast\n$/, "dots unstuffed once, at SMTP");
    assert.ok(got.messages[1].includes(Buffer.from("caf\u00e9 8-bit \u00fc \u2603\n", "utf8")), "8-bit UTF-8 bytes untouched");
    const session = server.entries.slice(from);
    assert.ok(session.some((e) => e.msg === "connect" && e.listener === "imap"), "came in on the plain imap listener");
    assert.equal(session.some((e) => e.msg === "starttls"), false, "no STARTTLS");
    const after = await status(user);
    assert.equal(after.messages, 0, "fetchmail deleted and expunged what it fetched");
    assert.equal(after.uidnext, 4);
  });

  it("--keep over IMAPS (--ssl, no sslcertck): fetched, still in INBOX and \\Seen; a second default run finds nothing new", async () => {
    const user = "keep@example.test";
    const sent = [await deliver(user, "dots", bodies.dots), await deliver(user, "eight-bit", bodies.eightBit), await deliver(user, "short", bodies.short)];
    const before = await stored(user);
    assert.deepEqual(before.map((m) => m.flags), [[], [], []], "delivered unseen");
    const poll = `poll 127.0.0.1 protocol IMAP port ${server.listeners.imaps.port} auth password timeout 20`;
    const from = server.entries.length;
    const got = await fetchmail("keep", poll, user, "no sslcertck", ["--ssl", "--keep"]);
    assert.equal(got.code, 0, `fetchmail exit ${got.code} (0 = mail retrieved)\n${got.stdout}\n${got.stderr}`);
    assertFetched(got, before, sent);
    assert.match(got.stdout, /SSL\/TLS: using protocol TLSv1\.[23]/);
    assert.ok(server.entries.slice(from).some((e) => e.msg === "connect" && e.listener === "imaps"), "came in on the imaps listener");
    const kept = await stored(user);
    assert.deepEqual(kept.map((m) => m.uid), before.map((m) => m.uid), "all kept");
    assert.deepEqual(kept.map((m) => m.body.toString("latin1")), before.map((m) => m.body.toString("latin1")), "unchanged");
    assert.deepEqual(kept.map((m) => m.flags), [["\\Seen"], ["\\Seen"], ["\\Seen"]], "marked \\Seen by fetchmail");
    assert.equal((await status(user)).unseen, 0);

    // Default settings fetch only unseen messages: nothing now (exit 1, "no mail"), and the MDA is never run.
    const again = await fetchmail("keep-again", poll, user, "no sslcertck", ["--ssl", "--keep"]);
    assert.equal(again.code, 1, `fetchmail exit ${again.code} (1 = no mail)\n${again.stdout}\n${again.stderr}`);
    assert.equal(again.messages.length, 0);
    assert.equal((await status(user)).messages, 3, "still there");

    // A new message is the only one the next run takes.
    const fourth = await deliver(user, "fourth", "the fourth one\r\n");
    const third = await fetchmail("keep-third", poll, user, "no sslcertck", ["--ssl", "--keep"]);
    assert.equal(third.code, 0, `${third.stdout}\n${third.stderr}`);
    assertFetched(third, (await stored(user)).slice(3), [fourth]);
  });

  it("--folder: fetches from another mailbox only (INBOX untouched), --nokeep empties that one", async () => {
    const user = "folder@example.test";
    const a = await deliver(user, "list a", "list mail a\r\n");
    const b = await deliver(user, "list b", ".dot list mail b\r\n");
    const inboxOnly = await deliver(user, "stays", "stays in INBOX\r\n");
    await imap(user, ["CREATE Lists", "SELECT INBOX", "UID MOVE 1:2 Lists"]);
    const inList = await stored(user, "Lists");
    assert.equal(inList.length, 2);
    const got = await fetchmail(
      "folder",
      `poll 127.0.0.1 protocol IMAP port ${server.listeners.imap.port} auth password timeout 20`,
      user,
      "sslproto ''",
      ["--folder", "Lists", "--nokeep"],
    );
    assert.equal(got.code, 0, `fetchmail exit ${got.code}\n${got.stdout}\n${got.stderr}`);
    assertFetched(got, inList, [a, b]);
    assert.equal((await status(user, "Lists")).messages, 0, "Lists emptied");
    const inbox = await stored(user);
    assert.equal(inbox.length, 1, "INBOX not touched");
    assert.ok(inbox[0].body.toString("utf8").endsWith(inboxOnly));
    assert.deepEqual(inbox[0].flags, [], "and not even read");
  });
});

// --------------------------------------------------------------------- curl

describe("curl imap:// and imaps:// against Petrel", { skip: haveCurl ? false : "curl is not installed" }, () => {
  const user = "curl@example.test";
  let sent: Record<string, string> = {};

  const url = (scheme: "imap" | "imaps", rest: string) => `${scheme}://127.0.0.1:${server.listeners[scheme].port}/${rest}`;
  async function curl(args: string[], who = user): Promise<{ code: number | string; stdout: string; stderr: string; raw: Buffer }> {
    return spawnAsync("curl", ["-sS", "--max-time", "20", "-u", `${who}:${PASSWORD}`, ...args]);
  }
  const ok = (r: { code: number | string; stderr: string }, what: string) => assert.equal(r.code, 0, `curl ${what}: exit ${r.code}\n${r.stderr}`);

  before(async () => {
    // UID 1 is expunged at once, so that below UIDs and sequence numbers differ by one.
    await deliver(user, "gone", "expunged\r\n");
    await imap(user, ["SELECT INBOX", "STORE 1 +FLAGS (\\Deleted)", "EXPUNGE"]);
    sent = {
      hello1: await deliver(user, "hello one", "first hello\r\n.dot line\r\ncaf\u00e9\r\n"),
      other: await deliver(user, "other", "not a greeting\r\n"),
      hello2: await deliver(user, "Hello two", "second hello\r\n"),
    };
    assert.deepEqual((await stored(user)).map((m) => m.uid), [2, 3, 4]);
  });

  it("lists the mailboxes (LIST \"\" *) over imap:// and imaps:// -k", async () => {
    for (const [scheme, extra] of [["imap", []], ["imaps", ["-k"]]] as const) {
      const r = await curl([...extra, url(scheme, "")]);
      ok(r, `${scheme} list`);
      const lines = r.stdout.split("\r\n").filter(Boolean);
      assert.ok(lines.every((l) => l.startsWith("* LIST ")), r.stdout);
      const names = lines.map((l) => l.split(" ").pop()!.replace(/^"|"$/g, ""));
      assert.deepEqual(names.sort(), ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"], `${scheme}: ${r.stdout}`);
      assert.ok(lines.includes(`* LIST (\\HasNoChildren \\Sent) "/" "Sent"`), r.stdout);
    }
  });

  it("fetches one message by UID (UID FETCH) and by MAILINDEX (FETCH by number): exactly BODY[]", async () => {
    const all = await stored(user);
    const byUid = new Map(all.map((m) => [m.uid, m.body]));
    for (const [scheme, extra] of [["imap", []], ["imaps", ["-k"]]] as const) {
      const r3 = await curl([...extra, url(scheme, "INBOX;UID=3")]);
      ok(r3, `${scheme} UID=3`);
      assert.ok(r3.raw.equals(byUid.get(3)!), `UID 3 is "other":\n${show(r3.raw)}`);
      assert.ok(r3.raw.toString("utf8").endsWith(sent.other));
      const r2 = await curl([...extra, url(scheme, "INBOX;UID=2")]);
      ok(r2, `${scheme} UID=2`);
      assert.ok(r2.raw.equals(byUid.get(2)!), show(r2.raw));
      assert.ok(r2.raw.toString("utf8").endsWith(sent.hello1), "8-bit and the dot line as sent");
      const n2 = await curl([...extra, url(scheme, "INBOX;MAILINDEX=2")]);
      ok(n2, `${scheme} MAILINDEX=2`);
      assert.ok(n2.raw.equals(byUid.get(3)!), "message number 2 is UID 3");
    }
    const missing = await curl([url("imap", "INBOX;UID=1")]);
    assert.equal(missing.code, 78, `UID 1 was expunged: an empty UID FETCH is "remote file not found"\n${missing.stderr}`);
    assert.equal(missing.raw.length, 0);
    const seen = await stored(user);
    assert.deepEqual(seen.map((m) => m.flags), [["\\Seen"], ["\\Seen"], []], "BODY[] (not PEEK) set \\Seen on what curl fetched");
  });

  it("EXAMINE as a custom request (-X): the untagged SELECT data, read-only", async () => {
    const r = await curl(["-X", "EXAMINE INBOX", url("imap", "")]);
    ok(r, "EXAMINE");
    const lines = r.stdout.split("\r\n").filter(Boolean);
    assert.ok(lines.includes("* 3 EXISTS"), r.stdout);
    assert.ok(lines.includes("* OK [UIDNEXT 5] Predicted next UID"), r.stdout);
    assert.ok(lines.some((l) => /^\* FLAGS \(.*\\Seen.*\)$/.test(l)), r.stdout);
    assert.ok(lines.some((l) => /^\* OK \[UIDVALIDITY \d+\]/.test(l)), r.stdout);
    const nope = await curl(["-X", "EXAMINE Nowhere", url("imap", "")]);
    assert.equal(nope.code, 21, `EXAMINE of a mailbox that does not exist: NO, curl's "quote error"\n${nope.stderr}`);
  });

  it("SEARCH from the URL query: sequence numbers of the matching messages", async () => {
    for (const [scheme, extra] of [["imap", []], ["imaps", ["-k"]]] as const) {
      const r = await curl([...extra, url(scheme, "INBOX?SUBJECT%20hello")]);
      ok(r, `${scheme} SEARCH`);
      assert.equal(r.stdout, "* SEARCH 1 3\r\n", "subjects \"hello one\" and \"Hello two\" (case-insensitive), message numbers 1 and 3");
    }
    const none = await curl([url("imap", "INBOX?SUBJECT%20nothing-like-this")]);
    ok(none, "SEARCH with no match");
    assert.equal(none.stdout, "* SEARCH\r\n");
    const body = await curl([url("imap", "INBOX?BODY%20greeting")]);
    assert.equal(body.stdout, "* SEARCH 2\r\n");
  });

  it("APPEND by upload (-T): the message arrives as the file's bytes; over imaps:// into another mailbox too", async () => {
    const file = path.join(home, "upload.eml");
    const text = "From: <up@client.test>\r\nTo: <curl@example.test>\r\nSubject: uploaded by curl\r\n\r\nuploaded body\r\n.dot line\r\ncaf\u00e9\r\n";
    fs.writeFileSync(file, text);
    const before = await status(user);
    const r = await curl(["-T", file, url("imap", "INBOX")]);
    ok(r, "upload");
    const after = await stored(user);
    assert.equal(after.length, before.messages + 1);
    const added = after[after.length - 1];
    assert.equal(added.uid, before.uidnext, "the next UID");
    assert.ok(added.body.equals(fs.readFileSync(file)), `stored as uploaded:\n${show(added.body)}`);
    assert.deepEqual(added.flags, ["\\Seen"], "curl appends with (\\Seen)");
    const search = await curl([url("imap", "INBOX?SUBJECT%20uploaded")]);
    assert.equal(search.stdout, `* SEARCH ${after.length}\r\n`);

    const arch = await curl(["-k", "-T", file, url("imaps", "Archive")]);
    ok(arch, "imaps upload");
    const archived = await stored(user, "Archive");
    assert.equal(archived.length, 1);
    assert.ok(archived[0].body.equals(fs.readFileSync(file)));
    const missing = await curl(["-T", file, url("imap", "Nowhere")]);
    assert.equal(missing.code, 25, `APPEND to a mailbox that does not exist: NO [TRYCREATE], curl's "upload failed"\n${missing.stderr}`);
    assert.equal((await status(user, "Archive")).messages, 1);
  });

  it("a wrong password: curl gives up with 'login denied' (exit 67) and no output", async () => {
    const r = await spawnAsync("curl", ["-sS", "--max-time", "20", "-u", `${user}:wrong`, url("imap", "")]);
    assert.equal(r.code, 67, r.stderr);
    assert.equal(r.stdout, "");
    const other = await curl([url("imap", "")], "curls@example.test");
    ok(other, "another user");
    assert.equal(other.stdout.split("\r\n").filter(Boolean).length, 6, "a fresh user has the 6 standard mailboxes");
  });
});
