// Every input parses and gives well-formed IMAP output: the message corpus
// (../shared/corpus, read in place), random bytes, random near-MIME messages
// and mutated corpus files. Output is checked with a small IMAP response
// tokenizer and the RFC 3501 §9 grammar of body/envelope; the MIME tree with
// structural invariants; sections with the concatenation rules. Big
// adversarial inputs run under a timeout, so a quadratic algorithm fails.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { CORPUS, corpusFiles, normaliseCrlf } from "../helpers/corpus.js";
import { parseMime, walkParts, type MimePart } from "../../src/mime/structure.js";
import { binaryBytes, findPart, sectionBytes } from "../../src/mime/sections.js";
import { bodyText, fullText, headerText } from "../../src/mime/text.js";
import { bodyStructure } from "../../src/imap/bodystructure.js";
import { envelope } from "../../src/imap/envelope.js";
import { isUtf8Bin } from "../../src/imap/quote.js";

// ------------------------------------------------------------ tokenizer

type Tok = { k: "list"; items: Tok[] } | { k: "str"; v: string } | { k: "nil" } | { k: "num"; v: number };

/** Parses one IMAP value (binary string) strictly; throws on any syntax error or trailing data. */
function parseImap(s: string, utf8 = false): Tok {
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`${why} at ${i}: ${JSON.stringify(s.slice(Math.max(0, i - 40), i + 40))}`);
  };
  const value = (): Tok => {
    const c = s[i];
    if (c === "(") {
      i++;
      const items: Tok[] = [];
      while (s[i] !== ")") {
        if (i >= s.length) fail("unbalanced (");
        if (items.length) {
          if (s[i] === " ") i++;
          else if (!(s[i - 1] === ")" && s[i] === "(")) fail("missing separator");
        }
        items.push(value());
      }
      i++;
      return { k: "list", items };
    }
    if (c === '"') {
      i++;
      let v = "";
      for (;;) {
        if (i >= s.length) fail("unterminated quoted string");
        const d = s.charCodeAt(i);
        if (d === 0x22) break;
        if (d === 0x5c) {
          const e = s[i + 1];
          if (e !== '"' && e !== "\\") fail("bad escape");
          v += e;
          i += 2;
          continue;
        }
        if (d === 0 || d === 0x0a || d === 0x0d) fail("NUL/CR/LF in quoted string");
        if (d > 0x7f && !utf8) fail("8-bit in quoted string");
        if (d > 0xff) fail("not a binary string");
        v += s[i++];
      }
      i++;
      if (utf8 && !isUtf8Bin(v)) fail("invalid UTF-8 in quoted string");
      return { k: "str", v };
    }
    if (c === "{") {
      const m = /^\{(\d+)\}\r\n/.exec(s.slice(i, i + 24));
      if (!m) fail("bad literal");
      const n = Number(m![1]);
      i += m![0].length;
      if (i + n > s.length) fail("short literal");
      const v = s.slice(i, i + n);
      if (v.includes("\0")) fail("NUL in literal");
      if (/[^\x00-\xff]/.test(v)) fail("not a binary string");
      i += n;
      return { k: "str", v };
    }
    const m = /^(NIL|\d+)/.exec(s.slice(i, i + 24));
    if (!m) fail("unexpected token");
    i += m![0].length;
    return m![0] === "NIL" ? { k: "nil" } : { k: "num", v: Number(m![0]) };
  };
  const v = value();
  if (i !== s.length) fail("trailing data");
  return v;
}

const isNString = (t: Tok) => t.k === "nil" || t.k === "str";
const isList = (t: Tok): t is { k: "list"; items: Tok[] } => t.k === "list";

function checkParams(t: Tok, where: string) {
  if (t.k === "nil") return;
  assert.ok(isList(t) && t.items.length > 0 && t.items.length % 2 === 0 && t.items.every((x) => x.k === "str"), `params ${where}`);
}

function checkExt(items: Tok[], where: string) {
  // disposition language location
  const [disp, lang, loc] = items;
  assert.ok(disp.k === "nil" || (isList(disp) && disp.items.length === 2 && disp.items[0].k === "str"), `disposition ${where}`);
  if (isList(disp)) checkParams(disp.items[1], where);
  assert.ok(lang.k === "nil" || lang.k === "str" || (isList(lang) && lang.items.length > 0 && lang.items.every((x) => x.k === "str")), `language ${where}`);
  assert.ok(isNString(loc), `location ${where}`);
}

function checkAddresses(t: Tok, where: string) {
  if (t.k === "nil") return;
  assert.ok(isList(t) && t.items.length > 0, `address list ${where}`);
  for (const a of t.items) {
    assert.ok(isList(a) && a.items.length === 4 && a.items.every(isNString), `address ${where}`);
  }
}

/** RFC 3501 §9 envelope. */
function checkEnvelope(t: Tok, where = "") {
  assert.ok(isList(t) && t.items.length === 10, `envelope ${where}`);
  const it = t.items;
  assert.ok(isNString(it[0]) && isNString(it[1]) && isNString(it[8]) && isNString(it[9]), `envelope strings ${where}`);
  for (let k = 2; k < 8; k++) checkAddresses(it[k], where);
}

/** RFC 3501 §9 body (extended when `ext`). Returns the number of parts seen. */
function checkBody(t: Tok, ext: boolean, where = "body"): number {
  assert.ok(isList(t) && t.items.length > 0, where);
  const items = t.items;
  if (isList(items[0])) {
    let n = 0;
    let k = 0;
    while (k < items.length && isList(items[k])) n += checkBody(items[k], ext, `${where}.${++k}`);
    assert.equal(items[k]?.k, "str", `multipart subtype ${where}`);
    const rest = items.slice(k + 1);
    if (!ext) assert.equal(rest.length, 0, `BODY has no extension data ${where}`);
    else {
      assert.equal(rest.length, 4, `multipart extension ${where}`);
      checkParams(rest[0], where);
      checkExt(rest.slice(1), where);
    }
    return n + 1;
  }
  const [type, subtype, params, id, desc, enc, size] = items;
  assert.ok(type.k === "str" && subtype.k === "str", `type ${where}`);
  checkParams(params, where);
  assert.ok(isNString(id) && isNString(desc) && enc.k === "str" && size.k === "num", `basic fields ${where}`);
  let k = 7;
  const t1 = type.k === "str" ? type.v.toLowerCase() : "";
  const s1 = subtype.k === "str" ? subtype.v.toLowerCase() : "";
  let n = 1;
  if (t1 === "text") {
    assert.equal(items[k++]?.k, "num", `text lines ${where}`);
  } else if (t1 === "message" && (s1 === "rfc822" || s1 === "global")) {
    checkEnvelope(items[k++], where);
    n += checkBody(items[k++], ext, `${where}.msg`);
    assert.equal(items[k++]?.k, "num", `message lines ${where}`);
  }
  const rest = items.slice(k);
  if (!ext) assert.equal(rest.length, 0, `BODY has no extension data ${where}`);
  else {
    assert.equal(rest.length, 4, `single-part extension ${where}`);
    assert.ok(isNString(rest[0]), `md5 ${where}`);
    checkExt(rest.slice(1), where);
  }
  return n;
}

// ------------------------------------------------------------ invariants

function countLf(buf: Buffer, a: number, b: number): number {
  let n = 0;
  for (let i = a; i < b; i++) if (buf[i] === 10) n++;
  return n;
}

/** Offsets nest properly; sizes and line counts match the bytes. */
function checkTree(buf: Buffer, root: MimePart) {
  assert.equal(root.start, 0);
  assert.equal(root.end, buf.length);
  for (const p of walkParts(root)) {
    assert.ok(p.start <= p.headerEnd && p.headerEnd === p.bodyStart && p.bodyStart <= p.end && p.end <= buf.length, "offsets");
    assert.equal(p.header.headerEnd, p.headerEnd);
    assert.equal(p.bodySize, p.end - p.bodyStart);
    assert.equal(p.bodyLines, countLf(buf, p.bodyStart, p.end));
    let last = p.bodyStart;
    for (const c of p.parts) {
      assert.ok(c.start >= last && c.end <= p.end, "children in order, inside the parent body");
      assert.equal(c.depth, p.depth + 1);
      last = c.end;
    }
    if (p.message) {
      assert.equal(p.message.start, p.bodyStart);
      assert.equal(p.message.end, p.end);
      assert.equal(p.parts.length, 0);
    }
    if (p.parts.length) assert.equal(p.type, "multipart");
    assert.ok(p.type === p.type.toLowerCase() && p.subtype === p.subtype.toLowerCase());
  }
}

/** Every section number a client could take from BODYSTRUCTURE. */
function sectionNumbers(root: MimePart): number[][] {
  const out: number[][] = [];
  const walk = (part: MimePart, prefix: number[]) => {
    if (part.type === "multipart")
      part.parts.forEach((c, i) => {
        out.push([...prefix, i + 1]);
        walk(c, [...prefix, i + 1]);
      });
    else if (part.message && prefix.length) {
      const m = part.message;
      if (m.type === "multipart") walk(m, prefix);
      else {
        out.push([...prefix, 1]);
        walk(m, [...prefix, 1]);
      }
    } else if (!prefix.length) {
      out.push([1]);
      if (part.message) walk(part, [1]);
    }
  };
  walk(root, []);
  return out;
}

/** Parses and checks everything about one message. */
function checkMessage(buf: Buffer) {
  const root = parseMime(buf);
  checkTree(buf, root);
  const bs = bodyStructure(buf, root, true);
  const body = bodyStructure(buf, root, false);
  const nParts = checkBody(parseImap(bs), true);
  assert.equal(checkBody(parseImap(body), false), nParts);
  checkBody(parseImap(bodyStructure(buf, root, true, { utf8: true }), true), true);
  checkEnvelope(parseImap(envelope(root.header)));
  checkEnvelope(parseImap(envelope(root.header, { utf8: true }), true));

  const header = sectionBytes(buf, root, { part: [], text: "HEADER" })!;
  const text = sectionBytes(buf, root, { part: [], text: "TEXT" })!;
  assert.ok(Buffer.concat([header, text]).equals(buf), "HEADER + TEXT = the message");
  assert.ok(sectionBytes(buf, root, { part: [] })!.equals(buf));
  const fields = sectionBytes(buf, root, { part: [], text: "HEADER.FIELDS", fields: ["From", "subject"] })!;
  const notFields = sectionBytes(buf, root, { part: [], text: "HEADER.FIELDS.NOT", fields: ["From", "subject"] })!;
  assert.ok(fields.toString("latin1").endsWith("\r\n") && notFields.toString("latin1").endsWith("\r\n"));

  for (const num of sectionNumbers(root)) {
    const part = findPart(root, num);
    assert.ok(part, `section ${num.join(".")} exists`);
    const b = sectionBytes(buf, root, { part: num })!;
    assert.ok(b, `BODY[${num.join(".")}]`);
    assert.equal(b.length, part!.bodySize);
    const mime = sectionBytes(buf, root, { part: num, text: "MIME" })!;
    assert.equal(mime.length, part!.headerEnd - part!.start);
    if (part!.message) {
      const h = sectionBytes(buf, root, { part: num, text: "HEADER" })!;
      const t = sectionBytes(buf, root, { part: num, text: "TEXT" })!;
      assert.ok(Buffer.concat([h, t]).equals(b), "HEADER + TEXT = the encapsulated message");
    }
    const bin = binaryBytes(buf, root, num);
    assert.ok(bin === "unknown-cte" || Buffer.isBuffer(bin));
  }
  if (root.type !== "multipart" && !root.message) assert.ok(sectionBytes(buf, root, { part: [1] })!.equals(text), "BODY[1] of a one-part message is its TEXT");
  assert.equal(typeof bodyText(buf, root), "string");
  assert.equal(typeof fullText(buf, root), "string");
  headerText(root.header, "subject");
  return root;
}

// ------------------------------------------------------- near-MIME messages

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** A random message in the shape of MIME, with the usual breakages (deterministic per seed). */
function nearMime(seed: number, nl = "\r\n"): string {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]) => a[Math.floor(r() * a.length)];
  const chance = (p: number) => r() < p;
  const bases = ["b", "bb", "b1", "x", "==", "----=_Part_1", "----=_Part_1.2", "abc", "ab"];
  let budget = 40;
  const text = () => {
    const lines: string[] = [];
    for (let i = Math.floor(r() * 5); i > 0; i--) lines.push(pick(["hello", "", "--", "--b", "--bx", "-- sig", "=3D=20", "tail  ", "From: x@y", "--abc--", "caf\xe9", "=?utf-8?q?x?="]));
    return lines.join(nl);
  };
  const header = (ct: string) => {
    const h: string[] = [];
    if (chance(0.8)) h.push("Content-Type: " + ct);
    if (chance(0.2)) h.push("Content-Transfer-Encoding: " + pick(["7bit", "base64", "quoted-printable", "8bit", "x-uuencode", "bogus value"]));
    if (chance(0.15)) h.push("Content-Disposition: " + pick(['attachment; filename="a b.txt"', "inline", "attachment; filename*=utf-8''%E2%82%AC.txt", "; x"]));
    if (chance(0.1)) h.push("Content-ID: <id" + Math.floor(r() * 100) + "@x>");
    if (chance(0.1)) h.push("Content-Language: en, fr");
    if (chance(0.05)) h.push("Content-Description: some" + nl + "  folded \xe9");
    if (chance(0.05)) h.push("no colon line");
    return h;
  };
  const part = (depth: number, digest: boolean): string => {
    budget--;
    const kind = budget <= 0 || depth > 5 ? "text" : pick(["text", "text", "multi", "multi", "msg", "html"]);
    if (kind === "multi") {
      const b = pick(bases) + (chance(0.5) ? "" : String(depth));
      const sub = pick(["mixed", "alternative", "digest", "related"]);
      const hdr = header(`multipart/${sub}; boundary=${chance(0.5) ? `"${b}"` : b}`);
      let body = chance(0.3) ? "preamble" + nl + "--notb" + nl : "";
      for (let i = Math.floor(r() * 4); i > 0; i--) body += "--" + b + pick(["", "", "  ", " junk"]) + nl + part(depth + 1, sub === "digest") + nl;
      if (chance(0.8)) body += "--" + b + "--" + pick(["", " ", "x"]) + nl;
      if (chance(0.3)) body += "epilogue" + nl;
      return hdr.join(nl) + nl + (chance(0.95) ? nl : "") + body;
    }
    if (kind === "msg") {
      const inner = ["From: a@b, Group: c@d;", "Subject: inner " + depth, "MIME-Version: 1.0"].concat(part(depth + 1, false).split(nl));
      return header(pick(["message/rfc822", "message/global"])).join(nl) + nl + nl + inner.join(nl);
    }
    const hdr = digest && chance(0.5) ? ["X-Digest: 1"] : header(kind === "html" ? "text/html; charset=utf-8" : "text/plain; charset=us-ascii");
    return hdr.join(nl) + nl + nl + text();
  };
  const top = ["From: Someone <s@x.test>", "To: t@y.test, broken <", "Subject: test " + seed, "Date: Mon, 1 Jan 2024 00:00:00 +0000"];
  if (chance(0.9)) top.push("MIME-Version: 1.0");
  return top.join(nl) + nl + part(0, false) + (chance(0.5) ? nl : "");
}

// ------------------------------------------------------------ the tests

const files = corpusFiles();

describe("corpus", () => {
  it("finds the corpus", () => {
    assert.ok(files.length > 50, `the corpus at ${CORPUS} has only ${files.length} files`);
  });

  for (const file of files) {
    it(path.relative(CORPUS, file), () => {
      const raw = fs.readFileSync(file);
      // As stored after SMTP (CRLF) and as found on disk (often bare LF).
      checkMessage(normaliseCrlf(raw));
      checkMessage(raw);
    });
  }
});

describe("properties", () => {
  it("random bytes never throw and give well-formed output", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => {
        checkMessage(Buffer.from(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it("random MIME-like text never throws and gives well-formed output", () => {
    const alphabet = fc.constantFrom("\r\n", "\n", "--", "b", "--b", "--b--", ": ", "Content-Type: multipart/mixed; boundary=b\r\n", "Content-Type: message/rfc822\r\n", "\r\n\r\n", " ", "=?", "?=", '"', "(", ")", "<", ">", "@", ",", ";", "\0", "\xff");
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 200 }), (chunks) => {
        checkMessage(Buffer.from(chunks.join(""), "latin1"));
      }),
      { numRuns: 500 },
    );
  });

  it("near-MIME messages never throw and give well-formed output", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        checkMessage(Buffer.from(nearMime(seed), "latin1"));
      }),
      { numRuns: 400 },
    );
  });

  it("bare-LF and CRLF versions of a message have the same structure", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const lfMsg = nearMime(seed, "\n");
        const a = [...walkParts(parseMime(Buffer.from(lfMsg, "latin1")))];
        const b = [...walkParts(parseMime(Buffer.from(lfMsg.replace(/\n/g, "\r\n"), "latin1")))];
        assert.deepEqual(
          a.map((p) => [p.type, p.subtype, p.bodyLines, p.parts.length]),
          b.map((p) => [p.type, p.subtype, p.bodyLines, p.parts.length]),
        );
        a.forEach((p, i) => assert.equal(b[i].bodySize, p.bodySize + p.bodyLines));
      }),
      { numRuns: 200 },
    );
  });

  it("mutated corpus files never throw and give well-formed output", () => {
    const samples = files.map((f) => fs.readFileSync(f));
    fc.assert(
      fc.property(
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom("\r\n--", "\r\n", "\0", "--\r\n", "\r\n\r\n", "=?", ";", '"', "(", ""), fc.nat({ max: 40 })), { maxLength: 8 }),
        (which, edits) => {
          let buf = samples[which % samples.length];
          for (const [at, insert, cut] of edits) {
            const p = at % (buf.length + 1);
            buf = Buffer.concat([buf.subarray(0, p), Buffer.from(insert, "latin1"), buf.subarray(Math.min(buf.length, p + cut))]);
          }
          checkMessage(buf);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("big inputs (a quadratic algorithm would hit the timeout)", () => {
  const parse = (s: string) => {
    const buf = Buffer.from(s, "latin1");
    const root = parseMime(buf);
    checkBody(parseImap(bodyStructure(buf, root, true)), true);
    checkEnvelope(parseImap(envelope(root.header)));
    return root;
  };

  it("a 10,000-part multipart of 10 MB", { timeout: 60_000 }, () => {
    const body = ("x".repeat(76) + "\r\n").repeat(12);
    let s = 'Content-Type: multipart/mixed; boundary="zzz"\r\n\r\n';
    const chunks = [s];
    for (let i = 0; i < 9_999; i++) chunks.push(`--zzz\r\nContent-Type: text/plain\r\n\r\n${body}\r\n`);
    chunks.push("--zzz--\r\n");
    s = chunks.join("");
    assert.equal(parse(s).parts.length, 9_999);
  });

  it("dense dash lines under deeply nested, prefix-sharing boundaries", { timeout: 60_000 }, () => {
    let s = "";
    for (let i = 0; i < 98; i++) s += `Content-Type: multipart/mixed; boundary="${"a".repeat(60)}${i}"\r\n\r\n--${"a".repeat(60)}${i}\r\n`;
    s += "\r\n" + ("--" + "a".repeat(59) + "\n").repeat(100_000) + "--\n".repeat(2_000_000);
    parse(s);
    let t = "";
    for (let i = 0; i < 98; i++) t += `Content-Type: multipart/mixed; boundary="${String.fromCharCode(65 + (i % 50))}${i}"\r\n\r\n--${String.fromCharCode(65 + (i % 50))}${i}\r\n`;
    parse(t + "\r\n" + "--\n".repeat(2_000_000));
  });

  it("a huge header, long lines, many encoded words and deep nesting", { timeout: 60_000 }, () => {
    const root = parse("Subject: " + "=?utf-8?q?a?= ".repeat(200_000) + "\r\n" + "X: y\r\n".repeat(1_000_000) + "From: " + "a@b, ".repeat(50_000) + "\r\n\r\nbody");
    assert.equal(headerText(root.header, "subject")[0].trim().length, 200_000);
    parse("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + "x".repeat(8_000_000) + "\r\n--b--\r\n");
    parse("Content-Type: message/rfc822\r\n\r\n".repeat(50_000));
    parse("Subject: " + "=?a?q?".repeat(500_000) + "\r\nTo: " + "(".repeat(500_000) + "\r\n\r\n");
  });
});
