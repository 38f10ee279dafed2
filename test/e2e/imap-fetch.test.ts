// IMAP end to end, second part: every corpus message APPENDed and FETCHed
// back byte for byte (BODY[]), with ENVELOPE and BODYSTRUCTURE that a real
// client library (imapflow) parses; BODY[section]/partial/PEEK and \Seen;
// BINARY; SEARCH keys (encoded headers, decoded bodies, dates, flags,
// OR/NOT), ESEARCH/SEARCHRES, CONDSTORE (MODSEQ, CHANGEDSINCE,
// UNCHANGEDSINCE) and QRESYNC (VANISHED).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { ImapFlow } from "imapflow";
import { startPetrel, type PetrelServer } from "../helpers/petrel.js";
import { corpusFiles, normaliseCrlf } from "../helpers/corpus.js";
import { loginImap, type RawImap } from "../helpers/imap-client.js";
import { sendMessages } from "../helpers/submit.js";

let server: PetrelServer;
let port: number;

const login = (user: string): Promise<RawImap> => loginImap(port, user, "pw");

function flow(user: string): ImapFlow {
  return new ImapFlow({ host: "127.0.0.1", port, secure: false, doSTARTTLS: false, auth: { user, pass: "pw" }, logger: false });
}

const MESSAGE = [
  "From: =?utf-8?q?J=C3=B6rg?= <jorg@example.test>",
  "To: Alice <alice@example.test>, bob@example.test",
  "Subject: =?utf-8?b?R3LDvMOfZQ==?= from the lake",
  "Date: Mon, 14 Jul 2025 10:00:00 +0200",
  "Message-ID: <lake1@example.test>",
  "MIME-Version: 1.0",
  'Content-Type: multipart/mixed; boundary="b1"',
  "",
  "--b1",
  "Content-Type: text/plain; charset=utf-8",
  "Content-Transfer-Encoding: quoted-printable",
  "",
  "K=C3=A4se und Brot am See",
  "--b1",
  'Content-Type: application/octet-stream; name="a.bin"',
  "Content-Transfer-Encoding: base64",
  "",
  "AAECAw==",
  "--b1--",
  "",
].join("\r\n");

before(async () => {
  server = await startPetrel({ listeners: ["smtp", "imap"] });
  port = server.listeners.imap.port;
  assert.equal((await server.cli(["domain", "add", "example.test"])).code, 0);
  for (const user of ["alice", "dora", "erin"]) {
    assert.equal((await server.cli(["user", "add", `${user}@example.test`, "--password-stdin"], "pw\n")).code, 0);
  }
});
after(async () => server?.close());

describe("IMAP FETCH", () => {
  it("every corpus message: APPEND, then BODY[] byte for byte; imapflow parses ENVELOPE and BODYSTRUCTURE of all", async () => {
    const files = corpusFiles();
    assert.ok(files.length > 50);
    const client = flow("dora@example.test");
    await client.connect();
    await client.mailboxCreate("Corpus");
    const expected = new Map<number, Buffer>();
    for (const file of files) {
      const data = normaliseCrlf(fs.readFileSync(file));
      if (data.length === 0) continue;
      const r = await client.append("Corpus", data);
      assert.ok(r && r.uid, `append ${file}`);
      expected.set(r.uid!, data);
    }
    const lock = await client.getMailboxLock("Corpus");
    try {
      let seen = 0;
      for await (const msg of client.fetch("1:*", { uid: true, envelope: true, bodyStructure: true, source: true, size: true })) {
        const want = expected.get(msg.uid)!;
        assert.ok(msg.source!.equals(want), `BODY[] of UID ${msg.uid} differs`);
        assert.equal(msg.size, want.length);
        assert.ok(msg.envelope, `ENVELOPE of UID ${msg.uid}`);
        assert.ok(msg.bodyStructure?.type, `BODYSTRUCTURE of UID ${msg.uid}`);
        seen++;
      }
      assert.equal(seen, expected.size);
    } finally {
      lock.release();
    }
    await client.logout();
  });

  it("sections, partials, PEEK and \\Seen, BINARY, ENVELOPE and BODYSTRUCTURE lines", async () => {
    const c = await login("alice@example.test");
    assert.match((await c.command(`APPEND INBOX {${MESSAGE.length}+}\r\n${MESSAGE}`)).status, /^OK/);
    await c.command("SELECT INBOX");
    const peek = await c.command("FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)] FLAGS)");
    assert.equal(peek.untagged[0], `* 1 FETCH (BODY[HEADER.FIELDS (Subject)] {51}\r\nSubject: =?utf-8?b?R3LDvMOfZQ==?= from the lake\r\n\r\n FLAGS (\\Recent))`);
    const part = await c.command("FETCH 1 (BODY[1]<4.10>)");
    assert.equal(part.untagged[0], `* 1 FETCH (BODY[1]<4> {10}\r\n=A4se und  FLAGS (\\Seen \\Recent))`);
    const binary = await c.command("FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2] BINARY[1])");
    const decoded = Buffer.from("Käse und Brot am See").toString("latin1");
    assert.equal(binary.untagged[0], `* 1 FETCH (BINARY[2] ~{4}\r\n\x00\x01\x02\x03 BINARY.SIZE[2] 4 BINARY[1] {${decoded.length}}\r\n${decoded})`);
    const env = await c.command("FETCH 1 ENVELOPE");
    assert.equal(env.untagged[0], `* 1 FETCH (ENVELOPE ("Mon, 14 Jul 2025 10:00:00 +0200" "=?utf-8?b?R3LDvMOfZQ==?= from the lake" (("=?utf-8?q?J=C3=B6rg?=" NIL "jorg" "example.test")) (("=?utf-8?q?J=C3=B6rg?=" NIL "jorg" "example.test")) (("=?utf-8?q?J=C3=B6rg?=" NIL "jorg" "example.test")) (("Alice" NIL "alice" "example.test")(NIL NIL "bob" "example.test")) NIL NIL NIL "<lake1@example.test>"))`);
    const structure = await c.command("FETCH 1 BODYSTRUCTURE");
    assert.match(structure.untagged[0], /^\* 1 FETCH \(BODYSTRUCTURE \(\("text" "plain" \("charset" "utf-8"\) NIL NIL "quoted-printable" \d+ \d+ NIL NIL NIL NIL\)\("application" "octet-stream" \("name" "a\.bin"\) NIL NIL "base64" 8 NIL NIL NIL NIL\) "mixed" \("boundary" "b1"\) NIL NIL NIL\)\)$/);
    assert.match((await c.command("FETCH 1 (BODY[9])")).status, /^OK/);
    assert.match((await c.command("FETCH 1 (BODY[HEADER.FIELDS ()])")).status, /^BAD/);
    c.close();
  });

  it("large messages: ENVELOPE and header sections read from the header alone agree with a whole read; a header longer than the first read still comes whole", async () => {
    const c = await login("alice@example.test");
    const body = "x".repeat(98) + "\r\n";
    const big = `Subject: big one\r\nFrom: Big <big@example.test>\r\nMessage-ID: <big1@example.test>\r\n\r\n${body.repeat(1000)}`;
    const longHeader = `Subject: long header\r\n${Array.from({ length: 1000 }, (_, i) => `X-Filler-${i}: ${"y".repeat(60)}\r\n`).join("")}\r\n${body.repeat(200)}`;
    for (const m of [big, longHeader]) assert.match((await c.command(`APPEND INBOX {${m.length}+}\r\n${m}`)).status, /^OK/);
    await c.command("EXAMINE INBOX");
    const uids = (await c.command('UID SEARCH OR SUBJECT "big one" SUBJECT "long header"')).untagged[0].split(" ").slice(2);
    assert.equal(uids.length, 2);
    for (const [uid, m] of uids.map((u, i) => [u, [big, longHeader][i]] as const)) {
      const header = m.slice(0, m.indexOf("\r\n\r\n") + 4);
      const alone = (await c.command(`UID FETCH ${uid} (ENVELOPE BODY.PEEK[HEADER] RFC822.HEADER BODY.PEEK[HEADER.FIELDS (Subject)])`)).untagged[0];
      const whole = (await c.command(`UID FETCH ${uid} (ENVELOPE BODY.PEEK[HEADER] RFC822.HEADER BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[TEXT])`)).untagged[0];
      assert.ok(alone.includes(`BODY[HEADER] {${header.length}}\r\n${header}`), `header of UID ${uid}`);
      assert.ok(alone.includes(`RFC822.HEADER {${header.length}}\r\n${header}`));
      assert.equal(whole.slice(0, whole.indexOf(" BODY[TEXT]")) + ")", alone);
    }
    c.close();
  });

  it("a NUL that came in by SMTP: BODY[] and RFC822 show it as 0x80 in a plain literal, BINARY[] as NUL in literal8", async () => {
    await sendMessages(server, { from: "x@elsewhere.test", to: ["alice@example.test"], body: "Subject: nul inside\r\n\r\nbefore\0after\r\n" });
    await server.waitForLog((e) => e.msg === "delivered" && e.to === "alice@example.test");
    const c = await login("alice@example.test");
    await c.command("EXAMINE INBOX");
    const search = await c.command("UID SEARCH SUBJECT \"nul inside\"");
    const uid = /^\* SEARCH (\d+)$/.exec(search.untagged[0])![1];
    const text = await c.command(`UID FETCH ${uid} (BODY.PEEK[TEXT] BINARY.PEEK[1])`);
    assert.equal(text.untagged[0].replace(/^\* \d+ /, ""), `FETCH (UID ${uid} BODY[TEXT] {14}\r\nbefore\x80after\r\n BINARY[1] ~{14}\r\nbefore\x00after\r\n)`);
    const whole = await c.command(`UID FETCH ${uid} (RFC822)`);
    assert.match(whole.untagged[0], /RFC822 \{\d+\}\r\n[^\x00]*before\x80after\r\n\)$/);
    c.close();
  });
});

describe("imapflow, command families", () => {
  it("list, create, append, flags, search, copy, move, delete, and news from another client", async () => {
    const a = flow("dora@example.test");
    const b = flow("dora@example.test");
    await a.connect();
    await b.connect();
    try {
      await a.mailboxCreate("Flow");
      await a.mailboxCreate("Flow/Done");
      const list = await a.list();
      assert.ok(list.some((m) => m.path === "Flow/Done"));
      assert.ok(list.some((m) => m.specialUse === "\\Sent"));
      const appended = await a.append("Flow", "Subject: flow one\r\n\r\nhello flow\r\n", ["\\Flagged"]);
      assert.ok(appended && appended.uid);
      const lock = await a.getMailboxLock("Flow");
      try {
        await a.messageFlagsAdd({ uid: String(appended.uid) }, ["\\Seen", "$Label1"], { uid: true });
        const found = await a.search({ seen: true, flagged: true, subject: "flow" }, { uid: true });
        assert.deepEqual(found, [appended.uid]);
        const fetched = await a.fetchOne(String(appended.uid), { flags: true, envelope: true }, { uid: true });
        assert.ok(fetched && fetched.flags?.has("$Label1"));
        assert.equal(fetched?.envelope?.subject, "flow one");
        const copied = await a.messageCopy({ uid: String(appended.uid) }, "Flow/Done", { uid: true });
        assert.ok(copied && copied.uidMap?.size === 1);

        // b has Flow selected: a's append reaches it as EXISTS when it next asks.
        const lockB = await b.getMailboxLock("Flow");
        try {
          await a.append("Flow", "Subject: flow two\r\n\r\nsecond\r\n");
          await b.noop();
          assert.equal(b.mailbox && b.mailbox.exists, 2);
        } finally {
          lockB.release();
        }
        const moved = await a.messageMove({ uid: String(appended.uid) }, "Flow/Done", { uid: true });
        assert.ok(moved && moved.uidMap?.size === 1);
      } finally {
        lock.release();
      }
      const status = await a.status("Flow/Done", { messages: true });
      assert.ok(status && status.messages === 2, JSON.stringify(status));
      await a.mailboxDelete("Flow/Done");
      assert.equal((await a.list()).some((m) => m.path === "Flow/Done"), false);
    } finally {
      await a.logout();
      await b.logout();
    }
  });
});

describe("IMAP SEARCH", () => {
  it("decoded headers and bodies, dates, sizes, flags, OR/NOT, ESEARCH, SEARCHRES", async () => {
    const c = await login("erin@example.test");
    const other = "Subject: plain one\r\nDate: Tue, 1 Jan 2019 08:00:00 +0000\r\n\r\nnothing here\r\n";
    assert.match((await c.command(`APPEND INBOX {${MESSAGE.length}+}\r\n${MESSAGE} (\\Seen) {${other.length}+}\r\n${other}`)).status, /^OK/);
    await c.command("SELECT INBOX");
    const search = async (criteria: string) => (await c.command(`SEARCH ${criteria}`)).untagged[0];
    /** A UTF-8 string as a non-synchronizing literal (the test client writes latin1). */
    const lit = (s: string) => `{${Buffer.byteLength(s)}+}\r\n${Buffer.from(s).toString("latin1")}`;
    assert.equal(await search(`CHARSET UTF-8 SUBJECT ${lit("grüße")}`), "* SEARCH 1");
    assert.equal(await search(`CHARSET UTF-8 BODY ${lit("KÄSE")}`), "* SEARCH 1");
    assert.equal(await search(`CHARSET UTF-8 FROM ${lit("jörg")}`), "* SEARCH 1");
    assert.equal(await search("TEXT nothing"), "* SEARCH 2");
    assert.equal(await search("HEADER Message-ID lake1"), "* SEARCH 1");
    assert.equal(await search("SENTBEFORE 1-Jan-2020"), "* SEARCH 2");
    assert.equal(await search("SENTON 14-Jul-2025"), "* SEARCH 1");
    assert.equal(await search("SEEN"), "* SEARCH 2");
    assert.equal(await search("OR SEEN LARGER 100000"), "* SEARCH 2");
    assert.equal(await search("NOT SEEN SMALLER 100000"), "* SEARCH 1");
    assert.equal(await search("UID 2:*"), "* SEARCH 2");
    assert.equal(await search("1:* (SUBJECT lake) ALL"), "* SEARCH 1");
    assert.match((await c.command("SEARCH CHARSET KOI8-R ALL")).status, /^NO \[BADCHARSET/);
    assert.match((await c.command("SEARCH BOGUS")).status, /^BAD/);
    const esearch = await c.command("UID SEARCH RETURN (MIN MAX COUNT ALL) 1:*");
    assert.match(esearch.untagged[0], /^\* ESEARCH \(TAG "t\d+"\) UID MIN 1 MAX 2 ALL 1:2 COUNT 2$/);
    assert.match((await c.command("SEARCH RETURN (SAVE) SEEN")).status, /^OK/);
    assert.deepEqual((await c.command("FETCH $ (UID)")).untagged, ["* 2 FETCH (UID 2)"]);
    c.close();
  });

  it("CONTEXT=SEARCH: PARTIAL ranges, UPDATE sends ADDTO/REMOVEFROM (before the EXPUNGE), CANCELUPDATE stops it", async () => {
    const c = await login("dora@example.test");
    await c.command("CREATE Ctx");
    for (let i = 1; i <= 4; i++) {
      const m = `Subject: ctx ${i}\r\n\r\nbody\r\n`;
      await c.command(`APPEND Ctx {${m.length}+}\r\n${m}`);
    }
    await c.command("SELECT Ctx");
    assert.match((await c.command("SEARCH RETURN (PARTIAL 2:3) ALL")).untagged[0], /PARTIAL \(2:3 2:3\)$/);
    assert.match((await c.command("SEARCH RETURN (PARTIAL 9:5) ALL")).untagged[0], /PARTIAL \(5:9 NIL\)$/);
    const live = await c.command("SEARCH RETURN (UPDATE ALL) SEEN");
    const tag = /TAG "([^"]+)"/.exec(live.untagged[0])![1];
    assert.match(live.untagged[0], /^\* ESEARCH \(TAG "[^"]+"\)$/, "nothing seen yet");
    const stored = await c.command("STORE 2:3 +FLAGS (\\Seen)");
    assert.ok(stored.untagged.some((l) => new RegExp(`^\\* ESEARCH \\(TAG "${tag}"\\) ADDTO \\(1 2:3\\)$`).test(l)), stored.untagged.join("\n"));
    await c.command("STORE 2 +FLAGS (\\Deleted)");
    const expunged = await c.command("EXPUNGE");
    assert.deepEqual(expunged.untagged, [`* ESEARCH (TAG "${tag}") REMOVEFROM (1 2)`, "* 2 EXPUNGE"]);
    assert.match((await c.command(`CANCELUPDATE "${tag}"`)).status, /^OK/);
    const after = await c.command("STORE 1 +FLAGS (\\Seen)");
    assert.equal(after.untagged.some((l) => l.includes("ESEARCH")), false);
    assert.match((await c.command(`CANCELUPDATE "${tag}"`)).status, /^BAD/);
    c.close();
  });

  it("CONDSTORE: MODSEQ in FETCH and SEARCH, CHANGEDSINCE, UNCHANGEDSINCE → [MODIFIED]; QRESYNC: VANISHED", async () => {
    const c = await login("erin@example.test");
    await c.command("ENABLE QRESYNC");
    const sel = await c.command("SELECT INBOX");
    const highest = Number(/HIGHESTMODSEQ (\d+)/.exec(sel.untagged.join("\n"))![1]);
    const validity = Number(/UIDVALIDITY (\d+)/.exec(sel.untagged.join("\n"))![1]);
    const stored = await c.command("STORE 1 +FLAGS (\\Flagged)");
    const modseq = Number(/MODSEQ \((\d+)\)/.exec(stored.untagged[0])![1]);
    assert.ok(modseq > highest);
    assert.deepEqual((await c.command(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${highest})`)).untagged, [`* 1 FETCH (FLAGS (\\Flagged) MODSEQ (${modseq}))`]);
    assert.equal((await c.command(`SEARCH MODSEQ ${modseq}`)).untagged[0], `* SEARCH 1 (MODSEQ ${modseq})`);
    const conditional = await c.command(`STORE 1:2 (UNCHANGEDSINCE ${highest}) +FLAGS (\\Answered)`);
    assert.match(conditional.status, /^OK \[MODIFIED 1\] /);
    await c.command("STORE 2 +FLAGS (\\Deleted)");
    assert.deepEqual((await c.command("EXPUNGE")).untagged, ["* VANISHED 2"]);
    await c.command("UNSELECT");
    const resync = await c.command(`SELECT INBOX (QRESYNC (${validity} ${highest}))`);
    assert.ok(resync.untagged.includes("* VANISHED (EARLIER) 2"), resync.untagged.join("\n"));
    assert.ok(resync.untagged.some((l) => l.startsWith("* 1 FETCH (UID 1 FLAGS (")), resync.untagged.join("\n"));
    assert.deepEqual((await c.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${highest} VANISHED)`)).untagged.slice(0, 1), ["* VANISHED (EARLIER) 2"]);
    // Expunge records that old pruned (as the store does past EXPUNGED_KEPT per mailbox): every UID that is not there is reported.
    const prune = () => {
      const db = new Database(path.join(server.dir, "data", "petrel.db"));
      try {
        db.pragma("busy_timeout = 10000");
        db.prepare("DELETE FROM expunged").run();
        db.prepare("UPDATE mailboxes SET vanished_floor = highest_modseq").run();
      } finally {
        db.close();
      }
    };
    // A session that has not caught up when the records go still learns of the expunge.
    const other = await login("erin@example.test");
    const extra = "Subject: extra\r\n\r\nx\r\n";
    assert.match((await c.command(`APPEND INBOX {${extra.length}+}\r\n${extra}`)).status, /^OK/);
    await other.command("SELECT INBOX");
    await c.command("NOOP");
    await c.command("STORE 2 +FLAGS.SILENT (\\Deleted)");
    assert.deepEqual((await c.command("UID EXPUNGE 1:*")).untagged, ["* VANISHED 3"]);
    prune();
    assert.deepEqual((await other.command("NOOP")).untagged, ["* 2 EXPUNGE"]);
    other.close();
    await c.command("UNSELECT");
    const pruned = await c.command(`SELECT INBOX (QRESYNC (${validity} ${highest}))`);
    assert.ok(pruned.untagged.includes("* VANISHED (EARLIER) 2:3"), pruned.untagged.join("\n"));
    assert.deepEqual((await c.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${highest} VANISHED)`)).untagged.slice(0, 1), ["* VANISHED (EARLIER) 2:3"]);
    c.close();
  });
});
