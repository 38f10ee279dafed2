// IMAP output of the MIME layer: strings (quote.ts), ENVELOPE and
// BODY/BODYSTRUCTURE, with expected values written out by hand from
// RFC 3501 §7.4.2 / RFC 9051 §7.5.2.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { imapAstring, imapList, imapString, imapStringBin, isUtf8Bin, toWire, utf8Bin, MAX_QUOTED } from "../../src/imap/quote.js";
import { envelope, parseAddressList } from "../../src/imap/envelope.js";
import { bodyStructure } from "../../src/imap/bodystructure.js";
import { parseHeader } from "../../src/mime/header.js";
import { parseMime } from "../../src/mime/structure.js";

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, "\r\n"), "latin1");
const env = (header: string, utf8 = false) => envelope(parseHeader(Buffer.from(header.replace(/\r?\n/g, "\r\n") + "\r\n\r\n", "utf8")), { utf8 });
const bs = (msg: string, ext = true) => {
  const buf = crlf(msg);
  return bodyStructure(buf, parseMime(buf), ext);
};

describe("quote", () => {
  it("writes NIL, quoted strings and literals", () => {
    assert.equal(imapString(null), "NIL");
    assert.equal(imapString(undefined), "NIL");
    assert.equal(imapString(""), '""');
    assert.equal(imapString('say "hi" \\o/'), '"say \\"hi\\" \\\\o/"');
    assert.equal(imapString("two\r\nlines"), "{10}\r\ntwo\r\nlines");
    assert.equal(imapString("x".repeat(MAX_QUOTED)), `"${"x".repeat(MAX_QUOTED)}"`);
    assert.equal(imapString("x".repeat(MAX_QUOTED + 1)), `{${MAX_QUOTED + 1}}\r\n${"x".repeat(MAX_QUOTED + 1)}`);
  });

  it("sends 8-bit as a literal unless UTF8=ACCEPT, counting bytes", () => {
    assert.equal(imapString("café"), "{5}\r\ncaf\xc3\xa9");
    assert.equal(imapString("café", { utf8: true }), '"caf\xc3\xa9"');
    assert.equal(imapString(Buffer.from("caf\xe9", "latin1"), { utf8: true }), "{4}\r\ncaf\xe9");
    assert.equal(toWire(imapString("€")).length, 3 + 5);
  });

  it("replaces NUL, which no IMAP string may carry", () => {
    assert.equal(imapStringBin("a\0b"), "{5}\r\na\xef\xbf\xbdb");
  });

  it("writes astrings as atoms when it can", () => {
    assert.equal(imapAstring("INBOX"), "INBOX");
    assert.equal(imapAstring("a]b"), "a]b");
    assert.equal(imapAstring("NIL"), '"NIL"');
    assert.equal(imapAstring(""), '""');
    assert.equal(imapAstring("has space"), '"has space"');
    assert.equal(imapAstring("a*"), '"a*"');
    assert.equal(imapAstring("x{1}"), '"x{1}"');
    assert.equal(imapList(["A", '"b"']), '(A "b")');
    assert.equal(imapList([]), "()");
  });

  it("checks UTF-8 strictly", () => {
    assert.equal(isUtf8Bin(utf8Bin("héllo €𝄞")), true);
    for (const bad of ["\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf5\x80\x80\x80", "\x80"]) assert.equal(isUtf8Bin(bad), false, JSON.stringify(bad));
  });
});

describe("envelope", () => {
  it("writes the ten fields, raw, with Sender and Reply-To defaulting to From", () => {
    assert.equal(
      env(
        "Date: Mon, 1 Jan 2024 10:00:00 +0000\nSubject: =?utf-8?q?caf=C3=A9?=  now\nFrom: \"Doe, John\" <john@example.com>\n" +
          "To: a@b.example, Team: c@d, \"E F\" <e@f>;\nCc: <g@h>\nIn-Reply-To: <1@x>\nMessage-ID: <2@x>",
      ),
      '("Mon, 1 Jan 2024 10:00:00 +0000" "=?utf-8?q?caf=C3=A9?= now" (("Doe, John" NIL "john" "example.com")) (("Doe, John" NIL "john" "example.com")) ' +
        '(("Doe, John" NIL "john" "example.com")) ((NIL NIL "a" "b.example")(NIL NIL "Team" NIL)(NIL NIL "c" "d")("E F" NIL "e" "f")(NIL NIL NIL NIL)) ' +
        '((NIL NIL "g" "h")) NIL "<1@x>" "<2@x>")',
    );
  });

  it("writes NIL for every missing field", () => {
    assert.equal(env("X-Other: 1"), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
  });

  it("uses Sender and Reply-To when present, the first string field, all address fields", () => {
    assert.equal(
      env("From: a@b\nFrom: c@d\nSender: s@t\nReply-To: r@q\nSubject: first\nSubject: second"),
      '(NIL "first" ((NIL NIL "a" "b")(NIL NIL "c" "d")) ((NIL NIL "s" "t")) ((NIL NIL "r" "q")) NIL NIL NIL NIL NIL)',
    );
  });

  it("collapses whitespace in the subject and names, keeps the unfolded value elsewhere", () => {
    assert.equal(
      env("Subject:   a \t b\n   c  \nFrom: \"x  \ty\" <x@y>\nMessage-ID: <a@b>\n <c@d>"),
      '(NIL "a b c" (("x y" NIL "x" "y")) (("x y" NIL "x" "y")) (("x y" NIL "x" "y")) NIL NIL NIL NIL "<a@b> <c@d>")',
    );
  });

  it("sends 8-bit headers as literals, or quoted with UTF8=ACCEPT", () => {
    const h = "From: Jöhn <j@x>";
    assert.equal(env(h), "(NIL NIL (({5}\r\nJ\xc3\xb6hn NIL \"j\" \"x\")) (({5}\r\nJ\xc3\xb6hn NIL \"j\" \"x\")) (({5}\r\nJ\xc3\xb6hn NIL \"j\" \"x\")) NIL NIL NIL NIL NIL)");
    assert.equal(env(h, true), '(NIL NIL (("J\xc3\xb6hn" NIL "j" "x")) (("J\xc3\xb6hn" NIL "j" "x")) (("J\xc3\xb6hn" NIL "j" "x")) NIL NIL NIL NIL NIL)');
  });
});

describe("parseAddressList", () => {
  const a = (s: string) => parseAddressList(s).map((x) => [x.name, x.adl, x.mailbox, x.host]);
  it("parses the RFC 5322 forms", () => {
    assert.deepEqual(a("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"), [["Pete", null, "pete", "silly.test"]]);
    assert.deepEqual(a("jdoe@one.test (John Doe)"), [["John Doe", null, "jdoe", "one.test"]]);
    assert.deepEqual(a('"Joe Q. Public" <john.q.public@example.com>'), [["Joe Q. Public", null, "john.q.public", "example.com"]]);
    assert.deepEqual(a("Mary <@machine.tld,@two.tld:mary@example.net>"), [["Mary", "@machine.tld,@two.tld", "mary", "example.net"]]);
    assert.deepEqual(a('"john doe"@example.com, a@[1.2.3.4]'), [
      [null, null, "john doe", "example.com"],
      [null, null, "a", "[1.2.3.4]"],
    ]);
    assert.deepEqual(a("john . doe @ example . com"), [[null, null, "john.doe", "example.com"]]);
    assert.deepEqual(a("undisclosed-recipients:;"), [
      [null, null, "undisclosed-recipients", null],
      [null, null, null, null],
    ]);
  });

  it("copes with broken addresses without producing a NIL host", () => {
    assert.deepEqual(a("<>"), [[null, null, "MISSING_MAILBOX", "MISSING_DOMAIN"]]);
    assert.deepEqual(a("justaname"), [[null, null, "justaname", "MISSING_DOMAIN"]]);
    assert.deepEqual(a("Big Bug bb@bug.com"), [["Big Bug", null, "bb", "bug.com"]]);
    assert.deepEqual(a("a@b c@d"), [
      [null, null, "a", "b"],
      [null, null, "c", "d"],
    ]);
    assert.deepEqual(a("user@host@evil.test"), [[null, null, "user@host", "evil.test"]]);
    assert.deepEqual(a("Name <a@b"), [["Name", null, "a", "b"]]);
    assert.deepEqual(a("a@b, , c@d,"), [
      [null, null, "a", "b"],
      [null, null, "c", "d"],
    ]);
    assert.deepEqual(a(""), []);
    assert.deepEqual(a("(only a comment)"), []);
  });
});

describe("bodyStructure", () => {
  it("writes a one-part text message with defaults", () => {
    const msg = "Subject: x\n\nhello\nworld\n";
    assert.equal(bs(msg, false), '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 14 2)');
    assert.equal(bs(msg), '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 14 2 NIL NIL NIL NIL)');
  });

  it("writes the fields as in the header, with extension data", () => {
    const msg =
      "MIME-Version: 1.0\nContent-Type: TEXT/html; CHARSET=utf-8\nContent-Transfer-Encoding: Base64\nContent-ID: <c@d>\n" +
      'Content-Description: desc "q"\nContent-MD5: abc=\nContent-Disposition: INLINE; filename="x y.html"\nContent-Language: en, de\n' +
      "Content-Location: x.html\n\nPGI+\n";
    assert.equal(
      bs(msg),
      '("TEXT" "html" ("CHARSET" "utf-8") "<c@d>" "desc \\"q\\"" "Base64" 6 1 "abc=" ("INLINE" ("filename" "x y.html")) ("en" "de") "x.html")',
    );
  });

  it("writes non-text parts without lines and NIL parameter lists", () => {
    assert.equal(bs("Content-Type: image/png\n\nxx\n", false), '("image" "png" NIL NIL NIL "7bit" 4)');
  });

  it("writes multiparts, nested, with their extension data", () => {
    const msg = `Content-Type: multipart/mixed; boundary="b"

--b

one
--b
Content-Type: multipart/alternative; boundary=c

--c
Content-Type: text/html

<p>
--c--
--b--
`;
    assert.equal(
      bs(msg, false),
      '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0)(("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 3 0) "alternative") "mixed")',
    );
    assert.equal(
      bs(msg),
      '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL)(("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL) ' +
        '"alternative" ("boundary" "c") NIL NIL NIL) "mixed" ("boundary" "b") NIL NIL NIL)',
    );
  });

  it("writes message/rfc822 with the envelope, body and lines of the encapsulated message", () => {
    const msg = `Content-Type: multipart/mixed; boundary=b

--b
Content-Type: message/rfc822

Subject: inner
From: x@y

hi
--b--
`;
    assert.equal(
      bs(msg, false),
      '(("message" "rfc822" NIL NIL NIL "7bit" 31 (NIL "inner" ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) ((NIL NIL "x" "y")) NIL NIL NIL NIL NIL) ' +
        '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 2 0) 3) "mixed")',
    );
  });

  it("treats message/global like message/rfc822", () => {
    assert.match(bs("Content-Type: message/global\n\nSubject: g\n\nx", false), /^\("message" "global" NIL NIL NIL "7bit" \d+ \(NIL "g" /);
  });

  it("writes a multipart without parts with one empty text/plain part", () => {
    assert.equal(bs("Content-Type: multipart/mixed; boundary=zz\n\nno parts\n", false), '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")');
  });

  it("keeps RFC 2231 extended parameters encoded and merged", () => {
    assert.equal(
      bs("Content-Type: application/pdf; name*0*=utf-8''%E2%82%AC; name*1=.pdf\n\nx", false),
      '("application" "pdf" ("name*" "utf-8\'\'%E2%82%AC.pdf") NIL NIL "7bit" 1)',
    );
  });

  it("writes opaque parts beyond the depth limit as application/octet-stream", () => {
    let s = "";
    for (let i = 0; i < 120; i++) s += "Content-Type: message/rfc822\n\n";
    const out = bs(s, false);
    assert.match(out, /\("application" "octet-stream" NIL NIL NIL "7bit" \d+\)/);
  });
});
