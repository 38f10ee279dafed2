// IMAP end to end with two client libraries no one here wrote, one command
// family per test, against a real `petrel serve`: imapflow (npm) for most of
// it, Python's imaplib where imapflow has no call for the command or hides
// the server's lines (LSUB, LIST (SPECIAL-USE), the NAMESPACE and QUOTA
// lines, UNCHANGEDSINCE read back as [MODIFIED], SORT, THREAD, EXPUNGE,
// CLOSE, UNSELECT, BODY[] without PEEK), poplib for POP3. Covered: mailboxes (CREATE with parents, LIST with special use,
// SUBSCRIBE/UNSUBSCRIBE/LSUB, RENAME with children, DELETE, STATUS,
// NAMESPACE, QUOTA); APPEND and FETCH (every item imapflow asks for,
// download() of decoded parts, PEEK and \Seen); STORE and CONDSTORE; SEARCH,
// SORT and THREAD; COPY/MOVE/EXPUNGE/UID EXPUNGE with UIDPLUS, CLOSE and
// UNSELECT; IDLE news across sessions (SMTP delivery, another client's flags
// and expunge); POP3 and IMAP agreeing on UIDs, sizes, bytes and deletions.
// Every test has a user of its own; waits are for events, never sleeps.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ImapFlow, type ImapFlowEvents, type ImapFlowOptions } from "imapflow";
import { startPetrel, type PetrelServer } from "../helpers/petrel.js";
import { run } from "../helpers/run.js";
import { sendMessages } from "../helpers/submit.js";

const PASSWORD = "client pw";
const EVENT_TIMEOUT = 20_000;

let server: PetrelServer;

before(async () => {
  server = await startPetrel({ listeners: ["smtp", "imap", "imaps", "pop3"] });
  assert.equal((await server.cli(["domain", "add", "example.test"])).code, 0);
  const users: [string, string[]][] = [
    ["mbox", ["--quota", "1M"]],
    ["fetch", []],
    ["store", []],
    ["search", []],
    ["copy", []],
    ["idle", []],
    ["pop", []],
  ];
  for (const [name, extra] of users) {
    const r = await server.cli(["user", "add", `${name}@example.test`, "--password-stdin", ...extra], `${PASSWORD}\n`);
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => server?.close());

// ------------------------------------------------------------------ helpers

function flow(user: string, opts: Partial<ImapFlowOptions> = {}): ImapFlow {
  const { port } = server.listeners.imap;
  return new ImapFlow({ host: "127.0.0.1", port, secure: false, doSTARTTLS: false, auth: { user, pass: PASSWORD }, logger: false, ...opts });
}

/** Connects an imapflow client, runs fn, and logs out whatever happens. */
async function withFlow<T>(user: string, fn: (c: ImapFlow) => Promise<T>, opts: Partial<ImapFlowOptions> = {}): Promise<T> {
  const c = flow(user, opts);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.logout().catch(() => c.close());
  }
}

/** Runs fn with the mailbox selected (imapflow's lock), then releases it. */
async function inMailbox<T>(c: ImapFlow, path: string, fn: () => Promise<T>): Promise<T> {
  const lock = await c.getMailboxLock(path);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/**
 * Runs a Python script with imaplib and poplib imported and helpers for the
 * user: imap() is a logged-in IMAP4, pop() a logged-in POP3, out(v) prints v
 * as JSON (bytes as latin-1 text, tuples as lists). The last line printed is
 * the result.
 */
async function python<T>(user: string, script: string): Promise<T> {
  const prelude = `import imaplib, poplib, json
HOST = "127.0.0.1"
USER = ${JSON.stringify(user)}
PW = ${JSON.stringify(PASSWORD)}
def imap():
    m = imaplib.IMAP4(HOST, ${server.listeners.imap.port})
    m.login(USER, PW)
    return m
def pop():
    p = poplib.POP3(HOST, ${server.listeners.pop3.port})
    p.user(USER)
    p.pass_(PW)
    return p
def text(v):
    if isinstance(v, bytes): return v.decode("latin-1")
    if isinstance(v, (list, tuple)): return [text(x) for x in v]
    if isinstance(v, dict): return {k: text(x) for k, x in v.items()}
    return v
def out(v):
    print(json.dumps(text(v)))
`;
  const r = await run("python3", ["-c", prelude + script], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, `python failed:\n${r.stderr}`);
  const last = r.stdout.trim().split("\n").pop();
  assert.ok(last, `no output from python; stderr:\n${r.stderr}`);
  return JSON.parse(last) as T;
}

type Payload<K extends keyof ImapFlowEvents> = ImapFlowEvents[K][0];

/** The next `name` event of c for which pred holds. Call it before causing the event. */
function nextEvent<K extends "exists" | "expunge" | "flags">(c: ImapFlow, name: K, pred: (e: Payload<K>) => boolean = () => true): Promise<Payload<K>> {
  return new Promise((resolve, reject) => {
    const listener = (e: Payload<K>) => {
      if (!pred(e)) return;
      done();
      resolve(e);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no matching '${name}' event within ${EVENT_TIMEOUT} ms`));
    }, EVENT_TIMEOUT);
    const done = () => {
      clearTimeout(timer);
      c.off(name, listener as (...args: unknown[]) => void);
    };
    c.on(name, listener as (...args: unknown[]) => void);
  });
}

/**
 * Resolves once c's IDLE is acknowledged by the server ("+ idling"), so news
 * sent from then on arrives unasked. Needs a client made with emitLogs.
 */
function idleStarted(c: ImapFlow): Promise<void> {
  return new Promise((resolve, reject) => {
    const listener = (entry: ImapFlowEvents["log"][0]) => {
      if (entry.msg !== "Initiated IDLE, waiting for server input") return;
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`IDLE not started within ${EVENT_TIMEOUT} ms`));
    }, EVENT_TIMEOUT);
    const done = () => {
      clearTimeout(timer);
      c.off("log", listener);
    };
    c.on("log", listener);
  });
}

/** An imapflow client that starts IDLE as soon as it has nothing else to do. */
const watcherOptions: Partial<ImapFlowOptions> = { autoIdleDelay: 50, emitLogs: true };

const entriesFrom = () => server.entries.length;

/** Delivers one message by SMTP to user and waits until it is in the INBOX; returns its UID there. */
async function deliver(user: string, subject: string, body: string): Promise<number> {
  const from = entriesFrom();
  const message = `From: <sender@elsewhere.test>\r\nTo: <${user}>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, "-")}@elsewhere.test>\r\n\r\n${body}`;
  const { qid } = await sendMessages(server, { from: "sender@elsewhere.test", to: [user], body: message });
  const entry = await server.waitForLog((e) => e.msg === "delivered" && e.qid === qid && e.to === user, 15_000, from);
  assert.equal(typeof entry.uid, "number", JSON.stringify(entry));
  return entry.uid as number;
}

/** A message as CRLF lines: header lines, an empty line, the body lines. */
const message = (headers: string[], body: string[]): string => [...headers, "", ...body, ""].join("\r\n");

/** Drains a readable stream into one Buffer. */
async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}

/** For assert.rejects: an imapflow error carrying the server's response code. */
const responseCode = (code: string) => (err: unknown) => {
  assert.equal((err as { serverResponseCode?: string }).serverResponseCode, code, String(err));
  return true;
};

const sorted = (flags: Set<string> | undefined): string[] => [...(flags ?? [])].sort();

/** imaplib FETCH lines ("n (UID u FLAGS (...) ...)") as [uid, sorted flags], whatever the item order. */
function uidFlags(lines: string[]): [number, string[]][] {
  return lines.map((l) => {
    const uid = /UID (\d+)/.exec(l);
    const flags = /FLAGS \(([^)]*)\)/.exec(l);
    assert.ok(uid && flags, l);
    return [Number(uid[1]), flags[1].split(" ").filter(Boolean).sort()];
  });
}

// ------------------------------------------------------------------ tests

describe("IMAP with imapflow and imaplib", () => {
  it("mailboxes: CREATE with parents, LIST with special use, SUBSCRIBE/UNSUBSCRIBE/LSUB, RENAME with children, DELETE, STATUS, NAMESPACE, QUOTA", async () => {
    const user = "mbox@example.test";
    const appended: number[] = [];
    let usedKiB = 0;
    await withFlow(user, async (c) => {
      // NAMESPACE: imapflow asks at login; one personal namespace, "" with "/".
      assert.deepEqual(c.namespaces?.personal, [{ prefix: "", delimiter: "/" }]);
      assert.ok(!c.namespaces?.other, "no other users' namespace");
      assert.ok(!c.namespaces?.shared, "no shared namespace");

      const created = await c.mailboxCreate("Projects/Petrel/Docs");
      assert.equal(created.path, "Projects/Petrel/Docs");
      assert.equal(created.created, true);
      assert.equal((await c.mailboxCreate("Projects")).created, false, "the parent was made by CREATE of its child: ALREADYEXISTS");

      const list = await c.list();
      const byPath = new Map(list.map((m) => [m.path, m]));
      assert.deepEqual([...byPath.keys()].sort(), ["Archive", "Drafts", "INBOX", "Junk", "Projects", "Projects/Petrel", "Projects/Petrel/Docs", "Sent", "Trash"]);
      const special = list.filter((m) => m.specialUseSource === "extension").map((m) => `${m.path}=${m.specialUse}`).sort();
      assert.deepEqual(special, ["Archive=\\Archive", "Drafts=\\Drafts", "Junk=\\Junk", "Sent=\\Sent", "Trash=\\Trash"]);
      assert.ok(byPath.get("Projects")!.flags.has("\\HasChildren"));
      assert.ok(byPath.get("Projects/Petrel")!.flags.has("\\HasChildren"));
      assert.ok(byPath.get("Projects/Petrel/Docs")!.flags.has("\\HasNoChildren"));
      assert.equal(byPath.get("Projects/Petrel/Docs")!.parentPath, "Projects/Petrel");
      assert.equal(byPath.get("Projects/Petrel/Docs")!.delimiter, "/");

      // Subscriptions: imapflow subscribed what it created; Projects by hand; Junk dropped.
      assert.equal(await c.mailboxSubscribe("Projects"), true);
      assert.equal(await c.mailboxUnsubscribe("Junk"), true);
      // (LIST RETURN (SUBSCRIBED): imapflow leaves `subscribed` unset for the others.)
      const subscriptions = (await c.list()).map((m) => `${m.path}${m.subscribed ? " +" : ""}`);
      for (const entry of ["INBOX +", "Projects +", "Projects/Petrel", "Projects/Petrel/Docs +", "Junk", "Sent +"]) {
        assert.ok(subscriptions.includes(entry), `${entry} in ${subscriptions.join(", ")}`);
      }

      // STATUS of a mailbox with messages, one of them \Seen.
      for (const [i, flags] of [[1, ["\\Seen"]], [2, []], [3, ["$Later"]]] as const) {
        const r = await c.append("Projects/Petrel", message([`Subject: status ${i}`], [`body ${i}`]), [...flags]);
        assert.ok(r && r.uid, "APPENDUID");
        appended.push(r.uid);
      }
      assert.deepEqual(appended, [1, 2, 3]);
      const before = await c.status("Projects/Petrel", { messages: true, unseen: true, uidNext: true, uidValidity: true, highestModseq: true });
      assert.ok(before);
      assert.equal(before.messages, 3);
      assert.equal(before.unseen, 2);
      assert.equal(before.uidNext, 4);
      assert.equal(typeof before.uidValidity, "bigint");
      assert.ok(before.uidValidity! > 0n);
      assert.equal(typeof before.highestModseq, "bigint");
      await inMailbox(c, "Projects/Petrel", () => c.messageFlagsAdd({ uid: "2" }, ["\\Seen"], { uid: true }));
      const afterStore = await c.status("Projects/Petrel", { unseen: true, highestModseq: true, uidValidity: true });
      assert.ok(afterStore);
      assert.equal(afterStore.unseen, 1);
      assert.ok(afterStore.highestModseq! > before.highestModseq!, "a flag change raises HIGHESTMODSEQ");
      assert.equal(afterStore.uidValidity, before.uidValidity);

      // RENAME takes the children (and the messages) along.
      const renamed = await c.mailboxRename("Projects", "Work/Old");
      assert.equal(renamed.path, "Projects");
      assert.equal(renamed.newPath, "Work/Old");
      const after = (await c.list()).map((m) => m.path);
      assert.equal(after.some((p) => p.startsWith("Projects")), false, after.join(", "));
      for (const p of ["Work", "Work/Old", "Work/Old/Petrel", "Work/Old/Petrel/Docs"]) assert.ok(after.includes(p), `${p} in ${after.join(", ")}`);
      const moved = await c.status("Work/Old/Petrel", { messages: true, unseen: true, uidNext: true });
      assert.ok(moved);
      assert.deepEqual([moved.messages, moved.unseen, moved.uidNext], [3, 1, 4]);
      // STATUS of the old name gets NO, and imapflow's LIST check finds nothing by that name.
      await assert.rejects(c.status("Projects/Petrel", { messages: true }), (err: { code?: string }) => err.code === "NotFound");

      // DELETE: a leaf goes; a parent with children is refused.
      assert.equal((await c.mailboxDelete("Work/Old/Petrel/Docs")).path, "Work/Old/Petrel/Docs");
      await assert.rejects(c.mailboxDelete("Work"), responseCode("HASCHILDREN"));
      const left = (await c.list()).map((m) => m.path);
      assert.equal(left.includes("Work/Old/Petrel/Docs"), false);
      assert.ok(left.includes("Work"));

      // QUOTA: imapflow's GETQUOTAROOT gets the QUOTA line too; in bytes; the user has 1M.
      const quota = await c.getQuota("INBOX");
      assert.ok(quota, "a user with a quota has a quota root");
      assert.equal(quota.storage?.limit, 1024 * 1024);
      const status = await c.status("Work/Old/Petrel", { size: true });
      assert.ok(status && status.size! > 0);
      usedKiB = Math.ceil(status.size! / 1024);
      assert.equal(quota.storage?.usage, usedKiB * 1024, "usage is what the messages hold, in whole KiB");
    });

    // imapflow on an IMAP4rev2 server never says LSUB, and reads NAMESPACE and QUOTA its own way: imaplib shows the lines.
    const lsub = await python<{ all: string[]; pct: string[]; ns: string[]; root: string[][]; quota: string[]; special: string[] }>(user, `
m = imap()
ns = m.namespace()[1]
special = m.list('(SPECIAL-USE) ""', "*")[1]
root = m.getquotaroot("Work/Old/Petrel")[1]
quota = m.getquota('""')[1]
m.subscribe("Ghost/Child")
all = m.lsub('""', "*")[1]
pct = m.lsub('""', "Ghost/%")[1]
top = m.lsub('""', "%")[1]
m.logout()
out({"all": all, "pct": pct + top, "ns": ns, "root": root, "quota": quota, "special": special})`);
    assert.deepEqual(lsub.special, ["Archive", "Drafts", "Junk", "Sent", "Trash"].map((n) => `(\\HasNoChildren \\${n}) "/" "${n}"`), "LIST (SPECIAL-USE)");
    assert.deepEqual(lsub.ns, [`(("" "/")) NIL NIL`]);
    assert.deepEqual(lsub.root, [[`"Work/Old/Petrel" ""`], [`"" (STORAGE ${usedKiB} 1024)`]]);
    assert.deepEqual(lsub.quota, [`"" (STORAGE ${usedKiB} 1024)`]);
    const lsubNames = lsub.all.map((l) => /"([^"]*)"$/.exec(l)?.[1]);
    assert.ok(lsubNames.includes("Ghost/Child"), lsub.all.join("\n"));
    assert.ok(lsubNames.includes("INBOX"));
    assert.equal(lsubNames.includes("Junk"), false, "unsubscribed");
    assert.equal(lsubNames.includes("Ghost"), false, "not subscribed itself, and * reaches the child");
    assert.ok(lsub.pct.includes(`(\\Noselect) "/" "Ghost"`), `% stops at Ghost, shown \\Noselect for its subscribed child:\n${lsub.pct.join("\n")}`);
  });

  it("APPEND with flags and internal date; FETCH envelope, bodyStructure, bodyParts, source, internalDate, size, flags, uid; download() decodes; PEEK keeps \\Seen off, BODY[] sets it", async () => {
    const user = "fetch@example.test";
    const text = message(
      [
        "From: =?utf-8?q?J=C3=B6rg?= <jorg@example.test>",
        "To: Alice <alice@example.test>, bob@example.test",
        "Cc: Carol <carol@example.test>",
        "Subject: =?utf-8?b?R3LDvMOfZQ==?= from the lake",
        "Date: Mon, 14 Jul 2025 10:00:00 +0200",
        "Message-ID: <lake1@example.test>",
        "In-Reply-To: <shore@example.test>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b1"',
      ],
      [
        "--b1",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "K=C3=A4se und Brot am See",
        "--b1",
        'Content-Type: application/octet-stream; name="a.bin"',
        'Content-Disposition: attachment; filename="a.bin"',
        "Content-Transfer-Encoding: base64",
        "",
        "AAECAw==",
        "--b1--",
      ],
    );
    const idate = new Date("2024-03-05T06:07:08Z");
    await withFlow(user, async (c) => {
      const r = await c.append("INBOX", text, ["\\Flagged", "$Work"], idate);
      assert.ok(r);
      assert.equal(r.uid, 1);
      assert.equal(r.destination, "INBOX");
      const plain = await c.append("INBOX", message(["Subject: second", "From: x@example.test"], ["just text"]));
      assert.ok(plain);
      assert.equal(plain.uid, 2);

      await inMailbox(c, "INBOX", async () => {
        assert.equal(c.mailbox && c.mailbox.exists, 2);
        const msg = await c.fetchOne(
          "1",
          { uid: true, flags: true, envelope: true, bodyStructure: true, internalDate: true, size: true, source: true, bodyParts: ["1", "2", "1.MIME"] },
          { uid: true },
        );
        assert.ok(msg);
        assert.equal(msg.uid, 1);
        assert.equal(msg.seq, 1);
        assert.equal(msg.source?.toString("latin1"), text, "BODY[] is the APPENDed bytes");
        assert.equal(msg.size, Buffer.byteLength(text));
        assert.ok(msg.internalDate instanceof Date);
        assert.equal(msg.internalDate.getTime(), idate.getTime());
        assert.deepEqual(sorted(msg.flags), ["$Work", "\\Flagged"]);

        const env = msg.envelope!;
        assert.equal(env.subject, "Grüße from the lake");
        assert.equal(env.messageId, "<lake1@example.test>");
        assert.equal(env.inReplyTo, "<shore@example.test>");
        assert.equal(new Date(env.date!).getTime(), Date.UTC(2025, 6, 14, 8, 0, 0));
        assert.deepEqual(env.from, [{ name: "Jörg", address: "jorg@example.test" }]);
        assert.deepEqual(env.sender, env.from, "no Sender: it defaults to From");
        assert.deepEqual(env.to, [{ name: "Alice", address: "alice@example.test" }, { name: "", address: "bob@example.test" }]);
        assert.deepEqual(env.cc, [{ name: "Carol", address: "carol@example.test" }]);

        const bs = msg.bodyStructure!;
        assert.equal(bs.type, "multipart/mixed");
        assert.equal(bs.parameters?.boundary, "b1");
        assert.equal(bs.childNodes?.length, 2);
        const [part1, part2] = bs.childNodes!;
        assert.deepEqual([part1.part, part1.type, part1.encoding, part1.parameters?.charset], ["1", "text/plain", "quoted-printable", "utf-8"]);
        assert.equal(part1.size, "K=C3=A4se und Brot am See".length);
        assert.deepEqual([part2.part, part2.type, part2.encoding, part2.size], ["2", "application/octet-stream", "base64", 8]);
        assert.equal(part2.parameters?.name, "a.bin");
        assert.equal(part2.disposition, "attachment");
        assert.equal(part2.dispositionParameters?.filename, "a.bin");

        assert.equal(msg.bodyParts?.get("1")?.toString(), "K=C3=A4se und Brot am See", "BODY[1] is still encoded");
        assert.equal(msg.bodyParts?.get("2")?.toString(), "AAECAw==");
        // (imapflow keys the parts by the section name in lower case.)
        assert.equal(msg.bodyParts?.get("1.mime")?.toString(), "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");

        // download(): the transfer encoding removed, text turned to UTF-8.
        const textPart = await c.download("1", "1", { uid: true });
        assert.ok(textPart.content);
        assert.equal((await readAll(textPart.content)).toString("utf8"), "Käse und Brot am See");
        assert.equal(textPart.meta.contentType, "text/plain");
        const binPart = await c.download("1", "2", { uid: true });
        assert.ok(binPart.content);
        assert.deepEqual([...(await readAll(binPart.content))], [0, 1, 2, 3]);
        assert.equal(binPart.meta.filename, "a.bin");
        const whole = await c.download("1", undefined, { uid: true });
        assert.ok(whole.content);
        assert.equal((await readAll(whole.content)).toString("latin1"), text);

        // Several messages in one FETCH, in order.
        const all = await c.fetchAll("1:*", { uid: true, size: true, envelope: true, bodyStructure: true });
        assert.deepEqual(all.map((m) => [m.seq, m.uid, m.envelope?.subject, m.size]), [
          [1, 1, "Grüße from the lake", Buffer.byteLength(text)],
          [2, 2, "second", Buffer.byteLength(message(["Subject: second", "From: x@example.test"], ["just text"]))],
        ]);
        const single = all[1].bodyStructure!;
        assert.deepEqual([single.type, single.parameters?.charset, single.encoding, single.size, single.lineCount], ["text/plain", "us-ascii", "7bit", 11, 1], "RFC 2045 defaults");

        // Everything imapflow fetched was PEEK: still not \Seen.
        const flags = await c.fetchAll("1:2", { flags: true }, { uid: true });
        assert.deepEqual(flags.map((m) => m.flags?.has("\\Seen")), [false, false]);
      });
    });

    // imapflow always peeks; imaplib asks for BODY.PEEK[] and then BODY[]. A FETCH reply comes as
    // (head, literal) tuples and trailing strings: peek keeps the heads, body the heads and literals.
    const seen = await python<{ peek: string[]; body: string[]; after: string[] }>(user, `
m = imap()
m.select("INBOX")
typ, peek = m.uid("FETCH", "2", "(BODY.PEEK[] FLAGS)")
peek = [p[0] if isinstance(p, tuple) else p for p in peek]
typ, body = m.uid("FETCH", "2", "(BODY[])")
body = [p[0] if isinstance(p, tuple) else p for p in body] + [p[1] for p in body if isinstance(p, tuple)]
typ, after = m.fetch("1:2", "(UID FLAGS)")
m.logout()
out({"peek": peek, "body": body, "after": after})`);
    assert.match(seen.peek.join(" "), /^2 \(.*BODY\[\] \{\d+\}/);
    assert.doesNotMatch(seen.peek.join(" "), /\\Seen/);
    assert.ok(seen.body.some((p) => /FLAGS \(\\Seen\)/.test(p)), `BODY[] reports the new \\Seen flag: ${JSON.stringify(seen.body)}`);
    assert.ok(seen.body.includes(message(["Subject: second", "From: x@example.test"], ["just text"])));
    assert.deepEqual(uidFlags(seen.after), [[1, ["$Work", "\\Flagged"]], [2, ["\\Seen"]]]);
  });

  it("STORE: add, remove and set flags and keywords; CONDSTORE: fetch changedSince (imapflow), STORE UNCHANGEDSINCE → [MODIFIED] (imaplib)", async () => {
    const user = "store@example.test";
    await withFlow(user, async (c) => {
      assert.ok(c.enabled.has("CONDSTORE"), `imapflow enabled CONDSTORE: ${[...c.enabled].join(" ")}`);
      for (let i = 1; i <= 3; i++) assert.ok(await c.append("INBOX", message([`Subject: store ${i}`], [`body ${i}`])));
      await inMailbox(c, "INBOX", async () => {
        const flagsOf = async () => (await c.fetchAll("1:*", { uid: true, flags: true }, { uid: true })).map((m) => [m.uid, sorted(m.flags)]);
        assert.ok(c.mailbox && c.mailbox.permanentFlags?.has("\\*"), "new keywords may be made");

        assert.equal(await c.messageFlagsAdd("1:2", ["\\Flagged", "$Todo"], { uid: true }), true);
        assert.deepEqual(await flagsOf(), [[1, ["$Todo", "\\Flagged"]], [2, ["$Todo", "\\Flagged"]], [3, []]]);
        assert.equal(await c.messageFlagsRemove("2", ["$Todo"], { uid: true }), true);
        assert.equal(await c.messageFlagsSet("3", ["\\Answered", "$Done"], { uid: true }), true);
        assert.deepEqual(await flagsOf(), [[1, ["$Todo", "\\Flagged"]], [2, ["\\Flagged"]], [3, ["$Done", "\\Answered"]]]);
        assert.equal(await c.messageFlagsSet("1", [], { uid: true }), true, "FLAGS () clears them all");
        assert.deepEqual(await flagsOf(), [[1, []], [2, ["\\Flagged"]], [3, ["$Done", "\\Answered"]]]);
        assert.deepEqual(await c.search({ keyword: "$Done" }, { uid: true }), [3]);
        assert.deepEqual(await c.search({ unKeyword: "$Done", flagged: false }, { uid: true }), [1]);

        // CHANGEDSINCE: only what changed after the mark, with its MODSEQ.
        const mark = c.mailbox && c.mailbox.highestModseq;
        assert.equal(typeof mark, "bigint");
        const current = await c.fetchAll("1:*", { uid: true }, { uid: true });
        assert.ok(current.every((m) => typeof m.modseq === "bigint" && m.modseq <= mark!), "every MODSEQ ≤ HIGHESTMODSEQ");
        await c.messageFlagsAdd("2", ["\\Seen"], { uid: true });
        const changed = await c.fetchAll("1:*", { uid: true, flags: true }, { uid: true, changedSince: mark as bigint });
        assert.deepEqual(changed.map((m) => [m.uid, sorted(m.flags)]), [[2, ["\\Flagged", "\\Seen"]]]);
        const newModseq = changed[0].modseq!;
        assert.ok(newModseq > mark!);

        // UNCHANGEDSINCE: message 2 changed after the mark and is left alone; 1 and 3 are not.
        const conditional = await python<{ tagged: [string, string[]]; fetch: string[]; after: string[] }>(user, `
m = imap()
m.select("INBOX")
tagged = m._simple_command("UID", "STORE", "1:3", "(UNCHANGEDSINCE ${mark})", "+FLAGS", "(\\\\Draft)")
fetch = m.untagged_responses.pop("FETCH", [])
typ, after = m.uid("FETCH", "1:3", "(FLAGS)")
m.logout()
out({"tagged": tagged, "fetch": fetch, "after": after})`);
        assert.equal(conditional.tagged[0], "OK");
        assert.match(conditional.tagged[1][0], /^\[MODIFIED 2\] /);
        assert.deepEqual(conditional.fetch.map((l) => /UID (\d+)/.exec(l)?.[1]).sort(), ["1", "3"], conditional.fetch.join("\n"));
        assert.ok(conditional.fetch.every((l) => /MODSEQ \(\d+\)/.test(l)), "CONDSTORE FETCH responses carry MODSEQ");
        assert.deepEqual(uidFlags(conditional.after), [
          [1, ["\\Draft"]],
          [2, ["\\Flagged", "\\Seen"]],
          [3, ["$Done", "\\Answered", "\\Draft"]],
        ]);

        // imapflow sees the other session's changes by CHANGEDSINCE too.
        const again = await c.fetchAll("1:*", { uid: true, flags: true }, { uid: true, changedSince: newModseq });
        assert.deepEqual(again.map((m) => [m.uid, sorted(m.flags)]), [[1, ["\\Draft"]], [3, ["$Done", "\\Answered", "\\Draft"]]]);
      });
    });
  });

  it("SEARCH (imapflow: from, subject, body, since/before, larger, seen, or, not, keyword, uid ranges, ESEARCH; imaplib: SEARCH and UID SEARCH), SORT and THREAD (imaplib)", async () => {
    const user = "search@example.test";
    const pad = Array.from({ length: 60 }, () => "x".repeat(98));
    // [headers, body, internal date, flags]; UIDs 2..6 (UID 1 is expunged first), sequence numbers 1..5.
    const messages: [string[], string[], string, string[]][] = [
      [["From: Alice <alice@a.test>", "Subject: Quarterly report", "Date: Mon, 15 Jan 2024 12:00:00 +0000", "Message-ID: <q1@a.test>"], ["the numbers are inside"], "2024-01-15T12:00:00Z", ["\\Seen"]],
      [["From: Bob <bob@b.test>", "Subject: Lunch plans", "Date: Thu, 15 Feb 2024 12:00:00 +0000", "Message-ID: <lunch@b.test>"], ["pizza or sushi?"], "2024-02-15T12:00:00Z", []],
      [["From: Alice <alice@a.test>", "Subject: Re: Lunch plans", "Date: Wed, 20 Mar 2024 12:00:00 +0000", "Message-ID: <re-lunch@a.test>", "In-Reply-To: <lunch@b.test>", "References: <lunch@b.test>"], ["sushi please", ...pad], "2024-03-20T12:00:00Z", ["\\Seen", "\\Flagged"]],
      [["From: Carol <carol@c.test>", "Subject: Holiday", "Date: Thu, 25 Apr 2024 12:00:00 +0000", "Message-ID: <holiday@c.test>"], ["off to the beach"], "2024-04-25T12:00:00Z", []],
      [["From: Bob <bob@b.test>", "Subject: Report draft", "Date: Thu, 30 May 2024 12:00:00 +0000", "Message-ID: <draft@b.test>"], ["more numbers attached"], "2024-05-30T12:00:00Z", ["$Important"]],
    ];
    await withFlow(user, async (c) => {
      const gone = await c.append("INBOX", message(["Subject: gone"], ["numbers"]));
      assert.ok(gone && gone.uid === 1);
      for (const [headers, body, date, flags] of messages) assert.ok(await c.append("INBOX", message(headers, body), flags, new Date(date)));
      await inMailbox(c, "INBOX", async () => {
        assert.equal(await c.messageDelete("1", { uid: true }), true);
        assert.equal(c.mailbox && c.mailbox.exists, 5);
        const uids = (q: Parameters<ImapFlow["search"]>[0]) => c.search(q, { uid: true });
        assert.deepEqual(await uids({ all: true }), [2, 3, 4, 5, 6]);
        assert.deepEqual(await uids({ from: "alice" }), [2, 4]);
        assert.deepEqual(await uids({ subject: "lunch" }), [3, 4]);
        assert.deepEqual(await uids({ body: "numbers" }), [2, 6]);
        assert.deepEqual(await uids({ text: "sushi" }), [3, 4]);
        assert.deepEqual(await uids({ from: "bob", body: "numbers" }), [6], "criteria are ANDed");
        assert.deepEqual(await uids({ since: new Date("2024-02-15"), before: new Date("2024-04-25") }), [3, 4], "SINCE is inclusive, BEFORE is not");
        assert.deepEqual(await uids({ on: new Date("2024-04-25") }), [5]);
        assert.deepEqual(await uids({ sentSince: new Date("2024-05-01") }), [6]);
        assert.deepEqual(await uids({ larger: 4000 }), [4]);
        assert.deepEqual(await uids({ smaller: 4000 }), [2, 3, 5, 6]);
        assert.deepEqual(await uids({ seen: true }), [2, 4]);
        assert.deepEqual(await uids({ seen: false }), [3, 5, 6]);
        assert.deepEqual(await uids({ flagged: true, seen: true }), [4]);
        assert.deepEqual(await uids({ keyword: "$Important" }), [6]);
        assert.deepEqual(await uids({ or: [{ from: "carol" }, { subject: "report" }] }), [2, 5, 6]);
        assert.deepEqual(await uids({ not: { from: "alice" } }), [3, 5, 6]);
        assert.deepEqual(await uids({ uid: "3:5" }), [3, 4, 5]);
        assert.deepEqual(await uids({ uid: "3:5", seen: false }), [3, 5]);
        assert.deepEqual(await uids({ header: { "Message-ID": "draft@b.test" } }), [6]);
        assert.deepEqual(await uids({ subject: "nothing like this" }), []);
        assert.deepEqual(await c.search({ from: "alice" }), [1, 3], "without uid: sequence numbers");
        assert.deepEqual(await c.search({ seq: "2:4", seen: false }), [2, 4]);
        const esearch = await c.search({ seen: false }, { uid: true, returnOptions: ["min", "max", "count", "all"] });
        assert.deepEqual(esearch, { min: 3, max: 6, count: 3, all: "3,5:6" });
      });
    });

    const py = await python<Record<string, [string, string[]]>>(user, `
m = imap()
m.select("INBOX")
r = {}
r["from"] = m.search(None, "FROM", "alice")
r["uid_from"] = m.uid("SEARCH", "FROM", "alice")
r["or"] = m.search(None, "OR", "FROM", "carol", "SUBJECT", "report")
r["charset_body"] = m.search("UTF-8", "BODY", "sushi")
r["uid_range_unseen"] = m.uid("SEARCH", "UID", "3:5", "UNSEEN")
r["unseen_larger"] = m.search(None, "UNSEEN", "LARGER", "100")
r["before"] = m.search(None, "BEFORE", "15-Feb-2024")
r["sort_subject"] = m.sort("(SUBJECT)", "UTF-8", "ALL")
r["uid_sort_from"] = m.uid("SORT", "(FROM)", "UTF-8", "ALL")
r["sort_reverse_date"] = m.sort("(REVERSE DATE)", "UTF-8", "FROM", "alice")
r["sort_size"] = m.sort("(REVERSE SIZE)", "UTF-8", "SEEN")
r["thread_refs"] = m.thread("REFERENCES", "UTF-8", "ALL")
r["uid_thread_refs"] = m.uid("THREAD", "REFERENCES", "UTF-8", "ALL")
r["thread_subject"] = m.thread("ORDEREDSUBJECT", "UTF-8", "NOT", "FROM", "carol")
m.logout()
out(r)`);
    assert.deepEqual(py.from, ["OK", ["1 3"]]);
    assert.deepEqual(py.uid_from, ["OK", ["2 4"]]);
    assert.deepEqual(py.or, ["OK", ["1 4 5"]]);
    assert.deepEqual(py.charset_body, ["OK", ["2 3"]]);
    assert.deepEqual(py.uid_range_unseen, ["OK", ["3 5"]]);
    assert.deepEqual(py.unseen_larger, ["OK", ["2 4 5"]]);
    assert.deepEqual(py.before, ["OK", ["1"]]);
    // Base subjects: holiday, lunch plans (2, then its "Re:" 3), quarterly report, report draft.
    assert.deepEqual(py.sort_subject, ["OK", ["4 2 3 1 5"]]);
    // alice (UIDs 2, 4), bob (3, 6), carol (5); ties by sequence number.
    assert.deepEqual(py.uid_sort_from, ["OK", ["2 4 3 6 5"]]);
    assert.deepEqual(py.sort_reverse_date, ["OK", ["3 1"]]);
    assert.deepEqual(py.sort_size, ["OK", ["3 1"]], "of the two seen, 3 has the padding");
    assert.deepEqual(py.thread_refs, ["OK", ["(1)(2 3)(4)(5)"]]);
    assert.deepEqual(py.uid_thread_refs, ["OK", ["(2)(3 4)(5)(6)"]]);
    assert.deepEqual(py.thread_subject, ["OK", ["(1)(2 3)(5)"]]);
  });

  it("COPY, MOVE, UID EXPUNGE with UIDPLUS (imapflow); EXPUNGE, UNSELECT and CLOSE (imaplib)", async () => {
    const user = "copy@example.test";
    await withFlow(user, async (c) => {
      await c.mailboxCreate("Keep");
      const first = await c.append("Keep", message(["Subject: already kept"], ["old"]));
      assert.ok(first && first.uid === 1);
      for (let i = 1; i <= 4; i++) assert.ok(await c.append("INBOX", message([`Subject: copy ${i}`], [`body ${i}`])));
      const keep = await c.status("Keep", { uidValidity: true });
      assert.ok(keep);

      await inMailbox(c, "INBOX", async () => {
        const expunged: Payload<"expunge">[] = [];
        const onExpunge = (e: Payload<"expunge">) => expunged.push(e);
        c.on("expunge", onExpunge);
        try {
          const copied = await c.messageCopy("1:2", "Keep", { uid: true });
          assert.ok(copied);
          assert.equal(copied.path, "INBOX");
          assert.equal(copied.destination, "Keep");
          assert.equal(copied.uidValidity, keep.uidValidity, "COPYUID carries the target's UIDVALIDITY");
          assert.deepEqual([...copied.uidMap!], [[1, 2], [2, 3]]);
          assert.equal(c.mailbox && c.mailbox.exists, 4, "COPY leaves the source alone");

          const moved = await c.messageMove("3", "Keep", { uid: true });
          assert.ok(moved);
          assert.equal(moved.uidValidity, keep.uidValidity);
          assert.deepEqual([...moved.uidMap!], [[3, 4]]);
          assert.equal(c.mailbox && c.mailbox.exists, 3);
          assert.deepEqual(expunged.map((e) => e.seq), [3], "MOVE expunged sequence number 3");

          // UID EXPUNGE removes only the UIDs named: UID 1, also \Deleted, stays.
          await c.messageFlagsAdd("1", ["\\Deleted"], { uid: true });
          assert.equal(await c.messageDelete("4", { uid: true }), true);
          assert.deepEqual(expunged.map((e) => e.seq), [3, 3], "UID 4 was sequence number 3 after the MOVE");
          const left = await c.fetchAll("1:*", { uid: true, flags: true });
          assert.deepEqual(left.map((m) => [m.uid, sorted(m.flags)]), [[1, ["\\Deleted"]], [2, []]]);
        } finally {
          c.off("expunge", onExpunge);
        }
        assert.equal(await c.messageCopy("2", "Nowhere", { uid: true }), false, "COPY to a missing mailbox fails (imapflow returns false)");
      });
      const keepNow = await inMailbox(c, "Keep", () => c.fetchAll("1:*", { uid: true, envelope: true }));
      assert.deepEqual(keepNow.map((m) => [m.uid, m.envelope?.subject]), [[1, "already kept"], [2, "copy 1"], [3, "copy 2"], [4, "copy 3"]]);
    });

    const py = await python<Record<string, unknown>>(user, `
m = imap()
r = {}
r["select"] = m.select("INBOX")
r["expunge"] = m.expunge()
r["after_expunge"] = m.uid("FETCH", "1:*", "(FLAGS)")
m.uid("STORE", "2", "+FLAGS", "(\\\\Deleted)")
r["unselect"] = m.unselect()
r["after_unselect"] = m.select("INBOX")
r["still_there"] = m.uid("FETCH", "1:*", "(FLAGS)")
r["close"] = m.close()
r["status_after_close"] = m.status("INBOX", "(MESSAGES UIDNEXT)")
m.select("Keep")
m.uid("STORE", "1", "+FLAGS", "(\\\\Deleted)")
m.select("Keep", readonly=True)
r["close_readonly"] = m.close()
r["keep_status"] = m.status("Keep", "(MESSAGES)")
m.select("Keep")
r["uid_expunge"] = m.uid("EXPUNGE", "1")
r["uid_expunge_untagged"] = m.untagged_responses.pop("EXPUNGE", [])
r["keep_after"] = m.status("Keep", "(MESSAGES)")
m.logout()
out(r)`);
    assert.deepEqual(py.select, ["OK", ["2"]]);
    assert.deepEqual(py.expunge, ["OK", ["1"]], "EXPUNGE removed UID 1, sequence number 1");
    assert.deepEqual(py.after_expunge, ["OK", ["1 (UID 2 FLAGS ())"]]);
    assert.equal((py.unselect as [string])[0], "OK");
    assert.deepEqual(py.after_unselect, ["OK", ["1"]], "UNSELECT does not expunge");
    assert.deepEqual(py.still_there, ["OK", ["1 (UID 2 FLAGS (\\Deleted))"]]);
    assert.equal((py.close as [string])[0], "OK");
    assert.deepEqual(py.status_after_close, ["OK", ['"INBOX" (MESSAGES 0 UIDNEXT 5)']], "CLOSE expunged it silently");
    assert.equal((py.close_readonly as [string])[0], "OK");
    assert.deepEqual(py.keep_status, ["OK", ['"Keep" (MESSAGES 4)']], "CLOSE after EXAMINE expunges nothing");
    assert.deepEqual(py.uid_expunge_untagged, ["1"]);
    assert.deepEqual(py.keep_after, ["OK", ['"Keep" (MESSAGES 3)']]);
  });

  it("IDLE across sessions: SMTP delivery → EXISTS; another client's STORE → FETCH flags; its EXPUNGE → EXPUNGE", async () => {
    const user = "idle@example.test";
    const a = flow(user, watcherOptions);
    await a.connect();
    try {
      let idle = idleStarted(a);
      const box = await a.mailboxOpen("INBOX");
      assert.equal(box.exists, 0);
      await idle;

      // A message comes in by SMTP while a idles.
      const exists = nextEvent(a, "exists");
      const uid1 = await deliver(user, "first for idle", "Hello idle.\r\n");
      assert.equal(uid1, 1);
      assert.deepEqual(await exists, { path: "INBOX", count: 1, prevCount: 0 });
      assert.equal(a.mailbox && a.mailbox.exists, 1);

      // A second one, so that the sequence numbers below are not all 1.
      const exists2 = nextEvent(a, "exists");
      const uid2 = await deliver(user, "second for idle", "Hello again.\r\n");
      assert.equal(uid2, 2);
      assert.equal((await exists2).count, 2);

      // Client b (imapflow) flags message 2.
      await withFlow(user, async (b) => {
        await inMailbox(b, "INBOX", async () => {
          const flagged = nextEvent(a, "flags");
          await b.messageFlagsAdd("2", ["\\Flagged", "$Watched"], { uid: true });
          const f = await flagged;
          assert.equal(f.path, "INBOX");
          assert.equal(f.seq, 2);
          assert.equal(f.uid, 2);
          assert.deepEqual(sorted(f.flags), ["$Watched", "\\Flagged"]);
          // CONDSTORE is enabled (imapflow's ENABLE): news of flags carries UID and MODSEQ (RFC 7162 §3.1).
          assert.equal(typeof f.modseq, "bigint");
        });
      });

      // Client c (imaplib) deletes and expunges message 1.
      const deleted = nextEvent(a, "flags", (e) => e.flags.has("\\Deleted"));
      const expunged = nextEvent(a, "expunge");
      const py = await python<[string, string[]]>(user, `
m = imap()
m.select("INBOX")
m.uid("STORE", "1", "+FLAGS", "(\\\\Deleted)")
r = m.expunge()
m.logout()
out(r)`);
      assert.deepEqual(py, ["OK", ["1"]]);
      const d = await deleted;
      assert.deepEqual([d.seq, d.uid], [1, 1]);
      const e = await expunged;
      assert.equal(e.path, "INBOX");
      assert.equal(e.seq, 1);
      assert.equal(e.vanished, false);
      assert.equal(a.mailbox && a.mailbox.exists, 1);

      // Still idling afterwards: a third delivery is heard as well.
      idle = idleStarted(a);
      const left = await a.fetchAll("1:*", { uid: true, flags: true });
      assert.deepEqual(left.map((m) => [m.seq, m.uid, sorted(m.flags)]), [[1, 2, ["$Watched", "\\Flagged"]]]);
      await idle;
      const exists3 = nextEvent(a, "exists");
      assert.equal(await deliver(user, "third for idle", "Once more.\r\n"), 3);
      assert.deepEqual(await exists3, { path: "INBOX", count: 2, prevCount: 1 });
    } finally {
      await a.logout().catch(() => a.close());
    }
  });

  it("POP3 and IMAP agree: UIDL is UIDVALIDITY.UID and LIST sizes are RFC822.SIZE; a POP3 DELE+QUIT is an EXPUNGE to an idling client; an IMAP expunge is gone from POP3", async () => {
    const user = "pop@example.test";
    const bodies = ["short one.\r\n", `${"medium ".repeat(40)}\r\n`, `${"long line of text ".repeat(20)}\r\n`.repeat(10)];
    for (const [i, body] of bodies.entries()) assert.equal(await deliver(user, `pop ${i + 1}`, body), i + 1);

    const popView = () =>
      python<{ stat: [number, number]; uidl: string[]; list: string[] }>(user, `
p = pop()
stat = list(p.stat())
uidl = p.uidl()[1]
lst = p.list()[1]
p.quit()
out({"stat": stat, "uidl": uidl, "list": lst})`);

    const a = flow(user, watcherOptions);
    await a.connect();
    try {
      const status = await a.status("INBOX", { uidValidity: true, messages: true });
      assert.ok(status && status.messages === 3);
      const validity = status.uidValidity!;
      const imapView = await inMailbox(a, "INBOX", () => a.fetchAll("1:*", { uid: true, size: true }));
      assert.deepEqual(imapView.map((m) => m.uid), [1, 2, 3]);
      const sizes = imapView.map((m) => m.size!);
      assert.ok(sizes[0] < sizes[1] && sizes[1] < sizes[2], `sizes ${sizes.join(", ")}`);

      const pop1 = await popView();
      const retr = await python<string>(user, `
p = pop()
lines = p.retr(3)[1]
p.quit()
out(b"\\r\\n".join(lines) + b"\\r\\n")`);
      // Releasing the lock leaves the INBOX selected: a starts to idle.
      const idle = idleStarted(a);
      const source = await inMailbox(a, "INBOX", () => a.fetchOne("3", { source: true }, { uid: true }));
      assert.ok(source && source.source);
      assert.equal(retr, source.source.toString("latin1"), "RETR and BODY[] are the same bytes");
      assert.deepEqual(pop1.uidl, imapView.map((m) => `${m.seq} ${validity}.${m.uid}`));
      assert.deepEqual(pop1.list, imapView.map((m) => `${m.seq} ${m.size}`));
      assert.deepEqual(pop1.stat, [3, sizes.reduce((x, y) => x + y, 0)]);

      // POP3 deletes message 2 while a idles on the INBOX.
      await idle;
      const expunged = nextEvent(a, "expunge");
      const dele = await python<string[]>(user, `
p = pop()
r = [p.dele(2)]
r.append(p.quit())
out(r)`);
      assert.match(dele[0], /^\+OK/);
      assert.match(dele[1], /^\+OK/);
      const e = await expunged;
      assert.equal(e.seq, 2);
      assert.equal(a.mailbox && a.mailbox.exists, 2);
      const remaining = await a.fetchAll("1:*", { uid: true });
      assert.deepEqual(remaining.map((m) => m.uid), [1, 3]);

      const pop2 = await popView();
      assert.deepEqual(pop2.uidl, [`1 ${validity}.1`, `2 ${validity}.3`], "renumbered, same ids");
      assert.deepEqual(pop2.list, [`1 ${sizes[0]}`, `2 ${sizes[2]}`]);

      // IMAP expunges UID 1: POP3 no longer lists it.
      assert.equal(await a.messageDelete("1", { uid: true }), true);
      const pop3 = await popView();
      assert.deepEqual(pop3.stat, [1, sizes[2]]);
      assert.deepEqual(pop3.uidl, [`1 ${validity}.3`]);
      assert.deepEqual(pop3.list, [`1 ${sizes[2]}`]);
    } finally {
      await a.logout().catch(() => a.close());
    }
  });
});
