import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkSmtpUtf8,
  decodeXtext,
  encodeXtext,
  needsSmtpUtf8,
  parseDomain,
  parseMailFrom,
  parseRcptTo,
  quoteLocalPart,
  type EsmtpParams,
  type Mailbox,
  type SmtpReplyError,
} from "../../src/smtp/address.js";

function sender(arg: string): Mailbox | null {
  const r = parseMailFrom(arg);
  assert.ok(r.ok, `${arg}: ${JSON.stringify(r)}`);
  return r.value.sender;
}
function recipient(arg: string): Mailbox {
  const r = parseRcptTo(arg);
  assert.ok(r.ok, `${arg}: ${JSON.stringify(r)}`);
  return r.value.recipient;
}
function mailParams(arg: string): EsmtpParams {
  const r = parseMailFrom(arg);
  assert.ok(r.ok, `${arg}: ${JSON.stringify(r)}`);
  return r.value.params;
}
function rcptParams(arg: string): EsmtpParams {
  const r = parseRcptTo(arg);
  assert.ok(r.ok, `${arg}: ${JSON.stringify(r)}`);
  return r.value.params;
}
function refused(r: { ok: boolean }, code: number, enhanced: string, message?: RegExp): void {
  assert.equal(r.ok, false, JSON.stringify(r));
  const e = r as SmtpReplyError;
  assert.equal(e.code, code, e.message);
  assert.equal(e.enhanced, enhanced, e.message);
  if (message) assert.match(e.message, message);
}

test("MAIL FROM: basic forms", () => {
  assert.deepEqual(sender("FROM:<a@b.test>"), { local: "a", domain: "b.test", address: "a@b.test", utf8: false });
  assert.deepEqual(sender("from:<John.Doe@Example.COM>"), { local: "John.Doe", domain: "example.com", address: "John.Doe@example.com", utf8: false });
  assert.equal(sender("FROM: <a@b.test>")?.address, "a@b.test");
  assert.equal(sender("  FROM:\t<a@b.test>  ")?.address, "a@b.test");
  assert.equal(sender("FROM:a@b.test")?.address, "a@b.test");
  assert.equal(sender("FROM:a@b.test SIZE=10")?.address, "a@b.test");
  assert.equal(sender("FROM:<>"), null);
  assert.deepEqual(mailParams("FROM:<> SIZE=100 BODY=8BITMIME"), { other: {}, size: 100, body: "8BITMIME" });
  assert.deepEqual(mailParams("FROM:<a@b.test>"), { other: {} });
});

test("source routes are accepted and ignored", () => {
  assert.equal(sender("FROM:<@a.test,@b.test:user@c.test>")?.address, "user@c.test");
  assert.equal(recipient("TO:<@a.test:user@c.test>").address, "user@c.test");
  assert.equal(recipient("TO:<@[IPv6:2001:db8::1],@[192.0.2.1]:user@c.test>").address, "user@c.test");
  assert.equal(recipient('TO:<@a.test:"x:y"@c.test>').local, "x:y");
  refused(parseMailFrom("FROM:<@a.test:>"), 501, "5.1.7");
  refused(parseMailFrom("FROM:<@a.test user@c.test>"), 501, "5.1.7");
  refused(parseMailFrom("FROM:<@a..test:user@c.test>"), 501, "5.1.7");
});

test("quoted local parts", () => {
  assert.deepEqual(sender('FROM:<"a b"@x.test>'), { local: "a b", domain: "x.test", address: '"a b"@x.test', utf8: false });
  assert.equal(sender('FROM:<"a@b"@x.test>')?.local, "a@b");
  assert.equal(sender('FROM:<"a@b"@x.test>')?.address, '"a@b"@x.test');
  assert.equal(sender('FROM:<"a\\"b"@x.test>')?.local, 'a"b');
  assert.equal(sender('FROM:<"a\\"b"@x.test>')?.address, '"a\\"b"@x.test');
  assert.equal(sender('FROM:<"a\\\\b"@x.test>')?.local, "a\\b");
  assert.equal(sender('FROM:<"a>b"@x.test>')?.local, "a>b");
  assert.equal(sender('FROM:<"abc"@x.test>')?.address, "abc@x.test");
  assert.equal(sender('FROM:<"\\a"@x.test>')?.address, "a@x.test");
  assert.equal(sender('FROM:<""@x.test>')?.address, '""@x.test');
  assert.equal(sender('FROM:"a b"@x.test')?.local, "a b");
  refused(parseMailFrom('FROM:<"abc@x.test>'), 501, "5.1.7");
  refused(parseMailFrom('FROM:<"a"b@x.test>'), 501, "5.1.7");
  refused(parseMailFrom('FROM:<a"b"@x.test>'), 501, "5.1.7");
  refused(parseMailFrom('FROM:<"a\tb"@x.test>'), 501, "5.1.7");
  refused(parseMailFrom('FROM:<"a\\\rb"@x.test>'), 501, "5.1.7");
});

test("percent hack and bang paths are not interpreted; odd dots are quoted", () => {
  assert.equal(recipient("TO:<user%other@x.test>").local, "user%other");
  assert.equal(recipient("TO:<a!b@x.test>").local, "a!b");
  assert.equal(recipient("TO:<a..b@x.test>").address, '"a..b"@x.test');
  assert.equal(recipient("TO:<a.@x.test>").address, '"a."@x.test');
});

test("exactly one unquoted @", () => {
  refused(parseRcptTo("TO:<a@b@c.test>"), 501, "5.1.3", /more than one @/);
  refused(parseMailFrom("FROM:<a@b@c.test>"), 501, "5.1.7", /more than one @/);
  refused(parseRcptTo("TO:<@c.test>"), 501, "5.1.3");
});

test("domain syntax", () => {
  refused(parseRcptTo("TO:<a@b.test.>"), 501, "5.1.3", /dot/);
  for (const d of ["b..test", ".b.test", "-b.test", "b-.test", "b_c.test", "b c.test", "b\0.test", "b!.test", "\"b\".test"]) {
    refused(parseRcptTo(`TO:<a@${d}>`), 501, "5.1.3");
  }
  refused(parseRcptTo("TO:<a@>"), 501, "5.1.3");
  assert.equal(recipient("TO:<a@localhost>").domain, "localhost");
  assert.equal(recipient("TO:<a@1.2.3.4>").domain, "1.2.3.4");
  assert.equal(recipient("TO:<a@xn--bcher-kva.example>").domain, "xn--bcher-kva.example");
});

test("address literals", () => {
  assert.equal(recipient("TO:<a@[127.0.0.1]>").domain, "[127.0.0.1]");
  assert.equal(recipient("TO:<a@[IPv6:2001:DB8::1]>").domain, "[IPv6:2001:db8::1]");
  assert.equal(recipient("TO:<a@[ipv6:::1]>").address, "a@[IPv6:::1]");
  for (const lit of ["[1.2.3]", "[1.2.3.256]", "[localhost]", "[IPv6:1.2.3.4]", "[IPv6:fe80::1%eth0]", "[1.2.3.4", "[]", "[x:1]"]) {
    refused(parseRcptTo(`TO:<a@${lit}>`), 501, "5.1.3");
  }
});

test("internationalized addresses need SMTPUTF8", () => {
  const idn = recipient("TO:<user@BÜCHER.example>");
  assert.deepEqual(idn, { local: "user", domain: "xn--bcher-kva.example", address: "user@xn--bcher-kva.example", utf8: true });
  assert.equal(needsSmtpUtf8(idn), true);
  const local = sender("FROM:<用户@example.com> SMTPUTF8");
  assert.ok(local);
  assert.equal(local.utf8, true);
  assert.equal(local.address, "用户@example.com");
  assert.equal(needsSmtpUtf8(local), true);
  assert.equal(needsSmtpUtf8(recipient("TO:<a@b.test>")), false);
  refused(checkSmtpUtf8(local, false) ?? { ok: true }, 553, "5.6.7");
  assert.equal(checkSmtpUtf8(local, true), undefined);
  assert.equal(checkSmtpUtf8(null, false), undefined);
  assert.equal(recipient('TO:<"ü x"@b.test>').utf8, true);
  refused(parseRcptTo("TO:<a\u00a0b@x.test>"), 501, "5.1.3");
  refused(parseRcptTo("TO:<a\u0085b@x.test>"), 501, "5.1.3");
  refused(parseRcptTo("TO:<a\ufffdb@x.test>"), 501, "5.1.3");
  refused(parseRcptTo("TO:<a\ud800b@x.test>"), 501, "5.1.3");
  refused(parseRcptTo("TO:<a@b\u3002test>"), 501, "5.1.3");
  for (const d of ["ä%41.test", "ä-.test", "-ä.test", "ä_x.test", "ä\u200b.test", "ä\u0301\u3002.test"]) {
    refused(parseRcptTo(`TO:<a@${d}>`), 501, "5.1.3", /internationalized/);
  }
  assert.equal(recipient("TO:<a@faß.de>").domain, "xn--fa-hia.de");
});

test("control characters and spaces outside quotes", () => {
  for (const bad of ["a b@x.test", "a\0b@x.test", "a\rb@x.test", "a\nb@x.test", "a\tb@x.test", "a\x7fb@x.test", "a<b@x.test", "a,b@x.test", "a:b@x.test"]) {
    refused(parseRcptTo(`TO:<${bad}>`), 501, "5.1.3");
  }
  refused(parseMailFrom("FROM:a<b@x.test"), 501, "5.1.7");
});

test("size limits (RFC 5321 §4.5.3.1)", () => {
  const l64 = "l".repeat(64);
  assert.equal(recipient(`TO:<${l64}@x.test>`).local, l64);
  refused(parseRcptTo(`TO:<${l64}l@x.test>`), 501, "5.1.3", /local part.*64/);
  refused(parseRcptTo(`TO:<"${"a ".repeat(32)}"@x.test>`), 501, "5.1.3", /64/);
  const label = "d".repeat(63);
  refused(parseRcptTo(`TO:<a@${label}d.test>`), 501, "5.1.3");
  const d255 = [label, label, label, label.slice(0, 60), "tt"].join(".");
  assert.equal(d255.length, 255);
  assert.equal(parseDomain(d255).ok, true);
  refused(parseRcptTo(`TO:<a@x${d255}>`), 501, "5.1.3", /domain.*255/);
  refused(parseRcptTo(`TO:<a@${d255}>`), 501, "5.1.3", /256/);
  const d189 = [label, label, label.slice(0, 61)].join(".");
  assert.equal(d189.length, 189);
  assert.equal(recipient(`TO:<${l64}@${d189}>`).address.length, 254);
  refused(parseRcptTo(`TO:<${l64}@${d189}x>`), 501, "5.1.3", /address over 256/);
});

test("syntax errors in the MAIL / RCPT keyword", () => {
  for (const arg of ["<a@b.test>", "FROM", "FROM:", "FROM:   ", "FROM :<a@b.test>", "FRM:<a@b.test>", "", "TO:<a@b.test>"]) {
    refused(parseMailFrom(arg), 501, "5.5.4", /MAIL FROM/);
  }
  refused(parseRcptTo("FROM:<a@b.test>"), 501, "5.5.4", /RCPT TO/);
  refused(parseRcptTo("TO:"), 501, "5.5.4");
  assert.equal(recipient("to:<a@b.test>").address, "a@b.test");
});

test("brackets and junk", () => {
  refused(parseMailFrom("FROM:<a@b.test"), 501, "5.1.7");
  refused(parseMailFrom("FROM:<a@b.test>x"), 501, "5.1.7");
  refused(parseMailFrom("FROM:<a@b.test>>"), 501, "5.1.7");
  refused(parseMailFrom("FROM:<<a@b.test>>"), 501, "5.1.7");
  refused(parseMailFrom("FROM:a@b.test>"), 501, "5.1.7");
});

test("missing domains: only RCPT TO:<postmaster>", () => {
  assert.deepEqual(recipient("TO:<Postmaster>"), { local: "postmaster", domain: "", address: "postmaster", utf8: false });
  assert.equal(recipient("TO:<POSTMASTER> NOTIFY=NEVER").local, "postmaster");
  assert.equal(recipient("TO:<PostMaster@Example.Test>").address, "PostMaster@example.test");
  refused(parseRcptTo("TO:<user>"), 501, "5.1.3", /domain/);
  refused(parseRcptTo('TO:<"postmaster">'), 501, "5.1.3");
  refused(parseMailFrom("FROM:<postmaster>"), 501, "5.1.7");
  refused(parseRcptTo("TO:<>"), 501, "5.1.3");
  refused(parseRcptTo("TO:<@a.test:>"), 501, "5.1.3");
});

test("SIZE, BODY, SMTPUTF8, RET, ENVID, AUTH", () => {
  assert.deepEqual(mailParams("FROM:<a@b.test> size=1000 body=8bitmime smtputf8 ret=hdrs envid=QQ+2B1 auth=<>"), {
    other: {}, size: 1000, body: "8BITMIME", smtputf8: true, ret: "HDRS", envid: "QQ+1", auth: "<>",
  });
  assert.equal(mailParams("FROM:<a@b.test> BODY=7BIT").body, "7BIT");
  assert.equal(mailParams("FROM:<a@b.test> BODY=BINARYMIME").body, "BINARYMIME");
  assert.equal(mailParams("FROM:<a@b.test> SIZE=0").size, 0);
  assert.equal(mailParams(`FROM:<a@b.test> SIZE=${"9".repeat(40)}`).size, Number.MAX_SAFE_INTEGER);
  assert.equal(mailParams("FROM:<a@b.test>   RET=FULL\t\tSIZE=5").ret, "FULL");
  assert.equal(mailParams("FROM:<a@b.test> AUTH=user+40example.com").auth, "user+40example.com");
  for (const p of ["SIZE=abc", "SIZE=-1", "SIZE=1.5", "SIZE", "SIZE=", "BODY=9BIT", "BODY", "SMTPUTF8=yes", "RET=ALL", "ENVID=a+ZZ",
    "ENVID=+00", `ENVID=${"e".repeat(101)}`, "ENVID=é", "AUTH=a+4", "=1", "-X=1", "X_Y=1", "FOO=a\x01b", "FOO=a\u00a0b", "SIZE=1 size=2", "FOO FOO=1"]) {
    refused(parseMailFrom(`FROM:<a@b.test> ${p}`), 501, "5.5.4");
  }
  refused(parseMailFrom("FROM:<a@b.test>  SIZE=1 SIZE=1"), 501, "5.5.4", /Duplicate SIZE/);
});

test("NOTIFY and ORCPT", () => {
  assert.deepEqual(rcptParams("TO:<a@b.test> NOTIFY=success,Failure,DELAY ORCPT=rfc822;user+2Bx@x.test"), {
    other: {}, notify: ["SUCCESS", "FAILURE", "DELAY"], orcpt: "rfc822;user+x@x.test",
  });
  assert.deepEqual(rcptParams("TO:<a@b.test> NOTIFY=never").notify, ["NEVER"]);
  assert.deepEqual(rcptParams("TO:<a@b.test> NOTIFY=SUCCESS,SUCCESS").notify, ["SUCCESS"]);
  assert.equal(rcptParams("TO:<a@b.test> ORCPT=utf-8;用户@x.test").orcpt, "utf-8;用户@x.test");
  for (const p of ["NOTIFY=NEVER,SUCCESS", "NOTIFY=BOGUS", "NOTIFY=SUCCESS,", "NOTIFY", "ORCPT=user@x.test", "ORCPT=;a@b", "ORCPT=rfc822;",
    "ORCPT=rfc822;a+0Ab", "ORCPT=rfc 822;a", `ORCPT=rfc822;${"a".repeat(500)}`]) {
    refused(parseRcptTo(`TO:<a@b.test> ${p}`), 501, "5.5.4");
  }
});

test("unknown or misplaced parameters go to other", () => {
  assert.deepEqual(mailParams("FROM:<a@b.test> FOO=bar xyz NOTIFY=NEVER"), { other: { FOO: "bar", XYZ: true, NOTIFY: "NEVER" } });
  assert.deepEqual(rcptParams("TO:<a@b.test> SIZE=10 BODY=8BITMIME"), { other: { SIZE: "10", BODY: "8BITMIME" } });
  assert.deepEqual(mailParams("FROM:<a@b.test> X-Thing=a=b").other, { "X-THING": "a=b" });
});

test("xtext", () => {
  assert.equal(decodeXtext("a+2Bb+3Dc"), "a+b=c");
  assert.equal(decodeXtext("+e2+82+ac", true), "€");
  assert.equal(decodeXtext("+FF"), undefined);
  assert.equal(decodeXtext("a+2"), undefined);
  assert.equal(decodeXtext("a b"), undefined);
  assert.equal(decodeXtext("é"), undefined);
  assert.equal(decodeXtext("é", true), "é");
  assert.equal(encodeXtext("a+b=c d"), "a+2Bb+3Dc+20d");
  assert.equal(encodeXtext("€"), "+E2+82+AC");
});

test("quoteLocalPart", () => {
  assert.equal(quoteLocalPart("john.doe"), "john.doe");
  assert.equal(quoteLocalPart("a b"), '"a b"');
  assert.equal(quoteLocalPart('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(quoteLocalPart(""), '""');
  assert.equal(quoteLocalPart("用户"), "用户");
});

// ------------------------------------------------------------ properties

const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 120 }),
  fc.string({ unit: fc.constantFrom(..."<>@\"\\:,. =+;aZ9é用\0\r\t[]"), maxLength: 60 }),
);
const prefix = fc.constantFrom("", "FROM:", "from: <", "TO:", "to:<", "FROM:<@a.b:", "TO:<\"");
const label = fc.stringMatching(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,8}[A-Za-z0-9])?$/);
const domainArb = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join("."));
const localArb = fc.string({ unit: fc.constantFrom(..."abcXYZ09.!#$%&'*+-/=?^_`{|}~ \"\\(),:;<>@[]üß用"), minLength: 0, maxLength: 30 });
const piece = (chars: string, maxLength: number) => fc.string({ unit: fc.constantFrom(...chars), maxLength });
/** Argument-shaped input, so that a good share parses and the success invariants get exercised. */
const shaped = fc
  .tuple(
    fc.constantFrom("FROM:", "TO:", "from: ", "To:\t"),
    fc.constantFrom("<", "", "<@r.test:"),
    fc.oneof({ arbitrary: localArb.map(quoteLocalPart), weight: 3 }, piece('ab.."\\ @%!éü用\t', 10)),
    fc.constantFrom("@", "@", "", "@@"),
    fc.oneof({ arbitrary: domainArb, weight: 4 }, fc.constantFrom("[192.0.2.1]", "[IPv6:2001:DB8::1]", "Bücher.example", "x."), piece("ab-..[]:0123456789IPv6Fäß", 16)),
    fc.constantFrom(">", ">", ""),
    fc.array(fc.constantFrom("SIZE=10", "body=8bitmime", "NOTIFY=NEVER", "X=1", "SMTPUTF8", "ORCPT=rfc822;a+2Bb", "ENVID=a+2B", "bad=", "size=x", "\t"), { maxLength: 3 }),
  )
  .map(([k, open, local, at, domain, close, params]) => [k, open, local, at, domain, close, ...params.map((p) => ` ${p}`)].join(""));
const anyArg = fc.oneof(fc.tuple(prefix, anyText).map(([p, s]) => p + s), shaped);

function checkReply(r: { ok: true } | SmtpReplyError): void {
  if (r.ok) return;
  assert.ok([501, 553, 555].includes(r.code), String(r.code));
  assert.match(r.enhanced, /^5\.\d\.\d{1,3}$/);
  assert.ok(r.message.length > 0 && r.message.length < 200, r.message);
}

function checkMailbox(m: Mailbox): void {
  assert.doesNotMatch(m.address, /[\p{Cc}]/u);
  assert.ok(Buffer.byteLength(m.address) <= 254);
  assert.equal(m.domain, m.domain.toLowerCase().replace("[ipv6:", "[IPv6:"));
  assert.doesNotMatch(m.domain, /[^\x21-\x7e]/);
  // Idempotence: the canonical address parses to the same mailbox.
  const again = parseRcptTo(`TO:<${m.address}>`);
  assert.ok(again.ok, `${m.address}: ${JSON.stringify(again)}`);
  assert.deepEqual({ ...again.value.recipient, utf8: false }, { ...m, utf8: false });
}

test("property: random input never throws; results are values or structured replies", () => {
  fc.assert(
    fc.property(anyArg, (arg) => {
      for (const r of [parseMailFrom(arg), parseRcptTo(arg)]) {
        checkReply(r);
        if (!r.ok) continue;
        const m = "sender" in r.value ? r.value.sender : r.value.recipient;
        if (m) checkMailbox(m);
        for (const key of Object.keys(r.value.params.other)) assert.equal(key, key.toUpperCase());
      }
    }),
    { numRuns: 3000 },
  );
});

test("property: random bytes decoded as UTF-8 or latin1 never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, utf8) => {
      const text = Buffer.from(bytes).toString(utf8 ? "utf8" : "latin1");
      checkReply(parseMailFrom(`FROM:<${text}`));
      checkReply(parseRcptTo(`TO:${text}`));
    }),
    { numRuns: 2000 },
  );
});


test("property: any local part round-trips through quoting", () => {
  fc.assert(
    fc.property(localArb, domainArb, (local, domain) => {
      const r = parseMailFrom(`FROM:<${quoteLocalPart(local)}@${domain}>`);
      assert.ok(r.ok && r.value.sender, JSON.stringify(r));
      assert.equal(r.value.sender.local, local);
      assert.equal(r.value.sender.domain, domain.toLowerCase());
      assert.equal(r.value.sender.address, `${quoteLocalPart(local)}@${domain.toLowerCase()}`);
      assert.equal(r.value.sender.utf8, /[^\x00-\x7f]/.test(local));
    }),
    { numRuns: 1000 },
  );
});

test("property: MAIL parameters round-trip", () => {
  const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 30 });
  const params = fc.record(
    {
      size: fc.nat(),
      body: fc.constantFrom("7BIT" as const, "8BITMIME" as const, "BINARYMIME" as const),
      smtputf8: fc.constant(true),
      ret: fc.constantFrom("FULL" as const, "HDRS" as const),
      envid: printable,
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(params, (p) => {
      const words = Object.entries(p).map(([k, v]) => (v === true ? k.toUpperCase() : `${k.toUpperCase()}=${k === "envid" ? encodeXtext(String(v)) : v}`));
      const r = parseMailFrom(`FROM:<a@b.test> ${words.join(" ")}`);
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual(r.value.params, { other: {}, ...p });
    }),
  );
});

test("property: xtext round-trips and only uses xchar / +HH", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), (s) => {
      const x = encodeXtext(s);
      assert.match(x, /^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*$/);
      assert.equal(decodeXtext(x, true), s);
      if (/^[\x20-\x7e]*$/.test(s)) assert.equal(decodeXtext(x), s);
    }),
  );
});
