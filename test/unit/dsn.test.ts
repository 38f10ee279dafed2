// Delivery status notifications (src/queue/dsn.ts): the multipart/report
// layout of RFC 6522, the delivery-status fields of RFC 3464, ORCPT/ENVID
// only when given, headers-only versus whole-message returns, the subject per
// kind, folding under 998 octets, RFC 6533 forms for non-ASCII addresses, and
// a parse by Python's email package as a second opinion.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildDsn, originalHeaderBlock, type DsnInput, type DsnRecipient } from "../../src/queue/dsn.js";
import { run } from "../helpers/run.js";

const HEADER = "From: Alice <alice@client.test>\r\nTo: bob@remote.test\r\nSubject: lunch\r\nMessage-ID: <m1@client.test>\r\n\r\n";
const BODY = "Shall we?\r\n";

function failed(extra: Partial<DsnRecipient> = {}): DsnRecipient {
  return {
    address: "bob@remote.test",
    orcpt: null,
    action: "failed",
    status: "5.1.1",
    diagnostic: "550 5.1.1 <bob@remote.test>: no such user",
    remoteMta: "mx.remote.test",
    lastAttempt: Date.UTC(2026, 0, 2, 10, 0, 0),
    ...extra,
  };
}

function input(extra: Partial<DsnInput> = {}): DsnInput {
  return {
    hostname: "mx.test",
    queueId: "0K2M4P6R8ABCDEFGH",
    messageId: "<0K2M4P6R8ZZZZZZZZ@mx.test>",
    sender: "alice@client.test",
    envId: null,
    arrival: Date.UTC(2026, 0, 1, 9, 0, 0),
    recipients: [failed()],
    original: { header: Buffer.from(HEADER) },
    date: new Date(Date.UTC(2026, 0, 2, 10, 0, 5)),
    ...extra,
  };
}

interface Part {
  header: string;
  body: string;
}

/** Splits a DSN into its top-level header, its parts and what follows the closing boundary. */
function parse(dsn: Buffer): { header: string; boundary: string; parts: Part[]; epilogue: string } {
  const text = dsn.toString("utf8");
  const split = text.indexOf("\r\n\r\n");
  const header = text.slice(0, split + 2);
  const boundary = /boundary="([^"]+)"/.exec(header)?.[1];
  assert.ok(boundary, `no boundary in ${header}`);
  const pieces = text.split(`\r\n--${boundary}`);
  const epilogue = pieces.pop()!;
  assert.ok(epilogue.startsWith("--\r\n"), "closing boundary");
  const parts = pieces.slice(1).map((p) => {
    assert.ok(p.startsWith("\r\n"));
    const end = p.indexOf("\r\n\r\n");
    return { header: p.slice(2, end + 2), body: p.slice(end + 4) };
  });
  return { header, boundary, parts, epilogue: epilogue.slice(4) };
}

/** Header field value, unfolded (RFC 5322 §2.2.3). */
function fieldOf(block: string, name: string): string | undefined {
  const unfolded = block.replace(/\r\n[ \t]/g, " ");
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, "im").exec(unfolded);
  return m?.[1];
}

/** The delivery-status body as groups of fields (first: per-message). */
function groups(body: string): string[] {
  return body.replace(/\r\n$/, "").split("\r\n\r\n");
}

function lines(dsn: Buffer): string[] {
  const text = dsn.toString("utf8");
  assert.doesNotMatch(text.replace(/\r\n/g, ""), /[\r\n]/, "a bare CR or LF");
  return text.split("\r\n");
}

test("layout: multipart/report with notification, delivery-status and the original's header", () => {
  const dsn = buildDsn(input());
  const { header, boundary, parts, epilogue } = parse(dsn);
  assert.equal(fieldOf(header, "From"), '"Mail Delivery System" <MAILER-DAEMON@mx.test>');
  assert.equal(fieldOf(header, "To"), "<alice@client.test>");
  assert.equal(fieldOf(header, "Subject"), "Undelivered Mail Returned to Sender");
  assert.equal(fieldOf(header, "Message-ID"), "<0K2M4P6R8ZZZZZZZZ@mx.test>");
  assert.equal(fieldOf(header, "Auto-Submitted"), "auto-replied");
  assert.equal(fieldOf(header, "MIME-Version"), "1.0");
  assert.match(fieldOf(header, "Date")!, /^Fri, 2 Jan 2026 \d\d:\d\d:05 [+-]\d{4}$/);
  assert.match(fieldOf(header, "Content-Type")!, /^multipart\/report; report-type=delivery-status; boundary="/);
  assert.ok(boundary.startsWith("0K2M4P6R8ABCDEFGH."), boundary);
  assert.ok(boundary.length <= 70);
  assert.equal(epilogue, "");
  assert.equal(parts.length, 3);

  assert.equal(fieldOf(parts[0].header, "Content-Type"), "text/plain; charset=us-ascii");
  assert.equal(fieldOf(parts[0].header, "Content-Description"), "Notification");
  assert.match(parts[0].body, /^This is the mail system at host mx\.test\./);
  assert.match(parts[0].body, /could not be delivered/);
  assert.match(parts[0].body.replace(/\r\n\s*/g, " "), /<bob@remote\.test>: host mx\.remote\.test said: 550 5\.1\.1 <bob@remote\.test>: no such user/);
  assert.match(parts[0].body, /0K2M4P6R8ABCDEFGH/);

  assert.equal(fieldOf(parts[1].header, "Content-Type"), "message/delivery-status");
  assert.equal(fieldOf(parts[1].header, "Content-Description"), "Delivery report");
  const [perMessage, perRecipient, ...more] = groups(parts[1].body);
  assert.equal(more.length, 0);
  assert.equal(fieldOf(perMessage, "Reporting-MTA"), "dns; mx.test");
  assert.equal(fieldOf(perMessage, "X-Petrel-Queue-ID"), "0K2M4P6R8ABCDEFGH");
  assert.match(fieldOf(perMessage, "Arrival-Date")!, /^Thu, 1 Jan 2026 /);
  assert.equal(fieldOf(perMessage, "Original-Envelope-Id"), undefined);
  assert.equal(fieldOf(perRecipient, "Final-Recipient"), "rfc822; bob@remote.test");
  assert.equal(fieldOf(perRecipient, "Action"), "failed");
  assert.equal(fieldOf(perRecipient, "Status"), "5.1.1");
  assert.equal(fieldOf(perRecipient, "Remote-MTA"), "dns; mx.remote.test");
  assert.equal(fieldOf(perRecipient, "Diagnostic-Code"), "smtp; 550 5.1.1 <bob@remote.test>: no such user");
  assert.match(fieldOf(perRecipient, "Last-Attempt-Date")!, /^Fri, 2 Jan 2026 /);
  assert.equal(fieldOf(perRecipient, "Original-Recipient"), undefined);
  assert.equal(fieldOf(perRecipient, "Will-Retry-Until"), undefined);

  assert.equal(fieldOf(parts[2].header, "Content-Type"), "text/rfc822-headers");
  assert.equal(fieldOf(parts[2].header, "Content-Description"), "Undelivered Message Headers");
  assert.equal(fieldOf(parts[2].header, "Content-Transfer-Encoding"), undefined);
  assert.equal(parts[2].body, HEADER);
  assert.doesNotMatch(dsn.toString(), /Shall we/);
  for (const line of lines(dsn)) assert.ok(Buffer.byteLength(line) <= 998);
});

test("ENVID and ORCPT appear only when given; one blank-line separated group per recipient", () => {
  const dsn = buildDsn(
    input({
      envId: "batch-42",
      recipients: [
        failed({ orcpt: "rfc822;Bob.Original@remote.test" }),
        failed({ address: "carol@remote.test", status: "5.2.2", diagnostic: "552 5.2.2 mailbox full" }),
        failed({ address: "dave@remote.test", remoteMta: undefined, diagnostic: "the domain accepts no mail (null MX)", status: "5.1.10" }),
      ],
    }),
  );
  const { parts } = parse(dsn);
  const [perMessage, bob, carol, dave, ...more] = groups(parts[1].body);
  assert.equal(more.length, 0);
  assert.equal(fieldOf(perMessage, "Original-Envelope-Id"), "batch-42");
  assert.equal(fieldOf(bob, "Original-Recipient"), "rfc822; Bob.Original@remote.test");
  assert.equal(fieldOf(bob, "Final-Recipient"), "rfc822; bob@remote.test");
  assert.equal(fieldOf(carol, "Original-Recipient"), undefined);
  assert.equal(fieldOf(carol, "Status"), "5.2.2");
  assert.equal(fieldOf(dave, "Remote-MTA"), undefined);
  assert.equal(fieldOf(dave, "Diagnostic-Code"), "X-Petrel; the domain accepts no mail (null MX)");
  for (const group of [bob, carol, dave]) assert.ok(!group.includes("\r\n\r\n") && group.trim() !== "");
  const human = parts[0].body.replace(/\r\n\s*/g, " ");
  assert.match(human, /<bob@remote\.test> \(expanded from <Bob\.Original@remote\.test>\)/);
  assert.match(human, /<carol@remote\.test>: host mx\.remote\.test said: 552 5\.2\.2 mailbox full/);
  assert.match(human, /<dave@remote\.test>: the domain accepts no mail \(null MX\)/);
});

test("a reason of our own without words is explained from the status code", () => {
  const { parts } = parse(buildDsn(input({ recipients: [failed({ remoteMta: undefined, diagnostic: undefined, status: "5.4.4" })] })));
  assert.match(parts[0].body, /no route to the destination/);
  assert.equal(fieldOf(groups(parts[1].body)[1], "Diagnostic-Code"), undefined);
});

test("the whole original is returned as message/rfc822 when its body is given", () => {
  const dsn = buildDsn(input({ original: { header: Buffer.from(HEADER), body: Buffer.from(BODY) } }));
  const { parts } = parse(dsn);
  assert.equal(fieldOf(parts[2].header, "Content-Type"), "message/rfc822");
  assert.equal(fieldOf(parts[2].header, "Content-Description"), "Undelivered Message");
  assert.equal(parts[2].body, HEADER + BODY);
  assert.match(parts[0].body, /It's attached below/);
});

test("the subject follows the worst kind of report", () => {
  const subject = (recipients: DsnRecipient[]) => fieldOf(parse(buildDsn(input({ recipients }))).header, "Subject");
  const delayed = failed({ action: "delayed", status: "4.4.1", diagnostic: "connection refused", remoteMta: undefined, willRetryUntil: Date.UTC(2026, 0, 6) });
  const delivered = failed({ action: "delivered", status: "2.0.0", diagnostic: "250 2.0.0 Ok: queued as 123" });
  const relayed = failed({ action: "relayed", status: "2.0.0", diagnostic: "250 ok" });
  assert.equal(subject([failed()]), "Undelivered Mail Returned to Sender");
  assert.equal(subject([delayed]), "Delayed Mail (still being retried)");
  assert.equal(subject([delivered]), "Successful Mail Delivery Report");
  assert.equal(subject([relayed]), "Successful Mail Delivery Report");
  assert.equal(subject([delayed, failed({ address: "x@remote.test" })]), "Undelivered Mail Returned to Sender");
  assert.equal(subject([delivered, delayed]), "Delayed Mail (still being retried)");

  const { parts } = parse(buildDsn(input({ recipients: [delayed] })));
  assert.match(parts[0].body, /THIS IS A WARNING ONLY/);
  assert.match(parts[0].body.replace(/\r\n\s*/g, " "), /will keep trying until Tue, 6 Jan 2026|will keep trying until Mon, 5 Jan 2026/);
  const group = groups(parts[1].body)[1];
  assert.equal(fieldOf(group, "Action"), "delayed");
  assert.match(fieldOf(group, "Will-Retry-Until")!, /2026/);

  const success = parse(buildDsn(input({ recipients: [delivered] })));
  assert.match(success.parts[0].body, /successfully delivered/);
  assert.equal(fieldOf(groups(success.parts[1].body)[1], "Will-Retry-Until"), undefined);
  // Will-Retry-Until belongs to delayed recipients only (RFC 3464 §2.3.9).
  const failedWithRetry = parse(buildDsn(input({ recipients: [failed({ willRetryUntil: Date.UTC(2026, 0, 6) })] })));
  assert.equal(fieldOf(groups(failedWithRetry.parts[1].body)[1], "Will-Retry-Until"), undefined);
});

test("long diagnostics are folded: every line at most 998 octets, no words lost", () => {
  const words = Array.from({ length: 400 }, (_, i) => `word${i}`).join(" ");
  const token = "T".repeat(2500);
  const diagnostic = `550 5.7.1 ${words} ${token} tail`;
  const dsn = buildDsn(input({ recipients: [failed({ diagnostic, address: `${"l".repeat(60)}@remote.test` })] }));
  const all = lines(dsn);
  for (const line of all) assert.ok(Buffer.byteLength(line) <= 998, `line of ${Buffer.byteLength(line)} octets`);
  const { parts } = parse(dsn);
  const code = fieldOf(groups(parts[1].body)[1], "Diagnostic-Code")!;
  assert.ok(code.startsWith(`smtp; 550 5.7.1 ${words} `), "words kept in order, folded only at spaces");
  assert.equal(code.replace(/ /g, "").replace(/^smtp;/, ""), diagnostic.replace(/ /g, ""));
  assert.ok(code.endsWith(" tail"));
  assert.ok(parts[0].body.split("\r\n").filter((l) => l.length > 80).every((l) => !l.trim().includes(" ")), "the human text wraps at words");
});

test("CR, LF and other control characters in a remote reply cannot add fields", () => {
  const dsn = buildDsn(input({ recipients: [failed({ diagnostic: "550 no\r\nX-Injected: yes\r\n\r\n--boundary" })] }));
  const text = dsn.toString();
  assert.doesNotMatch(text, /^X-Injected/m);
  assert.match(fieldOf(groups(parse(dsn).parts[1].body)[1], "Diagnostic-Code")!, /^smtp; 550 no X-Injected: yes --boundary$/);
});

test("8-bit originals are labelled 8bit; a UTF-8 header goes back as text/global-headers", () => {
  const latin = Buffer.concat([Buffer.from("Subject: caf"), Buffer.from([0xe9]), Buffer.from("\r\n\r\n")]);
  const one = parse(buildDsn(input({ original: { header: latin } })));
  assert.equal(fieldOf(one.parts[2].header, "Content-Type"), "text/rfc822-headers");
  assert.equal(fieldOf(one.parts[2].header, "Content-Transfer-Encoding"), "8bit");
  assert.equal(fieldOf(one.header, "Content-Transfer-Encoding"), "8bit");

  const utf8 = Buffer.from("Subject: café\r\n\r\n");
  const two = parse(buildDsn(input({ original: { header: utf8 } })));
  assert.equal(fieldOf(two.parts[2].header, "Content-Type"), "text/global-headers");
  const three = parse(buildDsn(input({ original: { header: utf8, body: Buffer.from("Grüße\r\n") } })));
  assert.equal(fieldOf(three.parts[2].header, "Content-Type"), "message/global");
  assert.equal(fieldOf(three.parts[2].header, "Content-Transfer-Encoding"), "8bit");
  const body8 = parse(buildDsn(input({ original: { header: Buffer.from(HEADER), body: Buffer.from("Grüße\r\n") } })));
  assert.equal(fieldOf(body8.parts[2].header, "Content-Type"), "message/rfc822");
  assert.equal(fieldOf(body8.parts[2].header, "Content-Transfer-Encoding"), "8bit");

  const ascii = parse(buildDsn(input()));
  assert.equal(fieldOf(ascii.header, "Content-Transfer-Encoding"), undefined);
});

test("non-ASCII addresses: message/global-delivery-status with the utf-8 address type (RFC 6533)", () => {
  const dsn = buildDsn(input({ recipients: [failed({ address: "jürgen@bücher.test", orcpt: "rfc822;jürgen+x@bücher.test" }), failed()] }));
  const { parts } = parse(dsn);
  assert.equal(fieldOf(parts[1].header, "Content-Type"), "message/global-delivery-status");
  const [, jurgen, bob] = groups(parts[1].body);
  assert.equal(fieldOf(jurgen, "Final-Recipient"), "utf-8; jürgen@bücher.test");
  assert.equal(fieldOf(jurgen, "Original-Recipient"), "utf-8; jürgen\\x{2B}x@bücher.test");
  assert.equal(fieldOf(bob, "Final-Recipient"), "rfc822; bob@remote.test");
  assert.match(fieldOf(parts[0].header, "Content-Type")!, /charset=utf-8/);
});

test("originalHeaderBlock: up to and including the first empty line", () => {
  assert.equal(originalHeaderBlock(Buffer.from(HEADER + BODY)).toString(), HEADER);
  assert.equal(originalHeaderBlock(Buffer.from("Subject: x\r\nFrom: y")).toString(), "Subject: x\r\nFrom: y");
  assert.equal(originalHeaderBlock(Buffer.from("\r\nbody only\r\n\r\nmore")).toString(), "\r\n");
  assert.equal(originalHeaderBlock(Buffer.alloc(0)).length, 0);
});

test("boundaries differ between reports and never occur in the content", () => {
  const a = parse(buildDsn(input())).boundary;
  const b = parse(buildDsn(input())).boundary;
  assert.notEqual(a, b);
  const body = Buffer.from(`--${a}\r\n`.repeat(3));
  const { boundary, parts } = parse(buildDsn(input({ original: { header: Buffer.from(HEADER), body } })));
  assert.equal(parts.length, 3);
  assert.ok(!body.includes(boundary));
});

test("Python's email package reads it as multipart/report with three parts", async () => {
  const dsn = buildDsn(
    input({
      envId: "batch-42",
      recipients: [
        failed({ orcpt: "rfc822;bob@remote.test", diagnostic: `550 5.1.1 ${"very long reason ".repeat(100)}` }),
        failed({ address: "carol@remote.test", action: "delayed", status: "4.4.1", remoteMta: undefined, diagnostic: "connection timed out", willRetryUntil: Date.UTC(2026, 0, 6) }),
      ],
      original: { header: Buffer.from(HEADER), body: Buffer.from(BODY) },
    }),
  );
  const script = [
    "import sys, json, email",
    "from email import policy",
    "m = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.compat32)",
    "parts = m.get_payload()",
    "status = parts[1].get_payload()",
    "out = {",
    " 'type': m.get_content_type(), 'report_type': m.get_param('report-type'), 'multipart': m.is_multipart(),",
    " 'parts': [p.get_content_type() for p in parts], 'defects': [str(d) for d in m.defects] + [str(d) for p in parts for d in p.defects],",
    " 'groups': [{k: ' '.join(v.split()) for k, v in g.items()} for g in status],",
    " 'original_subject': parts[2].get_payload()[0]['Subject'],",
    "}",
    "print(json.dumps(out))",
  ].join("\n");
  const r = await run("python3", ["-c", script], { input: dsn });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    type: string;
    report_type: string;
    multipart: boolean;
    parts: string[];
    defects: string[];
    groups: Record<string, string>[];
    original_subject: string;
  };
  assert.equal(out.type, "multipart/report");
  assert.equal(out.report_type, "delivery-status");
  assert.deepEqual(out.parts, ["text/plain", "message/delivery-status", "message/rfc822"]);
  assert.deepEqual(out.defects, []);
  assert.equal(out.groups.length, 3);
  assert.equal(out.groups[0]["Reporting-MTA"], "dns; mx.test");
  assert.equal(out.groups[0]["Original-Envelope-Id"], "batch-42");
  assert.equal(out.groups[1]["Original-Recipient"], "rfc822; bob@remote.test");
  assert.equal(out.groups[1]["Final-Recipient"], "rfc822; bob@remote.test");
  assert.equal(out.groups[1].Action, "failed");
  assert.equal(out.groups[1].Status, "5.1.1");
  assert.ok(out.groups[1]["Diagnostic-Code"].startsWith("smtp; 550 5.1.1 very long reason"));
  assert.equal(out.groups[2]["Final-Recipient"], "rfc822; carol@remote.test");
  assert.equal(out.groups[2].Action, "delayed");
  assert.equal(out.groups[2].Status, "4.4.1");
  assert.ok(out.groups[2]["Will-Retry-Until"]);
  assert.equal(out.original_subject, "lunch");
});
