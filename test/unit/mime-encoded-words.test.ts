// RFC 2047 encoded words, RFC 2231 parameters, the Content-Type parameter
// syntax and charset decoding.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { base64ToBytes, charsetDecoder, decode2231Value, decodeCharset, decodeWords, parseParams, parseParamsBin } from "../../src/mime/encoded-words.js";

describe("decodeWords (RFC 2047)", () => {
  it("decodes B and Q words, underscores as spaces", () => {
    assert.equal(decodeWords("=?UTF-8?B?SGVsbG8gd29ybGQ=?="), "Hello world");
    assert.equal(decodeWords("=?iso-8859-1?q?caf=E9_cr=E8me?="), "café crème");
    assert.equal(decodeWords("=?utf-8?Q?=e2=82=ac?="), "€");
  });

  it("drops whitespace between adjacent encoded words but keeps other text", () => {
    assert.equal(decodeWords("=?utf-8?q?a?= \t =?utf-8?q?b?="), "ab");
    assert.equal(decodeWords("=?utf-8?q?a?= b =?utf-8?q?c?="), "a b c");
    assert.equal(decodeWords("Re: =?utf-8?q?x?= (fwd)"), "Re: x (fwd)");
  });

  it("joins adjacent words of one charset at the byte level", () => {
    // "€" (E2 82 AC) split across two words.
    assert.equal(decodeWords("=?utf-8?B?4oI=?= =?utf-8?B?rA==?="), "€");
    assert.equal(decodeWords("=?utf-8?q?=E2=82?= =?UTF-8?q?=AC!?="), "€!");
  });

  it("decodes mixed charsets, Japanese and Korean, and the RFC 2231 language suffix", () => {
    assert.equal(decodeWords("=?iso-8859-1?q?caf=E9?= =?utf-8?q?_=E2=82=AC?="), "café €");
    assert.equal(decodeWords("=?ISO-2022-JP?B?GyRCJEYkOSRIGyhC?="), "てすと");
    assert.equal(decodeWords("=?shift_jis?B?g2WDWINn?="), "テスト");
    assert.equal(decodeWords("=?ks_c_5601-1987?B?sKE=?="), "가");
    assert.equal(decodeWords("=?US-ASCII*EN?Q?Keith_Moore?="), "Keith Moore");
    assert.equal(decodeWords("=?utf-7?q?+AOk-?="), "é");
  });

  it("leaves unknown charsets and malformed words as written", () => {
    assert.equal(decodeWords("=?x-unknown?q?abc?="), "=?x-unknown?q?abc?=");
    assert.equal(decodeWords("=?utf-8?x?bad?= =?utf-8?q?ok?="), "=?utf-8?x?bad?= ok");
    assert.equal(decodeWords("=?utf-8?q?never ends"), "=?utf-8?q?never ends");
    assert.equal(decodeWords("=??q?x?= =?utf-8??x?="), "=??q?x?= =?utf-8??x?=");
    assert.equal(decodeWords("plain text"), "plain text");
  });

  it("is lenient: words glued to text, spaces inside Q text", () => {
    assert.equal(decodeWords("a=?utf-8?q?b?=c"), "abc");
    assert.equal(decodeWords("=?utf-8?q?hello world?="), "hello world");
  });

  it("never throws and stays linear on hostile input", () => {
    const hostile = "=?a?q?".repeat(200_000) + "=?" + "?".repeat(100_000);
    const t = Date.now();
    assert.equal(decodeWords(hostile), hostile);
    assert.ok(Date.now() - t < 2000);
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        decodeWords(s);
        decodeWords(s.replace(/x/g, "=?utf-8?q?"));
      }),
      { numRuns: 500 },
    );
  });
});

describe("parseParams", () => {
  it("parses the value and quoted, commented and unquoted parameters", () => {
    const p = parseParams('Text/Plain; Charset="us-\\"ascii" (comment); format=flowed ; x=');
    assert.equal(p.value, "text/plain");
    assert.equal(p.rawValue, "Text/Plain");
    assert.deepEqual([...p.params], [["charset", 'us-"ascii'], ["format", "flowed"], ["x", ""]]);
    assert.deepEqual(p.list, [
      { name: "Charset", value: 'us-"ascii' },
      { name: "format", value: "flowed" },
      { name: "x", value: "" },
    ]);
  });

  it("accepts values without their quotes, and unquoted '=' values", () => {
    assert.equal(parseParams("attachment; filename=This is a test.txt").params.get("filename"), "This is a test.txt");
    assert.equal(parseParams("multipart/alternative; boundary=----=_NextPart_000_0093").params.get("boundary"), "----=_NextPart_000_0093");
    assert.equal(parseParams('a; name="unterminated value').params.get("name"), "unterminated value");
    assert.equal(parseParams('a; name="a;b"; c=d').params.get("name"), "a;b");
    assert.equal(parseParams("a; ; junk; =x; c=d").params.get("c"), "d");
  });

  it("keeps the first of repeated parameters", () => {
    assert.equal(parseParams("a; x=1; X=2").params.get("x"), "1");
  });

  it("decodes RFC 2047 words inside values", () => {
    assert.equal(parseParams('attachment; filename="=?utf-8?B?w6kudHh0?="').params.get("filename"), "é.txt");
  });

  it("merges RFC 2231 continuations and decodes charsets", () => {
    const p = parseParams("attachment; filename*0*=iso-8859-1'fr'caf%E9; filename*1=\" %\"; filename*2*=%21");
    assert.equal(p.params.get("filename"), "café %!");
    assert.deepEqual(p.list, [{ name: "filename*", value: "iso-8859-1'fr'caf%E9 %25%21" }]);
    const q = parseParams('a; title*1="b"; title*0="a"; title*2="c"');
    assert.equal(q.params.get("title"), "abc");
    assert.deepEqual(q.list, [{ name: "title", value: "abc" }]);
    assert.equal(parseParams("a; name*=utf-8''%E2%82%AC; name=fallback").params.get("name"), "€");
    assert.equal(parseParams("a; name*=UTF-8'en'%e2%82%ac").params.get("name"), "€");
  });

  it("lists continuations with a missing index separately, decoding what exists", () => {
    const p = parseParams("a; x*0=a; x*2=c");
    assert.equal(p.params.get("x"), "ac");
    assert.deepEqual(p.list, [
      { name: "x*0", value: "a" },
      { name: "x*2", value: "c" },
    ]);
  });

  it("handles an empty or garbage value", () => {
    assert.equal(parseParams("").value, "");
    assert.equal(parseParams("; a=b").params.get("a"), "b");
    assert.equal(parseParams("=?utf-8?q?x?=").value, "");
  });

  it("keeps bytes in the binary form", () => {
    const p = parseParamsBin('text/plain; name="caf\xc3\xa9"');
    assert.equal(p.list[0].value, "caf\xc3\xa9");
    assert.equal(p.params.get("name"), "café");
    assert.equal(parseParamsBin('text/plain; name="caf\xe9"').params.get("name"), "café");
  });

  it("never throws", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const p = parseParams(s);
        assert.equal(typeof p.value, "string");
        parseParams(s.replace(/x/g, "*0*=").replace(/y/g, '"'));
      }),
      { numRuns: 500 },
    );
  });
});

describe("charsets", () => {
  it("knows WHATWG labels and UTF-7, and not made-up ones", () => {
    assert.ok(charsetDecoder("UTF-8"));
    assert.ok(charsetDecoder(" windows-1251 "));
    assert.ok(charsetDecoder("utf-7"));
    assert.ok(charsetDecoder("cp932"));
    assert.equal(charsetDecoder("x-no-such-charset"), null);
    assert.equal(charsetDecoder(""), null);
    assert.equal(charsetDecoder("a".repeat(200)), null);
  });

  it("decodes UTF-7 (RFC 2152)", () => {
    const d = charsetDecoder("UTF-7")!;
    assert.equal(d(Buffer.from("Hi Mom -+Jjo--!")), "Hi Mom -☺-!");
    assert.equal(d(Buffer.from("A+ImIDkQ.")), "A≢Α.");
    assert.equal(d(Buffer.from("1 +- 1")), "1 + 1");
    assert.equal(d(Buffer.from("+ZeVnLIqe-")), "日本語");
  });

  it("falls back to UTF-8-or-Latin-1 for us-ascii, missing and unknown charsets", () => {
    assert.equal(decodeCharset(Buffer.from("caf\xc3\xa9", "latin1"), "us-ascii"), "café");
    assert.equal(decodeCharset(Buffer.from("caf\xe9", "latin1"), undefined), "café");
    assert.equal(decodeCharset(Buffer.from("caf\xe9", "latin1"), "x-nope"), "café");
    assert.equal(decodeCharset(Buffer.from([0xcf, 0xf0, 0xe8]), "windows-1251"), "При");
  });

  it("decodes lenient base64 and RFC 2231 values", () => {
    assert.equal(base64ToBytes("aGVs\r\nbG8=").toString(), "hello");
    assert.equal(base64ToBytes("aGVsbG8").toString(), "hello");
    assert.equal(base64ToBytes("aG!!Vs*bG8=garbage").toString("latin1").slice(0, 5), "hello");
    assert.equal(base64ToBytes("aGk=aGk=").toString(), "hihi");
    assert.equal(decode2231Value("utf-8''%E2%82%AC%zz"), "€%zz");
    assert.equal(decode2231Value("no quotes %41"), "no quotes A");
  });
});
