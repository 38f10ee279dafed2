// The message corpus (../shared/corpus: real-world and deliberately broken
// e-mail) through a real `petrel serve`: every file is sent over SMTP
// (LF normalised to CRLF, a final CRLF added when missing, dot-stuffed, with
// PIPELINING of MAIL/RCPT/DATA over a few parallel connections), must get a
// 250, must be delivered, and must be stored byte-identical to what was sent
// behind the trace prefix Petrel adds (Return-Path, Delivered-To, Received).
// The store is read directly (SQLite read-only + blob files), and the INBOX is
// exported once and compared with the store as well.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { projectRoot, startPetrel, type PetrelServer } from "../helpers/petrel.js";
import { CORPUS, corpusFiles, normaliseCrlf } from "../helpers/corpus.js";
import { connect } from "../helpers/smtp-client.js";

const CONNECTIONS = 4;
const SENDER = "corpus@client.test";
const RECIPIENT = "alice@example.test";

/** RFC 5321 §4.5.2: a line starting with "." gets another one. */
function dotStuff(message: Buffer): Buffer {
  return Buffer.from(message.toString("latin1").replace(/^\./gm, ".."), "latin1");
}

interface Outcome {
  replies: string[];
  qid?: string;
}

const files = corpusFiles();

describe("message corpus through SMTP, store and export", () => {
  let server: PetrelServer;
  const outcomes = new Map<string, Outcome>();
  const deliveredUid = new Map<string, number>();
  let db: Database.Database;
  let exported: string[] = [];

  before(async () => {
    assert.ok(files.length > 50, `the corpus at ${CORPUS} has only ${files.length} files`);
    server = await startPetrel();
    assert.equal((await server.cli(["domain", "add", "example.test"])).code, 0);
    assert.equal((await server.cli(["user", "add", RECIPIENT, "--password-stdin"], "pw\n")).code, 0);

    const { host, port } = server.listeners.smtp;
    let next = 0;
    const worker = async () => {
      const c = await connect(host, port);
      assert.match(await c.read(), /^220/);
      await c.send("EHLO client.test");
      const ehlo = await c.read();
      assert.match(ehlo, /PIPELINING/);
      assert.match(ehlo, /8BITMIME/);
      while (next < files.length) {
        const file = files[next++];
        const message = normaliseCrlf(fs.readFileSync(file));
        const eightBit = message.some((b) => b > 127);
        // PIPELINING (RFC 2920): MAIL, RCPT and DATA in one write; the message only after the 354.
        await c.write(`MAIL FROM:<${SENDER}>${eightBit ? " BODY=8BITMIME" : ""}\r\nRCPT TO:<${RECIPIENT}>\r\nDATA\r\n`);
        const replies = [await c.read(), await c.read(), await c.read()];
        if (replies[2].startsWith("354")) {
          await c.write(Buffer.concat([dotStuff(message), Buffer.from(".\r\n")]));
          replies.push(await c.read(30_000));
        } else {
          await c.send("RSET");
          replies.push(await c.read());
        }
        outcomes.set(file, { replies, qid: /^250 .*queued as (\S+)/.exec(replies[3] ?? "")?.[1] });
      }
      await c.send("QUIT");
      await c.read();
      c.close();
    };
    await Promise.all(Array.from({ length: Math.min(CONNECTIONS, files.length) }, worker));

    // Every accepted message delivered (the scheduler works in batches).
    const qids = new Set([...outcomes.values()].flatMap((o) => (o.qid ? [o.qid] : [])));
    await server.waitForLog(() => server.entries.filter((e) => e.msg === "delivered" && qids.has(String(e.qid))).length >= qids.size, 60_000);
    for (const e of server.entries) if (e.msg === "delivered" && typeof e.qid === "string") deliveredUid.set(e.qid, Number(e.uid));
    assert.ok(!server.entries.some((e) => e.level === "error" || e.level === 50 || e.level === "fatal" || e.level === 60), "the server logged an error");

    db = new Database(path.join(server.dir, "data", "petrel.db"), { readonly: true, fileMustExist: true });
    // Raw bytes: the harness's cli() decodes stdout as UTF-8, and the corpus is not all UTF-8.
    const ex = spawnSync(process.execPath, ["bin/petrel", "export", RECIPIENT, "--config", server.configFile], { cwd: projectRoot, timeout: 30_000 });
    assert.equal(ex.status, 0, ex.stderr?.toString());
    exported = splitMboxrd(ex.stdout.toString("latin1"));
  });

  after(async () => {
    db?.close();
    await server?.close();
  });

  function blobPath(id: string): string {
    const root = path.join(server.dir, "data", "blobs");
    for (const dir of fs.readdirSync(root)) {
      const file = path.join(root, dir, id);
      if (fs.existsSync(file)) return file;
    }
    assert.fail(`blob ${id} not found under ${root}`);
  }

  it("sent every file (none skipped)", () => {
    assert.equal(outcomes.size, files.length);
  });

  for (const file of files) {
    it(path.relative(CORPUS, file), () => {
      const outcome = outcomes.get(file);
      assert.ok(outcome, "not sent");
      const [mail, rcpt, data, end] = outcome.replies;
      assert.match(mail, /^250/, `MAIL: ${mail}`);
      assert.match(rcpt, /^250/, `RCPT: ${rcpt}`);
      assert.match(data, /^354/, `DATA: ${data}`);
      assert.match(end, /^250 /, `end of data: ${end}`);
      assert.ok(outcome.qid, `no queue id in ${end}`);
      const uid = deliveredUid.get(outcome.qid);
      assert.ok(uid !== undefined && Number.isInteger(uid), `queue id ${outcome.qid} was not delivered`);

      const row = db
        .prepare(
          `SELECT m.prefix, m.blob_id, m.size, bl.size AS blob_size FROM messages m
           JOIN mailboxes b ON b.id = m.mailbox_id JOIN users u ON u.id = b.user_id
           LEFT JOIN blobs bl ON bl.id = m.blob_id WHERE u.address = ? AND b.name = 'INBOX' AND m.uid = ?`,
        )
        .get(RECIPIENT, uid) as { prefix: Buffer; blob_id: string; size: number; blob_size: number | null } | undefined;
      assert.ok(row, `uid ${uid} not in the INBOX`);
      const blob = fs.readFileSync(blobPath(row.blob_id));
      const sent = normaliseCrlf(fs.readFileSync(file));
      assert.ok(blob.equals(sent), `stored message differs from what was sent (${blob.length} bytes stored, ${sent.length} sent)`);
      assert.equal(row.size, row.prefix.length + blob.length, "size is not prefix + blob");
      if (row.blob_size !== null) assert.equal(row.blob_size, blob.length, "blobs.size is not the blob file's size");

      // The prefix is exactly the trace Petrel adds: Return-Path, Delivered-To, one Received (folded).
      const prefix = row.prefix.toString("latin1");
      assert.match(
        prefix,
        new RegExp(`^Return-Path: <${SENDER.replace(/\./g, "\\.")}>\r\nDelivered-To: alice@example\\.test\r\nReceived: from client\\.test \\([^\r\n]*\\)(\r\n\t[^\r\n]+)*\r\n$`),
      );
      assert.match(prefix, new RegExp(`id ${outcome.qid}`));

      // And `petrel export` gives the same bytes back.
      const text = Buffer.concat([row.prefix, blob]).toString("latin1");
      // mboxrd.ts leaves mbox metadata fields of the header (Status, X-Status, X-Keywords, X-UID,
      // Content-Length) out of an export by design (they would be taken as flags or lengths by
      // mbox readers); a few corpus messages carry such fields.
      const expected = withoutMboxMetadata(text);
      assert.ok(exported.includes(expected), `the exported INBOX does not contain this message byte for byte${expected === text ? "" : " (less its mbox metadata fields)"}`);
    });
  }
});

/** Messages of an mboxrd export (given as latin1 text), each unquoted and with CRLF line ends. */
function splitMboxrd(mbox: string): string[] {
  const lines = mbox.split("\n");
  lines.pop();
  const out: string[] = [];
  let current: string[] | undefined;
  const finish = () => {
    if (!current) return;
    current.pop(); // the blank separator line
    out.push(current.map((l) => `${l.replace(/^>(>*From )/, "$1")}\r\n`).join(""));
  };
  for (const line of lines) {
    if (line.startsWith("From ") && (current === undefined || current[current.length - 1] === "")) {
      finish();
      current = [];
    } else current?.push(line);
  }
  finish();
  return out;
}

/** The message without header fields that mbox export treats as metadata (and their continuation lines). */
function withoutMboxMetadata(message: string): string {
  const end = message.indexOf("\r\n\r\n");
  const header = end < 0 ? message : message.slice(0, end + 2);
  let inMeta = false;
  const kept = header.split(/(?<=\r\n)/).filter((line) => {
    inMeta = (inMeta && /^[ \t]/.test(line)) || /^(status|x-status|x-keywords|x-uid|content-length)[ \t]*:/i.test(line);
    return !inMeta;
  });
  return kept.join("") + (end < 0 ? "" : message.slice(end + 2));
}
