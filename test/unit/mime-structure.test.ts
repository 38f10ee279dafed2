// Header parsing, the MIME tree and FETCH sections, on handmade messages
// (written with "\n" and sent as CRLF unless a test says otherwise).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { get, getAll, parseHeader, MAX_FIELDS } from "../../src/mime/header.js";
import { parseMime, walkParts, MAX_DEPTH, MAX_PARTS, type MimePart } from "../../src/mime/structure.js";
import { binaryBytes, decodeQuotedPrintable, findPart, partialBytes, sectionBytes, type SectionSpec } from "../../src/mime/sections.js";

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, "\r\n"), "latin1");
const lf = (s: string) => Buffer.from(s.replace(/\r\n/g, "\n"), "latin1");
const body = (buf: Buffer, p: MimePart) => buf.toString("latin1", p.bodyStart, p.end);
const sec = (buf: Buffer, root: MimePart, spec: SectionSpec) => sectionBytes(buf, root, spec)?.toString("latin1") ?? null;

describe("parseHeader", () => {
  it("splits fields, unfolds values, keeps raw bytes and offsets", () => {
    const buf = crlf("Subject: hello\n  world\nX-Empty:\nFrom :  a@b\n\nbody\n");
    const h = parseHeader(buf);
    assert.deepEqual(
      h.fields.map((f) => [f.name, f.lower, f.value]),
      [
        ["Subject", "subject", "hello  world"],
        ["X-Empty", "x-empty", ""],
        ["From", "from", "a@b"],
      ],
    );
    assert.equal(h.fields[0].raw.toString(), "Subject: hello\r\n  world");
    assert.equal(buf.toString("latin1", h.fields[0].start, h.fields[0].end), "Subject: hello\r\n  world\r\n");
    assert.equal(h.headerEnd, buf.indexOf("body"));
    assert.equal(h.bodyStart, h.headerEnd);
    assert.equal(h.blankLine, true);
  });

  it("get and getAll are case-insensitive and keep message order", () => {
    const h = parseHeader(crlf("Received: 1\nreceived: 2\nRECEIVED: 3\nTo: x\n\n"));
    assert.deepEqual(getAll(h, "Received").map((f) => f.value), ["1", "2", "3"]);
    assert.equal(get(h, "rEcEiVeD")?.value, "1");
    assert.equal(get(h, "cc"), undefined);
  });

  it("keeps lines without a colon as nameless fields that no lookup finds", () => {
    const h = parseHeader(crlf("From me@host Tue Jan 1\nSubject: s\ngarbage line\n  continued\n\n"));
    assert.deepEqual(h.fields.map((f) => f.name), ["", "Subject", ""]);
    assert.equal(h.fields[2].raw.toString(), "garbage line\r\n  continued");
    assert.equal(get(h, ""), undefined);
    assert.deepEqual(getAll(h, ""), []);
  });

  it("accepts bare LF and a header without a blank line", () => {
    const a = parseHeader(lf("A: 1\nB: 2\n\nbody"));
    assert.deepEqual(a.fields.map((f) => f.value), ["1", "2"]);
    assert.equal(a.headerEnd, 11);
    const b = parseHeader(crlf("A: 1\nB: 2"));
    assert.equal(b.headerEnd, b.fields[1].end);
    assert.equal(b.blankLine, false);
    assert.equal(b.fields[1].value, "2");
  });

  it("decodes 8-bit values as UTF-8 when valid, else Latin-1, and keeps the bytes in `bin`", () => {
    const h = parseHeader(Buffer.concat([Buffer.from("A: caf\xc3\xa9\r\nB: caf\xe9\r\n\r\n", "latin1")]));
    assert.equal(h.fields[0].value, "café");
    assert.equal(h.fields[0].bin, "caf\xc3\xa9");
    assert.equal(h.fields[1].value, "café");
    assert.equal(h.fields[1].bin, "caf\xe9");
  });

  it("stops at a stop line, leaving its line break out of the header", () => {
    const buf = crlf("A: 1\nB: 2\n--b\nrest");
    const h = parseHeader(buf, 0, buf.length, { stopAt: (ls) => buf[ls] === 0x2d });
    assert.equal(h.headerEnd, buf.indexOf("\r\n--b"));
    assert.equal(h.fields[1].raw.toString(), "B: 2");
  });

  it("honours start and end", () => {
    const buf = crlf("junk\nA: 1\n\nB: 2\n");
    const h = parseHeader(buf, 6, 12);
    assert.deepEqual(h.fields.map((f) => f.name), ["A"]);
    assert.equal(h.start, 6);
  });

  it("keeps at most MAX_FIELDS fields but still finds the header end", () => {
    const buf = Buffer.from("X: y\r\n".repeat(MAX_FIELDS + 5) + "Subject: late\r\n\r\nbody", "latin1");
    const h = parseHeader(buf);
    assert.equal(h.fields.length, MAX_FIELDS);
    assert.equal(h.truncated, true);
    assert.equal(h.headerEnd, buf.indexOf("body"));
  });
});

describe("parseMime", () => {
  it("applies the RFC 2045 defaults to a message without MIME fields", () => {
    const buf = crlf("Subject: x\n\nline 1\nline 2\n");
    const root = parseMime(buf);
    assert.equal(root.type, "text");
    assert.equal(root.subtype, "plain");
    assert.equal(root.params.get("charset"), "us-ascii");
    assert.equal(root.encoding, "7BIT");
    assert.equal(root.bodySize, 16);
    assert.equal(root.bodyLines, 2);
    assert.equal(root.end, buf.length);
    assert.equal(root.depth, 0);
    assert.equal(root.message, null);
    assert.deepEqual(root.parts, []);
  });

  it("ignores Content-* fields of a header that is not MIME (no MIME-Version, no Content-Type)", () => {
    const root = parseMime(crlf("Content-Transfer-Encoding: base64\nContent-Disposition: attachment\n\naGk=\n"));
    assert.equal(root.encoding, "7BIT");
    assert.equal(root.disposition, null);
    const mime = parseMime(crlf("MIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\naGk=\n"));
    assert.equal(mime.encoding, "BASE64");
  });

  it("reads the Content-* fields", () => {
    const root = parseMime(
      crlf(
        'MIME-Version: 1.0\nContent-Type: Text/HTML; Charset="UTF-8" (comment); format=flowed\nContent-Transfer-Encoding: Quoted-Printable\n' +
          "Content-ID: <id@x>\nContent-Description: a\n description\nContent-Disposition: inline; filename=a.html\n" +
          "Content-Language: en-GB, fr\nContent-Location: http://x/y\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n\nbody",
      ),
    );
    assert.equal(root.type, "text");
    assert.equal(root.subtype, "html");
    assert.deepEqual([...root.params], [["charset", "UTF-8"], ["format", "flowed"]]);
    assert.equal(root.encoding, "QUOTED-PRINTABLE");
    assert.equal(root.id, "<id@x>");
    assert.equal(root.description, "a description");
    assert.deepEqual(root.disposition, { type: "inline", params: new Map([["filename", "a.html"]]) });
    assert.deepEqual(root.language, ["en-GB", "fr"]);
    assert.equal(root.location, "http://x/y");
    assert.equal(root.md5, "Q2hlY2sgSW50ZWdyaXR5IQ==");
    assert.equal(root.wire.type, "Text");
    assert.equal(root.wire.subtype, "HTML");
    assert.equal(root.wire.encoding, "Quoted-Printable");
  });

  it("falls back to text/plain for an invalid Content-Type and an invalid transfer encoding", () => {
    const root = parseMime(crlf("Content-Type: text\nContent-Transfer-Encoding: quoted printable\n\nx"));
    assert.equal(root.type, "text");
    assert.equal(root.subtype, "plain");
    assert.equal(root.params.get("charset"), "us-ascii");
    assert.equal(root.encoding, "7BIT");
    assert.equal(root.wire.encoding, null);
    // A trailing ";" after the encoding is tolerated.
    assert.equal(parseMime(crlf("Content-Type: text/plain\nContent-Transfer-Encoding: base64;\n\nx")).encoding, "BASE64");
  });

  const MULTI = `From: a@b
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

preamble
--outer
Content-Type: text/plain

part one
--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain

alt text
--inner
Content-Type: text/html

<p>alt html</p>
--inner--
inner epilogue
--outer
Content-Type: message/rfc822

From: c@d
Subject: encapsulated
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=enc

--enc
Content-Type: text/plain

enc part
--enc--

--outer--
epilogue
`;

  it("builds nested multiparts and message/rfc822, part bodies excluding the CRLF before a boundary", () => {
    const buf = crlf(MULTI);
    const root = parseMime(buf);
    assert.equal(root.type, "multipart");
    assert.equal(root.parts.length, 3);
    const [p1, p2, p3] = root.parts;
    assert.equal(body(buf, p1), "part one");
    assert.equal(buf.toString("latin1", p1.start, p1.headerEnd), "Content-Type: text/plain\r\n\r\n");
    assert.equal(p1.bodyLines, 0);
    assert.equal(p2.subtype, "alternative");
    assert.deepEqual(p2.parts.map((p) => body(buf, p)), ["alt text", "<p>alt html</p>"]);
    assert.ok(body(buf, p2).endsWith("--inner--\r\ninner epilogue"));
    assert.equal(p3.type, "message");
    assert.ok(p3.message);
    const enc = p3.message!;
    assert.equal(get(enc.header, "subject")?.value, "encapsulated");
    assert.equal(enc.start, p3.bodyStart);
    assert.equal(enc.end, p3.end);
    assert.equal(enc.parts.length, 1);
    assert.equal(body(buf, enc.parts[0]), "enc part");
    assert.equal(body(buf, p3), buf.toString("latin1", enc.start, enc.end));
    assert.ok(body(buf, p3).endsWith("--enc--\r\n"));
    assert.equal(root.end, buf.length);
    assert.deepEqual(
      [...walkParts(root)].map((p) => `${p.type}/${p.subtype}@${p.depth}`),
      ["multipart/mixed@0", "text/plain@1", "multipart/alternative@1", "text/plain@2", "text/html@2", "message/rfc822@1", "multipart/mixed@2", "text/plain@3"],
    );
    // bodySize/bodyLines agree with the bytes everywhere.
    for (const p of walkParts(root)) {
      assert.equal(p.bodySize, p.end - p.bodyStart);
      assert.equal(p.bodyLines, body(buf, p).split("\n").length - 1);
    }
  });

  it("parses the same shape from bare-LF input, with sizes of the LF bytes", () => {
    const a = parseMime(crlf(MULTI));
    const b = parseMime(lf(MULTI));
    const shape = (r: MimePart) => [...walkParts(r)].map((p) => [p.type, p.subtype, p.bodyLines]);
    assert.deepEqual(shape(b), shape(a));
    const [pa, pb] = [[...walkParts(a)], [...walkParts(b)]];
    for (let i = 0; i < pa.length; i++) assert.equal(pa[i].bodySize, pb[i].bodySize + pb[i].bodyLines);
  });

  it("defaults parts of multipart/digest to message/rfc822", () => {
    const buf = crlf(`Content-Type: multipart/digest; boundary=d

--d

From: x@y
Subject: one

body one
--d
Content-Type: text/plain

plain
--d--
`);
    const root = parseMime(buf);
    assert.deepEqual(root.parts.map((p) => `${p.type}/${p.subtype}`), ["message/rfc822", "text/plain"]);
    assert.equal(get(root.parts[0].message!.header, "subject")?.value, "one");
    assert.equal(body(buf, root.parts[0].message!), "body one");
  });

  it("ends parts without a closing boundary at the end of their parent", () => {
    const buf = crlf(`Content-Type: multipart/mixed; boundary=o

--o
Content-Type: multipart/mixed; boundary=i

--i

inner never closed
--o

second
`);
    const root = parseMime(buf);
    assert.equal(root.parts.length, 2);
    assert.equal(body(buf, root.parts[0].parts[0]), "inner never closed");
    assert.equal(body(buf, root.parts[1]), "second\r\n");
    assert.equal(root.parts[1].end, buf.length);
  });

  it("does not let a nested part with the same boundary break the outer one", () => {
    const buf = crlf(`Content-Type: multipart/mixed; boundary=s

--s
Content-Type: multipart/alternative; boundary=s

--s

inner
--s--
after inner
--s

outer two
--s--
`);
    const root = parseMime(buf);
    assert.equal(root.parts.length, 2);
    assert.equal(root.parts[0].parts.length, 1);
    assert.equal(body(buf, root.parts[0].parts[0]), "inner");
    assert.ok(body(buf, root.parts[0]).endsWith("--s--\r\nafter inner"));
    assert.equal(body(buf, root.parts[1]), "outer two");
  });

  it("matches the longest boundary when one is a prefix of another", () => {
    for (const [outer, inner] of [
      ["p", "pp"],
      ["pp", "p"],
    ]) {
      const buf = crlf(`Content-Type: multipart/mixed; boundary=${outer}

--${outer}
Content-Type: multipart/alternative; boundary=${inner}

--${inner}

one
--${inner}

two
--${outer}

three
--${outer}--
`);
      const root = parseMime(buf);
      assert.equal(root.parts.length, 2, `${outer}/${inner}`);
      assert.deepEqual(root.parts[0].parts.map((p) => body(buf, p)), ["one", "two"]);
      assert.equal(body(buf, root.parts[1]), "three");
    }
  });

  it("accepts boundary lines with trailing whitespace or text, and a boundary on the first body line", () => {
    const buf = crlf(`Content-Type: multipart/mixed; boundary="b"

--b  \t
Content-Type: text/plain

one
--b trailing words
--b

three
--b--  
epilogue`);
    const root = parseMime(buf);
    assert.deepEqual(root.parts.map((p) => body(buf, p)), ["one", "", "three"]);
    assert.equal(root.parts[1].header.fields.length, 0);
  });

  it("ends a part header at a boundary line even without a blank line", () => {
    const buf = crlf(`Content-Type: multipart/mixed; boundary=c

--c
Content-Type: text/plain
X-A: b
--c
Content-Type: message/rfc822
--c

last
--c--`);
    const root = parseMime(buf);
    assert.equal(root.parts.length, 3);
    const [a, b, c] = root.parts;
    assert.equal(buf.toString("latin1", a.start, a.headerEnd), "Content-Type: text/plain\r\nX-A: b");
    assert.equal(a.bodySize, 0);
    assert.equal(b.type, "message");
    assert.equal(b.bodySize, 0);
    assert.ok(b.message);
    assert.equal(b.message!.header.fields.length, 0);
    assert.equal(body(buf, c), "last");
  });

  it("reads a multipart without a boundary as text/plain", () => {
    const buf = crlf("Content-Type: multipart/mixed\n\nsome body\n--x\n");
    const root = parseMime(buf);
    assert.equal(`${root.type}/${root.subtype}`, "text/plain");
    assert.deepEqual(root.parts, []);
    assert.equal(body(buf, root), "some body\r\n--x\r\n");
  });

  it("keeps a multipart whose boundary never occurs, with no parts", () => {
    const root = parseMime(crlf("Content-Type: multipart/mixed; boundary=nope\n\njust text\n"));
    assert.equal(root.type, "multipart");
    assert.deepEqual(root.parts, []);
  });

  it("decodes RFC 2231 and RFC 2047 parameters into params, keeping the written form in wire", () => {
    const root = parseMime(
      Buffer.from(
        "Content-Type: application/octet-stream; name*0*=utf-8''%E2%82%AC; name*1=\" and more\"\r\n" +
          "Content-Disposition: attachment; filename=\"=?utf-8?B?w6kudHh0?=\"\r\n\r\nx",
        "latin1",
      ),
    );
    assert.equal(root.params.get("name"), "€ and more");
    assert.deepEqual(root.wire.params, [{ name: "name*", value: "utf-8''%E2%82%AC and more" }]);
    assert.equal(root.disposition?.params.get("filename"), "é.txt");
  });

  it("turns parts beyond MAX_DEPTH into opaque application/octet-stream", () => {
    let s = "";
    const n = MAX_DEPTH + 20;
    for (let i = 0; i < n; i++) s += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
    s += "Content-Type: text/plain\r\n\r\nleaf\r\n";
    const root = parseMime(Buffer.from(s, "latin1"));
    let p = root;
    while (p.parts.length) p = p.parts[0];
    assert.equal(p.depth, MAX_DEPTH - 1);
    assert.equal(p.truncated, true);
    assert.equal(`${p.type}/${p.subtype}`, "application/octet-stream");

    let m = "";
    for (let i = 0; i < n; i++) m += `Content-Type: message/rfc822\r\n\r\nSubject: ${i}\r\n`;
    const mroot = parseMime(Buffer.from(m, "latin1"));
    let q = mroot;
    while (q.message) q = q.message;
    assert.equal(q.depth, MAX_DEPTH - 1);
    assert.equal(q.truncated, true);
  });

  it("stops recognising boundaries after MAX_PARTS parts", () => {
    let s = 'Content-Type: multipart/mixed; boundary="z"\r\n\r\n';
    for (let i = 0; i < MAX_PARTS + 50; i++) s += `--z\r\n\r\npart ${i}\r\n`;
    s += "--z--\r\n";
    const buf = Buffer.from(s, "latin1");
    const root = parseMime(buf);
    assert.equal(root.parts.length, MAX_PARTS - 1);
    assert.equal(root.parts[MAX_PARTS - 2].end, buf.length);
  });
});

describe("sections", () => {
  const buf = crlf(`From: a@b
Subject: sections
To: c@d
Content-Type: multipart/mixed; boundary=x

--x
Content-Type: text/plain

one
--x
Content-Type: multipart/alternative; boundary=y

--y
Content-Type: text/plain

two-one
--y
Content-Type: text/html
X-Part: 1.2.2

two-two
--y--
--x
Content-Type: message/rfc822

From: e@f
Subject: inner
Content-Type: text/plain

inner body
--x--
`);
  const root = parseMime(buf);

  it("finds parts by number, 1-based, descending into encapsulated messages", () => {
    assert.equal(findPart(root, []), root);
    assert.equal(findPart(root, [2, 2]), root.parts[1].parts[1]);
    assert.equal(findPart(root, [3, 1]), root.parts[2].message);
    for (const bad of [[0], [4], [2, 3], [3, 2], [-1], [1.5], [3, 1, 2]]) assert.equal(findPart(root, bad), null, JSON.stringify(bad));
    // Like Dovecot: a leaf part reached through a multipart is also its own part 1.
    assert.equal(findPart(root, [1, 1]), root.parts[0]);
    assert.equal(findPart(root, [2, 1, 1]), root.parts[1].parts[0]);
  });

  it("returns part bodies, MIME headers and whole encapsulated messages", () => {
    assert.equal(sec(buf, root, { part: [1] }), "one");
    assert.equal(sec(buf, root, { part: [2, 2] }), "two-two");
    assert.equal(sec(buf, root, { part: [2, 2], text: "MIME" }), "Content-Type: text/html\r\nX-Part: 1.2.2\r\n\r\n");
    assert.equal(sec(buf, root, { part: [3] }), "From: e@f\r\nSubject: inner\r\nContent-Type: text/plain\r\n\r\ninner body");
    assert.equal(sec(buf, root, { part: [3, 1] }), "inner body");
    assert.equal(sec(buf, root, { part: [3], text: "MIME" }), "Content-Type: message/rfc822\r\n\r\n");
  });

  it("applies HEADER and TEXT to the message or to an encapsulated message", () => {
    assert.equal(sec(buf, root, { part: [], text: "HEADER" }), "From: a@b\r\nSubject: sections\r\nTo: c@d\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n");
    assert.ok(sec(buf, root, { part: [], text: "TEXT" })!.startsWith("--x\r\n"));
    assert.equal(sec(buf, root, { part: [3], text: "HEADER" }), "From: e@f\r\nSubject: inner\r\nContent-Type: text/plain\r\n\r\n");
    assert.equal(sec(buf, root, { part: [3], text: "TEXT" }), "inner body");
    // Not a message/rfc822 part: no HEADER/TEXT; the whole message has no MIME header.
    assert.equal(sec(buf, root, { part: [1], text: "HEADER" }), null);
    assert.equal(sec(buf, root, { part: [2], text: "TEXT" }), null);
    assert.equal(sec(buf, root, { part: [], text: "MIME" }), null);
    assert.equal(sec(buf, root, { part: [9] }), null);
  });

  it("returns HEADER.FIELDS case-insensitively in message order, and HEADER.FIELDS.NOT", () => {
    assert.equal(sec(buf, root, { part: [], text: "HEADER.FIELDS", fields: ["to", "FROM", "x-none"] }), "From: a@b\r\nTo: c@d\r\n\r\n");
    assert.equal(sec(buf, root, { part: [], text: "HEADER.FIELDS.NOT", fields: ["subject", "content-type"] }), "From: a@b\r\nTo: c@d\r\n\r\n");
    assert.equal(sec(buf, root, { part: [3], text: "HEADER.FIELDS", fields: ["Subject"] }), "Subject: inner\r\n\r\n");
    assert.equal(sec(buf, root, { part: [], text: "HEADER.FIELDS", fields: [] }), "\r\n");
  });

  it("keeps folding and repeated fields in HEADER.FIELDS, and non-field lines in .NOT", () => {
    const b = crlf("Received: one\n two\nX: y\nreceived: three\nno colon here\n\nbody");
    const r = parseMime(b);
    assert.equal(sec(b, r, { part: [], text: "HEADER.FIELDS", fields: ["RECEIVED"] }), "Received: one\r\n two\r\nreceived: three\r\n\r\n");
    assert.equal(sec(b, r, { part: [], text: "HEADER.FIELDS.NOT", fields: ["received"] }), "X: y\r\nno colon here\r\n\r\n");
  });

  it("answers HEADER.FIELDS on a header with more than MAX_FIELDS fields", () => {
    const b = Buffer.from("X: y\r\n".repeat(MAX_FIELDS) + "Subject: late\r\nX: z\r\n\r\nbody", "latin1");
    const r = parseMime(b);
    assert.equal(sec(b, r, { part: [], text: "HEADER.FIELDS", fields: ["subject"] }), "Subject: late\r\n\r\n");
    assert.equal(sec(b, r, { part: [], text: "HEADER.FIELDS.NOT", fields: ["x"] }), "Subject: late\r\n\r\n");
  });

  it("treats a one-part message as part 1", () => {
    const b = crlf("Subject: s\n\nthe body\n");
    const r = parseMime(b);
    assert.equal(sec(b, r, { part: [1] }), "the body\r\n");
    assert.equal(sec(b, r, { part: [1], text: "MIME" }), "Subject: s\r\n\r\n");
    assert.equal(sec(b, r, { part: [1, 1] }), null);
    assert.equal(sec(b, r, { part: [2] }), null);
    assert.equal(Buffer.concat([sectionBytes(b, r, { part: [], text: "HEADER" })!, sectionBytes(b, r, { part: [], text: "TEXT" })!]).equals(b), true);
  });

  it("cuts partial ranges", () => {
    const b = Buffer.from("0123456789");
    assert.equal(partialBytes(b, 2, 3).toString(), "234");
    assert.equal(partialBytes(b, 8, 10).toString(), "89");
    assert.equal(partialBytes(b, 20, 5).toString(), "");
    assert.equal(partialBytes(b, 4).toString(), "456789");
    assert.equal(partialBytes(b, 0, 0).toString(), "");
  });
});

describe("binaryBytes", () => {
  const buf = crlf(`Content-Type: multipart/mixed; boundary=b

--b
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

AAEC
/w==
--b
Content-Type: text/plain
Content-Transfer-Encoding: Quoted-Printable

caf=C3=A9 =e2=82=ac  
soft=
break=
--b
Content-Transfer-Encoding: x-uuencode

begin 644 x
--b
Content-Type: text/plain

plain
--b--
`);
  const root = parseMime(buf);

  it("decodes base64 and quoted-printable", () => {
    assert.deepEqual([...(binaryBytes(buf, root, [1]) as Buffer)], [0, 1, 2, 255]);
    assert.equal((binaryBytes(buf, root, [2]) as Buffer).toString("utf8"), "café €\r\nsoftbreak");
    assert.equal((binaryBytes(buf, root, [4]) as Buffer).toString(), "plain");
  });

  it("reports an unknown transfer encoding and a missing part", () => {
    assert.equal(binaryBytes(buf, root, [3]), "unknown-cte");
    assert.equal(binaryBytes(buf, root, [7]), null);
  });

  it("returns a multipart as it is, and a one-part message with its body decoded", () => {
    assert.equal((binaryBytes(buf, root, []) as Buffer).equals(buf), true);
    const one = crlf("MIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n");
    assert.equal((binaryBytes(one, parseMime(one), []) as Buffer).toString(), "MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\nhello");
    assert.equal((binaryBytes(one, parseMime(one), [1]) as Buffer).toString(), "hello");
  });

  it("decodes quoted-printable leniently", () => {
    const qp = (s: string) => decodeQuotedPrintable(Buffer.from(s, "latin1")).toString("latin1");
    assert.equal(qp("a=3Db=3db"), "a=b=b");
    assert.equal(qp("bad =ZZ and =4"), "bad =ZZ and =4");
    assert.equal(qp("trailing   \r\nnext\t\nlast  "), "trailing\r\nnext\nlast");
    assert.equal(qp("soft=  \r\nwrap"), "softwrap");
    assert.equal(qp("end="), "end");
  });
});
