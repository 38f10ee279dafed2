import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { isStrictHeloName, parseCommandLine, parseHeloName } from "../../src/smtp/command.js";
import { parseMailFrom } from "../../src/smtp/address.js";

test("parseCommandLine splits verb and argument", () => {
  assert.deepEqual(parseCommandLine("MAIL FROM:<a@b.test>"), { verb: "MAIL", arg: "FROM:<a@b.test>" });
  assert.deepEqual(parseCommandLine("ehlo client.example  \t"), { verb: "EHLO", arg: "client.example" });
  assert.deepEqual(parseCommandLine("QUIT"), { verb: "QUIT", arg: "" });
  assert.deepEqual(parseCommandLine("DATA "), { verb: "DATA", arg: "" });
  assert.deepEqual(parseCommandLine("StartTLS"), { verb: "STARTTLS", arg: "" });
  assert.deepEqual(parseCommandLine("AUTH PLAIN dGVzdA=="), { verb: "AUTH", arg: "PLAIN dGVzdA==" });
  assert.deepEqual(parseCommandLine("MAIL\tFROM:<a@b.test>"), { verb: "MAIL", arg: "FROM:<a@b.test>" });
});

test("parseCommandLine is lenient about leading blanks and keeps extra separators in arg", () => {
  assert.deepEqual(parseCommandLine("  NOOP"), { verb: "NOOP", arg: "" });
  const cmd = parseCommandLine("MAIL  FROM:<a@b.test>");
  assert.deepEqual(cmd, { verb: "MAIL", arg: " FROM:<a@b.test>" });
  const mail = parseMailFrom(cmd!.arg);
  assert.ok(mail.ok && mail.value.sender?.address === "a@b.test");
});

test("parseCommandLine refuses empty lines and bad verbs", () => {
  for (const line of ["", "   ", "\t", "MAIL:FROM:<a@b>", "HELO1 x", "RSET\r", "NOOP\0", "é", "12 x", "<a@b>", "A".repeat(21)]) {
    assert.equal(parseCommandLine(line), undefined, JSON.stringify(line));
  }
  assert.deepEqual(parseCommandLine("A".repeat(20)), { verb: "A".repeat(20), arg: "" });
  assert.deepEqual(parseCommandLine("X ".padEnd(10, " ")), { verb: "X", arg: "" });
});

test("parseCommandLine does not trim a trailing CR from the argument", () => {
  assert.deepEqual(parseCommandLine("MAIL FROM:<a@b>\r"), { verb: "MAIL", arg: "FROM:<a@b>\r" });
});

test("parseHeloName accepts any token without spaces or controls", () => {
  for (const [arg, name] of [
    ["mail.example.com", "mail.example.com"],
    ["  [192.0.2.1] ", "[192.0.2.1]"],
    ["[IPv6:2001:db8::1]", "[IPv6:2001:db8::1]"],
    ["under_score.host", "under_score.host"],
    ["localhost", "localhost"],
    ["münchen.example", "münchen.example"],
    ["host.", "host."],
  ]) {
    assert.deepEqual(parseHeloName(arg), { ok: true, name }, arg);
  }
});

test("parseHeloName refuses empty, spaced, control and over-long names", () => {
  for (const arg of ["", "   ", "my pc", "a\0b", "a\rb", "a\nb", "a\x7f", "a\u0085b", "a\u00a0b", "x".repeat(256)]) {
    const r = parseHeloName(arg);
    assert.equal(r.ok, false, JSON.stringify(arg));
    assert.ok(!r.ok && r.message.length > 0);
  }
});

test("isStrictHeloName checks RFC 5321 domain / address-literal syntax", () => {
  for (const name of ["mail.example.com", "localhost", "[192.0.2.1]", "[IPv6:::1]", "bücher.example", "a-b.c0"]) {
    assert.equal(isStrictHeloName(name), true, name);
  }
  for (const name of ["under_score.host", "host.", ".host", "a..b", "-a.b", "[192.0.2]", "[host]", "[IPv6:zz]", ""]) {
    assert.equal(isStrictHeloName(name), false, name);
  }
});

test("property: parseCommandLine never throws and yields a well-formed command", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 200 }), (line) => {
      const cmd = parseCommandLine(line);
      if (cmd === undefined) return;
      assert.match(cmd.verb, /^[A-Z]{1,20}$/);
      assert.doesNotMatch(cmd.arg, /[ \t]$/);
    }),
    { numRuns: 2000 },
  );
});

test("property: verb + SP + arg round-trips", () => {
  const verb = fc.stringMatching(/^[A-Za-z]{1,20}$/);
  const arg = fc.string({ unit: "binary", maxLength: 100 }).map((s) => s.replace(/[ \t]+$/, ""));
  fc.assert(
    fc.property(verb, arg, (v, a) => {
      assert.deepEqual(parseCommandLine(`${v} ${a}`), { verb: v.toUpperCase(), arg: a });
    }),
  );
});

test("property: parseHeloName never throws; accepted names are clean tokens", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 300 }), (arg) => {
      const r = parseHeloName(arg);
      if (r.ok) {
        assert.ok(r.name.length > 0);
        assert.doesNotMatch(r.name, /[\p{Cc}\p{Z}]/u);
        assert.equal(typeof isStrictHeloName(r.name), "boolean");
      } else {
        assert.equal(typeof r.message, "string");
      }
    }),
    { numRuns: 2000 },
  );
});
