// `petrel sendmail` end to end: the sendmail(8) interface as cron, mailx and
// scripts use it. Each message goes into the queue through the CLI and is
// delivered by a running `petrel serve` (its scheduler polls the queue); the
// test waits for the "delivered" log line and reads the stored message back
// from the SQLite store (prefix + blob). The last tests drive bsd-mailx
// (Debian package bsd-mailx), whose `sendmail` variable (set in a MAILRC file)
// points at a wrapper that runs `petrel sendmail`; they are skipped when
// bsd-mailx is not installed.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { projectRoot, startPetrel, type CliResult, type LogEntry, type PetrelServer } from "../helpers/petrel.js";
import { blobPath } from "../helpers/stored.js";

const MAILX = "/usr/bin/bsd-mailx";
const USER = os.userInfo().username;
const UID = process.getuid?.() ?? -1;

interface Stored {
  prefix: Buffer;
  blob: Buffer;
  size: number;
  flags: string;
  /** prefix + blob, as a client sees it. */
  text: string;
}

/** One stored message of a user's mailbox, read straight from the store (read-only). */
function readStored(server: PetrelServer, address: string, uid: number, mailbox = "INBOX"): Stored {
  const db = new Database(path.join(server.dir, "data", "petrel.db"), { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare(
        `SELECT m.prefix, m.blob_id, m.size, m.flags FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
         JOIN users u ON u.id = b.user_id WHERE u.address = ? AND b.name = ? AND m.uid = ?`,
      )
      .get(address, mailbox, uid) as { prefix: Buffer; blob_id: string; size: number; flags: string } | undefined;
    assert.ok(row, `no message uid ${uid} in ${address}/${mailbox}`);
    const blob = fs.readFileSync(blobPath(server, row.blob_id));
    return { prefix: row.prefix, blob, size: row.size, flags: row.flags, text: Buffer.concat([row.prefix, blob]).toString("utf8") };
  } finally {
    db.close();
  }
}


function queueCount(server: PetrelServer): number {
  const db = new Database(path.join(server.dir, "data", "petrel.db"), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM queue_messages").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** The header block of a message (up to the first empty line), unfolded, as name → values. */
function headerFields(text: string): Map<string, string[]> {
  const head = text.split("\r\n\r\n")[0].replace(/\r\n[ \t]/g, " ");
  const out = new Map<string, string[]>();
  for (const line of head.split("\r\n")) {
    const m = /^([^:\s]+):[ \t]*(.*)$/.exec(line);
    if (!m) continue;
    const name = m[1].toLowerCase();
    out.set(name, [...(out.get(name) ?? []), m[2]]);
  }
  return out;
}

function body(text: string): string {
  const i = text.indexOf("\r\n\r\n");
  assert.ok(i >= 0, "message has no empty line after the header");
  return text.slice(i + 4);
}

function oneLine(stderr: string): void {
  assert.equal(stderr.trimEnd().split("\n").length, 1, `expected exactly one line on stderr, got ${JSON.stringify(stderr)}`);
  assert.notEqual(stderr.trim(), "");
}

describe("petrel sendmail", () => {
  let server: PetrelServer;
  let tmp: string;

  before(async () => {
    server = await startPetrel();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "petrel-sendmail-"));
    assert.equal((await server.cli(["domain", "add", "example.test"])).code, 0);
    for (const u of ["alice", "bob", "carol"]) {
      const r = await server.cli(["user", "add", `${u}@example.test`, "--password-stdin"], "pw\n");
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(async () => {
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Runs `petrel sendmail ARGS` and waits until the server has delivered to every address in `to`. */
  async function send(args: string[], stdin: string, to: string[]): Promise<{ result: CliResult; delivered: Map<string, LogEntry> }> {
    const from = server.entries.length;
    const result = await server.cli(["sendmail", ...args], stdin);
    assert.equal(result.code, 0, `petrel sendmail ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
    assert.equal(result.stderr, "");
    const delivered = new Map<string, LogEntry>();
    for (const address of to) {
      delivered.set(address, await server.waitForLog((e) => e.msg === "delivered" && e.to === address, 15_000, from));
    }
    return { result, delivered };
  }

  function stored(entry: LogEntry): Stored {
    const [user, mailbox] = String(entry.mailbox).split("/");
    return readStored(server, user, Number(entry.uid), mailbox);
  }

  describe("delivery (tests run at once, each with its own +tag addresses)", { concurrency: true }, () => {
    it("delivers to recipients given as arguments, adding Date, Message-ID and From, with a local Received line", async () => {
      const before = Date.now();
      const { delivered } = await send(["alice+t1@example.test", "bob+t1@example.test"], "Subject: by arguments\n\nhello there\n", [
        "alice+t1@example.test",
        "bob+t1@example.test",
      ]);
      assert.equal(delivered.get("alice+t1@example.test")!.qid, delivered.get("bob+t1@example.test")!.qid, "one queued message for both");
      for (const [address, entry] of delivered) {
        const m = stored(entry);
        assert.equal(m.size, m.prefix.length + m.blob.length);
        const h = headerFields(m.text);
        assert.deepEqual(h.get("return-path"), [`<${USER}@example.test>`]);
        assert.deepEqual(h.get("delivered-to"), [address]);
        assert.equal(h.get("received")?.length, 1);
        assert.match(h.get("received")![0], new RegExp(`\\(Petrel, from userid ${UID}\\)`));
        assert.match(h.get("received")![0], new RegExp(`id ${entry.qid}`));
        assert.deepEqual(h.get("subject"), ["by arguments"]);
        assert.deepEqual(h.get("from"), [`${USER}@example.test`]);
        assert.equal(h.get("message-id")?.length, 1);
        assert.match(h.get("message-id")![0], /^<[^<>@\s]+@mx\.test>$/);
        assert.equal(h.get("date")?.length, 1);
        const date = Date.parse(h.get("date")![0]);
        assert.ok(date >= Math.floor(before / 1000) * 1000 - 1000 && date <= Date.now() + 1000, `Date ${h.get("date")![0]} is not now`);
        assert.equal(body(m.text), "hello there\r\n");
        // The blob (what was submitted) ends with the body and has CRLF line ends only.
        assert.doesNotMatch(m.blob.toString("latin1"), /[^\r]\n/);
      }
    });

    it("-t takes To, Cc and Bcc and removes Bcc from the stored message", async () => {
      const message = [
        "To: Alice <alice+t2@example.test>",
        "Cc: bob+t2@example.test",
        "Bcc: Carol <carol+t2@example.test>",
        "Subject: extracted",
        "",
        "for three",
        "",
      ].join("\n");
      const { delivered } = await send(["-t"], message, ["alice+t2@example.test", "bob+t2@example.test", "carol+t2@example.test"]);
      for (const entry of delivered.values()) {
        const m = stored(entry);
        const h = headerFields(m.text);
        assert.equal(h.has("bcc"), false, `Bcc left in the copy for ${String(entry.to)}`);
        assert.doesNotMatch(m.text, /carol/i.test(String(entry.to)) ? /^Bcc:/im : /carol/i);
        assert.deepEqual(h.get("to"), ["Alice <alice+t2@example.test>"]);
        assert.deepEqual(h.get("cc"), ["bob+t2@example.test"]);
        assert.equal(body(m.text), "for three\r\n");
      }
    });

    it("-t also accepts extra recipients from the arguments, and qualifies bare local names", async () => {
      const { delivered } = await send(["-t", "carol+t3@example.test"], "To: alice+t3\nSubject: bare\n\nx\n", ["alice+t3@example.test", "carol+t3@example.test"]);
      assert.equal(delivered.size, 2);
    });

    it("-f sets the envelope sender (Return-Path) and -F the name in the generated From", async () => {
      const { delivered } = await send(["-f", "robot@example.test", "-F", "Build Robot", "alice+t4@example.test"], "Subject: from robot\n\nbeep\n", [
        "alice+t4@example.test",
      ]);
      const h = headerFields(stored(delivered.get("alice+t4@example.test")!).text);
      assert.deepEqual(h.get("return-path"), ["<robot@example.test>"]);
      assert.deepEqual(h.get("from"), ["Build Robot <robot@example.test>"]);
    });

    it("-F alone names the invoking user; a name with specials is quoted; -f <> is the null sender", async () => {
      let { delivered } = await send(["-FJane Q. Public", "bob+t5@example.test"], "Subject: named\n\nhi\n", ["bob+t5@example.test"]);
      let h = headerFields(stored(delivered.get("bob+t5@example.test")!).text);
      assert.deepEqual(h.get("from"), [`"Jane Q. Public" <${USER}@example.test>`]);
      assert.deepEqual(h.get("return-path"), [`<${USER}@example.test>`]);

      ({ delivered } = await send(["-f", "<>", "bob+t5@example.test"], "Subject: null sender\n\nhi\n", ["bob+t5@example.test"]));
      h = headerFields(stored(delivered.get("bob+t5@example.test")!).text);
      assert.deepEqual(h.get("return-path"), ["<>"]);
    });

    it("keeps Date, Message-ID and From when the message has them", async () => {
      const message = [
        "From: Someone Else <someone@elsewhere.test>",
        "Date: Mon, 1 Jan 2024 10:00:00 +0100",
        "Message-ID: <fixed-id-1@elsewhere.test>",
        "Subject: complete",
        "",
        "body",
        "",
      ].join("\n");
      const { delivered } = await send(["alice+t6@example.test"], message, ["alice+t6@example.test"]);
      const m = stored(delivered.get("alice+t6@example.test")!);
      const h = headerFields(m.text);
      assert.deepEqual(h.get("from"), ["Someone Else <someone@elsewhere.test>"]);
      assert.deepEqual(h.get("date"), ["Mon, 1 Jan 2024 10:00:00 +0100"]);
      assert.deepEqual(h.get("message-id"), ["<fixed-id-1@elsewhere.test>"]);
      // Nothing was added: the stored blob is the input, with CRLF line ends.
      assert.equal(m.blob.toString("utf8"), message.replace(/\n/g, "\r\n"));
    });

    it("without -i a line holding a single dot ends the message", async () => {
      const { delivered } = await send(["alice+t7@example.test"], "Subject: dot\n\nline one\n..two dots stay\n.\nafter the dot\n", ["alice+t7@example.test"]);
      const m = stored(delivered.get("alice+t7@example.test")!);
      assert.equal(body(m.text), "line one\r\n..two dots stay\r\n");
    });

    for (const flag of ["-i", "-oi"]) {
      it(`with ${flag} a line holding a single dot is just a line`, async () => {
        const { delivered } = await send([flag, `alice+t8${flag}@example.test`], `Subject: dot ${flag}\n\nline one\n.\nafter the dot\n`, [`alice+t8${flag}@example.test`]);
        const m = stored(delivered.get(`alice+t8${flag}@example.test`)!);
        assert.equal(body(m.text), "line one\r\n.\r\nafter the dot\r\n");
      });
    }

    it("takes cron's invocation: -FCronDaemon -i -B8BITMIME -oem USER", async () => {
      const message = "Content-Type: text/plain; charset=UTF-8\nSubject: Cron <root@host> run-parts /etc/cron.daily\n\nüñí output\n";
      const { delivered } = await send(["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "alice+t9"], message, ["alice+t9@example.test"]);
      const m = stored(delivered.get("alice+t9@example.test")!);
      const h = headerFields(m.text);
      assert.deepEqual(h.get("from"), [`CronDaemon <${USER}@example.test>`]);
      assert.deepEqual(h.get("subject"), ["Cron <root@host> run-parts /etc/cron.daily"]);
      assert.equal(body(m.text), "üñí output\r\n");
    });

    it("takes `printf 'Subject: x\\n\\nbody\\n' | sendmail -oi -t` with the recipient in To", async () => {
      const { delivered } = await send(["-oi", "-t"], "To: bob+t10@example.test\nSubject: x\n\nbody\n", ["bob+t10@example.test"]);
      const m = stored(delivered.get("bob+t10@example.test")!);
      assert.deepEqual(headerFields(m.text).get("subject"), ["x"]);
      assert.equal(body(m.text), "body\r\n");
    });

    it("takes a body-only message (no header at all) and gives it a header", async () => {
      const { delivered } = await send(["carol+t11@example.test"], "just a line\nand another\n", ["carol+t11@example.test"]);
      const m = stored(delivered.get("carol+t11@example.test")!);
      const h = headerFields(m.text);
      assert.equal(h.get("from")?.length, 1);
      assert.equal(h.get("date")?.length, 1);
      assert.equal(body(m.text), "just a line\r\nand another\r\n");
    });
  });

  describe("refusals", () => {
    it("refuses an unknown local user with exit 67 and queues nothing", async () => {
      const queued = queueCount(server);
      const from = server.entries.length;
      for (const args of [["nobody@example.test"], ["alice@example.test", "nobody@example.test"]]) {
        const r = await server.cli(["sendmail", ...args], "Subject: lost\n\nx\n");
        assert.equal(r.code, 67, `exit ${r.code}: ${r.stderr}`);
        oneLine(r.stderr);
        assert.match(r.stderr, /nobody@example\.test/);
        assert.match(r.stderr, /unknown/);
        assert.equal(queueCount(server), queued, "something was queued");
      }
      // -t with an unknown recipient in the header: the same.
      const r = await server.cli(["sendmail", "-t"], "To: alice@example.test, ghost@example.test\nSubject: lost\n\nx\n");
      assert.equal(r.code, 67, r.stderr);
      assert.equal(queueCount(server), queued);
      assert.equal(server.entries.slice(from).filter((e) => e.msg === "delivered").length, 0);
    });

    it("refuses a call without recipients with exit 64 and one line on stderr", async () => {
      for (const args of [[], ["-t"]]) {
        const r = await server.cli(["sendmail", ...args], "Subject: nobody\n\nx\n");
        assert.equal(r.code, 64, `sendmail ${args.join(" ")}: exit ${r.code} ${r.stderr}`);
        oneLine(r.stderr);
        assert.match(r.stderr, /recipient/);
      }
      const bad = await server.cli(["sendmail", "-bs"], "");
      assert.equal(bad.code, 64);
      oneLine(bad.stderr);
    });
  });

  describe("bsd-mailx through petrel sendmail", { concurrency: true, skip: fs.existsSync(MAILX) ? false : `${MAILX} is not installed (Debian package bsd-mailx)` }, () => {
    let mailrc: string;
    let home: string;

    before(() => {
      // bsd-mailx execs the program named by its `sendmail` variable (default
      // /usr/sbin/sendmail) with "-i -t" (plus any -r/-f), message on stdin.
      // The variable must be a path without arguments, hence the wrapper.
      const wrapper = path.join(tmp, "sendmail-wrapper");
      fs.writeFileSync(
        wrapper,
        `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(projectRoot, "bin", "petrel"))} sendmail --config ${JSON.stringify(server.configFile)} "$@"\n`,
        { mode: 0o755 },
      );
      mailrc = path.join(tmp, "mailrc");
      fs.writeFileSync(mailrc, `set sendmail=${wrapper}\n`);
      home = path.join(tmp, "home");
      fs.mkdirSync(home);
    });

    /** Runs bsd-mailx with the private MAILRC and HOME; resolves with its exit code and stderr. */
    function mailx(args: string[], stdin: string): Promise<{ code: number | null; stderr: string }> {
      return new Promise((resolve, reject) => {
        const proc = spawn(MAILX, args, { env: { ...process.env, MAILRC: mailrc, HOME: home }, stdio: ["pipe", "ignore", "pipe"] });
        let stderr = "";
        proc.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
        proc.on("error", reject);
        proc.on("close", (code) => {
          clearTimeout(timer);
          resolve({ code, stderr });
        });
        proc.stdin.end(stdin);
      });
    }

    it("`echo hi | mail -s test alice@example.test` lands in alice's INBOX", async () => {
      const from = server.entries.length;
      const r = await mailx(["-s", "test via mailx", "alice+m1@example.test"], "hi\n");
      assert.equal(r.code, 0, r.stderr);
      // mailx does not wait for its sendmail child: wait for the delivery.
      const entry = await server.waitForLog((e) => e.msg === "delivered" && e.to === "alice+m1@example.test", 20_000, from);
      const m = stored(entry);
      const h = headerFields(m.text);
      assert.deepEqual(h.get("subject"), ["test via mailx"]);
      assert.deepEqual(h.get("to"), ["alice+m1@example.test"]);
      assert.deepEqual(h.get("return-path"), [`<${USER}@example.test>`]);
      assert.match(h.get("received")![0], new RegExp(`from userid ${UID}`));
      assert.equal(h.get("from")?.length, 1, "From added for mailx");
      assert.equal(h.get("message-id")?.length, 1);
      assert.equal(body(m.text), "hi\r\n");
      assert.equal(fs.existsSync(path.join(home, "dead.letter")), false, "mailx saved a dead.letter: sendmail failed");
    });

    it("mailx with -c and -b: Cc and Bcc recipients get it, Bcc is not in the stored message", async () => {
      const from = server.entries.length;
      const r = await mailx(["-s", "copies", "-c", "bob+m2@example.test", "-b", "carol+m2@example.test", "alice+m2@example.test"], "to three\n.\nnot the end for mailx\n");
      assert.equal(r.code, 0, r.stderr);
      for (const to of ["alice+m2@example.test", "bob+m2@example.test", "carol+m2@example.test"]) {
        const entry = await server.waitForLog((e) => e.msg === "delivered" && e.to === to, 20_000, from);
        const m = stored(entry);
        assert.doesNotMatch(m.text, /^Bcc:/im);
        // mailx passes -i: the lone dot is part of the message.
        assert.equal(body(m.text), "to three\r\n.\r\nnot the end for mailx\r\n");
      }
    });
  });

  describe("while the server is stopped", () => {
    it("queues the message (no server needed) and the server delivers it when it runs again", async () => {
      assert.equal(await server.stop(), 0, "petrel serve did not exit 0 on SIGTERM");
      const queued = queueCount(server);
      const r = await server.cli(["sendmail", "alice+down@example.test"], "Subject: while down\n\nqueued\n");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(queueCount(server), queued + 1);
      const from = server.entries.length;
      await server.restart();
      const entry = await server.waitForLog((e) => e.msg === "delivered" && e.to === "alice+down@example.test", 15_000, from);
      const m = stored(entry);
      assert.deepEqual(headerFields(m.text).get("subject"), ["while down"]);
      assert.equal(body(m.text), "queued\r\n");
    });
  });
});
