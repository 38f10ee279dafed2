import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { parseSendmailArgs, type SendmailOptions } from "../../src/sendmail/args.js";
import {
  encodeDisplayName,
  parseAddressList,
  prepareLocalSubmission,
  readSendmailInput,
  type LocalSubmissionOptions,
} from "../../src/sendmail/message.js";

// ------------------------------------------------------------ arguments

function ok(argv: string[]): SendmailOptions {
  const r = parseSendmailArgs(argv);
  assert.ok(r.ok, `expected ${JSON.stringify(argv)} to parse: ${r.ok ? "" : r.error}`);
  return r.value;
}
function err(argv: string[]): string {
  const r = parseSendmailArgs(argv);
  assert.ok(!r.ok, `expected ${JSON.stringify(argv)} to be refused`);
  return r.error;
}

test("args: what cron, mailx and scripts pass", () => {
  // Debian cron, cronie, mailx/s-nail, git send-email, typical scripts.
  assert.deepEqual(ok(["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"]), {
    extractRecipients: false, ignoreDots: true, fullName: "CronDaemon", recipients: ["root"],
  });
  assert.deepEqual(ok(["-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"]), {
    extractRecipients: true, ignoreDots: true, fullName: "CronDaemon", sender: "root", recipients: [],
  });
  assert.deepEqual(ok(["-i", "--", "a@example.com", "b@example.com"]).recipients, ["a@example.com", "b@example.com"]);
  assert.deepEqual(ok(["-oi", "-oem", "-odb", "-odq", "-oee", "-oep", "-oeq", "-oew", "-om", "-v", "-bm", "-U", "-n", "x@y"]).ignoreDots, true);
  assert.equal(ok(["-odi", "x@y"]).ignoreDots, false);
  assert.deepEqual(ok(["-N", "never", "-R", "hdrs", "-V", "envid", "-B", "8BITMIME", "-X", "/tmp/log", "-C", "/etc/mail.cf", "x@y"]).recipients, ["x@y"]);
  assert.deepEqual(ok(["-Nsuccess,failure", "-Rfull", "-Venv", "-Ctest.cf", "x@y"]).recipients, ["x@y"]);
  assert.deepEqual(ok(["-t"]), { extractRecipients: true, ignoreDots: false, recipients: [] });
});

test("args: sender, full name, bundling, recipients", () => {
  assert.equal(ok(["-fme@example.com", "x@y"]).sender, "me@example.com");
  assert.equal(ok(["-f", "<me@example.com>", "x@y"]).sender, "me@example.com");
  assert.equal(ok(["-r", "bounce@example.com", "x@y"]).sender, "bounce@example.com");
  assert.equal(ok(["-f", "<>", "x@y"]).sender, "");
  assert.equal(ok(["-F", "Jane Doe", "x@y"]).fullName, "Jane Doe");
  assert.deepEqual(ok(["-ti"]), { extractRecipients: true, ignoreDots: true, recipients: [] });
  assert.equal(ok(["-tif", "me@x"]).sender, "me@x");
  assert.deepEqual(ok(["a@b,c@d", "e@f, ,", "Jane <j@k>"]).recipients, ["a@b", "c@d", "e@f", "j@k"]);
  assert.deepEqual(ok(["a@b", "-f", "me@x", "-i"]).recipients, ["a@b"]); // options after recipients
  assert.deepEqual(ok(["-i", "--", "-t"]).recipients, ["-t"]);
  assert.equal(ok(["-o", "i", "x@y"]).ignoreDots, true);
});

test("args: refused modes and bad input give clear errors", () => {
  assert.match(err(["-bs"]), /SMTP on standard input/);
  assert.match(err(["-bd"]), /daemon/);
  assert.match(err(["-bp"]), /queue listing/);
  assert.match(err(["-bi"]), /alias/);
  assert.match(err(["-bz"]), /-bz is not supported/);
  assert.match(err(["-q"]), /queue runs/);
  assert.match(err(["-q15m"]), /queue runs/);
  assert.match(err(["-Z", "x@y"]), /unknown option -Z/);
  assert.match(err(["-f"]), /-f requires an argument/);
  assert.match(err(["x@y", "-C"]), /-C requires an argument/);
  assert.match(err([]), /no recipients/);
  assert.match(err(["-i"]), /no recipients/);
  assert.match(err(["-f", "a@b\r\nBcc: x", "x@y"]), /line breaks/);
  assert.match(err(["-F", "Eve\nBcc: x", "x@y"]), /line breaks/);
  assert.match(err(["John Smith"]), /not an address/);
  assert.match(err(["-f", "a@b, c@d", "x@y"]), /not an address/);
});

test("property: parseSendmailArgs never throws", () => {
  const argArb = fc.oneof(fc.string(), fc.constantFrom("-t", "-i", "-f", "-F", "-o", "-b", "-q", "--", "-", "-oi", "-C"));
  fc.assert(fc.property(fc.array(argArb, { maxLength: 8 }), (argv) => {
    const r = parseSendmailArgs(argv);
    if (r.ok) assert.ok(r.value.extractRecipients || r.value.recipients.length > 0);
  }), { numRuns: 1000 });
});

// ------------------------------------------------------------ standard input

const input = (s: string, ignoreDots = false): string => readSendmailInput(Buffer.from(s, "latin1"), ignoreDots).toString("latin1");

test("readSendmailInput: line ends and the lone dot", () => {
  assert.equal(input("a\nb\r\nc\rd\n"), "a\r\nb\r\nc\rd\r\n");
  assert.equal(input("no newline"), "no newline\r\n");
  assert.equal(input("cr at end\r"), "cr at end\r\n");
  assert.equal(input(""), "");
  assert.equal(input("\n\n"), "\r\n\r\n");
  assert.equal(input("a\n.\nafter\n"), "a\r\n");
  assert.equal(input("a\r\n.\r\nafter"), "a\r\n");
  assert.equal(input("a\n."), "a\r\n");
  assert.equal(input(".\n"), "");
  assert.equal(input("a\n..\n .\n. \nb\n"), "a\r\n..\r\n .\r\n. \r\nb\r\n");
  assert.equal(input("a\n.\nafter\n", true), "a\r\n.\r\nafter\r\n");
});

test("property: readSendmailInput output is CRLF-only and idempotent", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, ignoreDots) => {
    const once = readSendmailInput(Buffer.from(bytes), ignoreDots);
    assert.ok(!/(^|[^\r])\n/.test(once.toString("latin1")));
    assert.deepEqual(readSendmailInput(once, ignoreDots), once);
    if (ignoreDots) assert.equal(once.toString("latin1").split("\r\n").length - 1, Buffer.from(bytes).toString("latin1").split("\n").length - (bytes.at(-1) === 10 || bytes.length === 0 ? 1 : 0));
  }), { numRuns: 500 });
});

// ------------------------------------------------------------ submission

const NOW = new Date(Date.UTC(2026, 10, 27, 20, 40, 0));
const base: LocalSubmissionOptions = {
  envelopeSender: "root", hostname: "box.example.com", now: NOW, extractRecipients: false, messageIdDomain: "example.com",
};
function prepare(message: string, opts: Partial<LocalSubmissionOptions> = {}): { text: string; recipients: string[] } {
  const r = prepareLocalSubmission(Buffer.from(message, "latin1"), { ...base, ...opts });
  return { text: r.message.toString("latin1"), recipients: r.recipients };
}
const header = (text: string, name: string): string[] =>
  text.split("\r\n\r\n")[0]!.replace(/\r\n[ \t]/g, " ").split("\r\n").filter((l) => l.toLowerCase().startsWith(name.toLowerCase() + ":"));

test("submission: adds Date, Message-ID and From when missing", () => {
  const { text } = prepare("Subject: hi\r\n\r\nbody\r\n");
  const lines = text.split("\r\n");
  assert.equal(lines[0], "Subject: hi");
  assert.equal(lines[1], "Date: Fri, 27 Nov 2026 20:40:00 +0000");
  assert.match(lines[2]!, /^Message-ID: <[A-Za-z0-9._-]+@example\.com>$/);
  assert.equal(lines[3], "From: root@box.example.com");
  assert.equal(lines.slice(4).join("\r\n"), "\r\nbody\r\n");
  assert.notEqual(prepare("").text, prepare("").text, "Message-IDs differ");
});

test("submission: keeps existing Date, Message-ID and From (any case)", () => {
  const msg = "from: Me <me@x>\r\nDATE: Thu, 1 Jan 2026 00:00:00 +0100\r\nmessage-id: <a@b>\r\n\r\nbody\r\n";
  assert.equal(prepare(msg).text, msg);
});

test("submission: From with the full name as atoms, quoted string or encoded words", () => {
  assert.deepEqual(header(prepare("", { fullName: "Cron Daemon" }).text, "From"), ["From: Cron Daemon <root@box.example.com>"]);
  assert.deepEqual(header(prepare("", { fullName: "Doe, \"J\" Jane", envelopeSender: "j@x.org" }).text, "From"), [
    'From: "Doe, \\"J\\" Jane" <j@x.org>',
  ]);
  assert.deepEqual(header(prepare("", { envelopeSender: "" }).text, "From"), ["From: MAILER-DAEMON@box.example.com"]);
  assert.deepEqual(header(prepare("", { fullName: "  \t " }).text, "From"), ["From: root@box.example.com"]);
  assert.equal(encodeDisplayName("Jürgen Müller"), "=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?=");
  assert.equal(encodeDisplayName("=?utf-8?q?x?="), "=?UTF-8?B?PT91dGYtOD9xP3g/PQ==?=");
  assert.equal(encodeDisplayName("a\r\nBcc: evil@x"), '"a Bcc: evil@x"');
  const long = encodeDisplayName("日本語の名前".repeat(10));
  for (const line of long.split("\r\n")) assert.ok(line.length <= 76, line);
  const decoded = long.split("\r\n ").map((w) => Buffer.from(w.slice(10, -2), "base64").toString("utf8")).join("");
  assert.equal(decoded, "日本語の名前".repeat(10));
});

test("submission: -t collects To, Cc and Bcc and removes Bcc", () => {
  const msg =
    "To: Alice <alice@example.com>, \"Doe, Bob\" <bob@example.com>\r\n" +
    "Cc: team: carol@example.com, (comment) dave@example.com;,\r\n" +
    "  =?UTF-8?Q?Erd=C5=91s,_P=C3=A1l?= <erdos@example.org>\r\n" +
    "Subject: x\r\nBCC: secret@example.net,\r\n\tmore@example.net\r\nto: ALICE@example.com, root\r\n\r\nTo: not@header\r\n";
  const { text, recipients } = prepare(msg, { extractRecipients: true });
  assert.deepEqual(recipients, [
    "alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com", "erdos@example.org",
    "secret@example.net", "more@example.net", "root",
  ]);
  assert.ok(!/secret|more@/.test(text));
  assert.ok(text.includes("Subject: x\r\nto: ALICE@example.com, root\r\n"));
  assert.ok(text.endsWith("\r\n\r\nTo: not@header\r\n"));
  // Without -t no recipients are returned, but Bcc still never leaves.
  const plain = prepare(msg);
  assert.deepEqual(plain.recipients, []);
  assert.ok(!/secret/.test(plain.text));
});

test("submission: header-only, body-only and odd header blocks", () => {
  const headerOnly = prepare("Subject: x\nTo: a@b\n", { extractRecipients: true });
  assert.deepEqual(headerOnly.recipients, ["a@b"]);
  assert.match(headerOnly.text, /^Subject: x\r\nTo: a@b\r\nDate: [^\r]+\r\nMessage-ID: [^\r]+\r\nFrom: [^\r]+\r\n$/);
  const bodyOnly = prepare("Subject: x\nthis is not a header\n");
  assert.match(bodyOnly.text, /^Date: [^\r]+\r\nMessage-ID: [^\r]+\r\nFrom: [^\r]+\r\n\r\nSubject: x\r\nthis is not a header\r\n$/);
  assert.match(prepare("hello\n\nworld\n").text, /\r\nFrom: [^\r]+\r\n\r\nhello\r\n\r\nworld\r\n$/);
  assert.match(prepare("").text, /\r\nFrom: [^\r]+\r\n\r\n$/);
  assert.match(prepare("\nbody\n").text, /\r\nFrom: [^\r]+\r\n\r\nbody\r\n$/);
  // A line without a colon inside a header block is left where it is.
  assert.match(prepare("Subject: x\nno colon here\n\nbody\n").text, /^Subject: x\r\nno colon here\r\nDate: /);
  // A leading Unix From_ line is dropped.
  assert.match(prepare("From root Mon Jan  1 00:00:00 2024\nSubject: x\n\nb\n").text, /^Subject: x\r\n/);
});

test("property: prepareLocalSubmission never throws and always yields a complete CRLF message", () => {
  const lineArb = fc.oneof(
    fc.constantFrom("", "To: a@b", "Bcc: x@y", " cont", "Date: x", "From: y", "no colon", "Cc: <", "From x", "."),
    fc.string({ unit: "binary", maxLength: 40 }),
  );
  fc.assert(fc.property(fc.array(lineArb, { maxLength: 10 }), fc.boolean(), fc.string(), (lines, t, fullName) => {
    const r = prepareLocalSubmission(Buffer.from(lines.join("\n")), { ...base, extractRecipients: t, fullName });
    const text = r.message.toString("latin1");
    assert.ok(!/(^|[^\r])\n/.test(text));
    const head = text.startsWith("\r\n") ? "" : text.split("\r\n\r\n")[0]!;
    for (const name of ["date", "from", "message-id"]) {
      assert.ok(head.split("\r\n").some((l) => l.toLowerCase().startsWith(name + ":")), `${name} in ${JSON.stringify(head)}`);
    }
    assert.ok(!head.split("\r\n").some((l) => /^bcc\s*:/i.test(l)));
    if (!t) assert.deepEqual(r.recipients, []);
  }), { numRuns: 1000 });
});

// ------------------------------------------------------------ address lists

test("parseAddressList: the forms found in real headers", () => {
  const cases: [string, string[]][] = [
    ["a@b.example", ["a@b.example"]],
    ["John Q. Public <jqp@example.com>, \"Doe, Jane\" <jane@example.com>", ["jqp@example.com", "jane@example.com"]],
    ["A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;", ["c@a.test", "joe@where.test", "jdoe@one.test"]],
    ["Undisclosed recipients:;", []],
    ["\"Mary Smith: Personal Account\" <smith@home.example>", ["smith@home.example"]],
    ["Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", ["pete@silly.test"]],
    ["=?UTF-8?Q?M=C3=BCller,_K?= <k@m.example>, =?ISO-8859-1?B?SvZyZw==?= <j@m.example>", ["k@m.example", "j@m.example"]],
    ["<@route1,@route2:user@host.example>", ["user@host.example"]],
    ["\"john doe\"@example.com, \"plain\"@example.com", ["\"john doe\"@example.com", "plain@example.com"]],
    ["root, postmaster", ["root", "postmaster"]],
    ["user@[192.0.2.1]", ["user@[192.0.2.1]"]],
    ["John Smith, <>, @, a@, @b, a@b@c", []],
    ["broken <a@b.example", ["a@b.example"]],
    ["x@y.example (unterminated comment", ["x@y.example"]],
    ["\"unterminated <a@b>", []],
    ["", []],
  ];
  for (const [value, expected] of cases) assert.deepEqual(parseAddressList(value), expected, value);
});

test("property: formatted address lists parse back to their addresses", () => {
  const atom = fc.stringMatching(/^[a-z0-9+_-]{1,8}$/);
  const addr = fc.tuple(fc.array(atom, { minLength: 1, maxLength: 3 }), fc.array(atom, { minLength: 1, maxLength: 3 }))
    .map(([l, d]) => `${l.join(".")}@${d.join(".")}`);
  const mailbox = fc.tuple(addr, fc.option(fc.string({ maxLength: 12 })), fc.option(fc.stringMatching(/^[^()\\]{0,10}$/)))
    .map(([a, name, comment]) => ({
      a,
      text: (name === null ? a : `"${name.replace(/[\\"]/g, "\\$&")}" <${a}>`) + (comment === null ? "" : ` (${comment})`),
    }));
  fc.assert(fc.property(fc.array(mailbox, { maxLength: 5 }), fc.boolean(), (boxes, group) => {
    const list = boxes.map((b) => b.text).join(", ");
    assert.deepEqual(parseAddressList(group ? `friends: ${list};` : list), boxes.map((b) => b.a));
  }), { numRuns: 500 });
  fc.assert(fc.property(fc.string({ maxLength: 60 }), (s) => void parseAddressList(s)), { numRuns: 2000 });
});

test("corpus: recipients extracted from real messages are plain addresses", () => {
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith(".eml") ? [path.join(dir, e.name)] : []);
  let total = 0;
  for (const file of walk(path.resolve(process.cwd(), "../shared/corpus"))) {
    const r = prepareLocalSubmission(readFileSync(file), { ...base, extractRecipients: true });
    for (const a of r.recipients) assert.ok(!/[\s<>,;]/.test(a.replace(/"[^"]*"/g, "")), `${file}: ${a}`);
    total += r.recipients.length;
  }
  assert.ok(total > 100, `${total} recipients`);
});
