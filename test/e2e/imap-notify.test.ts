// IMAP NOTIFY (RFC 5465) end to end: what NOTIFY SET accepts and refuses
// (BAD for syntax and the SELECTED pairing rules, NO [BADEVENT] for events
// not offered), the STATUS indicator, news told between commands with no
// command in progress (EXISTS + FETCH of the asked attributes, flag
// FETCHes with UID, EXPUNGE under SELECTED, held back under
// SELECTED-DELAYED until NOOP), STATUS for other mailboxes, LIST for
// created, renamed, deleted and subscribed mailboxes, the session's own
// changes left out, news of a mailbox the session leaves told as its
// STATUS, IDLE telling exactly what NOTIFY asked, NOTIFY NONE turning it off.
// No client library speaks NOTIFY, so a raw client reads the lines.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startPetrel, type PetrelServer } from "../helpers/petrel.js";
import { loginImap, type RawImap } from "../helpers/imap-client.js";

let server: PetrelServer;
let port: number;

const login = (user: string): Promise<RawImap> => loginImap(port, user, "pw");

/** Reads unsolicited lines until one matches; returns every line read, the match last. */
async function linesUntil(c: RawImap, pattern: RegExp): Promise<string[]> {
  const seen: string[] = [];
  for (;;) {
    const line = await c.line(10_000);
    seen.push(line);
    if (pattern.test(line)) return seen;
  }
}

async function append(c: RawImap, mailbox: string, subject: string): Promise<number> {
  const msg = `Subject: ${subject}\r\nFrom: a@example.test\r\n\r\nbody of ${subject}\r\n`;
  const r = await c.command(`APPEND ${mailbox} {${msg.length}+}\r\n${msg}`);
  const uid = /APPENDUID \d+ (\d+)/.exec(r.status);
  assert.ok(uid, r.status);
  return Number(uid[1]);
}

before(async () => {
  server = await startPetrel({ listeners: ["smtp", "imap"] });
  port = server.listeners.imap.port;
  assert.equal((await server.cli(["domain", "add", "example.test"])).code, 0);
  for (const user of ["nina", "otto", "paul", "quinn", "rita"]) {
    assert.equal((await server.cli(["user", "add", `${user}@example.test`, "--password-stdin"], "pw\n")).code, 0);
  }
});
after(async () => server?.close());

describe("IMAP NOTIFY", () => {
  it("is advertised; bad syntax and broken SELECTED pairs are BAD, events not offered NO [BADEVENT]; a refused NOTIFY changes nothing", async () => {
    const c = await login("nina@example.test");
    try {
      assert.match((await c.command("CAPABILITY")).untagged[0], / NOTIFY( |$)/);
      const bad = [
        "NOTIFY",
        "NOTIFY SET",
        "NOTIFY MAYBE",
        "NOTIFY SET (INBOX (MessageNew))",
        "NOTIFY SET (personal ())",
        "NOTIFY SET (mailboxes (MessageNew))",
        "NOTIFY SET (selected (MessageNew))",
        "NOTIFY SET (selected (MessageExpunge))",
        "NOTIFY SET (selected (FlagChange))",
        "NOTIFY SET (selected (MessageNew MessageExpunge MailboxName))",
        "NOTIFY SET (personal (MessageNew (UID) MessageExpunge))",
        "NOTIFY SET (selected (MessageNew (NOSUCHATT) MessageExpunge))",
        "NOTIFY SET (selected NONE) (selected-delayed NONE)",
        "NOTIFY NONE extra",
      ];
      for (const command of bad) assert.match((await c.command(command)).status, /^BAD /, command);
      for (const event of ["AnnotationChange", "MailboxMetadataChange", "XFuture"]) {
        const r = await c.command(`NOTIFY SET (personal (${event}))`);
        assert.equal(r.status.split("]")[0], "NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)", event);
      }
      // Lone events for other mailboxes are taken (RFC 5465 §3.1's own example does that).
      assert.match((await c.command("NOTIFY SET (mailboxes INBOX (MessageNew)) (subtree Archive (MessageExpunge))")).status, /^OK /);
      assert.match((await c.command("NOTIFY SET (selected-delayed (MessageNew (UID FLAGS) MessageExpunge FlagChange)) (inboxes NONE)")).status, /^OK /);
      assert.match((await c.command("NOTIFY NONE")).status, /^OK /);
    } finally {
      c.close();
    }
  });

  it("STATUS indicator: a STATUS per watched mailbox with the items its events need, never for the selected one", async () => {
    const c = await login("otto@example.test");
    try {
      assert.match((await c.command("CREATE Lists/Rust")).status, /^OK /);
      await append(c, "Lists/Rust", "one");
      await append(c, "Lists/Rust", "two");
      assert.match((await c.command("SELECT INBOX")).status, /^OK /);
      const r = await c.command("NOTIFY SET STATUS (selected (MessageNew MessageExpunge)) (subtree Lists (MessageNew)) (mailboxes (Archive Nowhere) (MessageExpunge)) (mailboxes Trash (FlagChange))");
      assert.match(r.status, /^OK /);
      const statuses = r.untagged.filter((l) => l.startsWith("* STATUS "));
      assert.ok(statuses.some((l) => /^\* STATUS "Lists\/Rust" \(MESSAGES 2 UIDNEXT 3 UIDVALIDITY \d+ UNSEEN 2\)$/.test(l)), statuses.join("\n"));
      assert.ok(statuses.includes('* STATUS "Archive" (MESSAGES 0)'), statuses.join("\n"));
      assert.match(statuses.find((l) => l.includes("Trash")) ?? "", /^\* STATUS "Trash" \(UIDVALIDITY \d+ UNSEEN 0 HIGHESTMODSEQ \d+\)$/);
      assert.ok(statuses.some((l) => l.startsWith('* STATUS "Lists" ')), "Lists itself is in its subtree");
      assert.equal(statuses.some((l) => /INBOX|Nowhere|Sent/.test(l)), false, statuses.join("\n"));
      assert.equal(statuses.length, 4, statuses.join("\n"));
      // Without STATUS: none.
      const quiet = await c.command("NOTIFY SET (subtree Lists (MessageNew))");
      assert.equal(quiet.untagged.filter((l) => l.startsWith("* STATUS")).length, 0);
    } finally {
      c.close();
    }
  });

  it("between commands: EXISTS + FETCH of the asked attributes, flag FETCH with UID, EXPUNGE under SELECTED, STATUS and LIST for the rest", async () => {
    const a = await login("paul@example.test");
    const b = await login("paul@example.test");
    try {
      assert.match((await a.command("SELECT INBOX")).status, /^OK /);
      const set = await a.command(
        "NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)]) MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge MailboxName SubscriptionChange))",
      );
      assert.match(set.status, /^OK /);

      // No command from a from here on: everything arrives on its own.
      const uid = await append(b, "INBOX", "hello notify");
      const news = await linesUntil(a, /FETCH/);
      assert.deepEqual(news[0], "* 1 EXISTS");
      assert.equal(news[news.length - 1], `* 1 FETCH (UID ${uid} BODY[HEADER.FIELDS (SUBJECT)] {25}\r\nSubject: hello notify\r\n\r\n)`);

      assert.match((await b.command("SELECT INBOX")).status, /^OK /);
      assert.match((await b.command("STORE 1 +FLAGS.SILENT (\\Flagged)")).status, /^OK /);
      assert.equal((await linesUntil(a, /FETCH/)).pop(), `* 1 FETCH (UID ${uid} FLAGS (\\Flagged \\Recent))`);

      await append(b, "Archive", "kept");
      assert.equal((await linesUntil(a, /STATUS/)).pop(), '* STATUS "Archive" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)');

      // (The parent may be told twice: when made, and again as the child's parent.)
      assert.match((await b.command("CREATE Projects/Kite")).status, /^OK /);
      const made = await linesUntil(a, /Projects\/Kite/);
      assert.match(made[0], /^\* LIST \(\\Has(No)?Children\) "\/" "Projects"$/);
      assert.equal(made[made.length - 1], '* LIST (\\HasNoChildren) "/" "Projects/Kite"');
      assert.match((await b.command("RENAME Projects/Kite Projects/Glider")).status, /^OK /);
      assert.equal((await linesUntil(a, /Glider/)).pop(), '* LIST (\\HasNoChildren) "/" "Projects/Glider" ("OLDNAME" ("Projects/Kite"))');
      assert.match((await b.command("SUBSCRIBE Projects/Glider")).status, /^OK /);
      assert.equal((await linesUntil(a, /Glider/)).pop(), '* LIST (\\HasNoChildren \\Subscribed) "/" "Projects/Glider"');
      assert.match((await b.command("UNSUBSCRIBE Projects/Glider")).status, /^OK /);
      assert.match((await b.command("DELETE Projects/Glider")).status, /^OK /);
      const gone = await linesUntil(a, /NonExistent/);
      assert.ok(gone.includes('* LIST (\\HasNoChildren) "/" "Projects/Glider"'), gone.join("\n"));
      assert.equal(gone[gone.length - 1], '* LIST (\\NonExistent) "/" "Projects/Glider"');

      assert.match((await b.command("STORE 1 +FLAGS.SILENT (\\Deleted)")).status, /^OK /);
      assert.match((await b.command("EXPUNGE")).status, /^OK /);
      const expunged = await linesUntil(a, /EXPUNGE/);
      assert.equal(expunged[expunged.length - 1], "* 1 EXPUNGE");

      // a's own changes are not told back to it (RFC 5465 §5).
      const own = await a.command("CREATE Mine");
      assert.match(own.status, /^OK /);
      const ownAppend = `Subject: mine\r\n\r\nx\r\n`;
      const r = await a.command(`APPEND Archive {${ownAppend.length}+}\r\n${ownAppend}`);
      assert.match(r.status, /^OK /);
      const noop = await a.command("NOOP");
      assert.deepEqual([...own.untagged, ...r.untagged, ...noop.untagged], []);
    } finally {
      a.close();
      b.close();
    }
  });

  it("SELECTED-DELAYED holds expunges back until a command that may carry them; new mail still comes at once", async () => {
    const a = await login("quinn@example.test");
    const b = await login("quinn@example.test");
    try {
      await append(b, "INBOX", "first");
      await append(b, "INBOX", "second");
      assert.match((await a.command("SELECT INBOX")).status, /^OK /);
      assert.match((await a.command("NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange))")).status, /^OK /);
      assert.match((await b.command("SELECT INBOX")).status, /^OK /);
      assert.match((await b.command("STORE 1 +FLAGS.SILENT (\\Deleted)")).status, /^OK /);
      assert.match((await b.command("EXPUNGE")).status, /^OK /);
      await append(b, "INBOX", "third");
      // The expunged message keeps its number: 2 old + 1 new.
      const before = await linesUntil(a, /EXISTS/);
      assert.equal(before[before.length - 1], "* 3 EXISTS");
      assert.equal(before.some((l) => /EXPUNGE/.test(l)), false, before.join("\n"));
      // FETCH may not carry it (RFC 3501 §7.4.1); NOOP does.
      const fetch = await a.command("FETCH 1:* (UID)");
      assert.equal(fetch.untagged.some((l) => /EXPUNGE/.test(l)), false);
      const noop = await a.command("NOOP");
      assert.deepEqual(noop.untagged, ["* 1 EXPUNGE"]);
      // Leaving a mailbox with news not yet told: they come as its STATUS.
      assert.match((await a.command("NOTIFY SET (selected-delayed (MessageNew MessageExpunge)) (personal (MessageNew MessageExpunge))")).status, /^OK /);
      assert.match((await b.command("STORE 1 +FLAGS.SILENT (\\Deleted)")).status, /^OK /);
      assert.match((await b.command("EXPUNGE")).status, /^OK /);
      const select = await a.command("SELECT Archive");
      assert.ok(select.untagged.includes('* STATUS "INBOX" (MESSAGES 1 UIDNEXT 4 UNSEEN 1)'), select.untagged.join("\n"));
    } finally {
      a.close();
      b.close();
    }
  });

  it("IDLE tells exactly what NOTIFY asked: no SELECTED group, no EXISTS; NOTIFY NONE silences the rest", async () => {
    const a = await login("rita@example.test");
    const b = await login("rita@example.test");
    try {
      assert.match((await a.command("SELECT INBOX")).status, /^OK /);
      assert.match((await a.command("NOTIFY SET (personal (MessageNew MessageExpunge))")).status, /^OK /);
      a.write("i1 IDLE\r\n");
      assert.match(await a.line(), /^\+ /);
      await append(b, "INBOX", "for the selected one");
      await append(b, "Drafts", "for another one");
      const heard = await linesUntil(a, /STATUS/);
      assert.deepEqual(heard, ['* STATUS "Drafts" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)']);
      a.write("DONE\r\n");
      // The IDLE command's end may carry the INBOX news (RFC 3501 §5.2).
      assert.match((await linesUntil(a, /^i1 /)).pop()!, /^i1 OK /);

      assert.match((await a.command("NOTIFY NONE")).status, /^OK /);
      await append(b, "Drafts", "unheard");
      const noop = await a.command("NOOP");
      assert.equal(noop.untagged.some((l) => l.includes("STATUS")), false, noop.untagged.join("\n"));
      // Off again: IDLE tells the selected mailbox's news as without NOTIFY.
      a.write("i2 IDLE\r\n");
      assert.match(await a.line(), /^\+ /);
      await append(b, "INBOX", "heard again");
      assert.equal((await linesUntil(a, /EXISTS/)).pop(), "* 2 EXISTS");
      a.write("DONE\r\n");
      assert.match((await linesUntil(a, /^i2 /)).pop()!, /^i2 OK /);
    } finally {
      a.close();
      b.close();
    }
  });
});
