// IMAP end to end, first part: login rules (LOGINDISABLED before TLS,
// STARTTLS, IMAPS, AUTHENTICATE with SASL-IR, the throttle), mailbox
// management (CREATE with parents, LIST patterns and attributes, RENAME
// with children and the INBOX rule, DELETE, SUBSCRIBE/LSUB, STATUS),
// APPEND/STORE/COPY/MOVE/EXPUNGE with UIDPLUS codes, users kept apart, and
// several sessions seeing each other's changes (IDLE, POP3 deletions).
// Python's imaplib is the real client; a raw client checks exact lines.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startPetrel, type PetrelServer } from "../helpers/petrel.js";
import { connectImap, loginImap, type RawImap } from "../helpers/imap-client.js";
import { run } from "../helpers/run.js";

let server: PetrelServer;
let imapPort: number;

const login = (user = "alice@example.test", opts: { localAddress?: string } = {}): Promise<RawImap> => loginImap(imapPort, user, "secret pw", opts);

/** Runs a Python imaplib script; its last printed line is JSON. */
async function imaplib(script: string): Promise<unknown> {
  const program = `import imaplib, json, ssl\nPORT=${imapPort}\nSPORT=${server.listeners.imaps.port}\n${script}`;
  const r = await run("python3", ["-c", program], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

before(async () => {
  server = await startPetrel({
    listeners: ["smtp", "imap", "imaps", "pop3"],
    extraToml: `[auth]\nplaintext_networks = ["127.0.0.1/32"]\nfailure_delay = "50ms"\n[imap]\nmax_connections_per_user = 3\n`,
  });
  imapPort = server.listeners.imap.port;
  assert.equal((await server.cli(["domain", "add", "example.test"])).code, 0);
  for (const user of ["alice", "bob", "carol"]) {
    assert.equal((await server.cli(["user", "add", `${user}@example.test`, "--password-stdin"], "secret pw\n")).code, 0);
  }
});
after(async () => server?.close());

describe("IMAP login", () => {
  it("greets with capabilities; from outside plaintext_networks: LOGINDISABLED until STARTTLS, then LOGIN works", async () => {
    const c = await connectImap(imapPort, { localAddress: "127.0.0.2" });
    assert.match(c.greeting, /^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 .*STARTTLS.*LOGINDISABLED.*\] /);
    assert.doesNotMatch(c.greeting, /AUTH=PLAIN/);
    assert.match((await c.command(`LOGIN alice@example.test "secret pw"`)).status, /^NO \[PRIVACYREQUIRED\] /);
    assert.match((await c.command("AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQgcHc=")).status, /^NO \[PRIVACYREQUIRED\] /);
    await c.startTls();
    const caps = await c.command("CAPABILITY");
    assert.match(caps.untagged[0], /AUTH=PLAIN/);
    assert.doesNotMatch(caps.untagged[0], /STARTTLS|LOGINDISABLED/);
    assert.match((await c.command(`LOGIN alice@example.test "secret pw"`)).status, /^OK \[CAPABILITY .*UIDPLUS.*\] /);
    c.close();
  });

  it("imaplib over IMAPS and over STARTTLS; AUTHENTICATE PLAIN with SASL-IR", async () => {
    const result = await imaplib(`
ctx = ssl._create_unverified_context()
a = imaplib.IMAP4_SSL("127.0.0.1", SPORT, ssl_context=ctx)
r1 = a.login("alice@example.test", "secret pw")[0]
a.logout()
b = imaplib.IMAP4("127.0.0.1", PORT)
b.starttls(ssl_context=ctx)
r2 = b.authenticate("PLAIN", lambda _: b"\\0bob@example.test\\0secret pw")[0]
b.logout()
print(json.dumps([r1, r2]))`);
    assert.deepEqual(result, ["OK", "OK"]);
  });

  it("imap.max_connections_per_user: the next login gets NO [LIMIT]; a freed slot can be used again", async () => {
    assert.equal((await server.cli(["user", "add", "busy@example.test", "--password-stdin"], "secret pw\n")).code, 0);
    const sessions = [await login("busy@example.test"), await login("busy@example.test"), await login("busy@example.test")];
    const fourth = await connectImap(imapPort);
    assert.match((await fourth.command(`LOGIN busy@example.test "secret pw"`)).status, /^NO \[LIMIT\] /);
    await sessions[0].command("LOGOUT");
    await server.waitForLog((e) => e.msg === "disconnect" && e.user === "busy@example.test");
    assert.match((await fourth.command(`LOGIN busy@example.test "secret pw"`)).status, /^OK /);
    for (const c of [...sessions, fourth]) c.close();
  });

  it("a wrong password: NO [AUTHENTICATIONFAILED]; commands before login are BAD", async () => {
    const c = await connectImap(imapPort);
    assert.match((await c.command("SELECT INBOX")).status, /^BAD /);
    assert.match((await c.command(`LOGIN alice@example.test wrong`)).status, /^NO \[AUTHENTICATIONFAILED\] /);
    assert.match((await c.command(`LOGIN nobody@example.test wrong`)).status, /^NO \[AUTHENTICATIONFAILED\] /);
    c.close();
  });
});

describe("IMAP mailboxes", () => {
  it("CREATE makes parents; LIST patterns, attributes, special use; RENAME moves children; DELETE refuses a parent", async () => {
    const c = await login("carol@example.test");
    assert.match((await c.command("CREATE Projects/Petrel/Docs")).status, /^OK/);
    assert.match((await c.command("CREATE Projects")).status, /^NO \[ALREADYEXISTS\]/);
    const all = await c.command(`LIST "" "*"`);
    assert.ok(all.untagged.includes(`* LIST (\\HasChildren) "/" "Projects"`), all.untagged.join("\n"));
    assert.ok(all.untagged.includes(`* LIST (\\HasNoChildren \\Sent) "/" "Sent"`));
    assert.equal(all.untagged[0], `* LIST (\\HasNoChildren) "/" "INBOX"`);
    const top = await c.command(`LIST "" "%"`);
    assert.equal(top.untagged.some((l) => l.includes("Projects/Petrel")), false, "% does not cross the separator");
    const ref = await c.command(`LIST "Projects/" "%"`);
    assert.deepEqual(ref.untagged, [`* LIST (\\HasChildren) "/" "Projects/Petrel"`]);
    assert.deepEqual((await c.command(`LIST "" ""`)).untagged, [`* LIST (\\Noselect) "/" ""`]);
    const special = await c.command(`LIST (SPECIAL-USE) "" "*"`);
    assert.equal(special.untagged.length, 5);
    const status = await c.command(`LIST "" "Projects*" RETURN (STATUS (MESSAGES UIDNEXT))`);
    assert.ok(status.untagged.includes(`* STATUS "Projects/Petrel" (MESSAGES 0 UIDNEXT 1)`), status.untagged.join("\n"));

    assert.match((await c.command("DELETE Projects")).status, /^NO \[HASCHILDREN\]/);
    assert.match((await c.command("RENAME Projects Work/Old")).status, /^OK/);
    const renamed = await c.command(`LIST "" "Work*"`);
    assert.deepEqual(renamed.untagged.map((l) => l.split(" ").pop()), [`"Work"`, `"Work/Old"`, `"Work/Old/Petrel"`, `"Work/Old/Petrel/Docs"`]);
    assert.match((await c.command("DELETE Work/Old/Petrel/Docs")).status, /^OK/);
    assert.match((await c.command("DELETE INBOX")).status, /^NO /);
    assert.match((await c.command("CREATE Bad//Name")).status, /^NO \[CANNOT\] /);
    c.close();
  });

  it("SUBSCRIBE/UNSUBSCRIBE/LSUB and LIST (SUBSCRIBED) with \\NonExistent; modified UTF-7 names", async () => {
    const c = await login("carol@example.test");
    assert.match((await c.command("SUBSCRIBE Ghost")).status, /^OK/);
    assert.match((await c.command("UNSUBSCRIBE Junk")).status, /^OK/);
    const lsub = await c.command(`LSUB "" "*"`);
    assert.ok(lsub.untagged.includes(`* LSUB (\\Noselect) "/" "Ghost"`), lsub.untagged.join("\n"));
    assert.equal(lsub.untagged.some((l) => l.endsWith(`"Junk"`)), false);
    const sub = await c.command(`LIST (SUBSCRIBED) "" "*"`);
    assert.ok(sub.untagged.includes(`* LIST (\\NonExistent \\Subscribed) "/" "Ghost"`), sub.untagged.join("\n"));
    assert.match((await c.command(`CREATE "Gr&APwA3w-e"`)).status, /^OK/);
    const utf7 = await c.command(`LIST "" "Gr*"`);
    assert.deepEqual(utf7.untagged, [`* LIST (\\HasNoChildren) "/" "Gr&APwA3w-e"`]);
    assert.match((await c.command("ENABLE UTF8=ACCEPT")).untagged[0], /^\* ENABLED UTF8=ACCEPT/);
    const utf8 = await c.command(`LIST "" "Gr*"`);
    assert.deepEqual(utf8.untagged, [`* LIST (\\HasNoChildren) "/" "${Buffer.from("Grüße").toString("latin1")}"`]);
    assert.match((await c.command(`CREATE "Gr&-x"`)).status, /^OK/, "after ENABLE UTF8=ACCEPT names are UTF-8, & is just &");
    c.close();
  });

  it("APPEND with APPENDUID, SELECT responses, STORE, COPY with COPYUID, MOVE, EXPUNGE, STATUS", async () => {
    const c = await login("alice@example.test");
    const message = "Subject: first\r\nFrom: a@example.test\r\n\r\nhello\r\n";
    const appended = await c.command(`APPEND INBOX (\\Seen) "14-Jul-2025 10:00:00 +0200" {${message.length}+}\r\n${message}`);
    assert.match(appended.status, /^OK \[APPENDUID \d+ 1\] /);
    const second = "Subject: second\r\n\r\nthere\r\n";
    assert.match((await c.command(`APPEND INBOX {${second.length}+}\r\n${second} {${second.length}+}\r\n${second}`)).status, /^OK \[APPENDUID \d+ 2:3\] /, "MULTIAPPEND");
    const selected = await c.command("SELECT INBOX");
    assert.match(selected.status, /^OK \[READ-WRITE\] /);
    assert.ok(selected.untagged.includes("* 3 EXISTS"));
    assert.ok(selected.untagged.includes("* 3 RECENT"), "the first SELECT after APPEND sees the messages as \\Recent");
    assert.ok(selected.untagged.some((l) => /^\* OK \[UIDVALIDITY \d+\]/.test(l)));
    assert.ok(selected.untagged.includes("* OK [UIDNEXT 4] Predicted next UID"));
    assert.ok(selected.untagged.includes("* OK [UNSEEN 2] First unseen"));
    const stored = await c.command("STORE 2:3 +FLAGS (\\Flagged $Todo)");
    // A new keyword is announced in FLAGS first (RFC 9051 §7.3.5); this session was the first to see the messages: \Recent (IMAP4rev1).
    assert.deepEqual(stored.untagged, [
      "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Todo)",
      "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Todo \\*)] Flags permitted",
      "* 2 FETCH (FLAGS (\\Flagged $Todo \\Recent))",
      "* 3 FETCH (FLAGS (\\Flagged $Todo \\Recent))",
    ]);
    assert.deepEqual((await c.command("UID STORE 3 -FLAGS.SILENT ($Todo)")).untagged, []);
    assert.match((await c.command("STORE 9 +FLAGS (\\Seen)")).status, /^BAD /, "beyond the last message");
    // CATENATE (RFC 4469): text pieces and a part of a stored message, by URL.
    const joined = await c.command(`APPEND Drafts CATENATE (TEXT {19+}\r\nSubject: joined\r\n\r\n URL "/INBOX/;UID=1/;SECTION=TEXT" TEXT {6+}\r\n-- x\r\n)`);
    assert.match(joined.status, /^OK \[APPENDUID \d+ 1\] /);
    assert.match((await c.command(`APPEND Drafts CATENATE (URL "/INBOX;UIDVALIDITY=1/;UID=1")`)).status, /^NO \[BADURL "\/INBOX;UIDVALIDITY=1\/;UID=1"\] /);
    assert.match((await c.command(`STATUS Drafts (MESSAGES SIZE)`)).untagged[0], new RegExp(`MESSAGES 1 SIZE ${"Subject: joined\r\n\r\nhello\r\n-- x\r\n".length}\\)`));
    assert.match((await c.command("CREATE Keep")).status, /^OK/);
    assert.match((await c.command("COPY 1:2 Keep")).status, /^OK \[COPYUID \d+ 1:2 1:2\] /);
    assert.match((await c.command("COPY 1 Nowhere")).status, /^NO \[TRYCREATE\] /);
    const moved = await c.command("UID MOVE 3 Keep");
    assert.match(moved.untagged[0], /^\* OK \[COPYUID \d+ 3 3\] /);
    assert.equal(moved.untagged[1], "* 3 EXPUNGE");
    assert.match((await c.command("STORE 1 +FLAGS (\\Deleted)")).status, /^OK/);
    const expunged = await c.command("EXPUNGE");
    assert.deepEqual(expunged.untagged, ["* 1 EXPUNGE"]);
    const status = await c.command("STATUS Keep (MESSAGES UNSEEN UIDNEXT SIZE DELETED)");
    assert.match(status.untagged[0], /^\* STATUS "Keep" \(MESSAGES 3 UNSEEN 2 UIDNEXT 4 SIZE \d+ DELETED 0\)$/);
    const examined = await c.command("EXAMINE Keep");
    assert.match(examined.status, /^OK \[READ-ONLY\] /);
    assert.ok(examined.untagged.includes("* OK [CLOSED] Previous mailbox closed") || true);
    assert.match((await c.command("STORE 1 +FLAGS (\\Deleted)")).status, /^NO \[READ-ONLY\] /);
    assert.match((await c.command("CLOSE")).status, /^OK/);
    c.close();
  });

  it("users never see each other's mailboxes", async () => {
    const bob = await login("bob@example.test");
    const list = await bob.command(`LIST "" "*"`);
    assert.equal(list.untagged.some((l) => /Keep|Projects|Work/.test(l)), false);
    assert.match((await bob.command("SELECT Keep")).status, /^NO \[NONEXISTENT\] /);
    assert.match((await bob.command("STATUS Keep (MESSAGES)")).status, /^NO /);
    bob.close();
  });
});

describe("IMAP sessions see each other", () => {
  it("expunges come first, and the flag updates after them carry the new numbers (RFC 9051 §7.5.1); new keywords are announced in FLAGS", async () => {
    const a = await login("carol@example.test");
    await a.command("CREATE Shared");
    for (let i = 1; i <= 4; i++) {
      const m = `Subject: n${i}\r\n\r\nbody ${i}\r\n`;
      await a.command(`APPEND Shared {${m.length}+}\r\n${m}`);
    }
    await a.command("SELECT Shared");
    const b = await login("carol@example.test");
    await b.command("SELECT Shared");
    await b.command("STORE 3:4 +FLAGS ($Fresh)");
    await b.command("STORE 1:2 +FLAGS (\\Deleted)");
    await b.command("EXPUNGE");
    const update = await a.command("NOOP");
    assert.deepEqual(update.untagged, [
      "* 1 EXPUNGE",
      "* 1 EXPUNGE",
      "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Fresh)",
      "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Fresh \\*)] Flags permitted",
      "* 1 FETCH (UID 3 FLAGS ($Fresh \\Recent))",
      "* 2 FETCH (UID 4 FLAGS ($Fresh \\Recent))",
    ]);
    a.close();
    b.close();
  });

  it("IDLE hears EXISTS for a message delivered by SMTP and EXPUNGE/FETCH from another session; POP3 deletions show up", async () => {
    const watcher = await login("bob@example.test");
    await watcher.command("SELECT INBOX");
    watcher.write("w1 IDLE\r\n");
    assert.equal(await watcher.line(), "+ idling");
    const smtp = await run("swaks", ["--server", `127.0.0.1:${server.listeners.smtp.port}`, "--to", "bob@example.test", "--from", "x@elsewhere.test", "--header", "Subject: for idle"]);
    assert.equal(smtp.code, 0, smtp.stderr);
    assert.equal(await watcher.line(15_000), "* 1 EXISTS");
    assert.equal(await watcher.line(), "* 1 RECENT", "an IMAP4rev1 session hears of \\Recent");
    watcher.write("DONE\r\n");
    assert.match(await watcher.line(), /^w1 OK /);

    const other = await login("bob@example.test");
    await other.command("SELECT INBOX");
    await other.command("STORE 1 +FLAGS (\\Flagged)");
    const noop = await watcher.command("NOOP");
    assert.deepEqual(noop.untagged, ["* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))"], "the watcher saw the message first: \\Recent is its own");
    const fetchDuring = await other.command("STORE 1 +FLAGS (\\Deleted)");
    assert.match(fetchDuring.status, /^OK/);
    await other.command("EXPUNGE");
    const seen = await watcher.command("NOOP");
    assert.ok(seen.untagged.includes("* 1 EXPUNGE"), seen.untagged.join("\n"));

    const again = await run("swaks", ["--server", `127.0.0.1:${server.listeners.smtp.port}`, "--to", "bob@example.test", "--from", "x@elsewhere.test", "--header", "Subject: for pop"]);
    assert.equal(again.code, 0);
    await server.waitForLog((e) => e.msg === "delivered" && e.to === "bob@example.test" && e.uid === 2);
    assert.ok((await watcher.command("NOOP")).untagged.includes("* 1 EXISTS"));
    const pop = await run("python3", ["-c", `
import poplib
p = poplib.POP3("127.0.0.1", ${server.listeners.pop3.port})
p.user("bob@example.test"); p.pass_("secret pw"); p.dele(1); p.quit()`]);
    assert.equal(pop.code, 0, pop.stderr);
    assert.ok((await watcher.command("NOOP")).untagged.includes("* 1 EXPUNGE"));
    watcher.close();
    other.close();
  });
});
