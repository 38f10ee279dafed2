// Fuzzing a live `petrel serve` over the network: fast-check generates
// sequences of near-valid SMTP command lines (real verbs with mangled
// arguments, addresses and ESMTP parameters, DATA blocks with dots and bare
// line ends), random text and random bytes, cut into random pieces, over a
// few hundred connections. For each connection, everything the server says
// must be well-formed replies with known codes; afterwards the process is
// alive, logged no internal error, and a normal transaction still succeeds.
// No timing assertions; the run count is bounded.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import fc from "fast-check";
import { startPetrel, type PetrelServer } from "../helpers/petrel.js";
import { connect } from "../helpers/smtp-client.js";
import { writeInPieces } from "../helpers/pieces.js";

const RUNS = 300;
const KNOWN_CODES = new Set([214, 220, 221, 250, 251, 252, 253, 354, 421, 450, 451, 452, 458, 459, 500, 501, 502, 503, 504, 550, 551, 552, 553, 554, 555]);

let server: PetrelServer;

before(async () => {
  server = await startPetrel({ extraToml: `[relay]\nnetworks = ["127.0.0.5/32"]\n[smtp]\nmax_message_size = "1M"\nmax_errors = 20\n` });
  for (const [args, stdin] of [
    [["domain", "add", "example.test"], undefined],
    [["user", "add", "alice@example.test", "--password-stdin"], "secret-alice-pw\n"],
    [["alias", "add", "team@example.test", "alice@example.test"], undefined],
  ] as [string[], string | undefined][]) {
    const r = await server.cli(args, stdin);
    assert.equal(r.code, 0, `petrel ${args.join(" ")}: ${r.stderr}`);
  }
});

after(async () => {
  await server?.close();
});

// ------------------------------------------------------------ generators

const text = (max: number) => fc.string({ unit: "grapheme", maxLength: max });
const printable = (max: number) => fc.stringMatching(new RegExp(`^[ -~]{0,${max}}$`));

const domain = fc.oneof(
  fc.constantFrom("example.test", "EXAMPLE.TEST", "elsewhere.test", "exämple.test", "[127.0.0.1]", "[IPv6:::1]", "[300.1.1.1]", "", "-x-.test", "a..b", "example.test."),
  fc.domain(),
  text(20),
);
const local = fc.oneof(
  fc.constantFrom("alice", "ALICE", "alice+tag", "team", "ghost", "postmaster", "jörg", '"quoted local"', '"a\\"b"', "a.b", ".a", "a..b", "", "%", "a%b", "x!y"),
  printable(20),
  text(10),
  fc.constant("l".repeat(70)),
);
const address = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(local, domain).map(([l, d]) => `${l}@${d}`) },
  { weight: 1, arbitrary: fc.constantFrom("", "postmaster", "Postmaster", "@a.test,@b.test:alice@example.test", "alice@example.test@x", "<>", "@") },
  { weight: 1, arbitrary: text(30) },
);
const path = fc.tuple(address, fc.constantFrom("<>", "<", ">", "", "< >")).map(([a, style]) =>
  style === "<>" ? `<${a}>` : style === "<" ? `<${a}` : style === ">" ? `${a}>` : style === "< >" ? `< ${a} >` : a,
);
const param = fc.oneof(
  fc.constantFrom("SIZE=1000", "SIZE=99999999999999999999", "SIZE=", "SIZE=-1", "BODY=8BITMIME", "BODY=7BIT", "BODY=BINARYMIME", "BODY=junk", "SMTPUTF8", "SMTPUTF8=yes", "RET=FULL", "ENVID=abc+2B", "AUTH=<>", "NOTIFY=NEVER", "NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;a@b.test", "ORCPT=x"),
  fc.nat().map((n) => `SIZE=${n}`),
  fc.tuple(printable(8), printable(8)).map(([k, v]) => `${k}=${v}`),
);
const params = fc.array(param, { maxLength: 4 }).map((ps) => (ps.length ? ` ${ps.join(" ")}` : ""));
const verbCase = (verb: string) => fc.constantFrom(verb, verb.toLowerCase(), verb[0] + verb.slice(1).toLowerCase());

const command = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(verbCase("EHLO"), fc.oneof(fc.constantFrom("fuzz.test", "", "[127.0.0.1]", " a b", "x".repeat(300)), text(20))).map(([v, a]) => `${v} ${a}`) },
  { weight: 1, arbitrary: fc.tuple(verbCase("HELO"), text(20)).map(([v, a]) => `${v} ${a}`) },
  { weight: 5, arbitrary: fc.tuple(verbCase("MAIL"), fc.constantFrom("FROM:", "from:", "FROM: ", "FROM :", "FROM", "TO:"), path, params).map((p) => `${p[0]} ${p[1]}${p[2]}${p[3]}`) },
  { weight: 6, arbitrary: fc.tuple(verbCase("RCPT"), fc.constantFrom("TO:", "to:", "TO: ", "TO", "FROM:"), path, params).map((p) => `${p[0]} ${p[1]}${p[2]}${p[3]}`) },
  { weight: 3, arbitrary: fc.constantFrom("DATA", "data", "DATA x", "RSET", "RSET x", "NOOP", "NOOP hello", "HELP", "HELP MAIL", "VRFY alice", "VRFY", "EXPN team", "AUTH PLAIN AHgAeA==", "BDAT 10 LAST", "TURN", "ETRN example.test", " NOOP", "\tNOOP", "NOOP\t", "QUIT now", "") },
  { weight: 1, arbitrary: fc.constantFrom("STARTTLS", "GET / HTTP/1.1", "POST /x HTTP/1.0", "QUIT") },
  { weight: 2, arbitrary: text(60) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom("NOOP ", "MAIL FROM:<", "RCPT TO:<alice@example.test> ", "x"), fc.integer({ min: 900, max: 2100 })).map(([p, n]) => p + "z".repeat(n)) },
);

const lineEnd = fc.oneof({ weight: 8, arbitrary: fc.constant("\r\n") }, { weight: 1, arbitrary: fc.constantFrom("\n", "\r", "", "\r\r\n", "\n\r") });

/** A message body as a client would send it after DATA: lines with dots, bare line ends, maybe the real end. */
const dataBlock = fc
  .tuple(
    fc.array(fc.tuple(fc.oneof(printable(80), text(40), fc.constantFrom(".", "..", ".x", "Received: from x", "", "\u0000", "MAIL FROM:<smuggled@evil.test>")), lineEnd), { maxLength: 12 }),
    fc.constantFrom("\r\n.\r\n", ".\r\n", "\n.\n", "\r\n.\n", ""),
  )
  .map(([lines, end]) => `${lines.map(([l, e]) => l + e).join("")}${end}`);

/** A mostly valid transaction: the state machine gets past RCPT and into DATA often. */
const likely = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("alice@example.test", "ALICE@Example.Test", "alice+x@example.test", "team@example.test", "postmaster", "postmaster@example.test") },
  { weight: 2, arbitrary: fc.constantFrom("ghost@example.test", "someone@elsewhere.test", "jörg@example.test", "a%b@example.test") },
  { weight: 1, arbitrary: address },
);
const transaction = fc
  .tuple(
    fc.constantFrom("f@outside.test", "", "jörg@outside.test", "f@[127.0.0.1]"),
    params,
    fc.array(fc.tuple(likely, fc.constantFrom("", "", " NOTIFY=NEVER", " ORCPT=rfc822;x@y.test", " FOO=bar")), { minLength: 1, maxLength: 4 }),
    fc.constantFrom("DATA\r\n", "DATA\r\n", "RSET\r\n", ""),
    dataBlock,
  )
  .map(([from, ps, rcpts, data, block]) => Buffer.from(`MAIL FROM:<${from}>${ps}\r\n${rcpts.map(([r, p]) => `RCPT TO:<${r}>${p}\r\n`).join("")}${data}${data.startsWith("DATA") ? block : ""}`));

const segment = fc.oneof(
  { weight: 10, arbitrary: fc.tuple(command, lineEnd).map(([c, e]) => Buffer.from(c + e)) },
  { weight: 4, arbitrary: transaction },
  { weight: 2, arbitrary: dataBlock.map((d) => Buffer.from(d)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
);

const scenario = fc.record({
  greet: fc.constantFrom("EHLO fuzz.test\r\n", "HELO fuzz.test\r\n", "EHLO fuzz.test\r\nMAIL FROM:<f@outside.test>\r\nRCPT TO:<alice@example.test>\r\n", ""),
  segments: fc.array(segment, { maxLength: 16 }),
  cuts: fc.array(fc.nat(), { maxLength: 4 }),
});

// ------------------------------------------------------------ the property

/** Sends `payload` in pieces, half-closes, and returns all the server said before it closed. */
function exchange(payload: Buffer, cuts: number[]): Promise<Buffer> {
  const { host, port } = server.listeners.smtp;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const received: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not close the connection within 20 s; it said: ${JSON.stringify(Buffer.concat(received).toString("latin1"))}`));
    }, 20_000);
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    socket.on("error", () => {}); // a reset after 421 is fine; what was received still counts
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(received));
    });
    socket.once("connect", async () => {
      if (await writeInPieces(socket, payload, cuts)) socket.end();
    });
  });
}

/**
 * Every line before a possible TLS handshake must be a reply line with a known
 * code, ending in CRLF, without control characters (UTF-8 is allowed: with
 * SMTPUTF8 a refused address is echoed as given).
 */
function checkReplies(output: Buffer, sent: Buffer): void {
  const text = output.toString("latin1");
  const tls = text.indexOf("220 2.0.0 Ready to start TLS\r\n");
  const plain = tls === -1 ? text : text.slice(0, tls + "220 2.0.0 Ready to start TLS\r\n".length);
  const context = () => `server said ${JSON.stringify(plain.slice(0, 2000))}\nafter ${JSON.stringify(sent.toString("latin1").slice(0, 2000))}`;
  assert.ok(plain.length > 0, `no greeting; ${context()}`);
  assert.ok(plain.endsWith("\r\n"), `output ends inside a line; ${context()}`);
  const lines = plain.slice(0, -2).split("\r\n");
  assert.match(lines[0], /^(220|421) /, `first line is not a greeting; ${context()}`);
  for (const line of lines) {
    const m = /^(\d{3})([ -])[^\x00-\x1f\x7f]*$/.exec(line);
    assert.ok(m, `malformed reply line ${JSON.stringify(line)}; ${context()}`);
    assert.ok(KNOWN_CODES.has(Number(m[1])), `unexpected reply code in ${JSON.stringify(line)}; ${context()}`);
  }
  // A multi-line reply keeps its code on every line and ends with a "code SP" line.
  for (let i = 1; i < lines.length; i++) {
    if (lines[i - 1][3] === "-") assert.equal(lines[i].slice(0, 3), lines[i - 1].slice(0, 3), `multi-line reply changes code; ${context()}`);
  }
  assert.equal(lines[lines.length - 1][3], " ", `the last reply is unfinished; ${context()}`);
}

test(`fuzz: ${RUNS} connections of random and near-valid SMTP; replies stay well-formed, the server survives`, async () => {
  const startingPid = server.entries.find((e) => e.msg === "starting")?.pid;
  await fc.assert(
    fc.asyncProperty(scenario, async ({ greet, segments, cuts }) => {
      const payload = Buffer.concat([Buffer.from(greet), ...segments]);
      checkReplies(await exchange(payload, cuts), payload);
    }),
    { numRuns: RUNS, endOnFailure: true },
  );

  const count = (msg: string) => server.entries.filter((e) => e.msg === msg).length;
  assert.ok(count("connect") >= RUNS / 2, "most fuzz connections reached a session");
  assert.ok(count("mail from") >= RUNS / 10, `the fuzz rarely got a transaction started (${count("mail from")} MAIL accepted)`);
  // Still the same process, alive, and no internal error was logged.
  if (typeof startingPid === "number") process.kill(startingPid, 0);
  assert.equal(server.entries.filter((e) => e.msg === "starting").length, 1, "the server restarted");
  const errors = server.entries.filter((e) => e.level === "error" || e.level === "fatal" || (typeof e.level === "number" && e.level >= 50));
  assert.deepEqual(errors, [], "internal errors were logged");

  // Not an open relay under fuzz either: nothing for another domain was queued.
  const queue = await server.cli(["queue", "list", "--json"]);
  assert.equal(queue.code, 0, queue.stderr);
  const rows = JSON.parse(queue.stdout) as { recipients: string[] }[];
  const remote = rows.flatMap((r) => r.recipients).filter((a) => !a.toLowerCase().endsWith("@example.test"));
  assert.deepEqual(remote, [], "mail for other domains was accepted from outside relay.networks");

  // And a normal transaction still works.
  const c = await connect(server.listeners.smtp.host, server.listeners.smtp.port);
  assert.match(await c.read(), /^220 /);
  await c.write("EHLO after-fuzz.test\r\nMAIL FROM:<after@outside.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
  for (const expected of [/^250-mx\.test/, /^250 2\.1\.0 /, /^250 2\.1\.5 /, /^354 /]) assert.match(await c.read(), expected);
  await c.write("Subject: after the fuzz\r\n\r\nstill alive\r\n.\r\nQUIT\r\n");
  const done = await c.read();
  const qid = /^250 2\.0\.0 Ok: queued as (\w+)/.exec(done)?.[1];
  assert.ok(qid, done);
  assert.match(await c.read(), /^221 /);
  await server.waitForLog((e) => e.msg === "delivered" && e.qid === qid && e.to === "alice@example.test", 15_000);
  c.close();
});
