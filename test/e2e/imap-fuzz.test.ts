// Fuzzing a live IMAP listener: fast-check generates sessions of near-valid
// IMAP commands (real commands with mangled arguments, sequence sets, FETCH
// items, SEARCH keys, literals announced and sent short, long or not at all,
// lists left open), random text and random bytes, cut into random pieces,
// over a couple of hundred connections. Everything the server says must be
// well-formed response lines (tagged, untagged or continuation, literals
// counted right); afterwards the process is alive, logged no internal error,
// and a normal session still works. No timing assertions; the run count is
// bounded.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import fc from "fast-check";
import { startPetrel, type PetrelServer } from "../helpers/petrel.js";
import { connectImap } from "../helpers/imap-client.js";
import { writeInPieces } from "../helpers/pieces.js";

const RUNS = 150;

let server: PetrelServer;

before(async () => {
  server = await startPetrel({ listeners: ["imap"], extraToml: `[imap]\nmax_errors = 30\nmax_message_size = "1M"\nidle_timeout = "2s"\n[auth]\nfailure_delay = "1ms"\nmax_failures = 100000\n` });
  assert.equal((await server.cli(["domain", "add", "example.test"])).code, 0);
  assert.equal((await server.cli(["user", "add", "alice@example.test", "--password-stdin"], "pw\n")).code, 0);
  const c = await connectImap(server.listeners.imap.port);
  await c.command("LOGIN alice@example.test pw");
  for (let i = 0; i < 3; i++) {
    const m = `Subject: seed ${i}\r\nFrom: a@example.test\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nbody ${i}\r\n--x--\r\n`;
    await c.command(`APPEND INBOX {${m.length}+}\r\n${m}`);
  }
  await c.command("CREATE Fuzz/Box");
  c.close();
});
after(async () => server?.close());

const printable = (max: number) => fc.stringMatching(new RegExp(`^[ -~]{0,${max}}$`));
const mailbox = fc.oneof(fc.constantFrom("INBOX", "inbox", "Fuzz/Box", "Fuzz", "\"Fuzz/Box\"", "\"\"", "Nope", "&AOk-", "&Jjo", "\"a\\\"b\"", "{3}\r\nabc", "*", "%", "..", "a//b", "/x"), printable(12));
const seqset = fc.constantFrom("1", "1:*", "*", "2,1", "1:3,2", "0", "4294967295", "1:4294967296", "$", "x", "", "1,", "3:1");
const fetchItem = fc.constantFrom(
  "FLAGS", "UID", "ALL", "FAST", "FULL", "ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822", "RFC822.SIZE", "RFC822.HEADER", "INTERNALDATE", "MODSEQ",
  "BODY[]", "BODY.PEEK[HEADER]", "BODY[1]", "BODY[1.MIME]", "BODY[2.1]", "BODY[TEXT]<0.5>", "BODY[HEADER.FIELDS (Subject From)]", "BODY[HEADER.FIELDS.NOT (X)]",
  "BINARY[1]", "BINARY.SIZE[1]", "BINARY.PEEK[]", "BODY[", "BODY[1.]", "BODY[]<5>", "BODY[0]", "(FLAGS UID", "(FLAGS) (CHANGEDSINCE 1)", "BODY[HEADER.FIELDS ()]",
);
const searchKey = fc.constantFrom(
  "ALL", "SEEN", "UNSEEN", "FLAGGED", "KEYWORD $x", "FROM a", "SUBJECT seed", "BODY body", "TEXT x", "HEADER Subject seed", "LARGER 10", "SMALLER 0",
  "BEFORE 1-Jan-2030", "SINCE 32-Foo-2020", "SENTON 1-Jan-2000", "OR SEEN DELETED", "NOT (SEEN FLAGGED)", "UID 1:*", "1:2", "MODSEQ 1", "CHARSET UTF-8 TEXT x",
  "CHARSET KOI8-R ALL", "RETURN (MIN MAX COUNT) ALL", "RETURN (SAVE) ALL", "$", "(((", "OR", "NOT", "{2}\r\nxx",
);
const command = fc.oneof(
  fc.tuple(seqset, fetchItem).map(([s, i]) => `FETCH ${s} ${i}`),
  fc.tuple(seqset, fetchItem).map(([s, i]) => `UID FETCH ${s} ${i}`),
  fc.tuple(seqset, fc.constantFrom("+FLAGS (\\Seen)", "-FLAGS.SILENT (\\Deleted)", "FLAGS ($x \\Flagged)", "+FLAGS (\\Recent)", "FLAGS (", "(UNCHANGEDSINCE 1) +FLAGS (\\Seen)", "BOGUS x")).map(([s, f]) => `STORE ${s} ${f}`),
  fc.tuple(seqset, mailbox).map(([s, m]) => `COPY ${s} ${m}`),
  fc.tuple(seqset, mailbox).map(([s, m]) => `UID MOVE ${s} ${m}`),
  fc.array(searchKey, { minLength: 1, maxLength: 3 }).map((k) => `SEARCH ${k.join(" ")}`),
  mailbox.map((m) => `SELECT ${m}`),
  mailbox.map((m) => `EXAMINE ${m} (CONDSTORE)`),
  mailbox.map((m) => `STATUS ${m} (MESSAGES UNSEEN UIDNEXT SIZE HIGHESTMODSEQ)`),
  mailbox.map((m) => `CREATE ${m}`),
  mailbox.map((m) => `DELETE ${m}`),
  fc.tuple(mailbox, mailbox).map(([a, b]) => `RENAME ${a} ${b}`),
  fc.tuple(mailbox, mailbox).map(([a, b]) => `LIST ${a} ${b}`),
  fc.constantFrom(
    "NOOP", "CHECK", "EXPUNGE", "UID EXPUNGE 1:*", "CLOSE", "UNSELECT", "CAPABILITY", "NAMESPACE", "ID NIL", "ID (\"name\" \"fuzz\")", "ENABLE CONDSTORE QRESYNC UTF8=ACCEPT",
    "LIST \"\" *", "LIST (SUBSCRIBED) \"\" \"*\" RETURN (CHILDREN STATUS (MESSAGES))", "LSUB \"\" *", "GETQUOTAROOT INBOX", "GETQUOTA \"\"",
    "APPEND INBOX {5}", "APPEND INBOX {10+}\r\nshort", "APPEND INBOX (\\Seen) \"1-Jan-2020 00:00:00 +0000\" {4+}\r\nab\r\n", "APPEND INBOX {99999999}",
    "AUTHENTICATE PLAIN", "LOGIN a b", "STARTTLS", "IDLE", "DONE", "SORT (DATE) UTF-8 ALL", "THREAD REFERENCES UTF-8 ALL", "X-UNKNOWN", "",
  ),
  printable(60),
);
const tag = fc.constantFrom("a1", "A.2", "*", "+", "t", "", "x y", "{1}");
const segment = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(tag, command).map(([t, c]) => Buffer.from(`${t} ${c}\r\n`, "latin1")) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }).map((s) => Buffer.from(`${s}\r\n`)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b)) },
);
const scenario = fc.record({
  login: fc.constantFrom("a0 LOGIN alice@example.test pw\r\n", "a0 LOGIN alice@example.test pw\r\na00 SELECT INBOX\r\n", "", "a0 AUTHENTICATE PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABwdw==\r\n"),
  segments: fc.array(segment, { maxLength: 14 }),
  cuts: fc.array(fc.nat(), { maxLength: 4 }),
});

function exchange(payload: Buffer, cuts: number[]): Promise<Buffer> {
  const port = server.listeners.imap.port;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const received: Buffer[] = [];
    // A session left waiting (an unfinished literal, IDLE) is fine: the server waits. Give up on it once it is quiet.
    let timer = setTimeout(() => socket.destroy(), 10_000);
    const quiet = () => {
      clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), 600);
    };
    let done = false;
    socket.on("data", (chunk: Buffer) => {
      received.push(chunk);
      if (done) quiet();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(received));
    });
    socket.once("connect", async () => {
      try {
        if (!(await writeInPieces(socket, payload, cuts))) return;
        socket.write("zz LOGOUT\r\n");
        done = true;
        quiet();
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** Every response is "*"/"+"/tag SP ... CRLF, with literals counted exactly. */
function checkResponses(output: Buffer, sent: Buffer): void {
  const context = () => `server said ${JSON.stringify(output.toString("latin1").slice(0, 1500))}\nafter ${JSON.stringify(sent.toString("latin1").slice(0, 1500))}`;
  const tlsAt = output.indexOf("OK Begin TLS negotiation now\r\n");
  const plain = tlsAt === -1 ? output : output.subarray(0, tlsAt + "OK Begin TLS negotiation now\r\n".length);
  let pos = 0;
  let first = true;
  while (pos < plain.length) {
    let end = pos;
    // One response line: text up to CRLF, with {n}CRLF literals skipped.
    for (;;) {
      const lf = plain.indexOf(0x0a, end);
      assert.ok(lf !== -1, `output ends inside a line; ${context()}`);
      assert.equal(plain[lf - 1], 0x0d, `bare LF in output; ${context()}`);
      const head = plain.subarray(pos, lf + 1).toString("latin1");
      const literal = /~?\{(\d+)\}\r\n$/.exec(head);
      if (!literal) {
        end = lf + 1;
        break;
      }
      end = lf + 1 + Number(literal[1]);
      assert.ok(end <= plain.length, `literal runs past the output; ${context()}`);
    }
    const line = plain.subarray(pos, end).toString("latin1");
    if (first) assert.match(line, /^\* (OK|BYE) /, `no greeting; ${context()}`);
    first = false;
    assert.match(line, /^(\* |\+ |\+\r\n|[^\s(){%*"\\\]\x00-\x1f\x7f+]+ (OK|NO|BAD) )/, `malformed response ${JSON.stringify(line.slice(0, 200))}; ${context()}`);
    pos = end;
  }
}

test(`fuzz: ${RUNS} IMAP sessions of random and near-valid commands; responses stay well-formed, the server survives`, async () => {
  await fc.assert(
    fc.asyncProperty(scenario, async ({ login, segments, cuts }) => {
      const payload = Buffer.concat([Buffer.from(login), ...segments]);
      checkResponses(await exchange(payload, cuts), payload);
    }),
    { numRuns: RUNS, endOnFailure: true },
  );
  assert.equal(server.entries.filter((e) => e.msg === "starting").length, 1, "the server restarted");
  const errors = server.entries.filter((e) => e.level === "error" || e.level === "fatal" || (typeof e.level === "number" && e.level >= 50));
  assert.deepEqual(errors, [], "internal errors were logged");
  const c = await connectImap(server.listeners.imap.port);
  assert.match((await c.command("LOGIN alice@example.test pw")).status, /^OK/);
  // The fuzz may have moved or expunged every message: add one to look at.
  const m = "Subject: after the fuzz\r\n\r\nstill alive\r\n";
  assert.match((await c.command(`APPEND INBOX {${m.length}+}\r\n${m}`)).status, /^OK/);
  assert.match((await c.command("SELECT INBOX")).status, /^OK/);
  const fetched = await c.command("FETCH * (UID BODYSTRUCTURE BODY[])");
  assert.match(fetched.status, /^OK/);
  assert.ok(fetched.untagged.some((l) => l.includes("still alive")), fetched.untagged.join("\n"));
  c.close();
});

test("imap.idle_timeout: a silent session is logged out with BYE, IDLE included", async () => {
  const c = await connectImap(server.listeners.imap.port);
  assert.match((await c.command("LOGIN alice@example.test pw")).status, /^OK/);
  await c.command("SELECT INBOX");
  c.write("i IDLE\r\n");
  assert.equal(await c.line(), "+ idling");
  assert.match(await c.line(10_000), /^\* BYE Autologout/);
  c.close();
});
